//! The forwarder over real sockets on loopback, with backends started here.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fulcrum_dataplane::config::{
    Algorithm, HealthCheck, HealthCheckKind, Listener, PassiveHealth, Protocol, ProxyProtocol,
};
use fulcrum_dataplane::{Driver, ErrorKind, Forwarder, Settings};
use support::*;

/// The share of `name` in `counts`.
fn share(counts: &std::collections::BTreeMap<String, u64>, name: &str) -> f64 {
    let total: u64 = counts.values().sum();
    counts.get(name).copied().unwrap_or(0) as f64 / total as f64
}

#[test]
fn weights_three_to_one_split_http_requests_on_either_driver() {
    for driver in [Driver::Auto, Driver::Epoll] {
        let (a, b) = two_backends(Kind::Http);
        let listener = listener(
            Protocol::Http,
            Algorithm::WeightedRoundRobin,
            vec![member(&a, 3), member(&b, 1)],
        );
        let address = listener.address;
        let _forwarder = start_on(config(1, vec![listener]), driver);
        let answers: Vec<String> = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(move || {
                        let mut client = HttpClient::connect(address);
                        (0..500)
                            .map(|_| client.get("/").unwrap().body)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            clients
                .into_iter()
                .flat_map(|client| client.join().unwrap())
                .collect()
        });
        assert_eq!(answers.len(), 4000);
        let counts = tally(answers.iter().map(String::as_str));
        let share_a = share(&counts, "a");
        assert!((0.72..=0.78).contains(&share_a), "{driver:?}: {counts:?}");
    }
}

#[test]
fn weights_three_to_one_split_tcp_connections() {
    let (a, b) = two_backends(Kind::Tcp);
    let listener = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&a, 3), member(&b, 1)],
    );
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    let names: Vec<String> = (0..4000)
        .map(|_| tcp_backend_name(address).unwrap().0)
        .collect();
    let counts = tally(names.iter().map(String::as_str));
    assert!((0.72..=0.78).contains(&share(&counts, "a")), "{counts:?}");
}

#[test]
fn least_connections_favours_the_member_with_fewer_open() {
    let (a, b) = two_backends(Kind::Tcp);
    let listener = listener(
        Protocol::Tcp,
        Algorithm::WeightedLeastConnections,
        vec![member(&a, 1), member(&b, 1)],
    );
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    let held: Vec<(String, TcpStream)> =
        (0..6).map(|_| tcp_backend_name(address).unwrap()).collect();
    let counts = tally(held.iter().map(|(name, _)| name.as_str()));
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        vec![3, 3],
        "{counts:?}"
    );
    // Close the three on a: it has 0 open against b's 3, so it takes the next three.
    let kept: Vec<_> = held.into_iter().filter(|(name, _)| name == "b").collect();
    assert!(eventually(Duration::from_secs(5), || {
        forwarder
            .counters()
            .members
            .get("a")
            .is_some_and(|a| a.active_connections == 0)
    }));
    let next: Vec<String> = (0..3)
        .map(|_| tcp_backend_name(address).unwrap().0)
        .collect();
    assert_eq!(next, vec!["a", "a", "a"]);
    drop(kept);
}

/// Connects from `source` (any 127.0.0.0/8 address) and reads the backend's name.
fn name_from(source: Ipv4Addr, address: SocketAddr) -> String {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&address.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut name = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        name.push(byte[0]);
    }
    String::from_utf8(name).unwrap()
}

#[test]
fn source_ip_hashing_keeps_clients_and_removing_a_member_moves_only_its_own() {
    let backends: Vec<Backend> = ["a", "b", "c"]
        .iter()
        .map(|name| Backend::start(name, Kind::Tcp))
        .collect();
    let members = backends.iter().map(|backend| member(backend, 10)).collect();
    let mut listener = listener(Protocol::Tcp, Algorithm::SourceIpHash, members);
    let address = listener.address;
    let forwarder = start(config(1, vec![listener.clone()]));
    let clients: Vec<Ipv4Addr> = (2..42).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect();
    let before: Vec<String> = clients
        .iter()
        .map(|client| name_from(*client, address))
        .collect();
    for (client, name) in clients.iter().zip(&before) {
        for _ in 0..3 {
            assert_eq!(&name_from(*client, address), name, "{client} moved");
        }
    }
    assert_eq!(
        tally(before.iter().map(String::as_str)).len(),
        3,
        "every member has clients"
    );
    listener.group.members.retain(|member| member.id != "c");
    reconfigure(&forwarder, config(2, vec![listener]));
    for (client, name) in clients.iter().zip(&before) {
        let now = name_from(*client, address);
        if name == "c" {
            assert_ne!(now, "c");
        } else {
            assert_eq!(&now, name, "{client} moved though its member stayed");
        }
    }
}

