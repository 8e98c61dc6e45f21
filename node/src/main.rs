//! `fulcrum`: `fulcrum agent` runs a node; every other subcommand is the CLI.
//! This file only parses the command line, sets up logging and calls the library.

use std::process::ExitCode;

use clap::Parser;
use fulcrum_node::cli::args::{Cli, Command};
use fulcrum_node::cli::{self, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fulcrum: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match &cli.command {
        Command::Agent(args) => {
            let config = match cli::agent_config(args, std::env::vars()) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("fulcrum agent: bad configuration: {error}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let filter = tracing_subscriber::EnvFilter::try_from_env("FULCRUM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
            let log = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match config.log_format {
                fulcrum_node::config::LogFormat::Text => log.init(),
                fulcrum_node::config::LogFormat::Json => log.json().with_current_span(true).init(),
            }
            runtime.block_on(fulcrum_node::agent::run_until_signalled(config))
        }
        _ => match runtime.block_on(cli::run(cli, utf8_vars())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                error.exit_code()
            }
        },
    }
}

/// The environment's variables whose name and value are UTF-8; others are
/// not the CLI's (`std::env::vars` would panic on them).
fn utf8_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}
