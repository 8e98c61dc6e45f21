//! The `fulcrum` binary for real: three agent processes on loopback, the
//! guide's four steps through the CLI (sent to different nodes), then the
//! detail view. Also: a bad configuration exits 64 and names the key;
//! `fulcrum certs` makes a CA, certificates and a data key; the client's
//! credentials from flags, environment and config file reach a TLS server.

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

/// The client's variables, removed from every command the tests run so that
/// the caller's environment cannot change what they see.
const CLIENT_VARIABLES: &[&str] = &[
    "FULCRUM_ENDPOINT",
    "FULCRUM_CA",
    "FULCRUM_CERT",
    "FULCRUM_KEY",
    "FULCRUM_TOKEN",
    "FULCRUM_TOKEN_FILE",
    "FULCRUM_CLI_CONFIG",
];

/// The binary, with none of the caller's client settings: no client
/// variables, and a config home where no cli.toml is.
fn hermetic() -> Command {
    let mut command = Command::new(BIN);
    for variable in CLIENT_VARIABLES {
        command.env_remove(variable);
    }
    command.env("XDG_CONFIG_HOME", "/nonexistent/fulcrum-tests");
    command
}

fn fulcrum(endpoint: &str, args: &[&str]) -> Output {
    hermetic()
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
    let logged = ok(
        endpoints[2],
        &[
            "--output",
            "json",
            "listener",
            "update",
            "http",
            "--lb",
            "shop",
            "--access-log",
            "true",
        ],
    );
    assert!(logged.contains("\"accessLog\": true"), "{logged}");
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

/// Runs `fulcrum certs ...` (no node involved).
fn certs(args: &[&str]) -> Output {
    hermetic().arg("certs").args(args).output().unwrap()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn certs_make_a_ca_and_issue_node_and_client_certificates() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("pki");
    let dir_arg = dir.to_str().unwrap();

    let written = succeeded(&certs(&["create-ca", "--dir", dir_arg, "--name", "test"]));
    for file in ["ca.crt", "ca.key"] {
        let path = dir.join(file);
        assert!(written.contains(path.to_str().unwrap()), "{written}");
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    assert_eq!(mode(&dir), 0o700);

    let written = succeeded(&certs(&[
        "issue-node",
        "--dir",
        dir_arg,
        "--name",
        "node-1",
        "--host",
        "10.0.0.1",
        "--host",
        "node-1.example",
    ]));
    let json: serde_json::Value = serde_json::from_str(&succeeded(
        &hermetic()
            .args([
                "--output",
                "json",
                "certs",
                "issue-client",
                "--dir",
                dir_arg,
                "--principal",
                "alice",
                "--role",
                "operator",
                "--validity-days",
                "30",
            ])
            .output()
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(
        json["certificate"],
        dir.join("client.alice.crt").to_str().unwrap()
    );
    assert_eq!(
        json["private_key"],
        dir.join("client.alice.key").to_str().unwrap()
    );
    for file in [
        "node-1.crt",
        "node-1.key",
        "client.alice.crt",
        "client.alice.key",
    ] {
        let path = dir.join(file);
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    assert!(
        written.contains("node-1.crt") && written.contains("node-1.key"),
        "{written}"
    );

    let node = dir.join("node-1.crt");
    let shown = succeeded(&certs(&["show", node.to_str().unwrap()]));
    for expected in [
        "principal: node-1",
        "role: node",
        "subject_alt_names: 10.0.0.1, node-1.example",
        "issuer: CN=Fulcrum cluster CA test",
    ] {
        assert!(shown.contains(expected), "lacks {expected:?}:\n{shown}");
    }
    let client = dir.join("client.alice.crt");
    let shown = succeeded(&certs(&["list", client.to_str().unwrap()]));
    assert!(shown.contains("principal: alice"), "{shown}");
    assert!(shown.contains("role: operator"), "{shown}");
    assert!(
        shown.contains("extended_key_usages: client_auth"),
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_str(&succeeded(
        &hermetic()
            .args(["-o", "json", "certs", "show", node.to_str().unwrap()])
            .output()
            .unwrap(),
    ))
    .unwrap();
    let described = &json["certificates"][0];
    assert_eq!(described["principal"], "node-1");
    assert_eq!(described["role"], "node");
    assert_eq!(
        described["subject_alt_names"],
        serde_json::json!(["10.0.0.1", "node-1.example"])
    );

    // Existing files are kept unless --overwrite; the key too.
    let key_before = std::fs::read(dir.join("ca.key")).unwrap();
    std::fs::remove_file(dir.join("ca.crt")).unwrap();
    let refused = certs(&["create-ca", "--dir", dir_arg]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("ca.key") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert!(
        !dir.join("ca.crt").exists(),
        "a lone certificate was written"
    );
    assert_eq!(std::fs::read(dir.join("ca.key")).unwrap(), key_before);
    succeeded(&certs(&["create-ca", "--dir", dir_arg, "--overwrite"]));
    assert_ne!(std::fs::read(dir.join("ca.key")).unwrap(), key_before);
    assert_eq!(mode(&dir.join("ca.crt")), 0o600);
}

#[test]
fn certs_make_a_data_key_that_an_agent_loads() {
    use fulcrum_node::secrets::DataKeys;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("pki");
    let dir_arg = dir.to_str().unwrap();
    let path = dir.join("data.key");

    let written = succeeded(&certs(&["create-data-key", "--dir", dir_arg]));
    assert!(written.contains(path.to_str().unwrap()), "{written}");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700);
    // What `--data-key-file` loads: the key seals, and opens what it sealed.
    let keys = DataKeys::load(&path).unwrap();
    let sealed = keys.seal("-----BEGIN PRIVATE KEY-----", b"cert-1").unwrap();
    assert_eq!(
        keys.open(&sealed, b"cert-1").unwrap(),
        "-----BEGIN PRIVATE KEY-----"
    );

    // An existing key is kept unless --overwrite.
    let before = std::fs::read(&path).unwrap();
    let refused = certs(&["create-data-key", "--dir", dir_arg]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("data.key") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let json: serde_json::Value = serde_json::from_str(&succeeded(
        &hermetic()
            .args([
                "--output",
                "json",
                "certs",
                "create-data-key",
                "--dir",
                dir_arg,
                "--overwrite",
            ])
            .output()
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(json["data_key"], path.to_str().unwrap());
    assert_eq!(mode(&path), 0o600);
    let replaced = DataKeys::load(&path).unwrap();
    assert_ne!(replaced.current_id(), keys.current_id());
}

#[test]
fn bad_certs_arguments_exit_64_naming_the_flag() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    succeeded(&certs(&["create-ca", "--dir", dir]));
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "issue-client",
                "--dir",
                dir,
                "--principal",
                "alice",
                "--role",
                "root",
            ],
            "--role: \"root\"",
        ),
        (
            &[
                "issue-client",
                "--dir",
                dir,
                "--principal",
                "alice",
                "--role",
                "node",
            ],
            "--role: \"node\"",
        ),
        (
            &[
                "issue-client",
                "--dir",
                dir,
                "--principal",
                "a b",
                "--role",
                "admin",
            ],
            "--principal: \"a b\"",
        ),
        (
            &[
                "issue-node",
                "--dir",
                dir,
                "--name",
                "node-1",
                "--host",
                "bad_host!",
            ],
            "--host: \"bad_host!\"",
        ),
        (
            &[
                "issue-node",
                "--dir",
                dir,
                "--name",
                "../x",
                "--host",
                "10.0.0.1",
            ],
            "--name: \"../x\"",
        ),
        (
            &[
                "issue-node",
                "--dir",
                dir,
                "--name",
                "n",
                "--host",
                "10.0.0.1",
                "--out-name",
                "a/b",
            ],
            "--out-name: \"a/b\"",
        ),
        (
            &[
                "create-ca",
                "--dir",
                dir,
                "--validity-days",
                "0",
                "--overwrite",
            ],
            "--validity-days: 0",
        ),
    ];
    for (args, expected) in cases {
        let output = certs(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // Nothing was written by the refusals.
    let mut names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.crt", "ca.key"]);
}

#[test]
fn credential_errors_exit_64_before_connecting() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("cli.toml");
    std::fs::write(&config, "endpoint = \"127.0.0.1:1\"\ncolour = \"red\"\n").unwrap();
    let missing = root.path().join("missing.crt");
    let missing = missing.to_str().unwrap();
    /// Flags, environment, and what the message must name.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (vec!["--cert", "c.crt"], vec![], vec!["--cert", "--key"]),
        (
            vec![],
            vec![("FULCRUM_KEY", "c.key")],
            vec!["FULCRUM_KEY", "FULCRUM_CERT"],
        ),
        (
            vec!["--token", "t", "--token-file", "f"],
            vec![],
            vec!["--token and --token-file"],
        ),
        (
            vec![],
            vec![("FULCRUM_CLI_CONFIG", config.to_str().unwrap())],
            vec!["colour"],
        ),
        (vec!["--ca", missing], vec![], vec!["--ca", missing]),
        (
            vec!["--endpoint", "https://127.0.0.1:1"],
            vec![],
            vec!["https://", "--ca"],
        ),
    ];
    for (args, vars, expected) in cases {
        let output = hermetic()
            .args(&args)
            .envs(vars.iter().copied())
            .args(["cluster", "status"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{args:?} {vars:?}: {stderr}"
        );
        for part in expected {
            assert!(
                stderr.contains(part),
                "{args:?} {vars:?} lacks {part:?}: {stderr}"
            );
        }
    }
}

/// A TLS gRPC server on loopback that writes down each call's bearer token
/// and client principal, and answers UNIMPLEMENTED.
mod recorder {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use tonic::body::Body;
    use tonic::codegen::{BoxFuture, Service, http};
    use tonic::server::NamedService;
    use tonic::transport::server::{TcpConnectInfo, TcpIncoming, TlsConnectInfo};
    use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

    /// Each call: its `authorization` header and the client's principal.
    pub type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

    #[derive(Clone, Default)]
    struct Recorder(Seen);

    impl NamedService for Recorder {
        const NAME: &'static str = "fulcrum.v1.ClusterService";
    }

    impl Service<http::Request<Body>> for Recorder {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Self::Error>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            let authorization = request
                .headers()
                .get("authorization")
                .map(|value| value.to_str().unwrap().to_owned());
            let principal = request
                .extensions()
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(TlsConnectInfo::peer_certs)
                .and_then(|certificates| certificates.first().cloned())
                .map(|certificate| fulcrum_pki::identity_of(&certificate).unwrap().principal);
            self.0.lock().unwrap().push((authorization, principal));
            Box::pin(async { Ok(tonic::Status::unimplemented("recorded").into_http()) })
        }
    }

    /// Serves on a port the OS picks, requiring a client certificate of `ca`.
    pub fn serve(
        runtime: &tokio::runtime::Runtime,
        certificate: &str,
        key: &str,
        ca: &str,
    ) -> (SocketAddr, Seen) {
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(certificate, key))
            .client_ca_root(Certificate::from_pem(ca));
        let recorder = Recorder::default();
        let seen = recorder.0.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let router = Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(recorder);
        runtime.spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
        (address, seen)
    }
}

#[test]
fn credentials_from_flags_environment_and_config_file_reach_a_tls_server() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let dir_arg = dir.to_str().unwrap();
    succeeded(&certs(&["create-ca", "--dir", dir_arg]));
    succeeded(&certs(&[
        "issue-node",
        "--dir",
        dir_arg,
        "--name",
        "node-1",
        "--host",
        "127.0.0.1",
    ]));
    succeeded(&certs(&[
        "issue-client",
        "--dir",
        dir_arg,
        "--principal",
        "alice",
        "--role",
        "admin",
    ]));
    let other = dir.join("other");
    succeeded(&certs(&["create-ca", "--dir", other.to_str().unwrap()]));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (address, seen) = recorder::serve(
        &runtime,
        &read("node-1.crt"),
        &read("node-1.key"),
        &read("ca.crt"),
    );
    let endpoint = address.to_string();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "from-a-file\n").unwrap();
    // Relative paths in the config file are relative to its directory.
    let config = dir.join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "endpoint = \"{endpoint}\"\nca = \"ca.crt\"\ncert = \"client.alice.crt\"\n\
             key = \"client.alice.key\"\ntoken = \"from-the-config\"\n"
        ),
    )
    .unwrap();
    let status = |command: &mut Command| {
        let output = command.args(["cluster", "status"]).output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let unimplemented = |(code, stderr): (Option<i32>, String)| {
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains("recorded (Unimplemented)"), "{stderr}");
    };

    // Flags.
    unimplemented(status(hermetic().args([
        "--endpoint",
        &endpoint,
        "--ca",
        &path("ca.crt"),
        "--cert",
        &path("client.alice.crt"),
        "--key",
        &path("client.alice.key"),
        "--token-file",
        token_file.to_str().unwrap(),
    ])));
    // Environment.
    unimplemented(status(hermetic().envs([
        ("FULCRUM_ENDPOINT", endpoint.as_str()),
        ("FULCRUM_CA", &path("ca.crt")),
        ("FULCRUM_CERT", &path("client.alice.crt")),
        ("FULCRUM_KEY", &path("client.alice.key")),
        ("FULCRUM_TOKEN", "from-the-environment"),
    ])));
    // The config file, its token overridden by the environment's, then alone.
    unimplemented(status(
        hermetic()
            .env("FULCRUM_TOKEN", "env-wins")
            .args(["--cli-config", config.to_str().unwrap()]),
    ));
    unimplemented(status(hermetic().env("FULCRUM_CLI_CONFIG", &config)));
    // The default config file, under XDG_CONFIG_HOME.
    let config_home = dir.join("config-home");
    std::fs::create_dir_all(config_home.join("fulcrum")).unwrap();
    std::fs::write(
        config_home.join("fulcrum/cli.toml"),
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("\"ca.crt\"", &format!("{:?}", path("ca.crt")))
            .replace("\"client.alice.", &format!("\"{}/client.alice.", dir_arg)),
    )
    .unwrap();
    unimplemented(status(hermetic().env("XDG_CONFIG_HOME", &config_home)));

    let seen = seen.lock().unwrap().clone();
    let alice = Some("alice".to_owned());
    let bearer = |token: &str| Some(format!("Bearer {token}"));
    assert_eq!(
        seen,
        vec![
            (bearer("from-a-file"), alice.clone()),
            (bearer("from-the-environment"), alice.clone()),
            (bearer("env-wins"), alice.clone()),
            (bearer("from-the-config"), alice.clone()),
            (bearer("from-the-config"), alice),
        ]
    );

    // Another CA does not verify the node: unavailable, and says why.
    let (code, stderr) = status(hermetic().args([
        "--endpoint",
        &endpoint,
        "--ca",
        other.join("ca.crt").to_str().unwrap(),
    ]));
    assert_eq!(code, Some(69), "{stderr}");
    // Both CAs are "Fulcrum cluster CA": found by name, refused by signature.
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");
}
