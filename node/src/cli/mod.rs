//! The `fulcrum` command line: `fulcrum agent` runs a node; every other
//! subcommand is a client of the public API of any node. Resources are named
//! by name or id; answers print as tables, or as JSON with `--output json`;
//! a refusal prints the server's words and exits non-zero. `fulcrum certs`
//! makes and reads certificate files and talks to no node.
//!
//! The endpoint and credentials of a client command come from flags, the
//! environment and the CLI config file ([`credentials`]). This module holds
//! what every command shares (the session, errors, tables); each resource's
//! commands have a module of their own.

pub mod args;
mod backup;
mod certificates;
pub mod certs;
mod cluster;
pub mod credentials;
mod eips;
mod events;
mod groups;
mod listeners;
mod load_balancers;
mod networks;
pub mod output;
mod resolve;
mod rules;
pub mod setting_flags;
mod stats;
mod tokens;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fulcrum_api::{Client, ConnectError, v1};

use crate::resources::text::{self, Table, or_dash};
use crate::resources::{Reading, Resource};
use args::{AdminState, Cli, Command, Describe};
use output::Format;

/// Exit code of a refused or failed request.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a bad configuration or command line (EX_USAGE).
pub const EXIT_USAGE: u8 = 64;
/// Exit code when no node could be reached (EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: u8 = 69;

/// Why a command failed, and the exit code that says so.
#[derive(Debug)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// A request that was answered, but not as the command needs.
    fn failed(message: String) -> Self {
        Self {
            message,
            code: EXIT_FAILURE,
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self {
            message: format!("{} ({:?})", status.message(), status.code()),
            code: EXIT_FAILURE,
        }
    }
}

type Outcome = Result<(), CliError>;

/// A connection and the options every command shares.
pub struct Session {
    client: Client,
    format: Format,
    local: bool,
    timeout: Duration,
    client_token: String,
}

