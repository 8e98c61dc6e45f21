//! Forwarding rules and session persistence, through real sockets: which
//! group a request reaches, what a redirect or a fixed response answers,
//! rule changes under load, and the member a session cookie keeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fulcrum_dataplane::config::{
    Algorithm, FixedResponse, HeaderMatch, HealthCheck, HealthCheckKind, HostMatch, Listener,
    PathMatch, Persistence, Protocol, Redirect, Rule, RuleAction, Scheme,
};
use support::*;

fn rule(id: &str, host: Option<HostMatch>, path: Option<PathMatch>, action: RuleAction) -> Rule {
    Rule {
        id: id.to_owned(),
        host,
        path,
        header: None,
        action,
    }
}

fn forward_to(id: &str, backend: &Backend) -> RuleAction {
    RuleAction::Forward(group(
        id,
        Algorithm::WeightedRoundRobin,
        vec![member(backend, 1)],
    ))
}

fn get(client: &mut HttpClient, host: &str, path: &str) -> Response {
    get_with(client, host, path, "")
}

fn get_with(client: &mut HttpClient, host: &str, path: &str, fields: &str) -> Response {
    client
        .send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{fields}\r\n").as_bytes())
        .expect("an answer")
}

fn backend_of(response: &Response) -> &str {
    response.body.as_str()
}

/// A listener over `default` with: host `api.example.com` to `api`, path
/// prefix `/static/` to `assets`, header `X-Canary: yes` to `assets`, `/old`
/// redirected, `/ping` answered.
fn routed(default: &Backend, api: &Backend, assets: &Backend) -> Listener {
    let mut listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(default, 1)],
    );
    listener.rules = vec![
        rule(
            "api",
            Some(HostMatch::Exact("api.example.com".to_owned())),
            None,
            forward_to("vsg-api", api),
        ),
        rule(
            "static",
            None,
            Some(PathMatch::Prefix("/static/".to_owned())),
            forward_to("vsg-assets", assets),
        ),
        Rule {
            header: Some(HeaderMatch {
                name: "x-canary".to_owned(),
                value: "yes".to_owned(),
            }),
            ..rule("canary", None, None, forward_to("vsg-canary", assets))
        },
        rule(
            "moved",
            Some(HostMatch::Wildcard(".example.com".to_owned())),
            Some(PathMatch::Exact("/old".to_owned())),
            RuleAction::Redirect(Redirect {
                status: 301,
                scheme: Some(Scheme::Https),
                host: None,
                port: None,
                path: Some("/new".to_owned()),
            }),
        ),
        rule(
            "ping",
            None,
            Some(PathMatch::Exact("/ping".to_owned())),
            RuleAction::Respond(FixedResponse {
                status: 200,
                content_type: "text/plain".to_owned(),
                body: "pong\n".to_owned(),
            }),
        ),
    ];
    listener
}

#[test]
fn host_and_path_rules_send_each_request_to_its_group_and_redirects_say_where() {
    let default = Backend::start("default", Kind::Http);
    let api = Backend::start("api", Kind::Http);
    let assets = Backend::start("assets", Kind::Http);
    let listener = routed(&default, &api, &assets);
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    let mut client = HttpClient::connect(address);
    for (host, path, expected) in [
        ("api.example.com", "/", "api"),
        ("API.example.com:8080", "/static/x.js", "api"),
        ("www.example.com", "/static/x.js", "assets"),
        ("www.example.com", "/staticx", "default"),
        ("www.example.com", "/", "default"),
        ("example.com", "/old", "default"),
    ] {
        let response = get(&mut client, host, path);
        assert_eq!(response.status, 200, "{host}{path}");
        assert_eq!(backend_of(&response), expected, "{host}{path}");
    }
    let canary = get_with(&mut client, "www.example.com", "/", "X-Canary: yes\r\n");
    assert_eq!(backend_of(&canary), "assets");

    // On the same keep-alive connection: the redirect and the fixed answer.
    let moved = get(&mut client, "shop.example.com", "/old?item=7");
    assert_eq!(moved.status, 301);
    assert!(
        moved
            .head
            .contains("\r\nLocation: https://shop.example.com/new?item=7\r\n"),
        "{}",
        moved.head
    );
    let pong = get(&mut client, "anything", "/ping");
    assert_eq!((pong.status, pong.body.as_str()), (200, "pong\n"));
    assert_eq!(
        backend_of(&get(&mut client, "x", "/")),
        "default",
        "the connection goes on after the proxy's own answers"
    );
    assert_eq!(
        api.requests() + assets.requests() + default.requests(),
        8,
        "the redirect and the fixed answer reach no member"
    );
}

