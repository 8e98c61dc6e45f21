//! `deploy/local-cluster`: three agent processes in network namespaces on a
//! bridge of their own, reached from a client namespace. Needs root (CI runs
//! as root), and removes every namespace it made.

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
    // A write through node 2 is read through node 3, both from the client namespace.
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
    let listed = run(
        &state,
        &[
            "client",
            fulcrum,
            "--endpoint",
            "10.88.0.13:7400",
            "network",
            "list",
        ],
    );
    assert!(text(&listed).contains("10.0.0.0/16"), "{}", text(&listed));

    let down = run(&state, &["down", "--purge"]);
    assert!(down.status.success(), "{}", text(&down));
    let namespaces = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&namespaces.stdout).contains("fulcrum-"));
}