#[test]
fn the_connection_limit_is_exact_for_tcp_and_http() {
    let (tcp_backend, http_backend) = (
        Backend::start("t", Kind::Tcp),
        Backend::start("h", Kind::Http),
    );
    let mut tcp = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&tcp_backend, 1)],
    );
    tcp.connection_limit = Some(3);
    let mut http = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&http_backend, 1)],
    );
    http.id = "lsn-2".to_owned();
    http.connection_limit = Some(2);
    let (tcp_address, http_address) = (tcp.address, http.address);
    let forwarder = start(config(1, vec![tcp, http]));

    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| tcp_backend_name(tcp_address).unwrap().1)
        .collect();
    assert!(
        tcp_backend_name(tcp_address).is_none(),
        "the fourth TCP connection is closed at once"
    );
    held.pop();
    assert!(eventually(Duration::from_secs(5), || forwarder
        .counters()
        .listeners["lsn-1"]
        .active_connections
        == 2));
    assert!(
        tcp_backend_name(tcp_address).is_some(),
        "a slot is free again"
    );

    let mut clients: Vec<HttpClient> = (0..2).map(|_| HttpClient::connect(http_address)).collect();
    for client in &mut clients {
        assert_eq!(client.get("/").unwrap().status, 200);
    }
    assert_eq!(
        HttpClient::connect(http_address).get("/").unwrap().status,
        503
    );
    clients.pop();
    assert!(eventually(Duration::from_secs(5), || forwarder
        .counters()
        .listeners["lsn-2"]
        .active_connections
        == 1));
    assert_eq!(
        HttpClient::connect(http_address).get("/").unwrap().status,
        200
    );
    let stats = forwarder.counters();
    assert_eq!(
        stats.listeners["lsn-1"].errors_of(ErrorKind::ConnectionLimit),
        1
    );
    assert_eq!(
        stats.listeners["lsn-2"].errors_of(ErrorKind::ConnectionLimit),
        1
    );
}

#[test]
fn weight_zero_drains_open_connections_finish_and_new_ones_avoid_the_member() {
    let (a, b) = two_backends(Kind::Http);
    let (ta, tb) = (
        Backend::start("ta", Kind::Tcp),
        Backend::start("tb", Kind::Tcp),
    );
    let mut http = http_over(&a, &b);
    let mut tcp = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&ta, 1), member(&tb, 1)],
    );
    tcp.id = "lsn-2".to_owned();
    let forwarder = start(config(1, vec![http.clone(), tcp.clone()]));

    let mut keep_alive = HttpClient::connect(http.address);
    for _ in 0..4 {
        assert_eq!(keep_alive.get("/").unwrap().status, 200);
    }
    let mut on_ta = loop {
        let (name, stream) = tcp_backend_name(tcp.address).unwrap();
        if name == "ta" {
            break stream;
        }
    };
    http.group.members[0].weight = 0;
    tcp.group.members[0].weight = 0;
    reconfigure(&forwarder, config(2, vec![http.clone(), tcp.clone()]));
    let (a_before, ta_before) = (a.requests(), ta.connections());

    // The open connections go on working.
    for _ in 0..20 {
        assert_eq!(keep_alive.get("/").unwrap().body, "b");
    }
    on_ta.write_all(b"still here\n").unwrap();
    let mut echoed = [0u8; 11];
    on_ta.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"still here\n");
    // New ones never reach the drained member.
    for _ in 0..20 {
        assert_eq!(
            HttpClient::connect(http.address).get("/").unwrap().body,
            "b"
        );
        assert_eq!(tcp_backend_name(tcp.address).unwrap().0, "tb");
    }
    assert_eq!((a.requests(), ta.connections()), (a_before, ta_before));
}

#[test]
fn health_checks_take_a_stopped_member_out_and_bring_it_back() {
    let (a, b) = two_backends(Kind::Http);
    let mut listener = http_over(&a, &b);
    listener.group.health_check = Some(HealthCheck {
        kind: HealthCheckKind::Http {
            path: "/health".to_owned(),
            expected_codes: vec![(200, 299)],
        },
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
        healthy_threshold: 2,
        unhealthy_threshold: 2,
    });
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    let key = ("vsg-1".to_owned(), "a".to_owned());
    assert!(eventually(Duration::from_secs(5), || forwarder
        .health()
        .get(&key)
        .is_some_and(|h| h.probes >= 2)));

    a.stop();
    // Two failed probes, 100 ms apart: down well within a second.
    assert!(eventually(Duration::from_secs(2), || forwarder
        .health()
        .get(&key)
        .is_some_and(|h| !h.healthy)));
    let reason = forwarder.health()[&key].last_failure.clone().unwrap();
    assert!(reason.contains("connect"), "{reason}");
    for _ in 0..20 {
        let response = HttpClient::connect(address).get("/").unwrap();
        assert_eq!((response.status, response.body.as_str()), (200, "b"));
    }

    let _a = a.restart(Kind::Http);
    assert!(eventually(Duration::from_secs(2), || forwarder.health()
        [&key]
        .healthy));
    let names: Vec<String> = (0..20)
        .map(|_| HttpClient::connect(address).get("/").unwrap().body)
        .collect();
    assert!(names.iter().any(|name| name == "a"), "{names:?}");
}

