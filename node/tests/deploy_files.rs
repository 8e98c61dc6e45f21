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
