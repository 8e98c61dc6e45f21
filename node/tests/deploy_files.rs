//! The deployment files in `deploy/` are what the tools that read them
//! accept: the systemd unit passes `systemd-analyze verify` (no warning
//! either) and scores "OK" in `systemd-analyze security`; the example agent
//! configuration is one the agent resolves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use fulcrum_node::config::{AgentConfig, Given, Membership};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

/// The unit with its `ExecStart` binary at the one this build made (verify
/// checks that the command exists).
fn unit_in(directory: &Path) -> PathBuf {
    let text = std::fs::read_to_string(deploy("systemd/fulcrum.service")).unwrap();
    assert!(text.contains("ExecStart=/usr/local/bin/fulcrum agent"));
    let path = directory.join("fulcrum.service");
    std::fs::write(
        &path,
        text.replace("/usr/local/bin/fulcrum", env!("CARGO_BIN_EXE_fulcrum")),
    )
    .unwrap();
    path
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let directory = tempfile::tempdir().unwrap();
    let unit = unit_in(directory.path());
    let verified = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let complaints = String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success(), "{complaints}");
    assert!(complaints.trim().is_empty(), "verify warns: {complaints}");

    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let line = report
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure in: {report}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no score in {line:?}"));
    println!("systemd-analyze security: {line}");
    assert!(
        score <= 3.0,
        "the unit is exposed more than it was made to be: {line}"
    );
}

#[test]
fn the_example_agent_configuration_resolves() {
    let text = std::fs::read_to_string(deploy("systemd/agent.toml")).unwrap();
    let config = AgentConfig::resolve(Some(&text), Given::default(), false)
        .unwrap_or_else(|error| panic!("deploy/systemd/agent.toml: {error}"));
    assert_eq!(config.data_dir, Path::new("/var/lib/fulcrum"));
    assert!(config.tls.is_some(), "the example runs with TLS");
    match config.membership {
        Membership::Bootstrap(members) => assert_eq!(members.len(), 3),
        other => panic!("the example bootstraps three nodes, not {other:?}"),
    }
}

/// A tool installed by `scripts/test` under `target/` (a PyPI virtual
/// environment).
fn tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(name)
        .join("bin")
        .join(name)
}

/// The manifests kustomization.yaml lists; every YAML file of the folder
/// is one of them.
fn manifests() -> Vec<PathBuf> {
    let kustomization = std::fs::read_to_string(deploy("kubernetes/kustomization.yaml")).unwrap();
    let listed: Vec<String> = kustomization
        .lines()
        .skip_while(|line| !line.starts_with("resources:"))
        .skip(1)
        .take_while(|line| line.trim_start().starts_with("- "))
        .map(|line| line.trim_start().trim_start_matches("- ").to_owned())
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(deploy("kubernetes"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    present.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, present, "kustomization.yaml lists every manifest");
    listed
        .iter()
        .map(|name| deploy("kubernetes").join(name))
        .collect()
}

fn validate(files: &[PathBuf]) -> std::process::Output {
    Command::new(tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.31.0"])
        .args(files)
        .output()
        .expect("kubernetes-validate (scripts/test installs it in target/)")
}

#[test]
fn the_kubernetes_manifests_pass_the_schemas() {
    let files = manifests();
    let checked = validate(&files);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(checked.status.success(), "{report}");
    assert_eq!(report.matches(" passed ").count(), files.len(), "{report}");
    let statefulset = std::fs::read_to_string(deploy("kubernetes/statefulset.yaml")).unwrap();
    for needed in [
        "serviceName: fulcrum-peers",
        "replicas: 3",
        "path: /healthz",
        "NET_ADMIN",
        "fulcrum-k8s-start",
        "secretName: fulcrum-tls",
    ] {
        assert!(statefulset.contains(needed), "the StatefulSet has {needed}");
    }

    // The check can fail: a field of the wrong type is refused.
    let directory = tempfile::tempdir().unwrap();
    let broken = directory.path().join("statefulset.yaml");
    std::fs::write(
        &broken,
        statefulset.replace("replicas: 3", "replicas: three"),
    )
    .unwrap();
    assert!(!validate(&[broken]).status.success());
}

fn compose_config(file: &Path) -> std::process::Output {
    Command::new("docker-compose")
        .arg("--file")
        .arg(file)
        .args(["config", "--quiet"])
        .output()
        .expect("docker-compose (Debian's docker-compose package)")
}

#[test]
fn the_compose_file_is_valid() {
    let file = deploy("compose/compose.yaml");
    let checked = compose_config(&file);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for n in 1..=3 {
        assert!(
            text.contains(&format!("FULCRUM_NODE_ID: \"{n}\"")),
            "node {n}"
        );
    }
    // The check can fail: a port that is not one is refused.
    let directory = tempfile::tempdir().unwrap();
    let broken = directory.path().join("compose.yaml");
    std::fs::write(
        &broken,
        text.replace("\"127.0.0.1:7400:7400\"", "\"not-a-port\""),
    )
    .unwrap();
    assert!(!compose_config(&broken).status.success());
}
