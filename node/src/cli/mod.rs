//! The `fulcrum` command line: `fulcrum agent` runs a node; every other
//! subcommand is a client of the public API of any node. Resources are named
//! by name or id; answers print as tables, or as JSON with `--output json`;
//! a refusal prints the server's words and exits non-zero. `fulcrum certs`
//! makes and reads certificate files and talks to no node.
//!
//! The endpoint and credentials of a client command come from flags, the
//! environment and the CLI config file ([`credentials`]).

pub mod args;
pub mod certs;
pub mod credentials;
mod events;
pub mod output;
mod resolve;
pub mod setting_flags;
mod tokens;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fulcrum_api::{Client, ConnectError, v1};
use serde_json::json;

use args::{
    AdminState, AlgorithmArg, CertificateCommand, Cli, ClusterCommand, Command, Describe,
    EipCommand, GroupCommand, HealthCheckArg, InstanceCommand, ListenerCommand,
    LoadBalancerCommand, NetworkCommand, ProtocolArg, SubnetCommand,
};
use output::{Format, Table, fields, operating, or_dash, provisioning};

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
    crate::config::AgentConfig::resolve(text.as_deref(), over, args.dev)
}

/// Runs a client command (every subcommand but `agent`) with the
/// environment `vars`; `certs` needs no connection.
pub async fn run(cli: Cli, vars: impl IntoIterator<Item = (String, String)>) -> Outcome {
    if let Command::Certs(command) = &cli.command {
        return certs::run(command, cli.output);
    }
    let connection = credentials::connection(&cli.connection, vars)
        .map_err(|error| CliError::usage(error.to_string()))?;
    let session = Session::connect(&cli, &connection).await?;
    match cli.command {
        Command::Agent(_) => Err(CliError::usage("`agent` is not a client command")),
        Command::Certs(_) => Err(CliError::usage("`certs` needs no connection")),
        Command::Network(command) => network(&session, command).await,
        Command::Subnet(command) => subnet(&session, command).await,
        Command::Instance(command) => instance(&session, command).await,
        Command::Eip(command) => eip(&session, command).await,
        Command::LoadBalancer(command) => load_balancer(&session, command).await,
        Command::Listener(command) => listener(&session, command).await,
        Command::Group(command) => group(&session, command).await,
        Command::Certificate(command) => certificate(&session, command).await,
        Command::Events(command) => events::events(&session, command).await,
        Command::Token(command) => tokens::token(&session, command).await,
        Command::Cluster(command) => cluster(&session, command).await,
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

async fn network(session: &Session, command: NetworkCommand) -> Outcome {
    let mut client = session.client.networks();
    match command {
        NetworkCommand::Create {
            name,
            cidr,
            describe,
        } => {
            let reply = client
                .create_network(session.request(v1::CreateNetworkRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    cidr,
                }))
                .await?
                .into_inner();
            let network = reply.network.clone().unwrap_or_default();
            session.print(
                || network_fields(&network),
                || output::json(&reply, "fulcrum.v1.CreateNetworkResponse"),
            );
        }
        NetworkCommand::List => {
            let networks = resolve::networks(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "CIDR", "REVISION"],
                        networks.iter().map(|n| {
                            vec![
                                n.id.clone(),
                                n.name.clone(),
                                n.cidr.clone(),
                                n.revision.to_string(),
                            ]
                        }),
                    )
                },
                || output::json_list(&networks, "fulcrum.v1.Network"),
            );
        }
        NetworkCommand::Show { network } => {
            let id = resolve::network(session, &network).await?;
            let reply = client
                .get_network(session.request(v1::GetNetworkRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let network = reply.network.clone().unwrap_or_default();
            session.print(
                || network_fields(&network),
                || output::json(&reply, "fulcrum.v1.GetNetworkResponse"),
            );
        }
        NetworkCommand::Delete { network } => {
            let id = resolve::network(session, &network).await?;
            let reply = client
                .delete_network(session.request(v1::DeleteNetworkRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteNetworkResponse"),
            );
        }
    }
    Ok(())
}

fn network_fields(network: &v1::Network) -> String {
    fields(&[
        ("ID", network.id.clone()),
        ("NAME", network.name.clone()),
        ("CIDR", network.cidr.clone()),
        ("DESCRIPTION", or_dash(&network.description)),
        ("REVISION", network.revision.to_string()),
    ])
}

async fn subnet(session: &Session, command: SubnetCommand) -> Outcome {
    let mut client = session.client.networks();
    match command {
        SubnetCommand::Create {
            name,
            network,
            cidr,
            describe,
        } => {
            let network_id = resolve::network(session, &network).await?;
            let reply = client
                .create_subnet(session.request(v1::CreateSubnetRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    network_id,
                    cidr,
                }))
                .await?
                .into_inner();
            let subnet = reply.subnet.clone().unwrap_or_default();
            session.print(
                || subnet_fields(&subnet),
                || output::json(&reply, "fulcrum.v1.CreateSubnetResponse"),
            );
        }
        SubnetCommand::List { network } => {
            let network_id = match network {
                Some(network) => resolve::network(session, &network).await?,
                None => String::new(),
            };
            let subnets = resolve::subnets(session, &network_id).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "NETWORK", "CIDR"],
                        subnets.iter().map(|s| {
                            vec![
                                s.id.clone(),
                                s.name.clone(),
                                s.network_id.clone(),
                                s.cidr.clone(),
                            ]
                        }),
                    )
                },
                || output::json_list(&subnets, "fulcrum.v1.Subnet"),
            );
        }
        SubnetCommand::Show { subnet } => {
            let id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .get_subnet(session.request(v1::GetSubnetRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let subnet = reply.subnet.clone().unwrap_or_default();
            session.print(
                || subnet_fields(&subnet),
                || output::json(&reply, "fulcrum.v1.GetSubnetResponse"),
            );
        }
        SubnetCommand::Delete { subnet } => {
            let id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .delete_subnet(session.request(v1::DeleteSubnetRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteSubnetResponse"),
            );
        }
    }
    Ok(())
}

fn subnet_fields(subnet: &v1::Subnet) -> String {
    fields(&[
        ("ID", subnet.id.clone()),
        ("NAME", subnet.name.clone()),
        ("NETWORK", subnet.network_id.clone()),
        ("CIDR", subnet.cidr.clone()),
        ("REVISION", subnet.revision.to_string()),
    ])
}

async fn instance(session: &Session, command: InstanceCommand) -> Outcome {
    let mut client = session.client.networks();
    match command {
        InstanceCommand::Create {
            name,
            subnet,
            address,
            describe,
        } => {
            let subnet_id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .create_instance(session.request(v1::CreateInstanceRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    subnet_id,
                    address,
                }))
                .await?
                .into_inner();
            let instance = reply.instance.clone().unwrap_or_default();
            session.print(
                || instance_fields(&instance),
                || output::json(&reply, "fulcrum.v1.CreateInstanceResponse"),
            );
        }
        InstanceCommand::List { subnet } => {
            let subnet_id = match subnet {
                Some(subnet) => resolve::subnet(session, &subnet).await?,
                None => String::new(),
            };
            let instances = resolve::instances(session, &subnet_id).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "SUBNET", "ADDRESS"],
                        instances.iter().map(|i| {
                            vec![
                                i.id.clone(),
                                i.name.clone(),
                                i.subnet_id.clone(),
                                i.address.clone(),
                            ]
                        }),
                    )
                },
                || output::json_list(&instances, "fulcrum.v1.Instance"),
            );
        }
        InstanceCommand::Show { instance } => {
            let id = resolve::instance(session, &instance).await?;
            let reply = client
                .get_instance(session.request(v1::GetInstanceRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let instance = reply.instance.clone().unwrap_or_default();
            session.print(
                || instance_fields(&instance),
                || output::json(&reply, "fulcrum.v1.GetInstanceResponse"),
            );
        }
        InstanceCommand::Delete { instance } => {
            let id = resolve::instance(session, &instance).await?;
            let reply = client
                .delete_instance(session.request(v1::DeleteInstanceRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteInstanceResponse"),
            );
        }
    }
    Ok(())
}

fn instance_fields(instance: &v1::Instance) -> String {
    fields(&[
        ("ID", instance.id.clone()),
        ("NAME", instance.name.clone()),
        ("SUBNET", instance.subnet_id.clone()),
        ("ADDRESS", instance.address.clone()),
        ("REVISION", instance.revision.to_string()),
    ])
}

async fn eip(session: &Session, command: EipCommand) -> Outcome {
    let mut client = session.client.eips();
    match command {
        EipCommand::Allocate {
            name,
            address,
            describe,
        } => {
            let reply = client
                .allocate_eip(session.request(v1::AllocateEipRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    address,
                }))
                .await?
                .into_inner();
            let eip = reply.eip.clone().unwrap_or_default();
            session.print(
                || eip_fields(&eip),
                || output::json(&reply, "fulcrum.v1.AllocateEipResponse"),
            );
        }
        EipCommand::List => {
            let eips = resolve::eips(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "ADDRESS", "LOAD BALANCER"],
                        eips.iter().map(|e| {
                            vec![
                                e.id.clone(),
                                or_dash(&e.name),
                                e.address.clone(),
                                or_dash(&e.load_balancer_id),
                            ]
                        }),
                    )
                },
                || output::json_list(&eips, "fulcrum.v1.Eip"),
            );
        }
        EipCommand::Show { eip } => {
            let id = resolve::eip(session, &eip).await?;
            let reply = client
                .get_eip(session.request(v1::GetEipRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let eip = reply.eip.clone().unwrap_or_default();
            session.print(
                || eip_fields(&eip),
                || output::json(&reply, "fulcrum.v1.GetEipResponse"),
            );
        }
        EipCommand::Release { eip } => {
            let id = resolve::eip(session, &eip).await?;
            let reply = client
                .release_eip(session.request(v1::ReleaseEipRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.ReleaseEipResponse"),
            );
        }
    }
    Ok(())
}

fn eip_fields(eip: &v1::Eip) -> String {
    fields(&[
        ("ID", eip.id.clone()),
        ("NAME", or_dash(&eip.name)),
        ("ADDRESS", eip.address.clone()),
        ("LOAD BALANCER", or_dash(&eip.load_balancer_id)),
        ("REVISION", eip.revision.to_string()),
    ])
}

fn load_balancer_fields(lb: &v1::LoadBalancer) -> String {
    fields(&[
        ("ID", lb.id.clone()),
        ("NAME", lb.name.clone()),
        ("DESCRIPTION", or_dash(&lb.description)),
        ("NETWORK", lb.network_id.clone()),
        ("SUBNET", lb.subnet_id.clone()),
        ("EIP", or_dash(&lb.eip_id)),
        ("EIP ADDRESS", or_dash(&lb.eip_address)),
        (
            "ADMIN STATE",
            if lb.admin_state_up { "UP" } else { "DOWN" }.to_owned(),
        ),
        ("DELETE PROTECTION", lb.delete_protection.to_string()),
        ("PROVISIONING", provisioning(lb.provisioning_status)),
        ("OPERATING", operating(lb.operating_status)),
        ("REVISION", lb.revision.to_string()),
    ])
}

async fn load_balancer(session: &Session, command: LoadBalancerCommand) -> Outcome {
    let mut client = session.client.load_balancers();
    let lb_reply = |lb: Option<v1::LoadBalancer>| lb.unwrap_or_default();
    match command {
        LoadBalancerCommand::Create {
            name,
            network,
            subnet,
            delete_protection,
            describe,
        } => {
            let network_id = resolve::network(session, &network).await?;
            let subnet_id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .create_load_balancer(session.request(v1::CreateLoadBalancerRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    network_id,
                    subnet_id,
                    admin_state_up: None,
                    delete_protection: Some(delete_protection),
                }))
                .await?
                .into_inner();
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.CreateLoadBalancerResponse"),
            );
        }
        LoadBalancerCommand::List => {
            let lbs = resolve::load_balancers(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "EIP ADDRESS", "PROVISIONING", "OPERATING"],
                        lbs.iter().map(|lb| {
                            vec![
                                lb.id.clone(),
                                lb.name.clone(),
                                or_dash(&lb.eip_address),
                                provisioning(lb.provisioning_status),
                                operating(lb.operating_status),
                            ]
                        }),
                    )
                },
                || output::json_list(&lbs, "fulcrum.v1.LoadBalancer"),
            );
        }
        LoadBalancerCommand::Show { load_balancer } => {
            let id = resolve::load_balancer(session, &load_balancer).await?;
            show_load_balancer(session, &id).await?;
        }
        LoadBalancerCommand::Update {
            load_balancer,
            name,
            description,
            admin_state: state,
            delete_protection,
            tags: new_tags,
            clear_tags,
            expected_revision,
        } => {
            let id = resolve::load_balancer(session, &load_balancer).await?;
            let tags = if clear_tags || !new_tags.is_empty() {
                let describe = Describe {
                    description: String::new(),
                    tags: new_tags,
                };
                Some(v1::Tags {
                    entries: tags(&describe)?,
                })
            } else {
                None
            };
            let reply = client
                .update_load_balancer(session.request(v1::UpdateLoadBalancerRequest {
                    client_token: session.token(),
                    id,
                    expected_revision,
                    name,
                    description,
                    tags,
                    admin_state_up: admin_state(state),
                    delete_protection,
                    network_id: None,
                    subnet_id: None,
                }))
                .await?
                .into_inner();
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.UpdateLoadBalancerResponse"),
            );
        }
        LoadBalancerCommand::Delete {
            load_balancer,
            cascade,
        } => {
            let id = resolve::load_balancer(session, &load_balancer).await?;
            let reply = client
                .delete_load_balancer(session.request(v1::DeleteLoadBalancerRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                    cascade,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteLoadBalancerResponse"),
            );
        }
        LoadBalancerCommand::Status { load_balancer } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let reply = client
                .get_status_tree(session.request(v1::GetStatusTreeRequest {
                    load_balancer_id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let tree = reply.load_balancer.clone().unwrap_or_default();
            session.print(
                || status_tree_text(&tree),
                || output::json(&reply, "fulcrum.v1.GetStatusTreeResponse"),
            );
        }
        LoadBalancerCommand::AssociateEip { load_balancer, eip } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let eip_id = resolve::eip(session, &eip).await?;
            let reply = client
                .associate_eip(session.request(v1::AssociateEipRequest {
                    client_token: session.token(),
                    load_balancer_id,
                    eip_id,
                }))
                .await?
                .into_inner();
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.AssociateEipResponse"),
            );
        }
        LoadBalancerCommand::DisassociateEip { load_balancer } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let reply = client
                .disassociate_eip(session.request(v1::DisassociateEipRequest {
                    client_token: session.token(),
                    load_balancer_id,
                }))
                .await?
                .into_inner();
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.DisassociateEipResponse"),
            );
        }
    }
    Ok(())
}

