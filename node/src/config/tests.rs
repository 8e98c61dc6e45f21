//! The configuration's sources, precedence and cross-checks.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Given {
    Given::from_environment(
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    )
}

fn flags(pairs: &[(&str, &str)]) -> Given {
    Given::from_pairs(pairs.iter().map(|(key, value)| (*key, (*value).to_owned())))
        .expect("known keys")
}

/// The error `resolve` gives, as `key: message`.
fn refusal(file: Option<&str>, over: Given, dev: bool) -> String {
    AgentConfig::resolve(file, over, dev)
        .expect_err("the configuration is refused")
        .to_string()
}

#[test]
fn the_file_is_overridden_by_the_environment_which_is_overridden_by_flags() {
    let file = "version = 1\n[raft]\nheartbeat_ms = 40\nelection_timeout_min_ms = 400\n[dataplane]\nthreads = 2\n";
    let over = env(&[
        ("FULCRUM_HEARTBEAT_MS", "30"),
        ("FULCRUM_DATAPLANE_THREADS", "3"),
    ])
    .overridden_by(flags(&[("dataplane.threads", "4")]));
    let config = AgentConfig::resolve(Some(file), over, true).expect("valid");
    assert_eq!(config.raft.heartbeat, Duration::from_millis(30));
    assert_eq!(config.raft.election_timeout_min, Duration::from_millis(400));
    assert_eq!(config.dataplane_threads, 4);
}

#[test]
fn dev_needs_nothing_and_listens_on_loopback_in_the_clear() {
    let config = AgentConfig::resolve(None, Given::default(), true).expect("valid");
    assert_eq!(config.node_id, 1);
    assert!(config.tls.is_none());
    assert!(config.api_address.ip().is_loopback());
    assert_eq!(config.eip_binder, EipBinderChoice::Loopback);
    assert_eq!(
        config.http_address,
        Some(DEV_HTTP_ADDRESS.parse().expect("an address"))
    );
}

#[test]
fn the_http_port_is_optional_distinct_and_in_the_clear_only_on_loopback() {
    let node = [
        ("secrets.data_key_file", "/etc/fulcrum/data.key"),
        ("node.id", "1"),
        ("node.data_dir", "/tmp/fulcrum-test"),
        ("node.api_address", "127.0.0.1:7400"),
        ("node.raft_address", "127.0.0.1:7401"),
    ];
    let config = AgentConfig::resolve(None, flags(&node), false).expect("valid");
    assert_eq!(config.http_address, None);
    let with = |address: &str| flags(&node).overridden_by(flags(&[("node.http_address", address)]));
    let config = AgentConfig::resolve(None, with("127.0.0.1:7402"), false).expect("valid");
    assert_eq!(
        config.http_address,
        Some("127.0.0.1:7402".parse().expect("an address"))
    );
    assert!(
        refusal(None, with("127.0.0.1:7400"), false)
            .starts_with("node.http_address: must differ from node.api_address"),
    );
    assert!(
        refusal(None, with("7402"), false)
            .starts_with("node.http_address: \"7402\" is not an IP:port address"),
    );
    let error = refusal(None, with("0.0.0.0:7402"), false);
    assert!(
        error.starts_with(
            "node.http_address: 0.0.0.0:7402 is not a loopback address, and there is no TLS"
        ),
        "{error}"
    );
    let secure = with("0.0.0.0:7402").overridden_by(flags(&[
        ("tls.ca_file", "ca.crt"),
        ("tls.cert_file", "node.crt"),
        ("tls.key_file", "node.key"),
    ]));
    AgentConfig::resolve(None, secure, false).expect("HTTPS may face the network");
}

