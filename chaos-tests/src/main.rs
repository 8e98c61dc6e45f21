//! `chaos-tests`: chaos runs against a local cluster, and the checkers on
//! their own.
//!
//! ```text
//! chaos-tests run [--seed N] [--duration SECONDS] [--rounds N]
//!                 [--nemesis partition,kill,stop,loss,mix|all]
//!                 [--out DIR] [--fulcrum PATH]
//! chaos-tests check-register FILE
//! ```
//!
//! `run` (root: it makes network namespaces) brings up three nodes with
//! `deploy/local-cluster` (TLS and authentication on; the CA, certificates
//! and data key in `OUT/cluster/pki`), runs the workloads and faults drawn
//! from the seed (default: the time), heals, reads and checks; it prints the
//! report and, when a check fails, the seed and the history's path, and
//! exits 1.
//! Defaults: 300 s, every nemesis, `./chaos-runs/SEED`,
//! `target/release/fulcrum`.
//!
//! `check-register` reads a Jepsen register history and prints the verdict
//! on its last line, `linearizable` or `not linearizable` (a search that runs
//! out of its 10 s counts as `not linearizable`, never as a pass). Exits 0
//! with either verdict, 2 when the file cannot be read, 64 on bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fulcrum_chaos_tests::nemesis::Nemesis;
use fulcrum_chaos_tests::run::RunConfig;

use fulcrum_chaos_tests::history::parse_jepsen_register;
use fulcrum_chaos_tests::register::{Verdict, check};

const USAGE: &str = "usage: chaos-tests run [--seed N] [--duration SECONDS] [--rounds N] \
[--nemesis partition,kill,stop,loss,mix|all] [--out DIR] [--fulcrum PATH]\n       \
chaos-tests check-register FILE";

/// How long one history's check may take.
const LIMIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("run") {
        return match run_config(&args[1..]) {
            Ok(config) => run(&config),
            Err(error) => {
                eprintln!("{error}\n{USAGE}");
                ExitCode::from(64)
            }
        };
    }
    let [command, file] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(64);
    };
    if command != "check-register" {
        eprintln!("unknown command {command:?}\n{USAGE}");
        return ExitCode::from(64);
    }
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("{file}: {error}");
            return ExitCode::from(2);
        }
    };
    let operations = match parse_jepsen_register(&text) {
        Ok(operations) => operations,
        Err(error) => {
            eprintln!("{file}: {error}");
            return ExitCode::from(2);
        }
    };
    let verdict = check(&operations, LIMIT);
    let line = match verdict {
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable { .. } => "not linearizable",
        Verdict::TimedOut => {
            eprintln!(
                "{file}: no verdict within {} s: counted as a failure",
                LIMIT.as_secs()
            );
            "not linearizable"
        }
    };
    eprintln!("{file}: {} operations", operations.len());
    let _ = writeln_stdout(line);
    ExitCode::SUCCESS
}

/// The run's settings from the command line.
fn run_config(args: &[String]) -> Result<RunConfig, String> {
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| since.as_secs());
    let mut duration = Duration::from_secs(300);
    let mut rounds = None;
    let mut nemeses = Nemesis::ALL.to_vec();
    let mut out = None;
    let mut binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/fulcrum");
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {value:?} is not a whole number"))
        };
        match flag.as_str() {
            "--seed" => seed = number()?,
            "--duration" => duration = Duration::from_secs(number()?),
            "--rounds" => rounds = Some(usize::try_from(number()?).unwrap_or(usize::MAX)),
            "--nemesis" => nemeses = Nemesis::parse_list(value)?,
            "--out" => out = Some(PathBuf::from(value)),
            "--fulcrum" => binary = PathBuf::from(value),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if !binary.exists() {
        return Err(format!(
            "{}: no such binary; build it (cargo build --release -p fulcrum-node --bin fulcrum) \
             or pass --fulcrum PATH",
            binary.display()
        ));
    }
    Ok(RunConfig {
        binary,
        seed,
        rounds,
        duration,
        nemeses,
        out: out.unwrap_or_else(|| PathBuf::from("chaos-runs").join(seed.to_string())),
    })
}

fn run(config: &RunConfig) -> ExitCode {
    match fulcrum_chaos_tests::run::run(config) {
        Ok(report) => {
            let _ = writeln_stdout(&report.text);
            if report.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "FAILED: seed {} (reproduce with --seed {}); history: {}",
                    config.seed,
                    config.seed,
                    report.history.display()
                );
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!(
                "the run could not be judged: {error} (seed {}, logs under {})",
                config.seed,
                config.out.display()
            );
            ExitCode::from(2)
        }
    }
}

/// The verdict goes to standard output, alone on the last line.
fn writeln_stdout(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
}