/// `fulcrum lb show`: the Load Balancer, its EIP, listeners and groups (with
/// members), all with their statuses.
async fn show_load_balancer(session: &Session, id: &str) -> Outcome {
    let lb = session
        .client
        .load_balancers()
        .get_load_balancer(session.request(v1::GetLoadBalancerRequest {
            id: id.to_owned(),
            read: session.read(),
        }))
        .await?
        .into_inner()
        .load_balancer
        .unwrap_or_default();
    let listeners = resolve::listeners(session, id).await?;
    let groups = resolve::groups(session, id).await?;
    let text = || {
        let mut text = load_balancer_fields(&lb);
        text.push_str("\nLISTENERS\n");
        let group_name = |group_id: &str| {
            groups
                .iter()
                .find(|group| group.id == group_id)
                .map_or_else(|| or_dash(group_id), |group| group.name.clone())
        };
        text.push_str(&meta_table(
            &[
                "ID",
                "NAME",
                "PROTOCOL",
                "PORT",
                "GROUP",
                "CONN LIMIT",
                "PROVISIONING",
                "OPERATING",
            ],
            listeners.iter().map(|listener| {
                vec![
                    listener.id.clone(),
                    listener.name.clone(),
                    output::protocol(listener.protocol),
                    listener.port.to_string(),
                    group_name(&listener.default_group_id),
                    listener.connection_limit.to_string(),
                    provisioning(listener.provisioning_status),
                    operating(listener.operating_status),
                ]
            }),
        ));
        text.push_str("\nGROUPS\n");
        text.push_str(&meta_table(
            &[
                "ID",
                "NAME",
                "ALGORITHM",
                "MEMBERS",
                "PROVISIONING",
                "OPERATING",
            ],
            groups.iter().map(|group| {
                vec![
                    group.id.clone(),
                    group.name.clone(),
                    output::algorithm(group.algorithm),
                    group.members.len().to_string(),
                    provisioning(group.provisioning_status),
                    operating(group.operating_status),
                ]
            }),
        ));
        text.push_str("\nMEMBERS\n");
        text.push_str(&meta_table(
            &["GROUP", "ID", "ADDRESS", "PORT", "WEIGHT", "OPERATING"],
            groups.iter().flat_map(|group| {
                group.members.iter().map(|member| {
                    vec![
                        group.name.clone(),
                        member.id.clone(),
                        member.address.clone(),
                        member.port.to_string(),
                        member.weight.to_string(),
                        operating(member.operating_status),
                    ]
                })
            }),
        ));
        text
    };
    session.print(text, || {
        json!({
            "loadBalancer": output::json(&lb, "fulcrum.v1.LoadBalancer"),
            "listeners": listeners.iter().map(|l| output::json(l, "fulcrum.v1.Listener")).collect::<Vec<_>>(),
            "groups": groups.iter().map(|g| output::json(g, "fulcrum.v1.VirtualServerGroup")).collect::<Vec<_>>(),
        })
    });
    Ok(())
}