impl Session {
    /// Connects to the node `connection` names, with its credentials (read
    /// now), and the options of `cli`.
    pub async fn connect(
        cli: &Cli,
        connection: &credentials::Connection,
    ) -> Result<Self, CliError> {
        let timeout = Duration::from_secs(cli.timeout.max(1));
        let credentials = connection
            .credentials()
            .map_err(|error| CliError::usage(error.to_string()))?;
        let client = Client::connect_with(&connection.endpoint, timeout, &credentials)
            .await
            .map_err(|error| match error {
                ConnectError::Invalid { .. } => CliError::usage(error.to_string()),
                ConnectError::Transport { .. } => CliError {
                    message: with_causes(&error),
                    code: EXIT_UNAVAILABLE,
                },
            })?;
        Ok(Self {
            client,
            format: cli.output,
            local: cli.local,
            timeout,
            client_token: cli.client_token.clone().unwrap_or_else(generated_token),
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    fn read(&self) -> Option<v1::ReadOptions> {
        Some(v1::ReadOptions {
            consistency: if self.local {
                v1::ReadConsistency::Local
            } else {
                v1::ReadConsistency::Linearizable
            } as i32,
        })
    }

    fn token(&self) -> String {
        self.client_token.clone()
    }

    fn print(&self, table: impl FnOnce() -> String, json: impl FnOnce() -> serde_json::Value) {
        print_in(self.format, table, json);
    }

    /// How this session reads: its consistency and deadline.
    fn reading(&self) -> Reading {
        Reading {
            read: self.read(),
            timeout: self.timeout,
        }
    }

    /// Prints the resource a write's answer holds: its columns, or the
    /// whole answer (`reply_name`) as JSON.
    fn print_resource<R: Resource, M: prost::Message>(
        &self,
        resource: Option<&R>,
        reply: &M,
        reply_name: &str,
    ) {
        self.print(
            || text::shown(&resource.cloned().unwrap_or_default()),
            || output::json(reply, reply_name),
        );
    }
}

/// `show`: one resource, by id.
async fn show<R: Resource>(session: &Session, id: String) -> Outcome {
    let (resource, revision) = R::get(&session.client, &session.reading(), id).await?;
    session.print(
        || text::shown(&resource),
        || serde_json::json!({ R::FIELD: output::json(&resource, R::MESSAGE), "revision": revision }),
    );
    Ok(())
}

/// `list`: every resource in `scope` (a parent's id; empty for all).
async fn list<R: Resource>(session: &Session, scope: &str) -> Outcome {
    let items = resolve::all::<R>(session, scope).await?;
    session.print(
        || text::listed(&items),
        || output::json_list(&items, R::MESSAGE),
    );
    Ok(())
}

/// Prints the table or the JSON, as `format` says.
fn print_in(
    format: Format,
    table: impl FnOnce() -> String,
    json: impl FnOnce() -> serde_json::Value,
) {
    let text = match format {
        Format::Table => table(),
        Format::Json => serde_json::to_string_pretty(&json()).unwrap_or_default() + "\n",
    };
    print_out(&text);
}

/// An error and its sources, `: `-separated: tonic's transport error says
/// only "transport error"; the cause (refused, unknown issuer) is below it.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.ends_with(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

#[allow(clippy::print_stdout)]
fn print_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// A token unique to this invocation, so the node may retry the write safely.
fn generated_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("cli-{}-{nanos:x}", std::process::id())
}

fn tags(describe: &Describe) -> Result<std::collections::BTreeMap<String, String>, CliError> {
    describe
        .tags
        .iter()
        .map(|tag| {
            tag.split_once('=')
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .ok_or_else(|| CliError::usage(format!("--tag {tag:?}: write KEY=VALUE")))
        })
        .collect()
}

fn admin_state(state: Option<AdminState>) -> Option<bool> {
    state.map(|state| state == AdminState::Up)
}

/// The agent's configuration from its flags, the environment `vars` and the
/// file `--config` names.
pub fn agent_config(
    args: &args::AgentArgs,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<crate::config::AgentConfig, crate::config::ConfigError> {
    let text = match &args.config {
        Some(path) => {
            Some(
                std::fs::read_to_string(path).map_err(|error| crate::config::ConfigError {
                    key: "config".to_owned(),
                    message: format!("cannot read {}: {error}", path.display()),
                })?,
            )
        }
        None => None,
    };
    let over = crate::config::Given::from_environment(vars).overridden_by(args.settings.given()?);
    let mut config = crate::config::AgentConfig::resolve(text.as_deref(), over, args.dev)?;
    config.seed = match (&args.restore, args.force_new_cluster) {
        (Some(file), _) => Some(crate::config::Seed::Restore(file.clone())),
        (None, true) => Some(crate::config::Seed::ForceNewCluster),
        (None, false) => None,
    };
    if config.seed.is_some() && matches!(config.membership, crate::config::Membership::Join(_)) {
        return Err(crate::config::ConfigError {
            key: "node.join".to_owned(),
            message: "--restore and --force-new-cluster start a cluster of this node alone: not with --join (the other nodes join it)".to_owned(),
        });
    }
    Ok(config)
}

/// Runs a client command (every subcommand but `agent`) with the
/// environment `vars`; `certs` and `backup show` need no connection.
pub async fn run(cli: Cli, vars: impl IntoIterator<Item = (String, String)>) -> Outcome {
    if let Command::Certs(command) = &cli.command {
        return certs::run(command, cli.output);
    }
    if let Command::Backup(args::BackupCommand::Show { file }) = &cli.command {
        return backup::show(file, cli.output);
    }
    let connection = credentials::connection(&cli.connection, vars)
        .map_err(|error| CliError::usage(error.to_string()))?;
    let session = Session::connect(&cli, &connection).await?;
    match cli.command {
        Command::Agent(_) => Err(CliError::usage("`agent` is not a client command")),
        Command::Certs(_) => Err(CliError::usage("`certs` needs no connection")),
        Command::Network(command) => networks::network(&session, command).await,
        Command::Subnet(command) => networks::subnet(&session, command).await,
        Command::Instance(command) => networks::instance(&session, command).await,
        Command::Eip(command) => eips::eip(&session, command).await,
        Command::LoadBalancer(command) => load_balancers::load_balancer(&session, command).await,
        Command::Listener(command) => listeners::listener(&session, command).await,
        Command::Group(command) => groups::group(&session, command).await,
        Command::Certificate(command) => certificates::certificate(&session, command).await,
        Command::Events(command) => events::events(&session, command).await,
        Command::Token(command) => tokens::token(&session, command).await,
        Command::Backup(command) => backup::backup(&session, command).await,
        Command::Cluster(command) => cluster::cluster(&session, command).await,
    }
}

fn meta_table(header: &[&'static str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new(header);
    for row in rows {
        table.row(row);
    }
    table.render()
}

fn revision_line(revision: u64) -> String {
    format!("revision {revision}\n")
}
