//! The `fulcrum` binary for real: three agent processes on loopback, the
//! guide's four steps through the CLI (sent to different nodes), then the
//! detail view. Also: a bad configuration exits 64 and names the key.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fulcrum");

/// Agent processes, killed when the test ends however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `count` distinct free loopback ports: all are held until all are chosen,
/// so none is handed out twice.
fn free_ports(count: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|listener| listener.local_addr().unwrap().port())
        .collect()
}

fn fulcrum(endpoint: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .output()
        .unwrap()
}

/// Runs a CLI command that must succeed and answers its standard output.
fn ok(endpoint: &str, args: &[&str]) -> String {
    let output = fulcrum(endpoint, args);
    assert!(
        output.status.success(),
        "fulcrum {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_guide_through_the_cli_on_three_agent_processes() {
    let directory = tempfile::tempdir().unwrap();
    let ports = free_ports(6);
    let nodes: Vec<(u64, String, String)> = (1..=3u64)
        .map(|id| {
            let n = (id as usize - 1) * 2;
            (
                id,
                format!("127.0.0.1:{}", ports[n]),
                format!("127.0.0.1:{}", ports[n + 1]),
            )
        })
        .collect();
    let initial = nodes
        .iter()
        .map(|(id, api, raft)| format!("{id}={raft}/{api}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut processes = Processes(Vec::new());
    let key_file = directory.path().join("data.key");
    std::fs::write(&key_file, fulcrum_node::secrets::new_key_file().unwrap()).unwrap();
    for (id, api, raft) in &nodes {
        let child = Command::new(BIN)
            .args(["agent", "--id", &id.to_string()])
            .arg("--data-key-file")
            .arg(&key_file)
            .arg("--data-dir")
            .arg(directory.path().join(format!("node-{id}")))
            .args(["--api-address", api, "--raft-address", raft])
            .args(["--initial-members", &initial])
            .args(["--eip-pool", "127.77.0.0/16"])
            .args(["--heartbeat-ms", "50", "--election-timeout-min-ms", "300"])
            .args(["--election-timeout-max-ms", "600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        processes.0.push(child);
    }
    let endpoints: Vec<&str> = nodes.iter().map(|(_, api, _)| api.as_str()).collect();

    // Wait until the cluster has a leader and the bootstrap EIP pool.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = fulcrum(endpoints[0], &["--output", "json", "cluster", "settings"]);
        if status.status.success()
            && String::from_utf8_lossy(&status.stdout).contains("127.77.0.0/16")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the cluster did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = ok(endpoints[1], &["cluster", "status"]);
    assert!(status.contains("LEADER"), "{status}");

    // What the guide takes as given: a network, a subnet, instances, an EIP.
    ok(
        endpoints[0],
        &["network", "create", "vpc", "--cidr", "127.0.0.0/16"],
    );
    ok(
        endpoints[1],
        &[
            "subnet",
            "create",
            "backend",
            "--network",
            "vpc",
            "--cidr",
            "127.0.1.0/24",
        ],
    );
    ok(
        endpoints[2],
        &[
            "instance",
            "create",
            "web1",
            "--subnet",
            "backend",
            "--address",
            "127.0.1.10",
        ],
    );
    ok(
        endpoints[0],
        &[
            "instance",
            "create",
            "web2",
            "--subnet",
            "backend",
            "--address",
            "127.0.1.11",
        ],
    );
    let eip = ok(endpoints[1], &["eip", "allocate", "public"]);
    assert!(eip.contains("127."), "{eip}");

    // The guide's four steps, one command each, each sent to another node.
    ok(
        endpoints[2],
        &[
            "lb",
            "create",
            "shop",
            "--network",
            "vpc",
            "--subnet",
            "backend",
        ],
    );
    ok(endpoints[0], &["lb", "associate-eip", "shop", "public"]);
    ok(
        endpoints[1],
        &[
            "group",
            "create",
            "web",
            "--lb",
            "shop",
            "--member",
            "web1:8080:3",
            "--member",
            "web2:8080:1",
        ],
    );
    ok(
        endpoints[2],
        &[
            "listener",
            "create",
            "http",
            "--lb",
            "shop",
            "--protocol",
            "http",
            "--port",
            "80",
            "--group",
            "web",
        ],
    );

    // Every node reports the EIP owner's data plane: the listener turns
    // ACTIVE once the leader's forwarder has applied it, whichever node answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let show = loop {
        let show = ok(endpoints[0], &["lb", "show", "shop"]);
        if !show.contains("PENDING") || std::time::Instant::now() > deadline {
            break show;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for expected in [
        "shop",
        "http",
        "HTTP",
        "80",
        "web",
        "127.0.1.10",
        "127.0.1.11",
        "ACTIVE",
    ] {
        assert!(
            show.contains(expected),
            "`lb show` lacks {expected:?}:\n{show}"
        );
    }
    let tree = ok(endpoints[2], &["lb", "status", "shop"]);
    for expected in [
        "load balancer",
        "listener",
        "group",
        "member",
        "127.0.1.10:8080",
    ] {
        assert!(
            tree.contains(expected),
            "`lb status` lacks {expected:?}:\n{tree}"
        );
    }
    let updated = ok(
        endpoints[0],
        &["group", "update", "web", "--algorithm", "least-connections"],
    );
    assert!(updated.contains("WEIGHTED_LEAST_CONNECTIONS"), "{updated}");
    let tagged = ok(
        endpoints[1],
        &[
            "--output", "json", "lb", "update", "shop", "--tag", "team=web",
        ],
    );
    assert!(tagged.contains("\"team\": \"web\""), "{tagged}");
    let settings = ok(
        endpoints[2],
        &["cluster", "update-settings", "--quota-members", "300"],
    );
    assert!(settings.contains("300"), "{settings}");
    let json: serde_json::Value = serde_json::from_str(&ok(
        endpoints[1],
        &["--output", "json", "lb", "show", "shop"],
    ))
    .unwrap();
    assert_eq!(json["loadBalancer"]["name"], "shop");
    assert!(
        json["loadBalancer"]["eipAddress"]
            .as_str()
            .unwrap()
            .starts_with("127.")
    );
    assert_eq!(json["listeners"][0]["port"], 80);
    assert_eq!(json["groups"][0]["members"].as_array().unwrap().len(), 2);

    // A refusal: the server's words, a non-zero exit.
    let duplicate = fulcrum(
        endpoints[2],
        &[
            "listener",
            "create",
            "again",
            "--lb",
            "shop",
            "--protocol",
            "tcp",
            "--port",
            "80",
        ],
    );
    assert!(!duplicate.status.success());
    let stderr = String::from_utf8_lossy(&duplicate.stderr);
    assert!(
        stderr.contains("port") && stderr.contains("AlreadyExists"),
        "{stderr}"
    );
}

#[test]
fn a_bad_configuration_exits_64_and_names_the_key() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("fulcrum.toml");
    std::fs::write(
        &config,
        "version = 1\n[raft]\nheartbeat_ms = 100\nelection_timeout_min_ms = 50\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .arg("agent")
        .arg("--config")
        .arg(&config)
        .args([
            "--id",
            "1",
            "--api-address",
            "127.0.0.1:1",
            "--raft-address",
            "127.0.0.1:2",
        ])
        .arg("--data-dir")
        .arg(directory.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("raft.election_timeout_min_ms"), "{stderr}");

    std::fs::write(&config, "version = 1\n[node]\nid = 1\ncolour = \"red\"\n").unwrap();
    let output = Command::new(BIN)
        .arg("agent")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("colour"), "{stderr}");

    let output = Command::new(BIN)
        .args(["agent", "--dev", "--dataplane-driver", "kqueue"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("dataplane.driver"), "{stderr}");

    for (flag, value, key) in [
        ("--eip-binder", "carrier-pigeon", "eip.binder"),
        ("--eip-interface", "a-very-long-ifname", "eip.interface"),
    ] {
        let output = Command::new(BIN)
            .args(["agent", "--dev", flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(64), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{stderr}");
    }
}