fn status_tree_text(tree: &v1::LoadBalancerStatus) -> String {
    let mut table = Table::new(&[
        "KIND",
        "NAME",
        "ID",
        "PROVISIONING",
        "OPERATING",
        "CONNECTIONS",
        "REQUESTS",
        "NOTE",
    ]);
    table.row(vec![
        "load balancer".into(),
        tree.name.clone(),
        tree.id.clone(),
        provisioning(tree.provisioning_status),
        operating(tree.operating_status),
        "-".into(),
        "-".into(),
        String::new(),
    ]);
    for listener in &tree.listeners {
        let (connections, requests) = traffic(listener.counters.as_ref());
        table.row(vec![
            "  listener".into(),
            listener.name.clone(),
            listener.id.clone(),
            provisioning(listener.provisioning_status),
            operating(listener.operating_status),
            connections,
            requests,
            listener.provisioning_error.clone(),
        ]);
    }
    for group in &tree.groups {
        table.row(vec![
            "  group".into(),
            group.name.clone(),
            group.id.clone(),
            provisioning(group.provisioning_status),
            operating(group.operating_status),
            "-".into(),
            "-".into(),
            String::new(),
        ]);
        for member in &group.members {
            let (connections, requests) = traffic(member.counters.as_ref());
            table.row(vec![
                "    member".into(),
                format!("{}:{}", member.address, member.port),
                member.id.clone(),
                provisioning(member.provisioning_status),
                operating(member.operating_status),
                connections,
                requests,
                String::new(),
            ]);
        }
    }
    table.render()
}

