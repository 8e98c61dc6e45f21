//! Runs the data plane alone from a TOML file (see `fulcrum_dataplane::file`),
//! for benchmarks and debugging. The file is read again when it changes,
//! each version applied as the next generation.
//!
//! ```text
//! fulcrum-dataplane --config FILE [--threads N] [--no-pin] [--driver auto|epoll]
//!                   [--node-connection-limit N] [--access-log FILE]
//!                   [--access-log-format json|common] [--read-counters-every-ms N]
//! ```
//!
//! `--access-log` writes the lines of listeners with `access_log = true` to
//! FILE (standard output without it). `--read-counters-every-ms` reads the
//! counters as a metrics scrape does, for measuring what scraping costs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use fulcrum_dataplane::{Driver, Forwarder, Settings, file};

const USAGE: &str = "usage: fulcrum-dataplane --config FILE [--threads N] [--no-pin] [--driver auto|epoll] [--node-connection-limit N] [--access-log FILE] [--access-log-format json|common] [--read-counters-every-ms N]";

/// What the command line asks for.
struct Arguments {
    path: PathBuf,
    settings: Settings,
    read_counters_every: Option<Duration>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Arguments {
        path,
        settings,
        read_counters_every,
    } = match arguments(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    let mut config = match file::load(&path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(64);
        }
    };
    let forwarder = match Forwarder::start(&settings, config.clone()) {
        Ok(forwarder) => std::sync::Arc::new(forwarder),
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    report(&forwarder);
    if let Some(every) = read_counters_every {
        let forwarder = std::sync::Arc::clone(&forwarder);
        std::thread::spawn(move || {
            // The interval itself, as a scraper's: no condition is awaited.
            loop {
                std::thread::sleep(every);
                let counters = forwarder.counters();
                tracing::trace!(listeners = counters.listeners.len(), "counters read");
            }
        });
    }
    let mut modified = modified_at(&path);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = modified_at(&path);
        if now == modified {
            continue;
        }
        modified = now;
        match file::load(&path) {
            Ok(mut next) => {
                next.generation = config.generation + 1;
                config = next.clone();
                match forwarder.apply(next) {
                    Ok(()) => {
                        forwarder.wait_applied(config.generation, Duration::from_secs(5));
                        tracing::info!(generation = config.generation, "configuration reloaded");
                        report(&forwarder);
                    }
                    Err(error) => tracing::error!(%error, "configuration refused"),
                }
            }
            Err(error) => {
                tracing::error!(%error, "configuration unreadable; the previous one stays")
            }
        }
    }
}

fn report(forwarder: &Forwarder) {
    for (listener, error) in forwarder.listener_errors() {
        tracing::error!(%listener, %error, "listener not served");
    }
}

fn modified_at(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

fn arguments(mut args: impl Iterator<Item = String>) -> Result<Arguments, String> {
    use fulcrum_dataplane::access_log::{Destination, LogFormat};
    let mut path = None;
    let mut settings = Settings::default();
    let mut read_counters_every = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => path = Some(PathBuf::from(args.next().ok_or("--config needs a file")?)),
            "--threads" => {
                settings.threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--threads needs a number above 0")?;
            }
            "--no-pin" => settings.pin_threads = false,
            "--node-connection-limit" => {
                settings.node_connection_limit = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--node-connection-limit needs a number above 0")?;
            }
            "--driver" => {
                settings.driver = match args.next().as_deref() {
                    Some("auto") => Driver::Auto,
                    Some("epoll") => Driver::Epoll,
                    _ => {
                        return Err("--driver: auto (io_uring where available) or epoll".to_owned());
                    }
                };
            }
            "--access-log" => {
                settings.access_log.destination = Destination::File {
                    path: args.next().ok_or("--access-log needs a file")?.into(),
                    max_bytes: u64::MAX,
                    keep: 1,
                };
            }
            "--access-log-format" => {
                settings.access_log.format = match args.next().as_deref() {
                    Some("json") => LogFormat::Json,
                    Some("common") => LogFormat::Common,
                    _ => return Err("--access-log-format: json or common".to_owned()),
                };
            }
            "--read-counters-every-ms" => {
                read_counters_every = Some(Duration::from_millis(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or("--read-counters-every-ms needs a number above 0")?,
                ));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Arguments {
        path: path.ok_or("--config is required")?,
        settings,
        read_counters_every,
    })
}
