//! Every rule of the resource model, broken at least once: the command is
//! refused with the kind the model names and a message naming the field.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::RejectionKind::{
    self, Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted,
};
use fulcrum_raft_store::domain::limits::MAX_PEM_BYTES;
use v1::command::Kind;

use crate::harness::*;

/// What a refusal must show.
enum Expect {
    /// The rejection names this request field, and its message starts with it.
    Field(&'static str),
    /// A rule about the state rather than one field: the message says this.
    Says(&'static str),
}

/// One broken rule: commands that set the scene, the breaking command, and
/// the expected kind and field.
struct Case {
    rule: &'static str,
    setup: Vec<Kind>,
    command: Kind,
    kind: RejectionKind,
    expect: Expect,
}

fn case(rule: &'static str, command: Kind, kind: RejectionKind, field: &'static str) -> Case {
    Case {
        rule,
        setup: Vec::new(),
        command,
        kind,
        expect: Expect::Field(field),
    }
}

fn says(
    rule: &'static str,
    setup: Vec<Kind>,
    command: Kind,
    kind: RejectionKind,
    text: &'static str,
) -> Case {
    Case {
        rule,
        setup,
        command,
        kind,
        expect: Expect::Says(text),
    }
}

fn update_listener(id: &str, change: impl FnOnce(&mut v1::UpdateListenerRequest)) -> Kind {
    let mut request = v1::UpdateListenerRequest {
        id: id.into(),
        ..Default::default()
    };
    change(&mut request);
    Kind::UpdateListener(request)
}

fn update_lb(id: &str, change: impl FnOnce(&mut v1::UpdateLoadBalancerRequest)) -> Kind {
    let mut request = v1::UpdateLoadBalancerRequest {
        id: id.into(),
        ..Default::default()
    };
    change(&mut request);
    Kind::UpdateLoadBalancer(request)
}

fn with_listener(lb: &str, port: u32, change: impl FnOnce(&mut v1::CreateListenerRequest)) -> Kind {
    let mut request = listener(lb, &format!("l{port}"), v1::Protocol::Tcp, port);
    change(&mut request);
    Kind::CreateListener(request)
}

fn with_health_check(lb: &str, change: impl FnOnce(&mut v1::HealthCheck)) -> Kind {
    let mut check = v1::HealthCheck {
        r#type: v1::HealthCheckType::Http as i32,
        ..Default::default()
    };
    change(&mut check);
    let mut request = group(lb, "checked", vec![]);
    request.health_check = Some(check);
    Kind::CreateGroup(request)
}

fn quotas(load_balancers: u32, listeners: u32, groups: u32, members: u32) -> Kind {
    Kind::UpdateClusterSettings(v1::UpdateClusterSettingsRequest {
        quotas: Some(v1::Quotas {
            load_balancers,
            listeners_per_load_balancer: listeners,
            groups_per_load_balancer: groups,
            members_per_group: members,
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn cases(f: &Fixture) -> Vec<Case> {
    let lb = f.id("lb");
    let net = f.id("net");
    let sub = f.id("subnet");
    let web1 = f.id("web1");
    let web2 = f.id("web2");
    let pool = f.id("pool");
    let http = f.id("http");
    let https = f.id("https");
    let cert = f.id("site");
    let eip = f.id("eip");
    let free_eip = f.id("free-eip");
    let guarded = f.id("guarded");
    let stranger = f.id("stranger");
    let other_sub = f.id("other-subnet");
    vec![
        // The guide's rules first.
        case(
            "listener port unique per LB",
            with_listener(&lb, 80, |l| l.protocol = v1::Protocol::Http as i32),
            AlreadyExists,
            "port",
        ),
        case(
            "listener port unique whatever the protocol",
            with_listener(&lb, 80, |_| {}),
            AlreadyExists,
            "port",
        ),
        case(
            "listener port unique: HTTPS on an HTTP port",
            with_listener(&lb, 80, |l| {
                l.protocol = v1::Protocol::Https as i32;
                l.certificate_id = cert.clone();
            }),
            AlreadyExists,
            "port",
        ),
        case(
            "listener protocol is immutable",
            update_listener(&http, |u| u.protocol = Some(v1::Protocol::Tcp as i32)),
            FailedPrecondition,
            "protocol",
        ),
        case(
            "listener port is immutable",
            update_listener(&http, |u| u.port = Some(81)),
            FailedPrecondition,
            "port",
        ),
        case(
            "protocol is HTTP, HTTPS or TCP",
            with_listener(&lb, 81, |l| l.protocol = 7),
            InvalidArgument,
            "protocol",
        ),
        case(
            "protocol is required",
            with_listener(&lb, 81, |l| l.protocol = 0),
            InvalidArgument,
            "protocol",
        ),
        // Names.
        case(
            "name not empty",
            load_balancer("", &net, &sub),
            InvalidArgument,
            "name",
        ),
        case(
            "name at most 32 characters",
            load_balancer(&"n".repeat(33), &net, &sub),
            InvalidArgument,
            "name",
        ),
        case(
            "name of letters, digits, _ and -",
            load_balancer("web lb", &net, &sub),
            InvalidArgument,
            "name",
        ),
        case(
            "name without punctuation",
            load_balancer("web.lb", &net, &sub),
            InvalidArgument,
            "name",
        ),
        case(
            "LB names unique in the cluster",
            load_balancer("lb", &net, &sub),
            AlreadyExists,
            "name",
        ),
        case(
            "LB rename to a taken name",
            update_lb(&guarded, |u| u.name = Some("lb".into())),
            AlreadyExists,
            "name",
        ),
        case(
            "listener names unique within the LB",
            with_listener(&lb, 81, |l| l.name = "http".into()),
            AlreadyExists,
            "name",
        ),
        case(
            "group names unique within the LB",
            Kind::CreateGroup(group(&lb, "pool", vec![])),
            AlreadyExists,
            "name",
        ),
        case(
            "description at most 256 characters",
            Kind::CreateNetwork(v1::CreateNetworkRequest {
                name: "n".into(),
                cidr: "10.1.0.0/16".into(),
                description: "d".repeat(257),
                ..Default::default()
            }),
            InvalidArgument,
            "description",
        ),
        case(
            "at most 50 tags",
            Kind::CreateNetwork(v1::CreateNetworkRequest {
                name: "n".into(),
                cidr: "10.1.0.0/16".into(),
                tags: (0..51).map(|i| (format!("k{i}"), String::new())).collect(),
                ..Default::default()
            }),
            InvalidArgument,
            "tags",
        ),
        // Ports.
        case(
            "listener port at least 1",
            with_listener(&lb, 0, |_| {}),
            InvalidArgument,
            "port",
        ),
        case(
            "listener port at most 65535",
            with_listener(&lb, 65536, |_| {}),
            InvalidArgument,
            "port",
        ),
        case(
            "member port at least 1",
            Kind::CreateGroup(group(&lb, "g", vec![member(&web1, 0, None)])),
            InvalidArgument,
            "members[0].port",
        ),
        case(
            "member (instance, port) unique in the group",
            Kind::AddMember(v1::AddMemberRequest {
                group_id: pool.clone(),
                member: Some(member(&web1, 8080, None)),
                ..Default::default()
            }),
            AlreadyExists,
            "member",
        ),
        case(
            "member unique within one request",
            Kind::CreateGroup(group(
                &lb,
                "g",
                vec![member(&web1, 80, None), member(&web1, 80, Some(5))],
            )),
            AlreadyExists,
            "members[1]",
        ),
        // Weight.
        case(
            "weight at most 100",
            Kind::CreateGroup(group(&lb, "g", vec![member(&web1, 80, Some(101))])),
            InvalidArgument,
            "members[0].weight",
        ),
        case(
            "member update weight at most 100",
            Kind::UpdateMember(v1::UpdateMemberRequest {
                group_id: pool.clone(),
                member_id: "mbr-x".into(),
                weight: Some(200),
                ..Default::default()
            }),
            InvalidArgument,
            "weight",
        ),
        // Connection limit.
        case(
            "connection limit 0 is refused",
            with_listener(&lb, 81, |l| l.connection_limit = Some(0)),
            InvalidArgument,
            "connection_limit",
        ),
        case(
            "connection limit below -1 is refused",
            with_listener(&lb, 81, |l| l.connection_limit = Some(-2)),
            InvalidArgument,
            "connection_limit",
        ),
        case(
            "connection limit at most 1,000,000",
            with_listener(&lb, 81, |l| l.connection_limit = Some(1_000_001)),
            InvalidArgument,
            "connection_limit",
        ),
        case(
            "connection limit checked on update",
            update_listener(&http, |u| u.connection_limit = Some(0)),
            InvalidArgument,
            "connection_limit",
        ),
        // Certificates.
        case(
            "HTTPS needs a certificate",
            with_listener(&lb, 8443, |l| l.protocol = v1::Protocol::Https as i32),
            InvalidArgument,
            "certificate_id",
        ),
        case(
            "HTTP takes no certificate",
            with_listener(&lb, 81, |l| {
                l.protocol = v1::Protocol::Http as i32;
                l.certificate_id = cert.clone();
            }),
            InvalidArgument,
            "certificate_id",
        ),
        case(
            "TCP takes no certificate",
            with_listener(&lb, 81, |l| l.certificate_id = cert.clone()),
            InvalidArgument,
            "certificate_id",
        ),
        case(
            "HTTPS certificate cannot be removed",
            update_listener(&https, |u| u.certificate_id = Some(String::new())),
            InvalidArgument,
            "certificate_id",
        ),
        case(
            "HTTPS certificate must exist",
            with_listener(&lb, 8443, |l| {
                l.protocol = v1::Protocol::Https as i32;
                l.certificate_id = "cert-missing".into();
            }),
            NotFound,
            "certificate_id",
        ),
        case(
            "certificate chain is PEM",
            Kind::UploadCertificate(v1::UploadCertificateRequest {
                name: "bad".into(),
                certificate_chain: "not a certificate".into(),
                private_key: sealed_stand_in(PRIVATE_KEY_PEM),
                ..Default::default()
            }),
            InvalidArgument,
            "certificate_chain",
        ),
        case(
            "certificate chain at most 64 KiB",
            Kind::UploadCertificate(v1::UploadCertificateRequest {
                name: "bad".into(),
                certificate_chain: "a".repeat(MAX_PEM_BYTES + 1),
                private_key: sealed_stand_in(PRIVATE_KEY_PEM),
                ..Default::default()
            }),
            InvalidArgument,
            "certificate_chain",
        ),
        case(
            "private key is sealed, not clear PEM",
            Kind::UploadCertificate(v1::UploadCertificateRequest {
                name: "bad".into(),
                certificate_chain: CERTIFICATE_PEM.into(),
                private_key: PRIVATE_KEY_PEM.into(),
                ..Default::default()
            }),
            InvalidArgument,
            "private_key",
        ),
        case(
            "private key is a well-formed sealed text",
            Kind::UploadCertificate(v1::UploadCertificateRequest {
                name: "bad".into(),
                certificate_chain: CERTIFICATE_PEM.into(),
                private_key: "fulcrum-sealed:v1:0101".into(),
                ..Default::default()
            }),
            InvalidArgument,
            "private_key",
        ),
        // Health checks.
        case(
            "health check type is TCP or HTTP",
            with_health_check(&lb, |c| c.r#type = 0),
            InvalidArgument,
            "health_check.type",
        ),
        case(
            "interval at least 1 s",
            with_health_check(&lb, |c| c.interval_s = Some(0)),
            InvalidArgument,
            "health_check.interval_s",
        ),
        case(
            "interval at most 300 s",
            with_health_check(&lb, |c| c.interval_s = Some(301)),
            InvalidArgument,
            "health_check.interval_s",
        ),
        case(
            "timeout at most 60 s",
            with_health_check(&lb, |c| {
                c.interval_s = Some(120);
                c.timeout_s = Some(61);
            }),
            InvalidArgument,
            "health_check.timeout_s",
        ),
        case(
            "timeout not above the interval",
            with_health_check(&lb, |c| {
                c.interval_s = Some(5);
                c.timeout_s = Some(6);
            }),
            InvalidArgument,
            "health_check.timeout_s",
        ),
        case(
            "healthy threshold at least 1",
            with_health_check(&lb, |c| c.healthy_threshold = Some(0)),
            InvalidArgument,
            "health_check.healthy_threshold",
        ),
        case(
            "unhealthy threshold at most 10",
            with_health_check(&lb, |c| c.unhealthy_threshold = Some(11)),
            InvalidArgument,
            "health_check.unhealthy_threshold",
        ),
        case(
            "HTTP path starts with /",
            with_health_check(&lb, |c| c.http_path = Some("health".into())),
            InvalidArgument,
            "health_check.http_path",
        ),
        case(
            "HTTP path at most 1000 characters",
            with_health_check(&lb, |c| {
                c.http_path = Some(format!("/{}", "a".repeat(1000)))
            }),
            InvalidArgument,
            "health_check.http_path",
        ),
        case(
            "expected codes like 200, 200-299, 200,302",
            with_health_check(&lb, |c| c.expected_codes = Some("2xx".into())),
            InvalidArgument,
            "health_check.expected_codes",
        ),
        case(
            "HTTP path only on HTTP checks",
            with_health_check(&lb, |c| {
                c.r#type = v1::HealthCheckType::Tcp as i32;
                c.http_path = Some("/".into());
            }),
            InvalidArgument,
            "health_check.http_path",
        ),
        // Algorithms.
        case(
            "algorithm is one of the three",
            Kind::CreateGroup(v1::CreateGroupRequest {
                algorithm: 9,
                ..group(&lb, "g", vec![])
            }),
            InvalidArgument,
            "algorithm",
        ),
        // EIPs.
        case(
            "an EIP belongs to at most one LB",
            associate(&guarded, &eip),
            FailedPrecondition,
            "eip_id",
        ),
        case(
            "an LB has at most one EIP",
            associate(&lb, &free_eip),
            FailedPrecondition,
            "load_balancer_id",
        ),
        case(
            "disassociate needs an EIP",
            Kind::DisassociateEip(v1::DisassociateEipRequest {
                load_balancer_id: guarded.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "load_balancer_id",
        ),
        case(
            "EIP address inside the pool",
            allocate_eip("198.51.100.7"),
            InvalidArgument,
            "address",
        ),
        case(
            "EIP address not taken",
            allocate_eip("203.0.113.1"),
            AlreadyExists,
            "address",
        ),
        says(
            "EIP pool exhausted",
            vec![Kind::UpdateClusterSettings(
                v1::UpdateClusterSettingsRequest {
                    // Its two host addresses are the fixture's two EIPs.
                    eip_pool: Some(v1::EipPool {
                        cidrs: vec!["203.0.113.0/30".into()],
                    }),
                    ..Default::default()
                },
            )],
            allocate_eip(""),
            ResourceExhausted,
            "EIP pool",
        ),
        case(
            "pool update keeps allocated EIPs inside",
            Kind::UpdateClusterSettings(v1::UpdateClusterSettingsRequest {
                eip_pool: Some(v1::EipPool {
                    cidrs: vec!["198.51.100.0/24".into()],
                }),
                ..Default::default()
            }),
            FailedPrecondition,
            "eip_pool",
        ),
        // Immutable fields of the LB.
        case(
            "LB network is immutable",
            update_lb(&lb, |u| u.network_id = Some(f.id("other-net"))),
            FailedPrecondition,
            "network_id",
        ),
        case(
            "LB subnet is immutable",
            update_lb(&lb, |u| u.subnet_id = Some(other_sub.clone())),
            FailedPrecondition,
            "subnet_id",
        ),
        // Deletion and dependents.
        case(
            "LB delete refused with dependents",
            Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
                id: lb.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        says(
            "delete protection refuses even cascade",
            vec![],
            Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
                id: guarded.clone(),
                cascade: true,
                ..Default::default()
            }),
            FailedPrecondition,
            "delete protection",
        ),
        says(
            "LB delete refused while an EIP is associated",
            vec![
                update_lb(&guarded, |u| u.delete_protection = Some(false)),
                associate(&guarded, &free_eip),
            ],
            Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
                id: guarded.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "an EIP",
        ),
        case(
            "group delete refused while a listener uses it",
            Kind::DeleteGroup(v1::DeleteGroupRequest {
                id: pool.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        case(
            "certificate delete refused while in use",
            Kind::DeleteCertificate(v1::DeleteCertificateRequest {
                id: cert.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        case(
            "EIP release refused while associated",
            Kind::ReleaseEip(v1::ReleaseEipRequest {
                id: eip.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        case(
            "network delete refused with subnets",
            Kind::DeleteNetwork(v1::DeleteNetworkRequest {
                id: net.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        case(
            "subnet delete refused with instances",
            Kind::DeleteSubnet(v1::DeleteSubnetRequest {
                id: sub.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        case(
            "instance delete refused while a member",
            Kind::DeleteInstance(v1::DeleteInstanceRequest {
                id: web2.clone(),
                ..Default::default()
            }),
            FailedPrecondition,
            "id",
        ),
        // Quotas.
        says(
            "Load Balancer quota",
            vec![quotas(2, 50, 50, 200)],
            load_balancer("third", &net, &sub),
            ResourceExhausted,
            "load balancers",
        ),
        says(
            "listener quota",
            vec![quotas(1000, 2, 50, 200)],
            with_listener(&lb, 81, |_| {}),
            ResourceExhausted,
            "listeners per load balancer",
        ),
        says(
            "group quota",
            vec![quotas(1000, 50, 1, 200)],
            Kind::CreateGroup(group(&lb, "g", vec![])),
            ResourceExhausted,
            "groups per load balancer",
        ),
        says(
            "member quota on add",
            vec![quotas(1000, 50, 50, 2)],
            Kind::AddMember(v1::AddMemberRequest {
                group_id: pool.clone(),
                member: Some(member(&web1, 9090, None)),
                ..Default::default()
            }),
            ResourceExhausted,
            "members per group",
        ),
        says(
            "member quota on create",
            vec![quotas(1000, 50, 50, 1)],
            Kind::CreateGroup(group(
                &lb,
                "g",
                vec![member(&web1, 1, None), member(&web2, 1, None)],
            )),
            ResourceExhausted,
            "members per group",
        ),
        case(
            "quota at least 1",
            quotas(0, 50, 50, 200),
            InvalidArgument,
            "quotas.load_balancers",
        ),
        // Revisions.
        case(
            "expected revision must match",
            update_lb(&lb, |u| u.expected_revision = Some(1)),
            Aborted,
            "expected_revision",
        ),
        case(
            "expected revision on delete",
            Kind::DeleteListener(v1::DeleteListenerRequest {
                id: http.clone(),
                expected_revision: Some(1),
                ..Default::default()
            }),
            Aborted,
            "expected_revision",
        ),
        // References.
        case(
            "LB must exist",
            with_listener("lb-missing", 81, |_| {}),
            NotFound,
            "load_balancer_id",
        ),
        case(
            "ids carry their type prefix",
            with_listener(&http, 81, |_| {}),
            InvalidArgument,
            "load_balancer_id",
        ),
        case(
            "member instance must exist",
            Kind::CreateGroup(group(&lb, "g", vec![member("ins-missing", 80, None)])),
            NotFound,
            "members[0].instance_id",
        ),
        case(
            "member instance in the LB's network",
            Kind::CreateGroup(group(&lb, "g", vec![member(&stranger, 80, None)])),
            InvalidArgument,
            "members[0].instance_id",
        ),
        case(
            "LB subnet inside its network",
            load_balancer("x", &net, &other_sub),
            InvalidArgument,
            "subnet_id",
        ),
        case(
            "listener group of the same LB",
            with_listener(&guarded, 81, |l| l.default_group_id = pool.clone()),
            InvalidArgument,
            "default_group_id",
        ),
        case(
            "subnet inside the network",
            subnet("s", &net, "10.1.0.0/24"),
            InvalidArgument,
            "cidr",
        ),
        case(
            "subnets do not overlap",
            subnet("s", &net, "10.0.1.128/25"),
            AlreadyExists,
            "cidr",
        ),
        case(
            "CIDR in canonical form",
            network("n", "10.0.0.1/16"),
            InvalidArgument,
            "cidr",
        ),
        case(
            "instance address inside the subnet",
            instance("i", &sub, "10.0.2.1"),
            InvalidArgument,
            "address",
        ),
        case(
            "instance address unique in the subnet",
            instance("i", &sub, "10.0.1.11"),
            AlreadyExists,
            "address",
        ),
        // Listener options.
        case(
            "X-Forwarded-For only on HTTP and HTTPS",
            with_listener(&lb, 81, |l| l.insert_x_forwarded_for = Some(true)),
            InvalidArgument,
            "insert_x_forwarded_for",
        ),
        case(
            "idle timeout at least 1 s",
            with_listener(&lb, 81, |l| l.idle_timeout_s = Some(0)),
            InvalidArgument,
            "idle_timeout_s",
        ),
        case(
            "idle timeout at most 4000 s",
            with_listener(&lb, 81, |l| l.idle_timeout_s = Some(4001)),
            InvalidArgument,
            "idle_timeout_s",
        ),
        case(
            "health check set and cleared at once",
            Kind::UpdateGroup(v1::UpdateGroupRequest {
                id: pool.clone(),
                clear_health_check: true,
                health_check: Some(v1::HealthCheck::default()),
                ..Default::default()
            }),
            InvalidArgument,
            "clear_health_check",
        ),
    ]
}

#[test]
fn every_rule_is_enforced_with_its_kind_and_field() {
    let fixture = Fixture::new();
    let cases = cases(&fixture);
    let mut failures = Vec::new();
    for case in cases {
        let mut log = fixture.log.clone();
        for setup in case.setup {
            log.ok(setup);
        }
        let (catalog_before, revision_before) = (log.state.catalog().clone(), log.state.revision());
        let applied = log.submit(case.command);
        let outcome = match (applied.answer, &case.expect) {
            (Ok(receipt), _) => Err(format!("accepted at revision {}", receipt.revision)),
            (Err(rejection), _) if rejection.kind != case.kind => Err(format!(
                "{:?} instead of {:?}: {}",
                rejection.kind, case.kind, rejection.message
            )),
            (Err(rejection), Expect::Field(field))
                if rejection.field.as_deref() != Some(*field)
                    || !rejection.message.starts_with(&format!("{field}: ")) =>
            {
                Err(format!(
                    "field {:?} instead of {field:?}: {}",
                    rejection.field, rejection.message
                ))
            }
            (Err(rejection), Expect::Says(text)) if !rejection.message.contains(*text) => Err(
                format!("message does not say {text:?}: {}", rejection.message),
            ),
            (Err(_), _) => Ok(()),
        };
        if let Err(problem) = outcome {
            failures.push(format!("{}: {problem}", case.rule));
            continue;
        }
        // A refused command changes nothing but the log position and clock.
        assert_eq!(
            log.state.catalog(),
            &catalog_before,
            "{}: refused command changed the catalog",
            case.rule
        );
        assert_eq!(
            log.state.revision(),
            revision_before,
            "{}: refused command took a revision",
            case.rule
        );
    }
    assert!(
        failures.is_empty(),
        "{} rules not enforced as documented:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_guide_allows_several_listeners_of_different_protocols_or_ports() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    log.ok(with_listener(&lb, 81, |l| {
        l.protocol = v1::Protocol::Http as i32
    }));
    log.ok(with_listener(&lb, 82, |_| {}));
    // The same port on another Load Balancer is fine.
    let guarded = fixture.ids["guarded"].clone();
    log.ok(with_listener(&guarded, 80, |_| {}));
    assert_eq!(log.state.catalog().listeners().len(), 5);
}

#[test]
fn boundary_values_are_accepted() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let web1 = fixture.id("web1");
    let http = fixture.id("http");
    let log = &mut fixture.log;
    log.ok(load_balancer(
        "负载均衡_web-1",
        &fixture.ids["net"],
        &fixture.ids["subnet"],
    ));
    log.ok(load_balancer(
        &"n".repeat(32),
        &fixture.ids["net"],
        &fixture.ids["subnet"],
    ));
    log.ok(with_listener(&lb, 1, |l| l.connection_limit = Some(-1)));
    log.ok(with_listener(&lb, 65535, |l| {
        l.connection_limit = Some(1_000_000)
    }));
    log.ok(with_listener(&lb, 2, |l| l.connection_limit = Some(1)));
    log.ok(Kind::CreateGroup(group(
        &lb,
        "edge",
        vec![member(&web1, 1, Some(0)), member(&web1, 65535, Some(100))],
    )));
    log.ok(with_health_check(&lb, |c| {
        c.interval_s = Some(300);
        c.timeout_s = Some(60);
        c.healthy_threshold = Some(10);
        c.unhealthy_threshold = Some(1);
        c.http_path = Some(format!("/{}", "a".repeat(999)));
        c.expected_codes = Some("200,302,400-404".into());
    }));
    // Restating an immutable field with its current value is not a change.
    log.ok(update_listener(&http, |u| {
        u.protocol = Some(v1::Protocol::Http as i32);
        u.port = Some(80);
        u.connection_limit = Some(500);
    }));
}

#[test]
fn defaults_fill_what_the_client_leaves_out() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let web1 = fixture.id("web1");
    let log = &mut fixture.log;
    let listener_id = log
        .ok(with_listener(&lb, 81, |l| {
            l.protocol = v1::Protocol::Http as i32
        }))
        .resource_id;
    let group_id = log
        .ok(Kind::CreateGroup(group(
            &lb,
            "defaults",
            vec![member(&web1, 80, None)],
        )))
        .resource_id;
    let catalog = log.state.catalog();
    let listener = catalog
        .listeners()
        .values()
        .find(|l| l.id.as_str() == listener_id)
        .unwrap();
    assert_eq!(
        listener.connection_limit,
        fulcrum_raft_store::domain::ConnectionLimit::Unlimited
    );
    assert_eq!(listener.idle_timeout_s, 60);
    assert!(
        listener.insert_x_forwarded_for,
        "HTTP listeners insert X-Forwarded-For by default"
    );
    assert!(listener.admin_state_up);
    let group = catalog
        .groups()
        .values()
        .find(|g| g.id.as_str() == group_id)
        .unwrap();
    assert_eq!(
        group.algorithm,
        fulcrum_raft_store::domain::Algorithm::WeightedRoundRobin
    );
    assert_eq!(group.members[0].weight, 10);
    assert!(group.health_check.is_none());
}

#[test]
fn cascade_removes_or_detaches_dependents() {
    // LB cascade: listeners and groups go, the EIP is freed, not released.
    let mut fixture = Fixture::new();
    let (lb, eip) = (fixture.id("lb"), fixture.id("eip"));
    let log = &mut fixture.log;
    log.ok(Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
        id: lb.clone(),
        cascade: true,
        ..Default::default()
    }));
    let catalog = log.state.catalog();
    assert!(
        catalog
            .listeners()
            .values()
            .all(|l| l.load_balancer_id.as_str() != lb)
    );
    assert!(
        catalog
            .groups()
            .values()
            .all(|g| g.load_balancer_id.as_str() != lb)
    );
    let freed = catalog
        .eips()
        .values()
        .find(|e| e.id.as_str() == eip)
        .expect("EIP stays allocated");
    assert!(freed.load_balancer_id.is_none());
    log.state.check_invariants().unwrap();

    // Group cascade: the listener stays, without a group.
    let mut fixture = Fixture::new();
    let (pool, http) = (fixture.id("pool"), fixture.id("http"));
    let log = &mut fixture.log;
    log.ok(Kind::DeleteGroup(v1::DeleteGroupRequest {
        id: pool,
        cascade: true,
        ..Default::default()
    }));
    let listener = log
        .state
        .catalog()
        .listeners()
        .values()
        .find(|l| l.id.as_str() == http)
        .unwrap();
    assert!(listener.default_group_id.is_none());

    // Certificate cascade: the HTTPS listener cannot live without it.
    let mut fixture = Fixture::new();
    let (cert, https) = (fixture.id("site"), fixture.id("https"));
    let log = &mut fixture.log;
    log.ok(Kind::DeleteCertificate(v1::DeleteCertificateRequest {
        id: cert,
        cascade: true,
        ..Default::default()
    }));
    assert!(
        log.state
            .catalog()
            .listeners()
            .values()
            .all(|l| l.id.as_str() != https)
    );
    log.state.check_invariants().unwrap();
}

#[test]
fn replace_members_keeps_ids_of_members_that_stay() {
    let mut fixture = Fixture::new();
    let (pool, web1, web2) = (fixture.id("pool"), fixture.id("web1"), fixture.id("web2"));
    let log = &mut fixture.log;
    let before = log
        .state
        .catalog()
        .groups()
        .values()
        .find(|g| g.id.as_str() == pool)
        .unwrap()
        .clone();
    log.ok(Kind::ReplaceMembers(v1::ReplaceMembersRequest {
        group_id: pool.clone(),
        members: vec![member(&web1, 8080, Some(0)), member(&web2, 9090, None)],
        ..Default::default()
    }));
    let after = log
        .state
        .catalog()
        .groups()
        .values()
        .find(|g| g.id.as_str() == pool)
        .unwrap();
    assert_eq!(after.members.len(), 2);
    assert_eq!(
        after.members[0].id, before.members[0].id,
        "web1:8080 stays, drained to weight 0"
    );
    assert_eq!(after.members[0].weight, 0);
    assert!(
        after.members.iter().all(|m| m.id != before.members[1].id),
        "web2:8080 is gone"
    );
    assert_eq!(after.members[1].port, 9090);
}

#[test]
fn rejections_name_the_rule_in_words() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let rejection = fixture.log.refused(with_listener(&lb, 80, |_| {}));
    assert_rejection(&rejection, AlreadyExists, "port");
    assert!(
        rejection
            .message
            .contains("unique within a load balancer, whatever the protocol"),
        "{}",
        rejection.message
    );
    let http = fixture.id("http");
    let rejection = fixture
        .log
        .refused(update_listener(&http, |u| u.port = Some(8080)));
    assert!(
        rejection.message.contains("fixed when it is created"),
        "{}",
        rejection.message
    );
}
