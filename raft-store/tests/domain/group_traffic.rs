//! A group's traffic settings (session persistence, the PROXY protocol and
//! passive health): set at creation or by an update, checked field by
//! field, carried to the data plane, refused where they cannot work, and
//! unknown to entries before log format 5.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{PassiveHealth, Persistence, ProxyProtocol, RejectionKind, State};
use v1::command::Kind;

use crate::harness::*;

fn cookie(name: &str) -> v1::SessionPersistence {
    v1::SessionPersistence {
        r#type: v1::PersistenceType::Cookie as i32,
        cookie_name: name.to_owned(),
    }
}

#[test]
fn traffic_settings_are_set_shown_served_and_removed() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let web1 = fixture.id("web1");
    let log = &mut fixture.log;
    let mut create = group(&lb, "sticky", vec![member(&web1, 9000, None)]);
    create.persistence = Some(cookie("FULCRUM"));
    create.passive_health = Some(v1::PassiveHealth {
        consecutive_failures: 5,
        ejection_s: 30,
        max_ejected_percent: None,
    });
    let id = log.ok(Kind::CreateGroup(create)).resource_id;
    let stored = group_of(log, &id);
    assert_eq!(
        stored.persistence,
        Some(Persistence::Cookie("FULCRUM".to_owned()))
    );
    assert_eq!(
        stored.passive_health,
        Some(PassiveHealth {
            consecutive_failures: 5,
            ejection_s: 30,
            max_ejected_percent: 50,
        })
    );
    let view = fulcrum_raft_store::domain::wire::group_view(log.state.catalog(), stored);
    assert_eq!(view.persistence.unwrap().cookie_name, "FULCRUM");
    assert_eq!(view.passive_health.unwrap().max_ejected_percent, Some(50));

    // Served: a listener on it carries them to the data plane.
    let mut http = listener(&lb, "sticky", v1::Protocol::Http, 8080);
    http.default_group_id = id.clone();
    let http = log.ok(Kind::CreateListener(http)).resource_id;
    let entry = served_entry(log, &http);
    let served = entry.group.unwrap();
    assert!(served.persistence.is_some() && served.passive_health.is_some());

    // A PROXY protocol header goes to an HTTP listener's members too.
    log.ok(Kind::UpdateGroup(v1::UpdateGroupRequest {
        id: id.clone(),
        proxy_protocol: Some(v1::ProxyProtocolVersion::V2 as i32),
        ..Default::default()
    }));
    assert_eq!(group_of(log, &id).proxy_protocol, Some(ProxyProtocol::V2));

    // Removed one by one; the rest stays.
    log.ok(Kind::UpdateGroup(v1::UpdateGroupRequest {
        id: id.clone(),
        persistence: Some(v1::SessionPersistence {
            r#type: v1::PersistenceType::None as i32,
            cookie_name: String::new(),
        }),
        ..Default::default()
    }));
    assert_eq!(group_of(log, &id).persistence, None);
    assert!(group_of(log, &id).passive_health.is_some());
    log.ok(Kind::UpdateGroup(v1::UpdateGroupRequest {
        id: id.clone(),
        clear_passive_health: true,
        ..Default::default()
    }));
    assert_eq!(group_of(log, &id).passive_health, None);

    // Snapshots and records keep them.
    log.ok(Kind::UpdateGroup(v1::UpdateGroupRequest {
        id: id.clone(),
        persistence: Some(cookie("S")),
        ..Default::default()
    }));
    let read_back = State::from_snapshot_bytes(&log.snapshot()).unwrap();
    assert_eq!(read_back.catalog(), log.state.catalog());
    log.state.check_invariants().unwrap();
}

#[test]
fn a_group_sends_the_proxy_protocol_to_tcp_and_http_listeners_alike() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    let mut create = group(&lb, "l4", Vec::new());
    create.proxy_protocol = v1::ProxyProtocolVersion::V1 as i32;
    let id = log.ok(Kind::CreateGroup(create)).resource_id;
    assert_eq!(group_of(log, &id).proxy_protocol, Some(ProxyProtocol::V1));
    for (name, protocol, port) in [
        ("l4", v1::Protocol::Tcp, 9000),
        ("web", v1::Protocol::Http, 9001),
    ] {
        let mut request = listener(&lb, name, protocol, port);
        request.default_group_id = id.clone();
        log.ok(Kind::CreateListener(request));
    }
    let served = log
        .state
        .data_plane_config()
        .listeners
        .into_iter()
        .filter(|entry| {
            entry
                .group
                .as_ref()
                .is_some_and(|group| group.proxy_protocol == Some(ProxyProtocol::V1))
        })
        .count();
    assert_eq!(served, 2);
    log.state.check_invariants().unwrap();
}

#[test]
fn bad_traffic_settings_are_refused_naming_the_field() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    let cases: Vec<(v1::CreateGroupRequest, &str)> = vec![
        (
            v1::CreateGroupRequest {
                persistence: Some(cookie("bad name")),
                ..group(&lb, "a", Vec::new())
            },
            "persistence.cookie_name",
        ),
        (
            v1::CreateGroupRequest {
                persistence: Some(v1::SessionPersistence::default()),
                ..group(&lb, "b", Vec::new())
            },
            "persistence.type",
        ),
        (
            v1::CreateGroupRequest {
                passive_health: Some(v1::PassiveHealth {
                    consecutive_failures: 0,
                    ejection_s: 30,
                    max_ejected_percent: None,
                }),
                ..group(&lb, "c", Vec::new())
            },
            "passive_health.consecutive_failures",
        ),
        (
            v1::CreateGroupRequest {
                passive_health: Some(v1::PassiveHealth {
                    consecutive_failures: 3,
                    ejection_s: 3601,
                    max_ejected_percent: None,
                }),
                ..group(&lb, "d", Vec::new())
            },
            "passive_health.ejection_s",
        ),
        (
            v1::CreateGroupRequest {
                proxy_protocol: 9,
                ..group(&lb, "e", Vec::new())
            },
            "proxy_protocol",
        ),
    ];
    for (request, field) in cases {
        let rejection = log.refused(Kind::CreateGroup(request));
        assert_rejection(&rejection, RejectionKind::InvalidArgument, field);
    }
}

#[test]
fn entries_before_log_format_five_drop_the_traffic_settings() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    let mut create = group(&lb, "old", Vec::new());
    create.persistence = Some(cookie("FULCRUM"));
    create.proxy_protocol = v1::ProxyProtocolVersion::V2 as i32;
    let id = log
        .submit_at(4, Kind::CreateGroup(create))
        .answer
        .unwrap()
        .resource_id;
    let stored = group_of(log, &id);
    assert_eq!(stored.persistence, None);
    assert_eq!(stored.proxy_protocol, None);
}
