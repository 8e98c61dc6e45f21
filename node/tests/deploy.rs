//! `deploy/local-cluster`: three agent processes in network namespaces on a
//! bridge of their own, reached from a client namespace, with TLS and
//! authentication on: the CLI works with the credentials the script made
//! (through `client`, and through the environment lines `up` prints), and a
//! caller without them is refused. Needs root (CI runs as root), and removes
//! every namespace it made.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/local-cluster")
}

fn run(state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(script())
        .args(args)
        .env("FULCRUM_CLUSTER_DIR", state)
        .env("FULCRUM_BIN", env!("CARGO_BIN_EXE_fulcrum"))
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `export NAME=VALUE` lines of the script's output, in order.
fn exports(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|setting| setting.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// The CLI in the client namespace with only `environment` of the client
/// settings (none from the caller, no CLI config file).
fn in_client_namespace(environment: &[(String, String)], args: &[&str]) -> Output {
    let mut command = Command::new("ip");
    command
        .args([
            "netns",
            "exec",
            fulcrum_chaos_tests::cluster::CLIENT_NAMESPACE,
        ])
        .arg(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["--timeout", "5"])
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent/fulcrum-tests");
    for variable in [
        "FULCRUM_ENDPOINT",
        "FULCRUM_CA",
        "FULCRUM_CERT",
        "FULCRUM_KEY",
        "FULCRUM_TOKEN",
        "FULCRUM_TOKEN_FILE",
        "FULCRUM_CLI_CONFIG",
    ] {
        command.env_remove(variable);
    }
    command.envs(environment.iter().map(|(name, value)| (name, value)));
    command.output().unwrap()
}

/// Takes the cluster down when the test ends, passed or not.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run(&self.0, &["down", "--purge"]);
    }
}

#[test]
fn three_namespaced_nodes_form_a_cluster_the_client_namespace_can_use() {
    fulcrum_chaos_tests::cluster::assert_root();
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("cluster");
    let _down = Down(state.clone());
    let up = run(&state, &["up", "3"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(text(&up).contains("LEADER"), "{}", text(&up));

    let status = run(&state, &["status"]);
    let status = text(&status);
    for node in 1..=3 {
        assert!(
            status.contains(&format!("node {node}: running")),
            "{status}"
        );
    }
    // The CLI's environment, as `up` prints it: files the script made.
    let environment = exports(&text(&up));
    let names: Vec<&str> = environment.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "FULCRUM_CA",
            "FULCRUM_CERT",
            "FULCRUM_KEY",
            "FULCRUM_ENDPOINT"
        ],
        "{}",
        text(&up)
    );
    for (name, value) in &environment[..3] {
        let path = PathBuf::from(value);
        assert!(path.starts_with(state.join("pki")), "{name}={value}");
        assert!(path.is_file(), "{name}={value}");
    }
    assert!(state.join("pki/data.key").is_file());

    // A write through node 2 (`client` sets the environment) is read
    // through node 3 with the printed environment, both from the client
    // namespace.
    let fulcrum = env!("CARGO_BIN_EXE_fulcrum");
    let created = run(
        &state,
        &[
            "client",
            fulcrum,
            "--endpoint",
            "10.88.0.12:7400",
            "network",
            "create",
            "vpc",
            "--cidr",
            "10.0.0.0/16",
        ],
    );
    assert!(created.status.success(), "{}", text(&created));
    let listed = in_client_namespace(
        &environment,
        &["--endpoint", "10.88.0.13:7400", "network", "list"],
    );
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(text(&listed).contains("10.0.0.0/16"), "{}", text(&listed));

    // Without the credentials: no plaintext, and no call without a client
    // certificate (or token).
    let plaintext = in_client_namespace(&[], &["--endpoint", "10.88.0.13:7400", "network", "list"]);
    assert!(!plaintext.status.success(), "{}", text(&plaintext));
    let anonymous = in_client_namespace(
        &environment[..1],
        &["--endpoint", "10.88.0.13:7400", "network", "list"],
    );
    assert!(!anonymous.status.success(), "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("Unauthenticated"),
        "{}",
        text(&anonymous)
    );

    let down = run(&state, &["down", "--purge"]);
    assert!(down.status.success(), "{}", text(&down));
    let namespaces = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&namespaces.stdout).contains("fulcrum-"));
}