#[test]
fn a_rule_change_under_keep_alive_load_fails_no_request() {
    let default = Backend::start("default", Kind::Http);
    let api = Backend::start("api", Kind::Http);
    let assets = Backend::start("assets", Kind::Http);
    let mut listener = routed(&default, &api, &assets);
    let address = listener.address;
    let forwarder = start(config(1, vec![listener.clone()]));
    let running = Arc::new(AtomicBool::new(true));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = ["api.example.com", "www.example.com"]
        .into_iter()
        .map(|host| {
            let (running, served, failed) = (
                Arc::clone(&running),
                Arc::clone(&served),
                Arc::clone(&failed),
            );
            std::thread::spawn(move || {
                let mut client = HttpClient::connect(address);
                while running.load(Ordering::SeqCst) {
                    match client
                        .send(format!("GET /static/a HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
                    {
                        Some(response) if response.status == 200 => {
                            served.fetch_add(1, Ordering::SeqCst)
                        }
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    for generation in 2..=301u64 {
        // Rules swap places, leave and come back.
        listener.rules.rotate_left(1);
        if generation % 3 == 0 {
            listener.rules.pop();
        } else if listener.rules.len() < 5 {
            listener.rules = routed(&default, &api, &assets).rules;
        }
        // Each generation is served before the next: the clients' requests
        // meet every one of them.
        reconfigure(&forwarder, config(generation, vec![listener.clone()]));
    }
    running.store(false, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    assert!(served.load(Ordering::SeqCst) > 100, "{served:?} served");

    // The last rules are the ones that hold.
    listener.rules = vec![rule("everything", None, None, forward_to("vsg-api", &api))];
    reconfigure(&forwarder, config(302, vec![listener]));
    let mut client = HttpClient::connect(address);
    assert_eq!(backend_of(&get(&mut client, "www.example.com", "/")), "api");
}

/// The `Set-Cookie` value of a response (the part before `;`), if any.
fn set_cookie(response: &Response) -> Option<String> {
    response
        .head
        .lines()
        .find_map(|line| line.strip_prefix("Set-Cookie: "))
        .map(|value| value.split(';').next().unwrap_or("").to_owned())
}

/// HTTP backends "a", "b" and "c", and a round-robin listener over them,
/// weights equal, whose group keeps sessions by `persistence`.
fn three_members_with(persistence: Persistence) -> (Vec<Backend>, Listener) {
    let backends: Vec<Backend> = ["a", "b", "c"]
        .into_iter()
        .map(|name| Backend::start(name, Kind::Http))
        .collect();
    let mut listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        backends.iter().map(|backend| member(backend, 1)).collect(),
    );
    listener.group.persistence = Some(persistence);
    (backends, listener)
}

#[test]
fn cookie_persistence_keeps_a_client_on_its_member_and_moves_it_when_drained_or_down() {
    let (backends, mut listener) = three_members_with(Persistence::Cookie("FULCRUM".to_owned()));
    listener.group.health_check = Some(HealthCheck {
        kind: HealthCheckKind::Tcp,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        healthy_threshold: 1,
        unhealthy_threshold: 1,
    });
    let address = listener.address;
    let forwarder = start(config(1, vec![listener.clone()]));
    let mut client = HttpClient::connect(address);

    let first = get(&mut client, "x", "/");
    let cookie = set_cookie(&first).expect("a new session gets its cookie");
    assert!(cookie.starts_with("FULCRUM="), "{cookie}");
    let member = backend_of(&first).to_owned();
    for _ in 0..100 {
        let response = get_with(
            &mut client,
            "x",
            "/",
            &format!("Cookie: theme=dark; {cookie}\r\n"),
        );
        assert_eq!(backend_of(&response), member);
        assert_eq!(
            set_cookie(&response),
            None,
            "a kept session is not told again"
        );
    }
    // Without the cookie, round robin spreads requests again.
    let spread: BTreeSet<String> = (0..6)
        .map(|_| backend_of(&get(&mut client, "x", "/")).to_owned())
        .collect();
    assert_eq!(spread.len(), 3);

    // Drained: the session moves, and its new member's cookie replaces the old.
    let drained = listener
        .group
        .members
        .iter()
        .position(|m| m.id == member)
        .unwrap();
    listener.group.members[drained].weight = 0;
    reconfigure(&forwarder, config(2, vec![listener.clone()]));
    let moved = get_with(&mut client, "x", "/", &format!("Cookie: {cookie}\r\n"));
    let second = backend_of(&moved).to_owned();
    assert_ne!(second, member);
    let cookie = set_cookie(&moved).expect("the moved session's new cookie");
    for _ in 0..10 {
        let response = get_with(&mut client, "x", "/", &format!("Cookie: {cookie}\r\n"));
        assert_eq!(backend_of(&response), second);
    }

    // Down: its health check fails, and the session moves again.
    backends.iter().find(|b| b.name == second).unwrap().stop();
    let key = ("vsg-1".to_owned(), second.clone());
    assert!(
        eventually(Duration::from_secs(10), || forwarder
            .health()
            .get(&key)
            .is_some_and(|health| !health.healthy)),
        "the member is down"
    );
    let mut client = HttpClient::connect(address);
    let third = get_with(&mut client, "x", "/", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(third.status, 200);
    assert_ne!(backend_of(&third), second);
    assert!(set_cookie(&third).is_some());
}

#[test]
fn an_application_cookie_keeps_its_value_on_one_member() {
    let (_backends, listener) = three_members_with(Persistence::AppCookie("JSESSIONID".to_owned()));
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    let mut client = HttpClient::connect(address);
    let mut members = BTreeSet::new();
    for session in 0..30 {
        let cookie = format!("Cookie: JSESSIONID=s{session}\r\n");
        let first = backend_of(&get_with(&mut client, "x", "/", &cookie)).to_owned();
        for _ in 0..5 {
            let response = get_with(&mut client, "x", "/", &cookie);
            assert_eq!(backend_of(&response), first, "session {session}");
            assert_eq!(set_cookie(&response), None, "the application sets its own");
        }
        members.insert(first);
    }
    assert_eq!(members.len(), 3, "sessions spread over every member");
}
