//! A listener's forwarding rules: set as a whole, checked field by field,
//! only on HTTP and HTTPS listeners, forwarding only to groups of the
//! listener's Load Balancer, carried to the data plane with their groups,
//! kept by snapshots and records, detached with a cascaded group deletion,
//! and unknown to entries before log format 5.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::projection::dataplane::RuleTarget;
use fulcrum_raft_store::domain::{
    ForwardingRule, GroupId, HostCondition, ListenerId, PathCondition, RejectionKind, RuleAction,
    State,
};
use v1::command::Kind;
use v1::forwarding_rule::Action;

use crate::harness::*;

fn set_rules(id: &str, rules: Vec<v1::ForwardingRule>) -> Kind {
    Kind::SetListenerRules(v1::SetListenerRulesRequest {
        id: id.to_owned(),
        rules,
        ..Default::default()
    })
}

fn forward(name: &str, host: &str, path: &str, group: &str) -> v1::ForwardingRule {
    v1::ForwardingRule {
        name: name.to_owned(),
        host: host.to_owned(),
        path: path.to_owned(),
        action: Some(Action::ForwardGroupId(group.to_owned())),
        ..Default::default()
    }
}

fn redirect_to_https(name: &str) -> v1::ForwardingRule {
    v1::ForwardingRule {
        name: name.to_owned(),
        action: Some(Action::Redirect(v1::RedirectAction {
            status: 301,
            scheme: "https".to_owned(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The fixture with a second group, "api", on its Load Balancer.
fn with_api_group() -> (Fixture, String) {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let web1 = fixture.id("web1");
    let api = fixture
        .log
        .ok(Kind::CreateGroup(group(
            &lb,
            "api",
            vec![member(&web1, 9090, None)],
        )))
        .resource_id;
    (fixture, api)
}

#[test]
fn rules_are_set_in_order_and_served_with_their_groups() {
    let (mut fixture, api) = with_api_group();
    let http = fixture.id("http");
    let log = &mut fixture.log;
    let receipt = log.ok(set_rules(
        &http,
        vec![
            forward("api", "*.Example.com", "/v2/", &api),
            redirect_to_https("tls"),
        ],
    ));
    assert_eq!(receipt.resource_id, http);
    let stored = listener_of(log, &http);
    assert_eq!(stored.meta.revision, receipt.revision);
    assert_eq!(
        stored.rules[0],
        ForwardingRule {
            name: "api".to_owned(),
            host: Some(HostCondition::Wildcard("example.com".to_owned())),
            path: Some(PathCondition::Prefix("/v2/".to_owned())),
            header: None,
            action: RuleAction::Forward(GroupId::parse("id", &api).unwrap()),
        }
    );
    assert_eq!(
        v1::Listener::from(stored).rules[0].host,
        "*.example.com",
        "the API shows a wildcard as it is written"
    );
    let entry = served_entry(log, &http);
    assert_eq!(entry.rules.len(), 2);
    let RuleTarget::Forward(group) = &entry.rules[0].action else {
        panic!("the first rule forwards");
    };
    assert_eq!(group.group_id.as_str(), api);
    assert_eq!(group.members.len(), 1);
    assert!(matches!(entry.rules[1].action, RuleTarget::Redirect(_)));

    // A member change of the rule's group reaches the listener's entry.
    let web2 = fixture.id("web2");
    fixture.log.ok(Kind::AddMember(v1::AddMemberRequest {
        group_id: api.clone(),
        member: Some(member(&web2, 9090, None)),
        ..Default::default()
    }));
    fixture.log.state.check_invariants().unwrap();

    // Snapshots and records keep them.
    let read_back = State::from_snapshot_bytes(&fixture.log.snapshot()).unwrap();
    assert_eq!(listener_of(&fixture.log, &http).rules, {
        read_back.catalog().listeners()[&ListenerId::parse("id", &http).unwrap()]
            .rules
            .clone()
    });
    let records: Vec<_> = fixture
        .log
        .state
        .record_keys()
        .into_iter()
        .map(|key| {
            let value = fixture.log.state.record(&key).unwrap().unwrap();
            (key.to_bytes(), value)
        })
        .collect();
    let from_records = State::from_records(records).unwrap();
    assert_eq!(from_records.catalog(), fixture.log.state.catalog());

    // An empty list removes them all.
    fixture.log.ok(set_rules(&http, Vec::new()));
    assert!(listener_of(&fixture.log, &http).rules.is_empty());
    fixture.log.state.check_invariants().unwrap();
}

#[test]
fn rules_that_break_a_rule_are_refused_naming_the_field() {
    let (mut fixture, api) = with_api_group();
    let http = fixture.id("http");
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    let other_lb_group = {
        let net = fixture.ids["net"].clone();
        let sub = fixture.ids["subnet"].clone();
        let other = log.ok(load_balancer("other", &net, &sub)).resource_id;
        log.ok(Kind::CreateGroup(group(&other, "theirs", Vec::new())))
            .resource_id
    };
    let cases: Vec<(Vec<v1::ForwardingRule>, RejectionKind, &str)> = vec![
        (
            vec![forward("a", "bad host!", "", &api)],
            RejectionKind::InvalidArgument,
            "rules[0].host",
        ),
        (
            vec![forward("a", "", "no-slash", &api)],
            RejectionKind::InvalidArgument,
            "rules[0].path",
        ),
        (
            vec![
                forward("a", "", "", &api),
                forward("a", "x.example", "", &api),
            ],
            RejectionKind::InvalidArgument,
            "rules[1].name",
        ),
        (
            vec![v1::ForwardingRule {
                name: "none".to_owned(),
                ..Default::default()
            }],
            RejectionKind::InvalidArgument,
            "rules[0].action",
        ),
        (
            vec![forward("a", "", "", "vsg-0000000000999")],
            RejectionKind::NotFound,
            "rules[0].forward_group_id",
        ),
        (
            vec![forward("a", "", "", &other_lb_group)],
            RejectionKind::InvalidArgument,
            "rules[0].forward_group_id",
        ),
        (
            vec![v1::ForwardingRule {
                name: "loop".to_owned(),
                action: Some(Action::Redirect(v1::RedirectAction::default())),
                ..Default::default()
            }],
            RejectionKind::InvalidArgument,
            "rules[0].redirect",
        ),
        (
            vec![v1::ForwardingRule {
                name: "teapot".to_owned(),
                action: Some(Action::FixedResponse(v1::FixedResponseAction {
                    status: 100,
                    ..Default::default()
                })),
                ..Default::default()
            }],
            RejectionKind::InvalidArgument,
            "rules[0].fixed_response.status",
        ),
        (
            vec![v1::ForwardingRule {
                name: "cookie".to_owned(),
                header: Some(v1::HeaderCondition {
                    name: "Host".to_owned(),
                    value: "x".to_owned(),
                }),
                action: Some(Action::ForwardGroupId(api.clone())),
                ..Default::default()
            }],
            RejectionKind::InvalidArgument,
            "rules[0].header.name",
        ),
        (
            (0..101)
                .map(|n| forward(&format!("r{n}"), "", "", &api))
                .collect(),
            RejectionKind::InvalidArgument,
            "rules",
        ),
    ];
    let before = log.state.revision();
    for (rules, kind, field) in cases {
        let rejection = log.refused(set_rules(&http, rules));
        assert_rejection(&rejection, kind, field);
    }
    assert_eq!(log.state.revision(), before, "a refusal changes nothing");

    // A TCP listener has no rules.
    let tcp = log
        .ok(Kind::CreateListener(listener(
            &lb,
            "tcp",
            v1::Protocol::Tcp,
            81,
        )))
        .resource_id;
    let rejection = log.refused(set_rules(&tcp, vec![forward("a", "", "", &api)]));
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "rules");
    log.ok(set_rules(&tcp, Vec::new()));
}

#[test]
fn a_group_in_a_rule_is_deleted_only_with_cascade_which_drops_the_rule() {
    let (mut fixture, api) = with_api_group();
    let http = fixture.id("http");
    let log = &mut fixture.log;
    log.ok(set_rules(
        &http,
        vec![
            forward("api", "api.example.com", "", &api),
            redirect_to_https("tls"),
        ],
    ));
    let rejection = log.refused(Kind::DeleteGroup(v1::DeleteGroupRequest {
        id: api.clone(),
        ..Default::default()
    }));
    assert_eq!(rejection.kind, RejectionKind::FailedPrecondition);
    log.ok(Kind::DeleteGroup(v1::DeleteGroupRequest {
        id: api,
        cascade: true,
        ..Default::default()
    }));
    let rules = &listener_of(log, &http).rules;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name, "tls");
    log.state.check_invariants().unwrap();
}

#[test]
fn entries_before_log_format_five_know_no_rules() {
    let (mut fixture, api) = with_api_group();
    let http = fixture.id("http");
    let log = &mut fixture.log;
    let applied = log.submit_at(4, set_rules(&http, vec![forward("a", "", "", &api)]));
    assert!(applied.answer.is_err(), "format 4 read no command");
    assert!(listener_of(log, &http).rules.is_empty());
}

#[test]
fn each_rule_limit_holds_at_its_value_and_refuses_one_past_it() {
    use fulcrum_raft_store::domain::limits::{
        MAX_FIXED_RESPONSE_BODY_BYTES, MAX_HTTP_PATH_CHARS, MAX_RULES_PER_LISTENER,
    };
    let (mut fixture, api) = with_api_group();
    let http = fixture.id("http");
    let log = &mut fixture.log;
    let rules = |count: usize| {
        (0..count)
            .map(|n| forward(&format!("r{n}"), "", "", &api))
            .collect::<Vec<_>>()
    };
    log.ok(set_rules(&http, rules(MAX_RULES_PER_LISTENER)));
    let over = log.refused(set_rules(&http, rules(MAX_RULES_PER_LISTENER + 1)));
    assert_rejection(&over, RejectionKind::InvalidArgument, "rules");

    let answering = |body: usize| {
        vec![v1::ForwardingRule {
            name: "fixed".to_owned(),
            action: Some(Action::FixedResponse(v1::FixedResponseAction {
                status: 200,
                body: "x".repeat(body),
                ..Default::default()
            })),
            ..Default::default()
        }]
    };
    log.ok(set_rules(&http, answering(MAX_FIXED_RESPONSE_BODY_BYTES)));
    let over = log.refused(set_rules(
        &http,
        answering(MAX_FIXED_RESPONSE_BODY_BYTES + 1),
    ));
    assert_rejection(
        &over,
        RejectionKind::InvalidArgument,
        "rules[0].fixed_response.body",
    );

    let long_path = |length: usize| format!("/{}", "p".repeat(length - 1));
    log.ok(set_rules(
        &http,
        vec![forward("long", "", &long_path(MAX_HTTP_PATH_CHARS), &api)],
    ));
    let over = log.refused(set_rules(
        &http,
        vec![forward(
            "long",
            "",
            &long_path(MAX_HTTP_PATH_CHARS + 1),
            &api,
        )],
    ));
    assert_rejection(&over, RejectionKind::InvalidArgument, "rules[0].path");
}
