//! The short chaos run (issue 7's CI run): three nodes in network
//! namespaces, the register and set workloads and the EIP probes running
//! through three fault rounds drawn from a seed, then every check. Needs
//! root (CI runs as root). The seed is the time unless `CHAOS_SEED` gives
//! one; a failure prints it with the history's path.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fulcrum_chaos_tests::nemesis::Nemesis;
use fulcrum_chaos_tests::run::{RunConfig, run};

#[test]
fn a_short_chaos_run_finds_no_violation() {
    fulcrum_chaos_tests::cluster::assert_root();
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |since| since.as_secs())
        });
    let out = tempfile::tempdir().unwrap();
    let config = RunConfig {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_fulcrum")),
        seed,
        rounds: Some(3),
        duration: Duration::from_secs(120),
        nemeses: Nemesis::ALL.to_vec(),
        out: out.path().join(seed.to_string()),
    };
    let report = run(&config).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    eprintln!("{}", report.text);
    if !report.violations.is_empty() {
        // Keep the evidence: the temporary directory would be removed.
        let kept = std::env::temp_dir().join(format!("fulcrum-chaos-{seed}"));
        let _ = std::fs::remove_dir_all(&kept);
        let _ = std::process::Command::new("cp")
            .arg("-r")
            .arg(&config.out)
            .arg(&kept)
            .status();
        panic!(
            "seed {seed} (rerun with CHAOS_SEED={seed}): {:?}; history and logs in {}",
            report.violations,
            kept.display()
        );
    }
}