/// A file, flags, and the start of the error they give.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn every_error_names_its_key_and_rule() {
    let cases: &[Case] = &[
        (
            "version = 1\n[node]\ncolour = 1\n",
            &[],
            "node.colour: is not a setting",
        ),
        ("version = 2\n", &[], "version: 2 is not a version"),
        ("[node]\nid = 1\n", &[], "version: is required"),
        (
            "version = 1\n",
            &[("raft.heartbeat_ms", "0")],
            "raft.heartbeat_ms: 0 is out of range",
        ),
        (
            "version = 1\n",
            &[("raft.heartbeat_ms", "ten")],
            "raft.heartbeat_ms: \"ten\" is not a whole number",
        ),
        (
            "version = 1\n",
            &[("raft.heartbeat_ms", "150")],
            "raft.election_timeout_min_ms: must be at least 3",
        ),
        (
            "version = 1\n",
            &[("raft.election_timeout_max_ms", "300")],
            "raft.election_timeout_max_ms: must be above",
        ),
        (
            "version = 1\n",
            &[("raft.request_timeout_ms", "600")],
            "raft.request_timeout_ms: must be above",
        ),
        (
            "version = 1\n",
            &[("dataplane.driver", "kqueue")],
            "dataplane.driver: \"auto\" or \"epoll\" are the choices",
        ),
        (
            "version = 1\n",
            &[("tls.ca_file", "ca.crt")],
            "tls.cert_file: is required with the other tls files",
        ),
        (
            "version = 1\n[eip]\nallow_remote_members = \"yes\"\n",
            &[],
            "eip.allow_remote_members: \"yes\" is not true or false",
        ),
        (
            "version = 1\n[cluster]\neip_pool = [1]\n",
            &[],
            "cluster.eip_pool[0]: 1 is not text",
        ),
    ];
    for (file, given, expected) in cases {
        let error = refusal(Some(file), flags(given), true);
        assert!(error.starts_with(expected), "{file:?} {given:?}: {error}");
    }
}

#[test]
fn an_unknown_flag_key_is_refused() {
    let error = Given::from_pairs([("raft.heartbeat", "1".to_owned())])
        .expect_err("not a setting")
        .to_string();
    assert!(error.contains("[raft] holds raft.heartbeat_ms"), "{error}");
}

#[test]
fn an_agent_reachable_from_elsewhere_needs_tls_or_insecure() {
    let public = [
        ("secrets.data_key_file", "/etc/fulcrum/data.key"),
        ("node.id", "1"),
        ("node.data_dir", "/tmp/fulcrum-test"),
        ("node.api_address", "0.0.0.0:7400"),
        ("node.raft_address", "127.0.0.1:7401"),
    ];
    let error = refusal(None, flags(&public), false);
    assert!(
        error.starts_with(
            "node.api_address: 0.0.0.0:7400 is not a loopback address, and there is no TLS"
        ),
        "{error}"
    );
    let insecure = flags(&public).overridden_by(flags(&[("tls.insecure", "true")]));
    let config = AgentConfig::resolve(None, insecure, false).expect("--insecure accepted");
    assert!(config.tls.is_none());
    let secure = flags(&public).overridden_by(flags(&[
        ("tls.ca_file", "ca.crt"),
        ("tls.cert_file", "node.crt"),
        ("tls.key_file", "node.key"),
    ]));
    let config = AgentConfig::resolve(None, secure, false).expect("TLS accepted");
    let tls = config.tls.expect("TLS configured");
    assert_eq!(tls.ca_file, PathBuf::from("ca.crt"));
    assert_eq!(
        tls.reload_interval,
        Duration::from_millis(defaults::TLS_RELOAD_INTERVAL_MS)
    );
}

#[test]
fn initial_members_read_from_the_file_and_from_a_flag_agree() {
    let file = "version = 1\n[node]\nid = 2\ndata_dir = \"d\"\napi_address = \"127.0.0.1:7410\"\nraft_address = \"127.0.0.1:7411\"\n[secrets]\ndata_key_file = \"data.key\"\n[cluster]\ninitial_members = [\n  { id = 1, raft_address = \"127.0.0.1:7401\", api_address = \"127.0.0.1:7400\" },\n  { id = 2, raft_address = \"127.0.0.1:7411\", api_address = \"127.0.0.1:7410\" },\n]\n";
    let from_file = AgentConfig::resolve(Some(file), Given::default(), false).expect("valid");
    let from_flag = AgentConfig::resolve(
        Some(file),
        flags(&[(
            "cluster.initial_members",
            "1=127.0.0.1:7401/127.0.0.1:7400,2=127.0.0.1:7411/127.0.0.1:7410",
        )]),
        false,
    )
    .expect("valid");
    assert_eq!(from_file.membership, from_flag.membership);
    let Membership::Bootstrap(members) = from_file.membership else {
        panic!("bootstraps");
    };
    assert_eq!(members.len(), 2);
}

