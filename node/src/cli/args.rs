//! The command line's grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::output::Format;
use super::setting_flags::SettingFlags;

/// Fulcrum: a load balancer service on a Raft-replicated log.
#[derive(Debug, Parser)]
#[command(name = "fulcrum", version, about)]
pub struct Cli {
    /// Where client commands connect, and with which credentials.
    #[command(flatten)]
    pub connection: ConnectionFlags,
    /// How to print answers.
    #[arg(long, short, global = true, value_enum, default_value = "table")]
    pub output: Format,
    /// Read from the answering node's own state, without asking the leader (possibly stale).
    #[arg(long, global = true)]
    pub local: bool,
    /// Seconds to wait for an answer.
    #[arg(long, global = true, default_value_t = 10)]
    pub timeout: u64,
    /// The client token of a write, to retry it safely (generated when absent).
    #[arg(long, global = true)]
    pub client_token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where client commands connect, and with which credentials. Each flag
/// overrides its environment variable, which overrides the CLI config file
/// (see [`super::credentials`]). The environment is read there, not by clap,
/// so that the flags, the environment and the file stay apart.
#[derive(Debug, Default, Args)]
pub struct ConnectionFlags {
    /// The node to talk to: `host:port` of its public API, or `https://host:port`;
    /// any member answers [env: FULCRUM_ENDPOINT] [default: 127.0.0.1:7400].
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub endpoint: Option<String>,
    /// The cluster CA certificate (PEM): connect with TLS and verify the node
    /// against it [env: FULCRUM_CA].
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// This client's certificate (PEM), presented to the node; needs --key
    /// [env: FULCRUM_CERT].
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert [env: FULCRUM_KEY].
    #[arg(long, global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A bearer token sent with every request; visible to `ps`, so prefer
    /// --token-file or the environment [env: FULCRUM_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<Secret>,
    /// A file holding the bearer token (surrounding white space is ignored)
    /// [env: FULCRUM_TOKEN_FILE].
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The CLI config file (TOML: endpoint, ca, cert, key, token, token_file)
    /// [env: FULCRUM_CLI_CONFIG] [default: $XDG_CONFIG_HOME/fulcrum/cli.toml or
    /// ~/.config/fulcrum/cli.toml, when it exists].
    #[arg(long, global = true, value_name = "FILE")]
    pub cli_config: Option<PathBuf>,
}

/// A secret from the command line: `Debug` leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node.
    Agent(AgentArgs),
    /// Make and read the cluster's certificates (local files; no node needed).
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Subnets of networks.
    #[command(subcommand)]
    Subnet(SubnetCommand),
    /// Instances: the backend servers that groups send traffic to.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Elastic IPs.
    #[command(subcommand)]
    Eip(EipCommand),
    /// Load Balancers.
    #[command(subcommand, name = "lb")]
    LoadBalancer(LoadBalancerCommand),
    /// Listeners of Load Balancers.
    #[command(subcommand)]
    Listener(ListenerCommand),
    /// Virtual server groups and their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// TLS certificates for HTTPS listeners.
    #[command(subcommand)]
    Certificate(CertificateCommand),
    /// The event history and the event stream (who did what).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Bearer tokens for scripts and the console (an admin's).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The cluster: its members, leader and settings.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Backups of the replicated state, to seed a new cluster from
    /// (`fulcrum agent --restore FILE`).
    #[command(subcommand)]
    Backup(BackupCommand),
}

/// Backup commands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a consistent copy of the state from the leader and write it to
    /// FILE (0600; through FILE.partial, so FILE is whole or absent).
    Create {
        /// Where to write it.
        file: std::path::PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Check a backup file (size, SHA-256, the state's own checksum) and
    /// show its header. Needs no node.
    Show {
        /// The backup file.
        file: std::path::PathBuf,
    },
}

/// `fulcrum agent`: flags override the environment, which overrides the file.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A single-node cluster under ./fulcrum-data, API on 127.0.0.1:7400,
    /// loopback EIP pool 127.77.0.0/16; no root needed.
    #[arg(long)]
    pub dev: bool,
    /// Start a new cluster of this node alone from a backup file (`fulcrum
    /// backup create`), into an empty data directory; the others join it.
    #[arg(long, value_name = "FILE", conflicts_with = "force_new_cluster")]
    pub restore: Option<PathBuf>,
    /// Disaster recovery, when a quorum is lost for good: start a new
    /// cluster of this node alone from its own data (writes the lost nodes
    /// acknowledged but this one never received are lost); the old data is
    /// kept aside in the data directory. Remove the flag once it has started.
    #[arg(long)]
    pub force_new_cluster: bool,
    /// Every setting as a flag (see `fulcrum agent --help`).
    #[command(flatten)]
    pub settings: SettingFlags,
}