/// Connections (open/total) and requests, from the EIP owner's counters.
fn traffic(counters: Option<&v1::TrafficCounters>) -> (String, String) {
    match counters {
        Some(counters) => (
            format!(
                "{}/{}",
                counters.active_connections, counters.total_connections
            ),
            counters.requests.to_string(),
        ),
        None => ("-".into(), "-".into()),
    }
}

fn listener_fields(listener: &v1::Listener) -> String {
    fields(&[
        ("ID", listener.id.clone()),
        ("NAME", listener.name.clone()),
        ("LOAD BALANCER", listener.load_balancer_id.clone()),
        ("PROTOCOL", output::protocol(listener.protocol)),
        ("PORT", listener.port.to_string()),
        ("GROUP", or_dash(&listener.default_group_id)),
        ("CONNECTION LIMIT", listener.connection_limit.to_string()),
        ("CERTIFICATE", or_dash(&listener.certificate_id)),
        ("PROVISIONING", provisioning(listener.provisioning_status)),
        ("PROVISIONING ERROR", or_dash(&listener.provisioning_error)),
        ("OPERATING", operating(listener.operating_status)),
        ("REVISION", listener.revision.to_string()),
    ])
}

fn protocol_value(protocol: ProtocolArg) -> v1::Protocol {
    match protocol {
        ProtocolArg::Tcp => v1::Protocol::Tcp,
        ProtocolArg::Http => v1::Protocol::Http,
        ProtocolArg::Https => v1::Protocol::Https,
    }
}