#[test]
fn a_cluster_node_needs_the_shared_data_key_and_dev_makes_its_own() {
    let node = [
        ("node.id", "1"),
        ("node.data_dir", "/var/lib/fulcrum"),
        ("node.api_address", "127.0.0.1:7400"),
        ("node.raft_address", "127.0.0.1:7401"),
    ];
    let error = refusal(None, flags(&node), false);
    assert!(
        error.starts_with("secrets.data_key_file: is required"),
        "{error}"
    );
    let dev = AgentConfig::resolve(None, Given::default(), true).expect("valid");
    assert_eq!(
        dev.data_key.path,
        PathBuf::from(DEV_DATA_DIR).join("data-key")
    );
    assert!(dev.data_key.create_if_missing);
    let given =
        flags(&node).overridden_by(flags(&[("secrets.data_key_file", "/etc/fulcrum/data.key")]));
    let config = AgentConfig::resolve(None, given, false).expect("valid");
    assert!(!config.data_key.create_if_missing);
}

#[test]
fn nodes_bound_to_every_address_are_reached_at_the_names_they_advertise() {
    let node = [
        ("node.id", "2"),
        ("node.data_dir", "/var/lib/fulcrum"),
        ("node.api_address", "0.0.0.0:7400"),
        ("node.raft_address", "0.0.0.0:7401"),
        (
            "node.advertise_api_address",
            "fulcrum-1.fulcrum-peers.lb.svc:7400",
        ),
        (
            "node.advertise_raft_address",
            "fulcrum-1.fulcrum-peers.lb.svc:7401",
        ),
        ("secrets.data_key_file", "/etc/fulcrum/data.key"),
        ("tls.insecure", "true"),
        (
            "cluster.initial_members",
            "1=fulcrum-0.fulcrum-peers.lb.svc:7401/fulcrum-0.fulcrum-peers.lb.svc:7400,2=fulcrum-1.fulcrum-peers.lb.svc:7401/fulcrum-1.fulcrum-peers.lb.svc:7400",
        ),
    ];
    let config = AgentConfig::resolve(None, flags(&node), false).expect("valid");
    assert_eq!(
        config.advertised.raft,
        "fulcrum-1.fulcrum-peers.lb.svc:7401"
    );
    let Membership::Bootstrap(members) = config.membership else {
        panic!("bootstraps");
    };
    assert_eq!(
        members[0].api_address,
        "fulcrum-0.fulcrum-peers.lb.svc:7400"
    );

    // The list must name this node where it says it is reached.
    let elsewhere = flags(&node).overridden_by(flags(&[(
        "node.advertise_raft_address",
        "fulcrum-9.fulcrum-peers.lb.svc:7401",
    )]));
    let error = refusal(None, elsewhere, false);
    assert!(
        error.starts_with("cluster.initial_members: lists node 2"),
        "{error}"
    );
    for bad in ["fulcrum-1..svc:7401", "-x:7401", "host:0", "host", "a b:1"] {
        let given = flags(&node).overridden_by(flags(&[("node.advertise_raft_address", bad)]));
        let error = refusal(None, given, false);
        assert!(
            error.starts_with("node.advertise_raft_address: ") && error.contains("HOST:PORT"),
            "{bad}: {error}"
        );
    }
    // Without the advertised names, a node is reached at its bind addresses.
    let plain = AgentConfig::resolve(
        None,
        flags(&[
            ("node.id", "1"),
            ("node.data_dir", "d"),
            ("node.api_address", "10.0.0.1:7400"),
            ("node.raft_address", "10.0.0.1:7401"),
            ("secrets.data_key_file", "k"),
            ("tls.insecure", "true"),
        ]),
        false,
    )
    .expect("valid");
    assert_eq!(plain.advertised.api, "10.0.0.1:7400");
}
