//! Access logs through the whole node: a listener's `access_log` field,
//! set and cleared through the API, decides whether the node serving the
//! EIP writes a line for each request; the lines name the listener and
//! member, and the metrics count them.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fulcrum_api::v1;
use fulcrum_dataplane::access_log::{AccessLogSettings, Destination, LogFormat};
use support::backends::get_path;
use support::guide::{free_port, serves_both, the_group, the_guide, the_listener};
use support::*;
use tokio::time::Instant;

/// The JSON lines written to `path` so far.
fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Sends `GET path` until one is answered by a member.
async fn request(address: SocketAddr, path: String) {
    let answered = tokio::task::spawn_blocking(move || get_path(address, &path))
        .await
        .unwrap();
    assert!(answered.is_some(), "a request through the listener failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listener_with_access_log_on_gets_a_line_per_request() {
    let logs = tempfile::tempdir().unwrap();
    let file: PathBuf = logs.path().join("access.log");
    let destination = file.clone();
    let members = cluster_with(1, 1, move |config| {
        config.access_log = AccessLogSettings {
            destination: Destination::File {
                path: destination.clone(),
                max_bytes: 1 << 30,
                keep: 1,
            },
            format: LogFormat::Json,
            queue_lines: 1024,
        };
    })
    .await;
    leader(&members).await;
    members[0].bootstrapped().await;
    let client = members[0].client().await;
    let port = free_port().await;
    let eip = the_guide(&client, port).await;
    let address = SocketAddr::from((eip, port as u16));
    serves_both(address).await;

    // Off by default: nothing is written.
    for n in 0..5 {
        request(address, format!("/off-{n}")).await;
    }
    let listener = the_listener(&client).await;
    assert!(!listener.access_log);
    let updated = client
        .listeners()
        .update_listener(v1::UpdateListenerRequest {
            id: listener.id.clone(),
            access_log: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .listener
        .unwrap();
    assert!(updated.access_log);
    // The data plane takes the change within moments: probe until a line shows.
    let deadline = Instant::now() + PATIENCE;
    let mut probe = 0;
    while lines(&file).is_empty() {
        assert!(Instant::now() < deadline, "no access-log line appeared");
        request(address, format!("/probe-{probe}")).await;
        probe += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    const REQUESTS: usize = 20;
    for n in 0..REQUESTS {
        request(address, format!("/on-{n}")).await;
    }
    let group = the_group(&client).await;
    let member_ids: Vec<String> = group.members.iter().map(|m| m.id.clone()).collect();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let written = lines(&file);
        let on: Vec<_> = written
            .iter()
            .filter(|line| {
                line["request"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("GET /on-")
            })
            .collect();
        if on.len() == REQUESTS {
            assert!(
                written
                    .iter()
                    .all(|line| !line["request"].as_str().unwrap_or("").contains("/off-")),
                "a request made before access_log was on was logged"
            );
            for n in 0..REQUESTS {
                let request = format!("GET /on-{n} HTTP/1.1");
                let line = on.iter().find(|line| line["request"] == request).unwrap();
                assert_eq!(line["listener"], listener.id.as_str());
                assert_eq!(line["status"], 200);
                assert!(member_ids.contains(&line["member"].as_str().unwrap().to_owned()));
                assert!(line["bytes_sent"].as_u64().unwrap() > 0);
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {REQUESTS} lines written",
            on.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The metrics count what the file holds (the writer counts a batch
    // just after writing it).
    let deadline = Instant::now() + PATIENCE;
    loop {
        let metrics = scrape(&members[0].http()).await;
        let counted = sample(&metrics, "fulcrum_access_log_lines_total");
        if counted as usize == lines(&file).len() {
            assert_eq!(sample(&metrics, "fulcrum_access_log_dropped_total"), 0.0);
            break;
        }
        assert!(Instant::now() < deadline, "{counted} lines counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
