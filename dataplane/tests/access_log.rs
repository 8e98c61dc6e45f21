//! Access logs over real sockets: a line per HTTP request and per TCP
//! connection with what happened to it, and a full queue that drops lines
//! (counted) while forwarding goes on.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use fulcrum_dataplane::config::{Algorithm, Listener, Protocol};
use support::*;

/// An HTTP listener over `a` and `b` (weights 1 and 1) with its access log on.
fn logged_http(a: &Backend, b: &Backend) -> Listener {
    Listener {
        access_log: true,
        ..http_over(a, b)
    }
}

#[test]
fn every_request_and_connection_gets_its_line() {
    let dir = TempDir::new("fulcrum-access-log");
    let path = dir.0.join("access.log");
    let (a, b) = two_backends(Kind::Http);
    let http = logged_http(&a, &b);
    let c = Backend::start("c", Kind::Tcp);
    let mut tcp = listener(
        Protocol::Tcp,
        Algorithm::WeightedRoundRobin,
        vec![member(&c, 1)],
    );
    tcp.id = "lsn-tcp".to_owned();
    tcp.access_log = true;
    // A third listener, without access logs: its traffic writes nothing.
    let mut quiet = listener(
        Protocol::Http,
        Algorithm::WeightedRoundRobin,
        vec![member(&a, 1)],
    );
    quiet.id = "lsn-quiet".to_owned();
    let (http_address, tcp_address, quiet_address) = (http.address, tcp.address, quiet.address);
    let forwarder = start_with(logging_to(&path, 1024), config(1, vec![http, tcp, quiet]));

    const REQUESTS: usize = 40;
    let mut client = HttpClient::connect(http_address);
    for n in 0..REQUESTS {
        assert_eq!(client.get(&format!("/{n}")).unwrap().status, 200);
    }
    assert_eq!(
        HttpClient::connect(quiet_address).get("/").unwrap().status,
        200
    );
    // Not HTTP: the proxy's own 400, logged without a member.
    let mut bad = HttpClient::connect(http_address);
    assert_eq!(bad.send(b"NOT HTTP\r\n\r\n").unwrap().status, 400);
    for _ in 0..3 {
        let (name, mut stream) = tcp_backend_name(tcp_address).unwrap();
        assert_eq!(name, "c");
        stream.write_all(b"ping").unwrap();
        let mut echoed = [0u8; 4];
        stream.read_exact(&mut echoed).unwrap();
        drop(stream);
    }
    // Every connection closed on both sides before the counters are read.
    drop((client, bad));
    assert!(eventually(Duration::from_secs(5), || {
        let counters = forwarder.counters();
        counters.listeners["lsn-1"].active_connections == 0
            && counters.listeners["lsn-tcp"].active_connections == 0
    }));
    forwarder.shutdown(Duration::from_secs(1));
    let counters = forwarder.counters();

    let lines = access_log_lines(&path);
    assert_eq!(counters.access_log.written, lines.len() as u64);
    assert_eq!(counters.access_log.dropped, 0);
    let of = |listener: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|line| line["listener"] == listener)
            .collect()
    };
    assert!(of("lsn-quiet").is_empty());

    let http_lines = of("lsn-1");
    assert_eq!(http_lines.len(), REQUESTS + 1, "{http_lines:#?}");
    let mut by_member = BTreeMap::new();
    for n in 0..REQUESTS {
        let request = format!("GET /{n} HTTP/1.1");
        let found: Vec<_> = http_lines
            .iter()
            .filter(|l| l["request"] == request)
            .collect();
        assert_eq!(found.len(), 1, "{request}");
        let line = found[0];
        assert_eq!(line["status"], 200);
        assert_eq!(line["protocol"], "http");
        assert!(line["error"].is_null());
        let head = format!("GET /{n} HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(line["bytes_received"], head.len() as u64);
        assert!(line["member_ms"].as_f64().unwrap() <= line["duration_ms"].as_f64().unwrap());
        let member = line["member"].as_str().unwrap().to_owned();
        let expected = if member == "a" { a.address } else { b.address };
        assert_eq!(line["member_address"], expected.to_string());
        *by_member.entry(member).or_insert(0u64) += 1;
    }
    // The members the lines name are the members that served.
    assert_eq!(
        by_member["a"] + 1,
        a.seen.requests.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert_eq!(
        by_member["b"],
        b.seen.requests.load(std::sync::atomic::Ordering::Relaxed)
    );
    let refused = http_lines.iter().find(|l| l["status"] == 400).unwrap();
    assert!(refused["member"].is_null());
    assert_eq!(refused["error"], "bad_request");
    // The lines' bytes are the listener's bytes, both ways.
    let sum = |lines: &[&serde_json::Value], key: &str| -> u64 {
        lines.iter().map(|line| line[key].as_u64().unwrap()).sum()
    };
    let stats = &counters.listeners["lsn-1"];
    assert_eq!(sum(&http_lines, "bytes_sent"), stats.bytes_out);
    assert_eq!(sum(&http_lines, "bytes_received"), stats.bytes_in);

    let tcp_lines = of("lsn-tcp");
    assert_eq!(tcp_lines.len(), 3, "{tcp_lines:#?}");
    for line in &tcp_lines {
        assert_eq!(line["protocol"], "tcp");
        assert_eq!(line["member"], "c");
        assert_eq!(line["bytes_received"], 4);
        // The member's name line and the echo.
        assert_eq!(line["bytes_sent"], 2 + 4);
        assert!(line["request"].is_null() && line["status"].is_null());
    }
    assert_eq!(
        counters.listeners["lsn-1"].latency.count(),
        REQUESTS as u64,
        "one latency per forwarded request (the refused one has none)"
    );
}

#[test]
fn a_full_queue_drops_lines_and_counts_them_while_forwarding_goes_on() {
    let dir = TempDir::new("fulcrum-access-drops");
    let path = dir.0.join("access.log");
    let (a, b) = two_backends(Kind::Http);
    let http = logged_http(&a, &b);
    let address = http.address;
    // One line per thread's queue: the writer cannot keep up with eight
    // clients, so most lines find their queue full.
    let forwarder = start_with(logging_to(&path, 1), config(1, vec![http]));
    const CLIENTS: usize = 8;
    const EACH: usize = 300;
    let answered: usize = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(move || {
                    let mut client = HttpClient::connect(address);
                    (0..EACH)
                        .filter(|_| client.get("/").is_some_and(|r| r.status == 200))
                        .count()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().unwrap())
            .sum()
    });
    assert_eq!(answered, CLIENTS * EACH, "every request is answered");
    forwarder.shutdown(Duration::from_secs(1));
    let stats = forwarder.counters().access_log;
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(
        stats.written + stats.dropped,
        (CLIENTS * EACH) as u64,
        "{stats:?}"
    );
    assert_eq!(access_log_lines(&path).len() as u64, stats.written);
}
