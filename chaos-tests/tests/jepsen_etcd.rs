//! The register checker against real Jepsen etcd histories that no one here
//! wrote (`shared/testdata/jepsen-etcd/`), through the command line a user
//! would run: every verdict must match `verdicts.txt`, each within 10 s.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/jepsen-etcd")
}

#[test]
fn every_jepsen_etcd_verdict_matches() {
    let verdicts = std::fs::read_to_string(testdata().join("verdicts.txt")).unwrap();
    let mut checked = 0;
    for line in verdicts.lines().filter(|line| !line.trim().is_empty()) {
        let (file, expected) = line.split_once(' ').unwrap();
        let expected = match expected.trim() {
            "true" => "linearizable",
            "false" => "not linearizable",
            other => panic!("verdicts.txt: {other:?}"),
        };
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_chaos-tests"))
            .arg("check-register")
            .arg(testdata().join(file))
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(output.status.code(), Some(0), "{file}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let verdict = stdout.lines().last().unwrap_or_default();
        assert_eq!(
            verdict,
            expected,
            "{file}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(elapsed < Duration::from_secs(10), "{file} took {elapsed:?}");
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} histories");
}

#[test]
fn unreadable_input_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_chaos-tests"))
        .args(["check-register", "/nonexistent/history.log"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let directory = tempfile::tempdir().unwrap();
    let garbled = directory.path().join("garbled.log");
    std::fs::write(&garbled, "INFO  jepsen.util - 0\t:invoke\t:write\tseven\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chaos-tests"))
        .arg("check-register")
        .arg(&garbled)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