/// Name, description and tags, shared by every `create`.
#[derive(Debug, Args)]
pub struct Describe {
    /// A description, at most 256 characters.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A tag, KEY=VALUE; repeat for several.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
}

/// Network commands.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create {
        /// Its name.
        name: String,
        /// Its address block, e.g. 10.0.0.0/16.
        #[arg(long)]
        cidr: String,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List networks.
    List,
    /// Show a network (by name or id).
    Show {
        /// Name or id.
        network: String,
    },
    /// Delete a network.
    Delete {
        /// Name or id.
        network: String,
    },
}

/// Subnet commands.
#[derive(Debug, Subcommand)]
pub enum SubnetCommand {
    /// Create a subnet inside a network.
    Create {
        /// Its name.
        name: String,
        /// The network (name or id).
        #[arg(long)]
        network: String,
        /// Its address block, inside the network's.
        #[arg(long)]
        cidr: String,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List subnets.
    List {
        /// Only those of this network.
        #[arg(long)]
        network: Option<String>,
    },
    /// Show a subnet.
    Show {
        /// Name or id.
        subnet: String,
    },
    /// Delete a subnet.
    Delete {
        /// Name or id.
        subnet: String,
    },
}

/// Instance commands.
#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Register a backend server.
    Create {
        /// Its name.
        name: String,
        /// The subnet (name or id).
        #[arg(long)]
        subnet: String,
        /// Its IP address, inside the subnet.
        #[arg(long)]
        address: String,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List instances.
    List {
        /// Only those of this subnet.
        #[arg(long)]
        subnet: Option<String>,
    },
    /// Show an instance.
    Show {
        /// Name or id.
        instance: String,
    },
    /// Delete an instance.
    Delete {
        /// Name or id.
        instance: String,
    },
}

/// EIP commands.
#[derive(Debug, Subcommand)]
pub enum EipCommand {
    /// Allocate an EIP from the cluster's pool.
    Allocate {
        /// Its name (optional).
        #[arg(default_value = "")]
        name: String,
        /// A given address in the pool (the first free one when absent).
        #[arg(long, default_value = "")]
        address: String,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List EIPs.
    List,
    /// Show an EIP (by name, address or id).
    Show {
        /// Name, address or id.
        eip: String,
    },
    /// Release an EIP back to the pool.
    Release {
        /// Name, address or id.
        eip: String,
    },
}

/// Load Balancer commands.
#[derive(Debug, Subcommand)]
pub enum LoadBalancerCommand {
    /// Create a Load Balancer (the guide's step 1).
    Create {
        /// Its name, unique in the cluster.
        name: String,
        /// The network (name or id).
        #[arg(long)]
        network: String,
        /// The subnet (name or id).
        #[arg(long)]
        subnet: String,
        /// Refuse deletion until turned off.
        #[arg(long)]
        delete_protection: bool,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List Load Balancers.
    List,
    /// The detail view: the Load Balancer, its EIP, listeners and groups with statuses.
    Show {
        /// Name or id.
        load_balancer: String,
    },
    /// Change a Load Balancer.
    Update {
        /// Name or id.
        load_balancer: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
        /// up or down.
        #[arg(long)]
        admin_state: Option<AdminState>,
        /// true or false.
        #[arg(long)]
        delete_protection: Option<bool>,
        /// Replace all tags with these, KEY=VALUE; repeat for several.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Remove every tag.
        #[arg(long, conflicts_with = "tags")]
        clear_tags: bool,
        /// Refuse unless the Load Balancer is at this revision.
        #[arg(long)]
        expected_revision: Option<u64>,
    },
    /// Delete a Load Balancer.
    Delete {
        /// Name or id.
        load_balancer: String,
        /// Also delete its listeners and groups, and disassociate its EIP.
        #[arg(long)]
        cascade: bool,
    },
    /// The status tree: the Load Balancer, its listeners, groups and members
    /// with their provisioning and operating statuses.
    Status {
        /// Name or id.
        load_balancer: String,
    },
    /// A live table of the Load Balancer's listeners and members:
    /// connections, requests per second, errors and health, refreshed
    /// every interval (Ctrl-C ends it). With `-o json`, one object a line.
    Stats {
        /// Name or id.
        load_balancer: String,
        /// Milliseconds between refreshes (100 or more).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..))]
        interval_ms: u64,
        /// Stop after this many refreshes (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Associate an EIP (the guide's step 2).
    AssociateEip {
        /// Name or id of the Load Balancer.
        load_balancer: String,
        /// Name, address or id of the EIP.
        eip: String,
    },
    /// Disassociate its EIP.
    DisassociateEip {
        /// Name or id.
        load_balancer: String,
    },
}

/// Administrative state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminState {
    /// Serving.
    Up,
    /// Not serving.
    Down,
}

/// Listener commands.
#[derive(Debug, Subcommand)]
pub enum ListenerCommand {
    /// Add a listener (the guide's step 4).
    Create {
        /// Its name, unique within the Load Balancer.
        name: String,
        /// The Load Balancer (name or id).
        #[arg(long = "lb")]
        load_balancer: String,
        /// tcp, http or https (fixed after creation).
        #[arg(long)]
        protocol: ProtocolArg,
        /// 1 to 65535, unique within the Load Balancer (fixed after creation).
        #[arg(long)]
        port: u32,
        /// The group that receives its traffic (name or id).
        #[arg(long)]
        group: Option<String>,
        /// Concurrent connections: -1 unlimited, or 1 to 1000000.
        #[arg(long, allow_hyphen_values = true)]
        connection_limit: Option<i64>,
        /// The certificate of an HTTPS listener (name or id).
        #[arg(long)]
        certificate: Option<String>,
        /// Seconds an idle connection is kept.
        #[arg(long)]
        idle_timeout: Option<u32>,
        /// Add X-Forwarded-For (HTTP and HTTPS).
        #[arg(long)]
        x_forwarded_for: Option<bool>,
        /// Log every HTTP request, or every TCP connection (default false).
        #[arg(long)]
        access_log: Option<bool>,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List listeners.
    List {
        /// Only those of this Load Balancer.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Show a listener.
    Show {
        /// Name or id.
        listener: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Change a listener.
    Update {
        /// Name or id.
        listener: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new group (name or id).
        #[arg(long)]
        group: Option<String>,
        /// -1 unlimited, or 1 to 1000000.
        #[arg(long, allow_hyphen_values = true)]
        connection_limit: Option<i64>,
        /// up or down.
        #[arg(long)]
        admin_state: Option<AdminState>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
        /// A new certificate (HTTPS; name or id).
        #[arg(long)]
        certificate: Option<String>,
        /// Seconds an idle connection is kept.
        #[arg(long)]
        idle_timeout: Option<u32>,
        /// Add X-Forwarded-For (HTTP and HTTPS).
        #[arg(long)]
        x_forwarded_for: Option<bool>,
        /// Log every HTTP request, or every TCP connection.
        #[arg(long)]
        access_log: Option<bool>,
    },
    /// Replace an HTTP or HTTPS listener's forwarding rules, in the order
    /// given (none removes them all). A rule is KEY=VALUE pairs separated by
    /// commas: name, then conditions host (a name or *.name), path (exact)
    /// or path-prefix, header (NAME:VALUE), then one action: forward=GROUP,
    /// redirect-status/-scheme/-host/-port/-path, or
    /// respond-status/-type/-body. Example:
    /// --rule name=api,host=api.example.com,forward=api-group
    SetRules {
        /// Name or id.
        listener: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
        /// A rule; repeat for each, in the order they are tried.
        #[arg(long = "rule")]
        rules: Vec<String>,
    },
    /// Delete a listener.
    Delete {
        /// Name or id.
        listener: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
}

/// PROXY protocol versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyProtocolArg {
    /// No header.
    None,
    /// The text header.
    V1,
    /// The binary header.
    V2,
}

/// Listener protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolArg {
    /// Layer 4.
    Tcp,
    /// HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

/// Balancing algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgorithmArg {
    /// Smooth weighted round robin (the default).
    RoundRobin,
    /// Weighted least connections.
    LeastConnections,
    /// Consistent hashing of the client address.
    SourceIp,
}

/// Health-check kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HealthCheckArg {
    /// A TCP connect.
    Tcp,
    /// An HTTP GET.
    Http,
}

/// Group commands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a virtual server group (the guide's step 3).
    Create {
        /// Its name, unique within the Load Balancer.
        name: String,
        /// The Load Balancer (name or id).
        #[arg(long = "lb")]
        load_balancer: String,
        /// How new connections are spread.
        #[arg(long, value_enum)]
        algorithm: Option<AlgorithmArg>,
        /// A health check.
        #[arg(long, value_enum)]
        health_check: Option<HealthCheckArg>,
        /// The HTTP health check's path.
        #[arg(long)]
        health_path: Option<String>,
        /// The HTTP health check's expected codes (200, 200-299, 200,302).
        #[arg(long)]
        health_codes: Option<String>,
        /// A member, INSTANCE:PORT or INSTANCE:PORT:WEIGHT (instance by name or id); repeat for several.
        #[arg(long = "member")]
        members: Vec<String>,
        /// Session persistence (HTTP and HTTPS listeners): cookie:NAME (the
        /// Load Balancer sets cookie NAME naming the member), app-cookie:NAME
        /// (requests with equal values of the application's cookie NAME go
        /// to one member) or none.
        #[arg(long)]
        persistence: Option<String>,
        /// The PROXY protocol header each member gets.
        #[arg(long, value_enum)]
        proxy_protocol: Option<ProxyProtocolArg>,
        /// Passive health: FAILURES,EJECTION_S or FAILURES,EJECTION_S,MAX_PERCENT (5,30
        /// ejects a member for 30 s after 5 failures in a row), or none.
        #[arg(long)]
        passive_health: Option<String>,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List groups.
    List {
        /// Only those of this Load Balancer.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Show a group and its members.
    Show {
        /// Name or id.
        group: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Change a group's name, algorithm, health check, persistence, PROXY
    /// protocol or passive health.
    Update {
        /// Name or id.
        group: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new algorithm.
        #[arg(long, value_enum)]
        algorithm: Option<AlgorithmArg>,
        /// A new health check.
        #[arg(long, value_enum)]
        health_check: Option<HealthCheckArg>,
        /// The HTTP health check's path.
        #[arg(long)]
        health_path: Option<String>,
        /// The HTTP health check's expected codes.
        #[arg(long)]
        health_codes: Option<String>,
        /// Remove the health check.
        #[arg(long, conflicts_with = "health_check")]
        no_health_check: bool,
        /// Session persistence (HTTP and HTTPS listeners): cookie:NAME (the
        /// Load Balancer sets cookie NAME naming the member), app-cookie:NAME
        /// (requests with equal values of the application's cookie NAME go
        /// to one member) or none.
        #[arg(long)]
        persistence: Option<String>,
        /// The PROXY protocol header each member gets.
        #[arg(long, value_enum)]
        proxy_protocol: Option<ProxyProtocolArg>,
        /// Passive health: FAILURES,EJECTION_S or FAILURES,EJECTION_S,MAX_PERCENT (5,30
        /// ejects a member for 30 s after 5 failures in a row), or none.
        #[arg(long)]
        passive_health: Option<String>,
    },
    /// Replace all members at once (members that stay keep their ids).
    ReplaceMembers {
        /// The group (name or id).
        group: String,
        /// INSTANCE:PORT or INSTANCE:PORT:WEIGHT; repeat for several.
        #[arg(long = "member")]
        members: Vec<String>,
        /// The Load Balancer, where the group's name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Delete a group.
    Delete {
        /// Name or id.
        group: String,
        /// The Load Balancer, where the name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
        /// Also detach it from the listeners that use it.
        #[arg(long)]
        cascade: bool,
    },
    /// Add a member, INSTANCE:PORT or INSTANCE:PORT:WEIGHT.
    AddMember {
        /// The group (name or id).
        group: String,
        /// INSTANCE:PORT or INSTANCE:PORT:WEIGHT.
        member: String,
        /// The Load Balancer, where the group's name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Change a member's weight or state.
    UpdateMember {
        /// The group (name or id).
        group: String,
        /// The member's id.
        member: String,
        /// 0 to 100; 0 drains.
        #[arg(long)]
        weight: Option<u32>,
        /// up or down.
        #[arg(long)]
        admin_state: Option<AdminState>,
        /// The Load Balancer, where the group's name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
    /// Remove a member.
    RemoveMember {
        /// The group (name or id).
        group: String,
        /// The member's id.
        member: String,
        /// The Load Balancer, where the group's name is not unique.
        #[arg(long = "lb")]
        load_balancer: Option<String>,
    },
}

/// Certificate commands.
#[derive(Debug, Subcommand)]
pub enum CertificateCommand {
    /// Upload a certificate chain and its private key (PEM files).
    Upload {
        /// Its name.
        name: String,
        /// The PEM certificate chain.
        #[arg(long)]
        chain: PathBuf,
        /// The PEM private key (never shown again). Not `--key`: that is the
        /// global flag naming this client's own key.
        #[arg(long)]
        private_key: PathBuf,
        /// Description and tags.
        #[command(flatten)]
        describe: Describe,
    },
    /// List certificates.
    List,
    /// Show a certificate.
    Show {
        /// Name or id.
        certificate: String,
    },
    /// Delete a certificate.
    Delete {
        /// Name or id.
        certificate: String,
    },
}

/// `fulcrum certs`: the cluster CA, node and client certificates, as files.
/// Every file is written mode 0600; an existing one is refused unless
/// `--overwrite`; DIR is created mode 0700 when absent.
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Make the cluster CA: DIR/ca.crt and DIR/ca.key.
    CreateCa {
        /// The directory of the cluster's certificates.
        #[arg(long)]
        dir: PathBuf,
        /// Appended to the CA's common name (`Fulcrum cluster CA NAME`).
        #[arg(long)]
        name: Option<String>,
        /// Days the CA is valid (default 3650).
        #[arg(long)]
        validity_days: Option<u32>,
        /// Replace existing files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Issue a node certificate signed by DIR/ca.crt and DIR/ca.key:
    /// DIR/NAME.crt and DIR/NAME.key.
    IssueNode {
        /// The directory holding ca.crt and ca.key.
        #[arg(long)]
        dir: PathBuf,
        /// The node's name (the certificate's CN), e.g. node-1.
        #[arg(long)]
        name: String,
        /// An IP address or DNS name the node answers on; repeat for several.
        #[arg(long = "host", required = true, value_name = "HOST")]
        hosts: Vec<String>,
        /// Days the certificate is valid (default 365).
        #[arg(long)]
        validity_days: Option<u32>,
        /// The files' name, without extension (default: the node's name).
        #[arg(long)]
        out_name: Option<String>,
        /// Replace existing files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Issue a client certificate signed by DIR/ca.crt and DIR/ca.key:
    /// DIR/client.PRINCIPAL.crt and DIR/client.PRINCIPAL.key.
    IssueClient {
        /// The directory holding ca.crt and ca.key.
        #[arg(long)]
        dir: PathBuf,
        /// Who the certificate names (its CN), e.g. alice.
        #[arg(long)]
        principal: String,
        /// What the holder may do: viewer, operator or admin (its OU).
        #[arg(long, value_name = "viewer|operator|admin")]
        role: String,
        /// Days the certificate is valid (default 365).
        #[arg(long)]
        validity_days: Option<u32>,
        /// The files' name, without extension (default: client.PRINCIPAL).
        #[arg(long)]
        out_name: Option<String>,
        /// Replace existing files.
        #[arg(long)]
        overwrite: bool,
    },
    /// Make the cluster's data key: DIR/data.key, the same file on every
    /// node (`--data-key-file`); it seals certificate private keys.
    CreateDataKey {
        /// The directory to write data.key in.
        #[arg(long)]
        dir: PathBuf,
        /// Replace an existing data.key (certificate keys sealed with the
        /// old one no longer open unless its line is kept in the file).
        #[arg(long)]
        overwrite: bool,
    },
    /// What each certificate of a PEM file holds: subject, role, names, validity.
    #[command(alias = "list")]
    Show {
        /// A PEM file of one or more certificates.
        file: PathBuf,
    },
}

/// Event commands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The history, of the cluster or of one resource.
    List {
        /// Only this resource's events (an id).
        #[arg(long)]
        resource: Option<String>,
        /// From this revision (0: the oldest kept).
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
    /// Print events as they are applied, from a revision on.
    Watch {
        /// From this revision (0: the oldest kept).
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
}

/// A token's role.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RoleArg {
    /// Reads, history, watch, status.
    Viewer,
    /// Viewer's, and creating, changing and deleting resources.
    Operator,
    /// Everything: membership, leadership, settings, the EIP pool, tokens.
    Admin,
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; its secret is printed once.
    Create {
        /// Who the token authenticates (the audit trail's name).
        principal: String,
        /// What it may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A description, at most 256 characters.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The tokens (never their secrets).
    List,
    /// Revoke a token: every node refuses it once it applies the revocation.
    Revoke {
        /// The token's id (tok-...).
        id: String,
    },
}

/// Cluster commands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, leader, term, applied revision and each follower's lag.
    Status {
        /// Also the answering node's state digest (with --local, compare it
        /// across nodes at the same applied index).
        #[arg(long)]
        digest: bool,
    },
    /// The cluster's settings: EIP pool, quotas, retention.
    Settings,
    /// Replace the EIP pool.
    SetEipPool {
        /// CIDR blocks.
        #[arg(required = true)]
        cidrs: Vec<String>,
    },
    /// Change quotas and retention (unset flags keep their values).
    UpdateSettings {
        /// At most this many Load Balancers.
        #[arg(long)]
        quota_load_balancers: Option<u32>,
        /// At most this many listeners per Load Balancer.
        #[arg(long)]
        quota_listeners: Option<u32>,
        /// At most this many groups per Load Balancer.
        #[arg(long)]
        quota_groups: Option<u32>,
        /// At most this many members per group.
        #[arg(long)]
        quota_members: Option<u32>,
        /// At most this many networks.
        #[arg(long)]
        quota_networks: Option<u32>,
        /// At most this many subnets.
        #[arg(long)]
        quota_subnets: Option<u32>,
        /// At most this many instances.
        #[arg(long)]
        quota_instances: Option<u32>,
        /// At most this many EIPs.
        #[arg(long)]
        quota_eips: Option<u32>,
        /// At most this many certificates.
        #[arg(long)]
        quota_certificates: Option<u32>,
        /// Seconds a client token is remembered.
        #[arg(long)]
        token_retention_s: Option<u64>,
        /// Client tokens remembered at most.
        #[arg(long)]
        token_capacity: Option<u32>,
        /// Revisions of event history kept.
        #[arg(long)]
        history_revisions: Option<u64>,
    },
    /// Add a node as a learner (it catches up, then can be promoted).
    AddLearner {
        /// The new node's id.
        node_id: u64,
        /// Its Raft address.
        #[arg(long)]
        raft_address: String,
        /// Its API address.
        #[arg(long)]
        api_address: String,
    },
    /// Make a learner a voter.
    Promote {
        /// The node's id.
        node_id: u64,
    },
    /// Remove a node from the cluster.
    Remove {
        /// The node's id.
        node_id: u64,
    },
    /// Seal every certificate key anew with the current data key (the first
    /// of the nodes' data key files); then an older key can leave the files.
    ResealKeys,
    /// Hand leadership to another voter.
    TransferLeadership {
        /// The node's id.
        node_id: u64,
    },
    /// Before stopping NODE: if it leads, hand leadership (and with it the
    /// EIPs, drained gracefully) to another voter, and wait until it has.
    Drain {
        /// The node's id.
        node_id: u64,
    },
}
