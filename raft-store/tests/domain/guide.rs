//! The guide's four steps, end to end through the domain: the data-plane
//! projection then holds exactly the forwarding entry the user built.

use std::net::Ipv4Addr;

use fulcrum_api::v1;
use fulcrum_raft_store::domain::projection::dataplane::{
    ForwardingEntry, GroupConfig, MemberConfig,
};
use fulcrum_raft_store::domain::sealed::SEALED_PREFIX;
use fulcrum_raft_store::domain::{Algorithm, ConnectionLimit, Protocol, wire};
use v1::command::Kind;

use crate::harness::*;

#[test]
fn the_four_steps_of_the_guide_produce_one_forwarding_entry() {
    let mut log = Log::new();
    // Before the guide: the network, subnet, instances and an EIP exist.
    let net = log.ok(network("vpc", "10.0.0.0/16")).resource_id;
    let sub = log
        .ok(subnet("web-subnet", &net, "10.0.1.0/24"))
        .resource_id;
    let vm1 = log.ok(instance("vm1", &sub, "10.0.1.10")).resource_id;
    let vm2 = log.ok(instance("vm2", &sub, "10.0.1.20")).resource_id;
    let eip = log.ok(allocate_eip("")).resource_id;

    // Step 1: create the Load Balancer.
    let lb = log.ok(load_balancer("web", &net, &sub)).resource_id;
    assert!(lb.starts_with("lb-"));
    // Step 2: associate the EIP.
    let associated = log.ok(associate(&lb, &eip));
    assert_eq!(associated.resource_id, lb);
    // Step 3: a virtual server group with two instances, port and weight.
    let group_id = log
        .ok(Kind::CreateGroup(group(
            &lb,
            "web-servers",
            vec![member(&vm1, 8080, Some(3)), member(&vm2, 8080, Some(1))],
        )))
        .resource_id;
    // Step 4: an HTTP listener on port 80 using the group.
    let mut request = listener(&lb, "http-80", v1::Protocol::Http, 80);
    request.default_group_id = group_id.clone();
    request.connection_limit = Some(5000);
    let listener_id = log.ok(Kind::CreateListener(request)).resource_id;

    log.state.check_invariants().unwrap();
    let catalog = log.state.catalog();
    let members = &catalog.groups().values().next().unwrap().members;
    let config = log.state.data_plane_config();
    assert_eq!(config.revision, log.state.revision());
    assert_eq!(
        config.listeners,
        vec![ForwardingEntry {
            listener_id: listener_id.parse_id(),
            load_balancer_id: lb.parse_id(),
            address: Ipv4Addr::new(203, 0, 113, 1),
            port: 80,
            protocol: Protocol::Http,
            connection_limit: ConnectionLimit::AtMost(5000),
            idle_timeout_s: 60,
            insert_x_forwarded_for: true,
            access_log: false,
            certificate: None,
            rules: Vec::new(),
            group: Some(GroupConfig {
                group_id: group_id.parse_id(),
                algorithm: Algorithm::WeightedRoundRobin,
                health_check: None,
                members: vec![
                    MemberConfig {
                        member_id: members[0].id.clone(),
                        address: Ipv4Addr::new(10, 0, 1, 10),
                        port: 8080,
                        weight: 3,
                        admin_state_up: true,
                    },
                    MemberConfig {
                        member_id: members[1].id.clone(),
                        address: Ipv4Addr::new(10, 0, 1, 20),
                        port: 8080,
                        weight: 1,
                        admin_state_up: true,
                    },
                ],
                persistence: None,
                proxy_protocol: None,
                passive_health: None,
            }),
        }]
    );

    // EIP ownership: the cluster holds exactly the EIP's address, for this LB.
    let ownership = log.state.eip_ownership();
    assert_eq!(ownership.held.len(), 1);
    let held = &ownership.held[&Ipv4Addr::new(203, 0, 113, 1)];
    assert_eq!(held.load_balancer_id.as_str(), lb);

    // The detail view: the LB shows its EIP's address.
    let lb_record = catalog.load_balancers().values().next().unwrap();
    let view = wire::load_balancer_view(catalog, lb_record);
    assert_eq!(view.eip_address, "203.0.113.1");
    assert_eq!(view.eip_id, eip);

    // The history tells the story in order.
    let events: Vec<v1::Event> = log
        .state
        .history()
        .read(0, usize::MAX, |_| true)
        .unwrap()
        .into_iter()
        .map(|event| wire::event_view(catalog, event))
        .collect();
    let kinds: Vec<v1::EventType> = events.iter().map(|event| event.r#type()).collect();
    assert_eq!(
        kinds,
        vec![
            v1::EventType::ClusterSettingsUpdated,
            v1::EventType::NetworkCreated,
            v1::EventType::SubnetCreated,
            v1::EventType::InstanceCreated,
            v1::EventType::InstanceCreated,
            v1::EventType::EipAllocated,
            v1::EventType::LoadBalancerCreated,
            v1::EventType::EipAssociated,
            v1::EventType::VirtualServerGroupCreated,
            v1::EventType::ListenerCreated,
        ]
    );
    assert!(
        events
            .windows(2)
            .all(|pair| pair[0].revision < pair[1].revision)
    );
}

#[test]
fn listeners_leave_the_data_plane_when_their_lb_has_no_eip_or_is_down() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    assert_eq!(log.state.data_plane_config().listeners.len(), 2);
    let https = &log.state.data_plane_config().listeners[1];
    assert_eq!(https.port, 443);
    let certificate = https
        .certificate
        .as_ref()
        .expect("HTTPS entry carries its certificate");
    assert_eq!(
        certificate.private_key_pem,
        sealed_stand_in(PRIVATE_KEY_PEM),
        "the entry carries its certificate's key as it was sealed"
    );

    log.ok(Kind::UpdateLoadBalancer(v1::UpdateLoadBalancerRequest {
        id: lb.clone(),
        admin_state_up: Some(false),
        ..Default::default()
    }));
    assert!(
        log.state.data_plane_config().listeners.is_empty(),
        "an LB that is down serves nothing"
    );
    log.ok(Kind::UpdateLoadBalancer(v1::UpdateLoadBalancerRequest {
        id: lb.clone(),
        admin_state_up: Some(true),
        ..Default::default()
    }));
    log.ok(Kind::DisassociateEip(v1::DisassociateEipRequest {
        load_balancer_id: lb,
        ..Default::default()
    }));
    assert!(
        log.state.data_plane_config().listeners.is_empty(),
        "without an EIP there is nothing to serve on"
    );
    assert!(log.state.eip_ownership().held.is_empty());
}