async fn listener(session: &Session, command: ListenerCommand) -> Outcome {
    let mut client = session.client.listeners();
    match command {
        ListenerCommand::Create {
            name,
            load_balancer,
            protocol,
            port,
            group,
            connection_limit,
            certificate,
            idle_timeout,
            x_forwarded_for,
            describe,
        } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let default_group_id = match group {
                Some(group) => resolve::group(session, &group, Some(&load_balancer_id)).await?,
                None => String::new(),
            };
            let certificate_id = match certificate {
                Some(certificate) => resolve::certificate(session, &certificate).await?,
                None => String::new(),
            };
            let reply = client
                .create_listener(session.request(v1::CreateListenerRequest {
                    client_token: session.token(),
                    load_balancer_id,
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    protocol: protocol_value(protocol) as i32,
                    port,
                    connection_limit,
                    default_group_id,
                    certificate_id,
                    idle_timeout_s: idle_timeout,
                    insert_x_forwarded_for: x_forwarded_for,
                    admin_state_up: None,
                }))
                .await?
                .into_inner();
            let listener = reply.listener.clone().unwrap_or_default();
            session.print(
                || listener_fields(&listener),
                || output::json(&reply, "fulcrum.v1.CreateListenerResponse"),
            );
        }
        ListenerCommand::List { load_balancer } => {
            let load_balancer_id =
                resolve::optional_load_balancer(session, load_balancer.as_deref())
                    .await?
                    .unwrap_or_default();
            let listeners = resolve::listeners(session, &load_balancer_id).await?;
            session.print(
                || {
                    meta_table(
                        &[
                            "ID",
                            "NAME",
                            "LOAD BALANCER",
                            "PROTOCOL",
                            "PORT",
                            "PROVISIONING",
                        ],
                        listeners.iter().map(|l| {
                            vec![
                                l.id.clone(),
                                l.name.clone(),
                                l.load_balancer_id.clone(),
                                output::protocol(l.protocol),
                                l.port.to_string(),
                                provisioning(l.provisioning_status),
                            ]
                        }),
                    )
                },
                || output::json_list(&listeners, "fulcrum.v1.Listener"),
            );
        }
        ListenerCommand::Show {
            listener,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            let reply = client
                .get_listener(session.request(v1::GetListenerRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let listener = reply.listener.clone().unwrap_or_default();
            session.print(
                || listener_fields(&listener),
                || output::json(&reply, "fulcrum.v1.GetListenerResponse"),
            );
        }
        ListenerCommand::Update {
            listener,
            load_balancer,
            name,
            group,
            connection_limit,
            admin_state: state,
            description,
            certificate,
            idle_timeout,
            x_forwarded_for,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            let default_group_id = match group {
                Some(group) => Some(resolve::group(session, &group, lb.as_deref()).await?),
                None => None,
            };
            let certificate_id = match certificate {
                Some(certificate) => Some(resolve::certificate(session, &certificate).await?),
                None => None,
            };
            let reply = client
                .update_listener(session.request(v1::UpdateListenerRequest {
                    client_token: session.token(),
                    id,
                    name,
                    default_group_id,
                    connection_limit,
                    admin_state_up: admin_state(state),
                    description,
                    certificate_id,
                    idle_timeout_s: idle_timeout,
                    insert_x_forwarded_for: x_forwarded_for,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            let listener = reply.listener.clone().unwrap_or_default();
            session.print(
                || listener_fields(&listener),
                || output::json(&reply, "fulcrum.v1.UpdateListenerResponse"),
            );
        }
        ListenerCommand::Delete {
            listener,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            let reply = client
                .delete_listener(session.request(v1::DeleteListenerRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteListenerResponse"),
            );
        }
    }
    Ok(())
}

fn group_text(group: &v1::VirtualServerGroup) -> String {
    let mut text = fields(&[
        ("ID", group.id.clone()),
        ("NAME", group.name.clone()),
        ("LOAD BALANCER", group.load_balancer_id.clone()),
        ("ALGORITHM", output::algorithm(group.algorithm)),
        (
            "HEALTH CHECK",
            group.health_check.as_ref().map_or_else(
                || "-".to_owned(),
                |check| {
                    v1::HealthCheckType::try_from(check.r#type)
                        .map(|kind| {
                            kind.as_str_name()
                                .trim_start_matches("HEALTH_CHECK_TYPE_")
                                .to_owned()
                        })
                        .unwrap_or_default()
                },
            ),
        ),
        ("PROVISIONING", provisioning(group.provisioning_status)),
        ("OPERATING", operating(group.operating_status)),
        ("REVISION", group.revision.to_string()),
    ]);
    text.push_str("\nMEMBERS\n");
    text.push_str(&meta_table(
        &[
            "ID",
            "INSTANCE",
            "ADDRESS",
            "PORT",
            "WEIGHT",
            "ADMIN",
            "OPERATING",
        ],
        group.members.iter().map(|member| {
            vec![
                member.id.clone(),
                member.instance_id.clone(),
                member.address.clone(),
                member.port.to_string(),
                member.weight.to_string(),
                if member.admin_state_up { "UP" } else { "DOWN" }.to_owned(),
                operating(member.operating_status),
            ]
        }),
    ));
    text
}

fn algorithm_value(algorithm: AlgorithmArg) -> v1::Algorithm {
    match algorithm {
        AlgorithmArg::RoundRobin => v1::Algorithm::WeightedRoundRobin,
        AlgorithmArg::LeastConnections => v1::Algorithm::WeightedLeastConnections,
        AlgorithmArg::SourceIp => v1::Algorithm::SourceIpHash,
    }
}

fn health_check_value(
    kind: HealthCheckArg,
    http_path: Option<String>,
    expected_codes: Option<String>,
) -> v1::HealthCheck {
    v1::HealthCheck {
        r#type: match kind {
            HealthCheckArg::Tcp => v1::HealthCheckType::Tcp,
            HealthCheckArg::Http => v1::HealthCheckType::Http,
        } as i32,
        http_path,
        expected_codes,
        ..Default::default()
    }
}

/// Parses `INSTANCE:PORT` or `INSTANCE:PORT:WEIGHT`, resolving the instance.
async fn member_spec(session: &Session, text: &str) -> Result<v1::MemberSpec, CliError> {
    let parts: Vec<&str> = text.split(':').collect();
    let usage = || {
        CliError::usage(format!(
            "member {text:?}: write INSTANCE:PORT or INSTANCE:PORT:WEIGHT"
        ))
    };
    let (instance, port, weight) = match parts.as_slice() {
        [instance, port] => (*instance, *port, None),
        [instance, port, weight] => (*instance, *port, Some(*weight)),
        _ => return Err(usage()),
    };
    let port = port.parse().map_err(|_| usage())?;
    let weight = weight.map(str::parse).transpose().map_err(|_| usage())?;
    Ok(v1::MemberSpec {
        instance_id: resolve::instance(session, instance).await?,
        port,
        weight,
        admin_state_up: None,
    })
}

async fn group(session: &Session, command: GroupCommand) -> Outcome {
    let mut client = session.client.groups();
    match command {
        GroupCommand::Create {
            name,
            load_balancer,
            algorithm,
            health_check,
            health_path,
            health_codes,
            members,
            describe,
        } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let mut specs = Vec::with_capacity(members.len());
            for member in &members {
                specs.push(member_spec(session, member).await?);
            }
            let algorithm = algorithm.map_or(v1::Algorithm::Unspecified, algorithm_value);
            let health_check =
                health_check.map(|kind| health_check_value(kind, health_path, health_codes));
            let reply = client
                .create_group(session.request(v1::CreateGroupRequest {
                    client_token: session.token(),
                    load_balancer_id,
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    algorithm: algorithm as i32,
                    health_check,
                    members: specs,
                }))
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.CreateGroupResponse"),
            );
        }
        GroupCommand::List { load_balancer } => {
            let load_balancer_id =
                resolve::optional_load_balancer(session, load_balancer.as_deref())
                    .await?
                    .unwrap_or_default();
            let groups = resolve::groups(session, &load_balancer_id).await?;
            session.print(
                || {
                    meta_table(
                        &[
                            "ID",
                            "NAME",
                            "LOAD BALANCER",
                            "ALGORITHM",
                            "MEMBERS",
                            "OPERATING",
                        ],
                        groups.iter().map(|g| {
                            vec![
                                g.id.clone(),
                                g.name.clone(),
                                g.load_balancer_id.clone(),
                                output::algorithm(g.algorithm),
                                g.members.len().to_string(),
                                operating(g.operating_status),
                            ]
                        }),
                    )
                },
                || output::json_list(&groups, "fulcrum.v1.VirtualServerGroup"),
            );
        }
        GroupCommand::Show {
            group,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .get_group(session.request(v1::GetGroupRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.GetGroupResponse"),
            );
        }
        GroupCommand::Update {
            group,
            load_balancer,
            name,
            algorithm,
            health_check,
            health_path,
            health_codes,
            no_health_check,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .update_group(
                    session.request(v1::UpdateGroupRequest {
                        client_token: session.token(),
                        id,
                        name,
                        algorithm: algorithm.map(|algorithm| algorithm_value(algorithm) as i32),
                        health_check: health_check
                            .map(|kind| health_check_value(kind, health_path, health_codes)),
                        clear_health_check: no_health_check,
                        ..Default::default()
                    }),
                )
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.UpdateGroupResponse"),
            );
        }
        GroupCommand::ReplaceMembers {
            group,
            members,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let mut specs = Vec::with_capacity(members.len());
            for member in &members {
                specs.push(member_spec(session, member).await?);
            }
            let reply = client
                .replace_members(session.request(v1::ReplaceMembersRequest {
                    client_token: session.token(),
                    group_id,
                    members: specs,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.ReplaceMembersResponse"),
            );
        }
        GroupCommand::Delete {
            group,
            load_balancer,
            cascade,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .delete_group(session.request(v1::DeleteGroupRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                    cascade,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteGroupResponse"),
            );
        }
        GroupCommand::AddMember {
            group,
            member,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let spec = member_spec(session, &member).await?;
            let reply = client
                .add_member(session.request(v1::AddMemberRequest {
                    client_token: session.token(),
                    group_id,
                    member: Some(spec),
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.AddMemberResponse"),
            );
        }
        GroupCommand::UpdateMember {
            group,
            member,
            weight,
            admin_state: state,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .update_member(session.request(v1::UpdateMemberRequest {
                    client_token: session.token(),
                    group_id,
                    member_id: member,
                    expected_revision: None,
                    weight,
                    admin_state_up: admin_state(state),
                }))
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.UpdateMemberResponse"),
            );
        }
        GroupCommand::RemoveMember {
            group,
            member,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .remove_member(session.request(v1::RemoveMemberRequest {
                    client_token: session.token(),
                    group_id,
                    member_id: member,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            let group = reply.group.clone().unwrap_or_default();
            session.print(
                || group_text(&group),
                || output::json(&reply, "fulcrum.v1.RemoveMemberResponse"),
            );
        }
    }
    Ok(())
}

fn certificate_fields(certificate: &v1::Certificate) -> String {
    fields(&[
        ("ID", certificate.id.clone()),
        ("NAME", certificate.name.clone()),
        ("FINGERPRINT", certificate.fingerprint.clone()),
        (
            "NOT AFTER (UNIX MS)",
            certificate.not_after_unix_ms.to_string(),
        ),
        ("REVISION", certificate.revision.to_string()),
    ])
}

async fn certificate(session: &Session, command: CertificateCommand) -> Outcome {
    let mut client = session.client.certificates();
    match command {
        CertificateCommand::Upload {
            name,
            chain,
            private_key,
            describe,
        } => {
            let read = |path: &std::path::Path, flag: &str| {
                std::fs::read_to_string(path).map_err(|error| {
                    CliError::usage(format!("--{flag} {}: {error}", path.display()))
                })
            };
            let reply = client
                .upload_certificate(session.request(v1::UploadCertificateRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    certificate_chain: read(&chain, "chain")?,
                    private_key: read(&private_key, "private-key")?,
                }))
                .await?
                .into_inner();
            let certificate = reply.certificate.clone().unwrap_or_default();
            session.print(
                || certificate_fields(&certificate),
                || output::json(&reply, "fulcrum.v1.UploadCertificateResponse"),
            );
        }
        CertificateCommand::List => {
            let certificates = resolve::certificates(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "FINGERPRINT"],
                        certificates
                            .iter()
                            .map(|c| vec![c.id.clone(), c.name.clone(), c.fingerprint.clone()]),
                    )
                },
                || output::json_list(&certificates, "fulcrum.v1.Certificate"),
            );
        }
        CertificateCommand::Show { certificate } => {
            let id = resolve::certificate(session, &certificate).await?;
            let reply = client
                .get_certificate(session.request(v1::GetCertificateRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let certificate = reply.certificate.clone().unwrap_or_default();
            session.print(
                || certificate_fields(&certificate),
                || output::json(&reply, "fulcrum.v1.GetCertificateResponse"),
            );
        }
        CertificateCommand::Delete { certificate } => {
            let id = resolve::certificate(session, &certificate).await?;
            let reply = client
                .delete_certificate(session.request(v1::DeleteCertificateRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                    cascade: false,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteCertificateResponse"),
            );
        }
    }
    Ok(())
}

fn cluster_status_text(status: &v1::GetClusterStatusResponse) -> String {
    let mut text = fields(&[
        ("ANSWERED BY", status.node_id.to_string()),
        ("CLUSTER ID", status.cluster_id.clone()),
        (
            "LEADER",
            status
                .leader_id
                .map_or_else(|| "none".to_owned(), |id| id.to_string()),
        ),
        ("TERM", status.term.to_string()),
        ("APPLIED INDEX", status.applied_index.to_string()),
        ("REVISION", status.revision.to_string()),
    ]);
    if !status.state_digest.is_empty() {
        let hex: String = status
            .state_digest
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        text.push_str(&fields(&[(
            "STATE DIGEST",
            format!("{hex} (at log index {})", status.state_log_index),
        )]));
    }
    text.push('\n');
    text.push_str(&meta_table(
        &[
            "NODE",
            "ROLE",
            "RAFT ADDRESS",
            "API ADDRESS",
            "MATCHED",
            "LAG",
        ],
        status.members.iter().map(|member| {
            let role = if Some(member.node_id) == status.leader_id {
                "LEADER".to_owned()
            } else {
                v1::ClusterRole::try_from(member.role)
                    .map(|role| {
                        role.as_str_name()
                            .trim_start_matches("CLUSTER_ROLE_")
                            .to_owned()
                    })
                    .unwrap_or_default()
            };
            vec![
                member.node_id.to_string(),
                role,
                member.raft_address.clone(),
                member.api_address.clone(),
                member
                    .matched_index
                    .map_or_else(|| "-".to_owned(), |index| index.to_string()),
                member
                    .lag
                    .map_or_else(|| "-".to_owned(), |lag| lag.to_string()),
            ]
        }),
    ));
    text
}

/// A quota the server may leave out (an older server has none of these).
fn optional_quota(value: Option<u32>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

fn settings_text(settings: &v1::ClusterSettings) -> String {
    let quotas = settings.quotas.unwrap_or_default();
    fields(&[
        ("EIP POOL", settings.eip_pool.join(", ")),
        ("LOAD BALANCERS (QUOTA)", quotas.load_balancers.to_string()),
        (
            "LISTENERS PER LB",
            quotas.listeners_per_load_balancer.to_string(),
        ),
        ("GROUPS PER LB", quotas.groups_per_load_balancer.to_string()),
        ("MEMBERS PER GROUP", quotas.members_per_group.to_string()),
        ("NETWORKS (QUOTA)", optional_quota(quotas.networks)),
        ("SUBNETS (QUOTA)", optional_quota(quotas.subnets)),
        ("INSTANCES (QUOTA)", optional_quota(quotas.instances)),
        ("EIPS (QUOTA)", optional_quota(quotas.eips)),
        ("CERTIFICATES (QUOTA)", optional_quota(quotas.certificates)),
        (
            "TOKEN RETENTION (S)",
            settings.client_token_retention_s.to_string(),
        ),
        ("TOKEN CAPACITY", settings.client_token_capacity.to_string()),
        (
            "HISTORY (REVISIONS)",
            settings.history_retention_revisions.to_string(),
        ),
        ("REVISION", settings.revision.to_string()),
    ])
}

async fn cluster(session: &Session, command: ClusterCommand) -> Outcome {
    let mut client = session.client.cluster();
    match command {
        ClusterCommand::Status { digest } => {
            let reply = client
                .get_cluster_status(session.request(v1::GetClusterStatusRequest {
                    read: session.read(),
                    include_state_digest: digest,
                }))
                .await?
                .into_inner();
            session.print(
                || cluster_status_text(&reply),
                || output::json(&reply, "fulcrum.v1.GetClusterStatusResponse"),
            );
        }
        ClusterCommand::Settings => {
            let reply = client
                .get_cluster_settings(session.request(v1::GetClusterSettingsRequest {
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let settings = reply.settings.clone().unwrap_or_default();
            session.print(
                || settings_text(&settings),
                || output::json(&reply, "fulcrum.v1.GetClusterSettingsResponse"),
            );
        }
        ClusterCommand::SetEipPool { cidrs } => {
            let reply = client
                .update_cluster_settings(session.request(v1::UpdateClusterSettingsRequest {
                    client_token: session.token(),
                    eip_pool: Some(v1::EipPool { cidrs }),
                    ..Default::default()
                }))
                .await?
                .into_inner();
            let settings = reply.settings.clone().unwrap_or_default();
            session.print(
                || settings_text(&settings),
                || output::json(&reply, "fulcrum.v1.UpdateClusterSettingsResponse"),
            );
        }
        ClusterCommand::UpdateSettings {
            quota_load_balancers,
            quota_listeners,
            quota_groups,
            quota_members,
            quota_networks,
            quota_subnets,
            quota_instances,
            quota_eips,
            quota_certificates,
            token_retention_s,
            token_capacity,
            history_revisions,
        } => {
            let quota_given = quota_load_balancers.is_some()
                || quota_listeners.is_some()
                || quota_groups.is_some()
                || quota_members.is_some()
                || quota_networks.is_some()
                || quota_subnets.is_some()
                || quota_instances.is_some()
                || quota_eips.is_some()
                || quota_certificates.is_some();
            let quotas = if quota_given {
                // Quotas are replaced as a whole: start from the current ones.
                let current = client
                    .get_cluster_settings(session.request(v1::GetClusterSettingsRequest {
                        read: session.read(),
                    }))
                    .await?
                    .into_inner()
                    .settings
                    .unwrap_or_default()
                    .quotas
                    .unwrap_or_default();
                Some(v1::Quotas {
                    load_balancers: quota_load_balancers.unwrap_or(current.load_balancers),
                    listeners_per_load_balancer: quota_listeners
                        .unwrap_or(current.listeners_per_load_balancer),
                    groups_per_load_balancer: quota_groups
                        .unwrap_or(current.groups_per_load_balancer),
                    members_per_group: quota_members.unwrap_or(current.members_per_group),
                    // The optional quotas keep their value when absent.
                    networks: quota_networks,
                    subnets: quota_subnets,
                    instances: quota_instances,
                    eips: quota_eips,
                    certificates: quota_certificates,
                })
            } else {
                None
            };
            let reply = client
                .update_cluster_settings(session.request(v1::UpdateClusterSettingsRequest {
                    client_token: session.token(),
                    quotas,
                    client_token_retention_s: token_retention_s,
                    client_token_capacity: token_capacity,
                    history_retention_revisions: history_revisions,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            let settings = reply.settings.clone().unwrap_or_default();
            session.print(
                || settings_text(&settings),
                || output::json(&reply, "fulcrum.v1.UpdateClusterSettingsResponse"),
            );
        }
        ClusterCommand::AddLearner {
            node_id,
            raft_address,
            api_address,
        } => {
            let reply = client
                .add_learner(session.request(v1::AddLearnerRequest {
                    node_id,
                    raft_address,
                    api_address,
                }))
                .await?
                .into_inner();
            let status = reply.status.clone().unwrap_or_default();
            session.print(
                || cluster_status_text(&status),
                || output::json(&reply, "fulcrum.v1.AddLearnerResponse"),
            );
        }
        ClusterCommand::Promote { node_id } => {
            let reply = client
                .promote_node(session.request(v1::PromoteNodeRequest { node_id }))
                .await?
                .into_inner();
            let status = reply.status.clone().unwrap_or_default();
            session.print(
                || cluster_status_text(&status),
                || output::json(&reply, "fulcrum.v1.PromoteNodeResponse"),
            );
        }
        ClusterCommand::Remove { node_id } => {
            let reply = client
                .remove_node(session.request(v1::RemoveNodeRequest { node_id }))
                .await?
                .into_inner();
            let status = reply.status.clone().unwrap_or_default();
            session.print(
                || cluster_status_text(&status),
                || output::json(&reply, "fulcrum.v1.RemoveNodeResponse"),
            );
        }
        ClusterCommand::TransferLeadership { node_id } => {
            let reply = client
                .transfer_leadership(session.request(v1::TransferLeadershipRequest {
                    to_node_id: node_id,
                }))
                .await?
                .into_inner();
            session.print(
                || {
                    format!(
                        "leader {}\n",
                        reply
                            .leader_id
                            .map_or_else(|| "none".to_owned(), |id| id.to_string())
                    )
                },
                || output::json(&reply, "fulcrum.v1.TransferLeadershipResponse"),
            );
        }
        ClusterCommand::ResealKeys => {
            // Every batch is a write: no deadline shorter than the work.
            let reply = client
                .reseal_certificate_keys(v1::ResealCertificateKeysRequest {})
                .await?
                .into_inner();
            session.print(
                || {
                    format!(
                        "resealed {} certificate keys with data key {} (revision {})\n",
                        reply.resealed, reply.data_key_id, reply.revision
                    )
                },
                || output::json(&reply, "fulcrum.v1.ResealCertificateKeysResponse"),
            );
        }
    }
    Ok(())
}