#[test]
fn malformed_requests_get_their_answer_and_others_are_served() {
    let backend = Backend::start("a", Kind::Http);
    let listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let address = listener.address;
    let mut config = config(1, vec![listener]);
    config.http.header_timeout = Duration::from_millis(300);
    let forwarder = start(config);

    let answer = |raw: &[u8]| {
        HttpClient::connect(address)
            .send(raw)
            .map(|response| response.status)
    };
    assert_eq!(answer(b"NOT HTTP AT ALL\r\n\r\n"), Some(400));
    assert_eq!(
        answer(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        Some(400)
    );
    let oversized = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "x".repeat(20_000)
    );
    assert_eq!(answer(oversized.as_bytes()), Some(431));
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X-F: 1\r\n".repeat(150));
    assert_eq!(answer(many.as_bytes()), Some(431));
    assert_eq!(
        answer(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
        ),
        Some(400)
    );

    // A slow client: part of a head, then nothing. It gets 408 after the
    // header timeout, while another client is served meanwhile.
    let mut slow = HttpClient::connect(address);
    slow.stream()
        .write_all(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        .unwrap();
    assert_eq!(HttpClient::connect(address).get("/").unwrap().status, 200);
    let started = std::time::Instant::now();
    assert_eq!(slow.read_response().map(|r| r.status), Some(408));
    assert!(started.elapsed() < Duration::from_secs(2));

    // A good chunked request still goes through whole.
    let mut client = HttpClient::connect(address);
    let echoed = client
        .send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!((echoed.status, echoed.body.as_str()), (200, "hello world"));
    let stats = &forwarder.counters().listeners["lsn-1"];
    assert_eq!(stats.errors_of(ErrorKind::BadRequest), 3);
    assert_eq!(stats.errors_of(ErrorKind::HeaderTooLarge), 2);
    assert_eq!(stats.errors_of(ErrorKind::HeaderTimeout), 1);
}

#[test]
fn members_failing_or_absent_get_502_504_and_503() {
    let slow = Backend::start("slow", Kind::Http);
    let dead = free_address();
    let mut listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&slow, 1)],
    );
    let address = listener.address;
    let mut config = config(1, vec![listener.clone()]);
    config.http.response_timeout = Duration::from_millis(200);
    let forwarder = start(config.clone());
    assert_eq!(
        HttpClient::connect(address)
            .get("/sleep/1000")
            .unwrap()
            .status,
        504
    );

    listener.group.members[0].address = dead;
    config.generation = 2;
    config.listeners = vec![Arc::new(listener.clone())];
    reconfigure(&forwarder, config.clone());
    assert_eq!(HttpClient::connect(address).get("/").unwrap().status, 502);

    listener.group.members[0].admin_state_up = false;
    config.generation = 3;
    config.listeners = vec![Arc::new(listener)];
    reconfigure(&forwarder, config);
    assert_eq!(HttpClient::connect(address).get("/").unwrap().status, 503);
}

