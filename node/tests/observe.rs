//! A real Prometheus (Debian's package, started here on loopback) scrapes a
//! three-node cluster's `/metrics`: every node is up, the listener's
//! request count equals the requests sent through the EIP, `promtool check
//! metrics` accepts every node's output, and the leader and the followers
//! agree on the committed index once writes stop. The alert rules of
//! `deploy/observability` pass `promtool check rules` and evaluate without
//! error on that Prometheus; the dashboard's queries run there, and both
//! name only metrics the nodes export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fulcrum_api::v1;
use support::backends::get;
use support::guide::{free_port, serving_cluster};
use support::{Member, PATIENCE};
use tokio::time::Instant;

/// `GET path` on `address`: the status code and the body.
fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    // A chunked body: the sizes' lines are dropped (the text has none of its own in hex alone).
    let body = if response
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// A PromQL query, percent-encoded for a URL.
fn encoded(query: &str) -> String {
    query
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The samples Prometheus answers `query` with: (labels, value).
fn query(prometheus: &str, query: &str) -> Vec<(serde_json::Value, f64)> {
    let (status, body) = http_get(
        prometheus,
        &format!("/api/v1/query?query={}", encoded(query)),
    );
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|sample| {
            let value = sample["value"][1]
                .as_str()
                .unwrap_or("NaN")
                .parse()
                .unwrap_or(f64::NAN);
            (sample["metric"].clone(), value)
        })
        .collect()
}

fn observability(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/observability")
        .join(file)
}

/// The metric names a PromQL text uses (`fulcrum_*`, `process_*`), with a
/// histogram's series suffixes taken off.
fn metric_names(promql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = promql;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let word: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[start + word.len()..];
        if word.starts_with("fulcrum_") || word.starts_with("process_") {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    word.strip_suffix(suffix)
                        .filter(|base| base.ends_with("_seconds"))
                })
                .map_or(word.clone(), str::to_owned);
            names.push(base);
        }
    }
    names
}