#[test]
fn certificates_are_read_and_never_shown_with_their_key() {
    let fixture = Fixture::new();
    let catalog = fixture.log.state.catalog();
    let certificate = catalog.certificates().values().next().unwrap();
    assert_eq!(certificate.fingerprint.len(), 64);
    assert!(
        certificate.not_after_ms > START_MS,
        "the test certificate is valid for a century"
    );
    let view = v1::Certificate::from(certificate);
    let shown = format!("{view:?}");
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains(&certificate.private_key_pem),
        "the API view leaks the private key"
    );
    assert!(
        !shown.contains(SEALED_PREFIX),
        "the API view leaks the sealed key"
    );
    assert!(view.certificate_chain.contains("BEGIN CERTIFICATE"));
}

/// Turns an id string from a receipt back into a typed id for comparison.
trait ParseId<T> {
    fn parse_id(&self) -> T;
}

macro_rules! parse_id {
    ($($id:ty),*) => {$(
        impl ParseId<$id> for String {
            fn parse_id(&self) -> $id {
                <$id>::parse("id", self).unwrap()
            }
        }
    )*};
}

parse_id!(
    fulcrum_raft_store::domain::ListenerId,
    fulcrum_raft_store::domain::LoadBalancerId,
    fulcrum_raft_store::domain::GroupId
);