#[test]
fn forwarded_headers_keep_alive_and_upgrades() {
    let backend = Backend::start("a", Kind::Http);
    let listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    let mut client = HttpClient::connect(address);
    client
        .send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.1.1\r\nX-Forwarded-Proto: ftp\r\n\r\n")
        .unwrap();
    let head = backend.seen.last_head.lock().unwrap().clone();
    assert!(
        head.contains("X-Forwarded-For: 10.1.1.1, 127.0.0.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("X-Forwarded-Proto: http\r\n") && !head.contains("ftp"),
        "{head}"
    );
    assert!(
        head.contains(&format!("X-Forwarded-Port: {}\r\n", address.port())),
        "{head}"
    );

    // A large body both ways, streamed, on the same keep-alive connection.
    let body = "z".repeat(3 << 20);
    let response = client
        .send(
            format!(
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(response.body.len(), body.len());
    assert_eq!(backend.connections(), 1, "the member connection is reused");

    let mut upgraded = HttpClient::connect(address);
    let switched = upgraded
        .send(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        .unwrap();
    assert_eq!(switched.status, 101);
    assert_eq!(upgraded.read_line(), "a\n");
    upgraded.stream().write_all(b"ping\n").unwrap();
    assert_eq!(upgraded.read_line(), "ping\n");
    assert_eq!(
        forwarder.counters().listeners["lsn-1"].responses[0],
        1,
        "one 1xx answer"
    );
}

#[test]
fn a_listener_that_cannot_bind_is_reported_and_the_others_serve() {
    let occupied = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let backend = Backend::start("a", Kind::Http);
    let good = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let mut bad = good.clone();
    bad.id = "lsn-taken".to_owned();
    bad.address = occupied.local_addr().unwrap();
    let address = good.address;
    let forwarder = start(config(1, vec![good, bad]));
    let errors = forwarder.listener_errors();
    assert!(errors["lsn-taken"].contains("in use"), "{errors:?}");
    assert!(!errors.contains_key("lsn-1"));
    assert_eq!(HttpClient::connect(address).get("/").unwrap().status, 200);
    // Once the port is free, the listener binds on its own.
    drop(occupied);
    assert!(eventually(Duration::from_secs(5), || forwarder
        .listener_errors()
        .is_empty()));
}

#[test]
fn a_thousand_reconfigurations_under_keep_alive_load_fail_no_request() {
    let (a, b) = two_backends(Kind::Http);
    let mut listener = http_over(&a, &b);
    let address = listener.address;
    let forwarder = start(config(1, vec![listener.clone()]));
    let running = Arc::new(AtomicBool::new(true));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (running, served, failed) = (
                Arc::clone(&running),
                Arc::clone(&served),
                Arc::clone(&failed),
            );
            std::thread::spawn(move || {
                let mut client = HttpClient::connect(address);
                while running.load(Ordering::SeqCst) {
                    match client.get("/") {
                        Some(response) if response.status == 200 => {
                            served.fetch_add(1, Ordering::SeqCst)
                        }
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    for generation in 2..=1001u64 {
        // Weights move, members leave and come back, the algorithm changes.
        listener.group.members[0].weight = (generation % 5) as u32 + 1;
        listener.group.members[1].admin_state_up = generation % 7 != 0;
        listener.group.algorithm = if generation % 2 == 0 {
            Algorithm::WeightedRoundRobin
        } else {
            Algorithm::WeightedLeastConnections
        };
        forwarder
            .apply(config(generation, vec![listener.clone()]))
            .unwrap();
        std::thread::sleep(Duration::from_micros(500));
    }
    assert!(forwarder.wait_applied(1001, Duration::from_secs(5)));
    running.store(false, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    assert!(
        served.load(Ordering::SeqCst) > 1000,
        "{} served",
        served.load(Ordering::SeqCst)
    );
    assert_eq!(forwarder.applied_generations(), vec![1001, 1001]);
}

#[test]
fn idle_tcp_connections_close_and_shutdown_drains() {
    let backend = Backend::start("a", Kind::Tcp);
    let mut listener = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    listener.idle_timeout = Duration::from_millis(300);
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    let (_, mut idle) = tcp_backend_name(address).unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 16];
    assert_eq!(
        idle.read(&mut buffer).unwrap_or(0),
        0,
        "closed by the proxy"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // The count follows the close by a moment (the relay ends first).
    assert!(eventually(Duration::from_secs(2), || {
        forwarder.counters().listeners["lsn-1"].errors_of(ErrorKind::IdleTimeout) == 1
    }));

    let (_, mut open) = tcp_backend_name(address).unwrap();
    forwarder.shutdown(Duration::from_millis(100));
    assert!(TcpStream::connect(address).is_err(), "no longer accepting");
    assert_eq!(
        open.read(&mut buffer).unwrap_or(0),
        0,
        "closed at the drain deadline"
    );
}

#[test]
fn listeners_come_and_go_at_run_time_and_open_connections_finish() {
    let backend = Backend::start("a", Kind::Tcp);
    let first = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let forwarder = start(config(1, vec![first.clone()]));
    let (_, mut open) = tcp_backend_name(first.address).unwrap();

    // A second listener arrives; the first leaves.
    let mut second = first.clone();
    second.id = "lsn-2".to_owned();
    second.address = free_address();
    reconfigure(&forwarder, config(2, vec![second.clone()]));
    assert!(tcp_backend_name(second.address).is_some());
    assert!(
        eventually(Duration::from_secs(2), || TcpStream::connect(first.address)
            .is_err()),
        "the first listener stopped accepting"
    );
    // Its open connection still relays, and half close works: the client
    // ends its side and still receives everything the member sends back.
    open.write_all(b"after the swap\n").unwrap();
    open.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    open.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "after the swap\n");
}

#[test]
fn the_standalone_binary_serves_a_file_and_reloads_it() {
    let (a, b) = two_backends(Kind::Http);
    let address = free_address();
    let directory = std::env::temp_dir().join(format!("fulcrum-dataplane-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("dataplane.toml");
    let write = |backend: &Backend| {
        let text = format!(
            "version = 1\n[[listeners]]\nid = \"web\"\naddress = \"{address}\"\nprotocol = \"http\"\n[listeners.group]\nid = \"g\"\nmembers = [{{ id = \"{}\", address = \"{}\" }}]\n",
            backend.name, backend.address
        );
        std::fs::write(&path, text).unwrap();
    };
    write(&a);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum-dataplane"))
        .args([
            "--config",
            path.to_str().unwrap(),
            "--threads",
            "1",
            "--no-pin",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answer = || {
        TcpStream::connect(address)
            .ok()
            .and_then(|_| HttpClient::connect(address).get("/"))
            .map(|response| response.body)
    };
    let served_a = eventually(Duration::from_secs(10), || answer().as_deref() == Some("a"));
    std::thread::sleep(Duration::from_millis(1100)); // a later modification time
    write(&b);
    let served_b = eventually(Duration::from_secs(10), || answer().as_deref() == Some("b"));
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&directory).unwrap();
    assert!(
        served_a && served_b,
        "served a: {served_a}, then b: {served_b}"
    );
}

#[test]
fn configurations_that_break_the_rules_are_refused_and_change_nothing() {
    let backend = Backend::start("a", Kind::Http);
    let first = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let forwarder = start(config(2, vec![first.clone()]));
    let mut twin = first.clone();
    twin.id = "lsn-twin".to_owned();
    assert!(matches!(
        forwarder.apply(config(3, vec![first.clone(), twin])),
        Err(fulcrum_dataplane::ApplyError::DuplicateAddress(..))
    ));
    assert!(matches!(
        forwarder.apply(config(2, vec![first.clone()])),
        Err(fulcrum_dataplane::ApplyError::StaleGeneration {
            offered: 2,
            current: 2
        })
    ));
    assert_eq!(forwarder.config().generation, 2);
    assert_eq!(
        HttpClient::connect(first.address).get("/").unwrap().status,
        200
    );
}

#[test]
fn http_1_1_requests_need_exactly_one_host_and_http_1_0_may_go_without() {
    let backend = Backend::start("a", Kind::Http);
    let listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    let answer = |raw: &[u8]| {
        HttpClient::connect(address)
            .send(raw)
            .map(|response| response.status)
    };
    let cases: [(&[u8], u16); 5] = [
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400),
        (b"GET / HTTP/1.0\r\n\r\n", 200),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ];
    for (raw, status) in cases {
        assert_eq!(
            answer(raw),
            Some(status),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(
        backend.requests(),
        2,
        "refused requests never reach the member"
    );
    let stats = &forwarder.counters().listeners["lsn-1"];
    assert_eq!(stats.errors_of(ErrorKind::BadRequest), 3);
}

#[test]
fn a_connection_that_sends_nothing_closes_at_the_header_timeout_not_the_idle_timeout() {
    let backend = Backend::start("a", Kind::Http);
    let listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    assert_eq!(listener.idle_timeout, Duration::from_secs(30));
    let address = listener.address;
    let mut config = config(1, vec![listener]);
    config.http.header_timeout = Duration::from_millis(300);
    let forwarder = start(config);

    let mut silent = TcpStream::connect(address).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    let read = silent.read(&mut buffer);
    assert!(matches!(read, Ok(0)), "closed without an answer: {read:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(eventually(Duration::from_secs(2), || {
        forwarder.counters().listeners["lsn-1"].errors_of(ErrorKind::HeaderTimeout) == 1
    }));

    // Between requests of a keep-alive connection the idle timeout governs:
    // a pause longer than the header timeout does not close it. The pause
    // lasts until a silent connection opened at its start has been closed
    // by the header timeout, so it is surely longer.
    let mut client = HttpClient::connect(address);
    assert_eq!(client.get("/").unwrap().status, 200);
    let mut witness = TcpStream::connect(address).unwrap();
    witness
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(matches!(witness.read(&mut buffer), Ok(0)));
    assert_eq!(client.get("/").unwrap().status, 200);
}

#[test]
fn the_node_connection_limit_spans_listeners_and_spares_open_connections() {
    let backend = Backend::start("t", Kind::Tcp);
    let first = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    let mut second = first.clone();
    second.id = "lsn-2".to_owned();
    second.address = free_address();
    let limited = Settings {
        node_connection_limit: 3,
        ..settings()
    };
    let zero = Settings {
        node_connection_limit: 0,
        ..settings()
    };
    assert!(Forwarder::start(&zero, config(1, Vec::new())).is_err());
    let forwarder = start_with(limited, config(1, vec![first.clone(), second.clone()]));

    let mut held: Vec<TcpStream> = [first.address, first.address, second.address]
        .into_iter()
        .map(|address| tcp_backend_name(address).unwrap().1)
        .collect();
    assert!(
        tcp_backend_name(second.address).is_none(),
        "a fourth connection is closed at once, whatever its listener"
    );
    assert!(tcp_backend_name(first.address).is_none());
    for stream in &mut held {
        stream.write_all(b"ping\n").unwrap();
        let mut echoed = [0u8; 5];
        stream.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"ping\n", "open connections keep working");
    }
    held.pop();
    assert!(eventually(Duration::from_secs(5), || forwarder
        .counters()
        .listeners["lsn-2"]
        .active_connections
        == 0));
    assert!(tcp_backend_name(second.address).is_some(), "a slot is free");
    let stats = forwarder.counters();
    for id in ["lsn-1", "lsn-2"] {
        assert_eq!(
            stats.listeners[id].errors_of(ErrorKind::NodeConnectionLimit),
            1
        );
        assert_eq!(stats.listeners[id].errors_of(ErrorKind::ConnectionLimit), 0);
    }
}

#[test]
fn a_new_generation_closes_pooled_connections_to_removed_members() {
    let (a, b) = two_backends(Kind::Http);
    let mut listener = http_over(&a, &b);
    let forwarder = start(config(1, vec![listener.clone()]));
    let mut client = HttpClient::connect(listener.address);
    let names: Vec<String> = (0..4).map(|_| client.get("/").unwrap().body).collect();
    assert_eq!(
        tally(names.iter().map(String::as_str)).len(),
        2,
        "{names:?}"
    );
    assert!(b.connections() >= 1);
    assert_eq!((a.closed(), b.closed()), (0, 0), "pooled, not closed");

    listener.group.members.retain(|member| member.id != "b");
    reconfigure(&forwarder, config(2, vec![listener]));
    assert!(
        eventually(Duration::from_secs(2), || b.closed() == b.connections()),
        "the removed member's pooled connections close: {} of {}",
        b.closed(),
        b.connections()
    );
    let a_connections = a.connections();
    assert_eq!(client.get("/").unwrap().body, "a");
    assert_eq!(a.closed(), 0, "the remaining member's connections stay");
    assert_eq!(a.connections(), a_connections, "and are reused");
}

#[test]
fn a_generation_rebuilds_only_the_services_whose_listener_changed() {
    let (a, b) = two_backends(Kind::Http);
    let first = http_over(&a, &b);
    let mut second = http_over(&a, &b);
    second.id = "lsn-2".to_owned();
    second.group.id = "vsg-2".to_owned();
    let forwarder = start(config(1, vec![first.clone(), second.clone()]));
    let threads = settings().threads as u64;
    assert_eq!(
        forwarder.services_built(),
        2 * threads,
        "one per listener and thread"
    );

    // The same listeners again: nothing is rebuilt.
    reconfigure(&forwarder, config(2, vec![first.clone(), second.clone()]));
    assert_eq!(forwarder.services_built(), 2 * threads);

    // One member's weight in the second listener's group: only its service.
    second.group.members[1].weight = 0;
    reconfigure(&forwarder, config(3, vec![first.clone(), second.clone()]));
    assert_eq!(forwarder.services_built(), 3 * threads);
    let mut client = HttpClient::connect(second.address);
    for _ in 0..10 {
        assert_eq!(
            client.get("/").unwrap().body,
            "a",
            "the drained member gets nothing"
        );
    }
    let mut client = HttpClient::connect(first.address);
    let names: Vec<String> = (0..10).map(|_| client.get("/").unwrap().body).collect();
    assert_eq!(
        tally(names.iter().map(String::as_str)).len(),
        2,
        "{names:?}"
    );
}

/// `listener` with a TCP check of its group's members every `interval`,
/// one probe deciding either way.
fn tcp_checked(mut listener: Listener, interval: Duration) -> Listener {
    listener.group.health_check = Some(HealthCheck {
        kind: HealthCheckKind::Tcp,
        interval,
        timeout: Duration::from_millis(100),
        healthy_threshold: 1,
        unhealthy_threshold: 1,
    });
    listener
}

/// The probes made of member `member` of group `vsg-1`, if it is checked.
fn probes_of(forwarder: &Forwarder, member: &str) -> Option<u64> {
    forwarder
        .health()
        .get(&("vsg-1".to_owned(), member.to_owned()))
        .map(|health| health.probes)
}

#[test]
fn health_checks_follow_the_listeners_that_ask_for_them_across_generations() {
    let (a, b) = two_backends(Kind::Http);
    let first = tcp_checked(http_over(&a, &b), Duration::from_millis(50));
    // A second listener on the same group: one probe per member serves both.
    let mut second = first.clone();
    second.id = "lsn-2".to_owned();
    second.address = free_address();
    let forwarder = start(config(1, vec![first.clone(), second.clone()]));
    let probes = |member: &str| probes_of(&forwarder, member);
    assert!(eventually(Duration::from_secs(5), || probes("a")
        .is_some_and(|n| n >= 2)
        && probes("b").is_some_and(|n| n >= 2)));

    // One of the two goes: its members stay checked, their tallies kept.
    let before = probes("a").unwrap_or_default();
    reconfigure(&forwarder, config(2, vec![second.clone()]));
    assert!(eventually(Duration::from_secs(5), || probes("a")
        .is_some_and(|n| n > before + 1)));

    // A member leaves the group: its verdict leaves the board.
    second.group.members.retain(|member| member.id != "b");
    reconfigure(&forwarder, config(3, vec![second.clone()]));
    assert!(eventually(Duration::from_secs(2), || probes("b").is_none()));
    assert!(probes("a").is_some());

    // The check is removed: nothing is checked.
    second.group.health_check = None;
    reconfigure(&forwarder, config(4, vec![second]));
    assert!(eventually(Duration::from_secs(2), || forwarder
        .health()
        .is_empty()));
}

#[test]
fn a_group_that_moves_to_another_listener_keeps_its_members_verdicts() {
    let (a, b) = two_backends(Kind::Http);
    let first = tcp_checked(http_over(&a, &b), Duration::from_millis(50));
    let forwarder = start(config(1, vec![first.clone()]));
    let probes = |member: &str| probes_of(&forwarder, member);
    b.stop();
    assert!(eventually(Duration::from_secs(5), || forwarder
        .health()
        .get(&("vsg-1".to_owned(), "b".to_owned()))
        .is_some_and(|health| !health.healthy)));

    // Replaced, in one generation, by a listener of another id on the same
    // group; several times, as a thread takes a generation's listeners in
    // no set order.
    let mut listener = first;
    for generation in 2..=6 {
        let before = probes("b").unwrap_or_default();
        listener.id = format!("lsn-{generation}");
        listener.address = free_address();
        reconfigure(&forwarder, config(generation, vec![listener.clone()]));
        assert!(
            probes("b").is_some_and(|n| n >= before),
            "the tally goes on: {:?} after {before}",
            probes("b")
        );
        for _ in 0..5 {
            let response = HttpClient::connect(listener.address).get("/").unwrap();
            assert_eq!(response.body, "a", "b stays out");
        }
    }
}

#[test]
fn a_standby_listener_is_checked_but_not_bound_until_it_is_served() {
    let (a, b) = two_backends(Kind::Http);
    let listener = tcp_checked(http_over(&a, &b), Duration::from_millis(100));
    let address = listener.address;
    let mut standby = config(1, Vec::new());
    standby.standby = vec![Arc::new(listener.clone())];
    let forwarder = start(standby);
    b.stop();
    let verdict = |member: &str| {
        forwarder
            .health()
            .get(&("vsg-1".to_owned(), member.to_owned()))
            .map(|health| health.healthy)
    };
    assert!(eventually(Duration::from_secs(5), || verdict("a")
        == Some(true)
        && verdict("b") == Some(false)));
    assert!(
        TcpStream::connect(address).is_err(),
        "a standby listener binds nothing"
    );
    assert!(forwarder.listener_errors().is_empty());

    // Served: at once, and with the verdicts it already has (b is down).
    let built = forwarder.services_built();
    reconfigure(&forwarder, config(2, vec![listener]));
    assert_eq!(
        forwarder.services_built(),
        built + settings().threads as u64
    );
    for _ in 0..10 {
        assert_eq!(HttpClient::connect(address).get("/").unwrap().body, "a");
    }
}

#[test]
fn a_tcp_member_reads_the_clients_address_in_a_proxy_v2_header() {
    let backend = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let member = member_at("m", backend.local_addr().unwrap(), 1);
    let mut listener = listener(Protocol::Tcp, Algorithm::WeightedRoundRobin, vec![member]);
    listener.group.proxy_protocol = Some(ProxyProtocol::V2);
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    // The member reads the header (16 bytes, then 12 of IPv4 addresses and
    // ports) and the client's first bytes after it.
    let received = std::thread::spawn(move || {
        let (mut stream, _) = backend.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut bytes = [0u8; 16 + 12 + 5];
        stream.read_exact(&mut bytes).unwrap();
        bytes
    });
    let mut client = TcpStream::connect(address).unwrap();
    client.write_all(b"hello").unwrap();
    let bytes = received.join().unwrap();
    let SocketAddr::V4(from) = client.local_addr().unwrap() else {
        panic!("an IPv4 client")
    };
    let SocketAddr::V4(to) = address else {
        panic!("an IPv4 listener")
    };
    assert_eq!(&bytes[..12], b"\r\n\r\n\0\r\nQUIT\n", "signature");
    assert_eq!(
        &bytes[12..16],
        &[0x21, 0x11, 0, 12],
        "v2 PROXY, TCP over IPv4, 12 bytes"
    );
    assert_eq!(&bytes[16..20], &from.ip().octets(), "client address");
    assert_eq!(&bytes[20..24], &to.ip().octets(), "listener address");
    assert_eq!(&bytes[24..26], &from.port().to_be_bytes(), "client port");
    assert_eq!(&bytes[26..28], &to.port().to_be_bytes(), "listener port");
    assert_eq!(&bytes[28..], b"hello", "the client's bytes follow");
}

#[test]
fn an_http_member_reads_a_proxy_header_on_a_connection_of_each_request_its_own() {
    let backend = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let member = member_at("m", backend.local_addr().unwrap(), 1);
    let mut listener = listener(Protocol::Http, Algorithm::WeightedRoundRobin, vec![member]);
    listener.group.proxy_protocol = Some(ProxyProtocol::V1);
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    // The member reads the text header, then the request, and answers on a
    // keep-alive connection: the proxy still takes a new one per request.
    let heads = std::thread::spawn(move || {
        (0..2)
            .map(|_| {
                let (stream, _) = backend.accept().unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut proxy_line = String::new();
                std::io::BufRead::read_line(&mut reader, &mut proxy_line).unwrap();
                let (head, _) = read_message(&mut reader).unwrap();
                let mut writer = stream;
                writer
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
                // Held open until the test ends, as a keep-alive member would.
                (proxy_line, head, writer)
            })
            .collect::<Vec<_>>()
    });
    let mut client = HttpClient::connect(address);
    for _ in 0..2 {
        assert_eq!(client.get("/").unwrap().status, 200);
    }
    let seen = heads.join().unwrap();
    let SocketAddr::V4(from) = client.stream().local_addr().unwrap() else {
        panic!("an IPv4 client")
    };
    for (proxy_line, head, _) in &seen {
        assert_eq!(
            *proxy_line,
            format!(
                "PROXY TCP4 {} {} {} {}\r\n",
                from.ip(),
                address.ip(),
                from.port(),
                address.port()
            )
        );
        assert!(head.starts_with("GET / HTTP/1.1\r\n"), "{head}");
    }
}

#[test]
fn a_refused_connection_is_retried_on_another_member_unseen_by_the_client() {
    let live = Backend::start("live", Kind::Http);
    // Nothing listens there: every connect is refused.
    let refusing = member_at("refusing", free_address(), 1);
    let listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![refusing, member(&live, 1)],
    );
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    let mut client = HttpClient::connect(address);
    for _ in 0..20 {
        let response = client.get("/").unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "live");
    }
    assert_eq!(live.requests(), 20);
    let counters = forwarder.counters();
    assert!(
        counters.members["refusing"].failures >= 1,
        "the refusing member's failures are counted: {:?}",
        counters.members["refusing"]
    );
    // A request that is not idempotent is not sent twice: it fails when its
    // member refuses.
    let answers: Vec<u16> = (0..4)
        .map(|_| {
            client
                .send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                .map_or(0, |response| response.status)
        })
        .collect();
    assert!(answers.contains(&502), "{answers:?}");
}

/// An HTTP member that answers every request 500, on keep-alive connections.
fn answering_500() -> SocketAddr {
    let server = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = server.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buffer[..read]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let answer =
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad";
                        if stream.write_all(answer).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

#[test]
fn a_member_answering_500_is_ejected_then_returns_after_the_ejection() {
    let good = Backend::start("good", Kind::Http);
    let failing = member_at("failing", answering_500(), 1);
    let mut listener = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&good, 1), failing],
    );
    let ejection = Duration::from_secs(3);
    listener.group.passive_health = Some(PassiveHealth {
        consecutive_failures: 3,
        ejection,
        max_ejected_percent: 50,
    });
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    let mut client = HttpClient::connect(address);
    // The failing member takes its share until its third 500 in a row.
    let mut errors = 0;
    for _ in 0..100 {
        if client.get("/").unwrap().status == 500 {
            errors += 1;
            if errors == 3 {
                break;
            }
        }
    }
    assert_eq!(errors, 3, "the failing member was chosen");
    // Ejected: the next requests all reach the good member.
    let ejected_at = Instant::now();
    for n in 0..30 {
        assert_eq!(
            client.get("/").unwrap().status,
            200,
            "request {n} after the ejection"
        );
    }
    assert!(
        ejected_at.elapsed() < ejection,
        "the requests ran inside the ejection"
    );
    // After the ejection time it takes requests again.
    assert!(eventually(Duration::from_secs(15), || {
        client.get("/").unwrap().status == 500
    }));
    assert!(
        ejected_at.elapsed() >= ejection,
        "back only after the ejection"
    );
}