/// Prometheus, stopped when dropped.
struct Prometheus {
    child: Child,
    address: String,
    _storage: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus scraping `targets` every second.
async fn prometheus(targets: &[String]) -> Prometheus {
    let storage = tempfile::tempdir().unwrap();
    let config = storage.path().join("prometheus.yml");
    let listed: Vec<String> = targets.iter().map(|target| format!("'{target}'")).collect();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - '{}'\nscrape_configs:\n  - job_name: fulcrum\n    static_configs:\n      - targets: [{}]\n",
            observability("alerts.yml").display(),
            listed.join(", ")
        ),
    )
    .unwrap();
    let address = format!("127.0.0.1:{}", free_port().await);
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            storage.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={address}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian's prometheus package)");
    let prometheus = Prometheus {
        child,
        address,
        _storage: storage,
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let address = prometheus.address.clone();
        let ready = tokio::task::spawn_blocking(move || {
            std::net::TcpStream::connect(&address).is_ok()
                && http_get(&address, "/-/ready").0 == 200
        })
        .await
        .unwrap();
        if ready {
            return prometheus;
        }
        assert!(Instant::now() < deadline, "Prometheus never got ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `check` holds of the answer to `promql`.
async fn eventually(
    prometheus: &Prometheus,
    promql: &str,
    check: impl Fn(&[(serde_json::Value, f64)]) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (address, promql_owned) = (prometheus.address.clone(), promql.to_owned());
        let samples = tokio::task::spawn_blocking(move || query(&address, &promql_owned))
            .await
            .unwrap();
        if check(&samples) {
            return;
        }
        assert!(Instant::now() < deadline, "{promql}: {samples:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A metric's value in a node's own `/metrics` text (summed over labels).
fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.split(['{', ' ']).next() == Some(name))
        .filter_map(|line| line.rsplit(' ').next())
        .filter_map(|value| value.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scrapes_every_node_and_counts_the_listeners_requests() {
    let (mut members, leader_id, address) = serving_cluster().await;

    let targets: Vec<String> = members.iter().map(Member::http).collect();
    let prometheus = prometheus(&targets).await;
    eventually(&prometheus, "up", |samples| {
        samples.len() == 3 && samples.iter().all(|(_, value)| *value == 1.0)
    })
    .await;

    // What the listener has counted so far, then N more requests.
    let counted = |targets: Vec<String>| {
        targets
            .iter()
            .map(|target| {
                sum_of(
                    &http_get(target, "/metrics").1,
                    "fulcrum_listener_requests_total",
                )
            })
            .sum::<f64>()
    };
    let targets_now = targets.clone();
    let before = tokio::task::spawn_blocking(move || counted(targets_now))
        .await
        .unwrap();
    const SENT: usize = 50;
    let answered =
        tokio::task::spawn_blocking(move || (0..SENT).filter(|_| get(address).is_some()).count())
            .await
            .unwrap();
    assert_eq!(answered, SENT);
    let expected = before + SENT as f64;
    eventually(
        &prometheus,
        "sum(fulcrum_listener_requests_total)",
        |samples| samples.first().is_some_and(|(_, value)| *value == expected),
    )
    .await;
    eventually(&prometheus, "sum(fulcrum_raft_is_leader)", |samples| {
        samples.first().is_some_and(|(_, value)| *value == 1.0)
    })
    .await;

    // The CLI's live table, as JSON lines: the same requests, both members.
    let endpoint = members[0].api();
    let stats = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["--endpoint", &endpoint, "-o", "json", "lb", "stats", "shop"])
            .args(["--count", "2", "--interval-ms", "200"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let samples: Vec<serde_json::Value> = String::from_utf8_lossy(&stats.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(samples.len(), 2);
    let last = &samples[1];
    assert_eq!(
        last["listeners"][0]["requests"].as_f64(),
        Some(expected),
        "{last}"
    );
    let member_rows: Vec<&serde_json::Value> = last["members"].as_array().unwrap().iter().collect();
    assert_eq!(member_rows.len(), 2, "{last}");
    let to_members: f64 = member_rows
        .iter()
        .filter_map(|member| member["requests"].as_f64())
        .sum();
    assert_eq!(
        to_members, expected,
        "every request reached a member: {last}"
    );

    // promtool accepts every node's exposition.
    for target in &targets {
        let (status, text) = http_get(target, "/metrics");
        assert_eq!(status, 200);
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool (Debian's prometheus package)");
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let checked = promtool.wait_with_output().unwrap();
        assert!(
            checked.status.success(),
            "{target}: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }

    // The alert rules check and evaluate; the dashboard's queries run; both
    // name only exported metrics.
    let checked = Command::new("promtool")
        .args(["check", "rules"])
        .arg(observability("alerts.yml"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let mut exported = std::collections::BTreeSet::new();
    for target in &targets {
        for line in http_get(target, "/metrics").1.lines() {
            if let Some(name) = line
                .strip_prefix("# TYPE ")
                .and_then(|rest| rest.split(' ').next())
            {
                exported.insert(name.to_owned());
            }
        }
    }
    let rules = std::fs::read_to_string(observability("alerts.yml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(observability("grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_owned))
        .collect();
    assert!(queries.len() >= 10, "the dashboard has its panels");
    for name in metric_names(&rules)
        .into_iter()
        .chain(queries.iter().flat_map(|q| metric_names(q)))
    {
        assert!(
            exported.contains(&name),
            "{name} is not exported: {exported:?}"
        );
    }
    for promql in &queries {
        let (address, encoded_query) = (prometheus.address.clone(), encoded(promql));
        let (status, body) = tokio::task::spawn_blocking(move || {
            http_get(&address, &format!("/api/v1/query?query={encoded_query}"))
        })
        .await
        .unwrap();
        assert_eq!(status, 200, "{promql}: {body}");
    }
    let alert_count = rules.matches("- alert:").count();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let address = prometheus.address.clone();
        let (_, body) = tokio::task::spawn_blocking(move || http_get(&address, "/api/v1/rules"))
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let rules: Vec<serde_json::Value> = answer["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = rules.len() == alert_count
            && rules.iter().all(|rule| {
                rule["lastEvaluation"]
                    .as_str()
                    .is_some_and(|at| !at.starts_with("0001"))
            });
        if evaluated {
            for rule in &rules {
                assert_eq!(rule["health"], "ok", "{rule}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rules were not evaluated: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Some writes, then the followers' committed index meets the leader's.
    let client = members[(leader_id - 1) as usize].client().await;
    for n in 0..5 {
        client
            .networks()
            .create_network(v1::CreateNetworkRequest {
                name: format!("observed-{n}"),
                cidr: format!("10.{n}.0.0/16"),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let targets_now = targets.clone();
        let committed: Vec<f64> = tokio::task::spawn_blocking(move || {
            targets_now
                .iter()
                .map(|target| {
                    sum_of(
                        &http_get(target, "/metrics").1,
                        "fulcrum_raft_committed_index",
                    )
                })
                .collect()
        })
        .await
        .unwrap();
        if committed.iter().all(|index| *index == committed[0]) && committed[0] > 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "committed indexes differ: {committed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(prometheus);
    for member in &mut members {
        member.stop().await;
    }
}
