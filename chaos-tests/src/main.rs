//! `chaos-tests`: the checkers on their own.
//!
//! ```text
//! chaos-tests check-register FILE
//! ```
//!
//! Reads a Jepsen register history and prints the verdict on its last line,
//! `linearizable` or `not linearizable` (a search that runs out of its 10 s
//! counts as `not linearizable`, never as a pass). Exits 0 with either
//! verdict, 2 when the file cannot be read, 64 on bad usage.

use std::process::ExitCode;
use std::time::Duration;

use fulcrum_chaos_tests::history::parse_jepsen_register;
use fulcrum_chaos_tests::register::{Verdict, check};

const USAGE: &str = "usage: chaos-tests check-register FILE";

/// How long one history's check may take.
const LIMIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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

/// The verdict goes to standard output, alone on the last line.
fn writeln_stdout(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
}
