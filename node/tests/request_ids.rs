//! A request id sent by the client names every log line of its call: on
//! the follower that received the call and on the leader it handed the
//! write to; the answer carries it back. Over gRPC and over REST.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use fulcrum_api::v1;
use support::{cluster, leader};

/// Every log line of this test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_id_names_the_calls_log_lines_on_the_follower_and_the_leader() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("warn,fulcrum_node=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test's process has no other subscriber");

    let members = cluster(3, 3).await;
    let leader_id = leader(&members).await;
    members[(leader_id - 1) as usize].bootstrapped().await;
    let follower = members
        .iter()
        .find(|member| member.id() != leader_id)
        .unwrap();

    // gRPC: the id is the client's, the answer carries it back.
    let mut request = tonic::Request::new(v1::CreateNetworkRequest {
        name: "traced".into(),
        cidr: "10.7.0.0/16".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", "checkout-4242".parse().unwrap());
    let answer = follower
        .client()
        .await
        .networks()
        .create_network(request)
        .await
        .unwrap();
    assert_eq!(
        answer.metadata().get("x-request-id").unwrap(),
        "checkout-4242"
    );
    let lines = captured.lines_with("request_id=checkout-4242");
    let on = |node: u64| {
        lines
            .iter()
            .any(|line| line.contains(&format!("node={node} ")))
    };
    assert!(
        on(follower.id()),
        "the follower's lines name it: {lines:#?}"
    );
    assert!(on(leader_id), "the leader's lines name it: {lines:#?}");
    assert!(
        lines.iter().any(|line| line.contains("proposing a write")),
        "{lines:#?}"
    );

    // REST: the same, through the transcoder; an id is made when none is sent.
    let http = follower.http();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let body = r#"{"name": "traced-rest", "cidr": "10.8.0.0/16"}"#;
        let mut stream = std::net::TcpStream::connect(&http).unwrap();
        write!(
            stream,
            "POST /v1/networks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Request-Id: rest-77\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-request-id: rest-77"),
        "{answer}"
    );
    let lines = captured.lines_with("request_id=rest-77");
    assert!(
        lines
            .iter()
            .any(|line| line.contains(&format!("node={leader_id} "))),
        "{lines:#?}"
    );

    let made = follower
        .client()
        .await
        .networks()
        .list_networks(v1::ListNetworksRequest::default())
        .await
        .unwrap();
    let id = made
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(id.len(), 16, "a made id: {id}");
}
