//! The web console in a real browser: an agent with TLS and authentication
//! serves the console; `node/console-test/guide.test.mjs` drives Debian's
//! Chromium (Playwright's `playwright-core`) through sign-in, the resources
//! the guide assumes, the guide's four steps, a duplicate port's error under
//! its field and a viewer's read-only console; then traffic through the
//! listener the console made reaches the members by weight. Screenshots go
//! to `target/console-artifacts`.
//!
//! It needs `node`, `/usr/bin/chromium` and `npm ci` in `node/console-test`
//! (`scripts/test` installs all three); without them it fails and says so.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fulcrum_api::{Client, Credentials, v1};
use fulcrum_pki::Role;

use support::backends::{backend, get};
use support::pki::Pki;
use support::{cluster_with, leader};

fn console_test_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console-test")
}

async fn token(admin: &Client, principal: &str, role: v1::Role) -> String {
    admin
        .access_tokens()
        .create_access_token(v1::CreateAccessTokenRequest {
            principal: principal.into(),
            role: role.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guide_through_the_console_in_headless_chromium() {
    let directory = console_test_directory();
    assert!(
        directory.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in {} (scripts/test does)",
        directory.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "install Debian's chromium (scripts/test does)"
    );

    let pki = Pki::new();
    pki.write_node(1);
    let files = pki.files(1);
    let members = cluster_with(1, 1, move |config| config.tls = Some(files.clone())).await;
    leader(&members).await;
    let member = &members[0];
    let root = pki.client("root", Role::Admin);
    let admin = Client::connect_with(
        &member.api(),
        Duration::from_secs(2),
        &Credentials {
            ca_pem: Some(pki.ca.certificate.clone()),
            identity: Some((root.certificate, root.private_key)),
            token: None,
        },
    )
    .await
    .unwrap();
    let operator = token(&admin, "console-user", v1::Role::Operator).await;
    let viewer = token(&admin, "console-viewer", v1::Role::Viewer).await;

    let (heavy, light) = (
        backend("heavy", Ipv4Addr::new(127, 0, 0, 1)),
        backend("light", Ipv4Addr::new(127, 0, 0, 2)),
    );
    // A port free on loopback, for the listener on the EIP the console
    // allocates.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-artifacts");
    let url = format!("https://{}/", member.http());

    let ca_file = pki.path("ca.crt");
    let started = Instant::now();
    let run = {
        let (directory, artifacts) = (directory.clone(), artifacts.clone());
        let (operator, viewer) = (operator.clone(), viewer.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .args(["--test", "units.test.mjs", "guide.test.mjs"])
                .current_dir(&directory)
                .env("FULCRUM_CONSOLE_URL", &url)
                .env("FULCRUM_CONSOLE_IGNORE_TLS_ERRORS", "1")
                // The test's own requests (node's fetch) trust the cluster CA.
                .env("NODE_EXTRA_CA_CERTS", &ca_file)
                .env("FULCRUM_TOKEN", &operator)
                .env("FULCRUM_VIEWER_TOKEN", &viewer)
                .env("FULCRUM_BACKENDS", format!("{heavy},{light}"))
                .env("FULCRUM_LISTENER_PORT", port.to_string())
                .env("FULCRUM_ARTIFACTS", &artifacts)
                .output()
        })
    };
    let output = run.await.unwrap().expect("node runs");
    let took = started.elapsed();
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the browser test failed:\n{report}"
    );
    assert!(report.contains("# fail 0"), "{report}");
    assert!(
        report.contains("# skipped 0"),
        "every browser test ran: {report}"
    );
    println!("{report}");
    println!(
        "browser test: {took:?}; screenshots in {}",
        artifacts.display()
    );

    // The listener the console made serves the group the console made, by
    // weight (3:1).
    let listener = admin
        .listeners()
        .list_listeners(v1::ListListenersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .listeners
        .into_iter()
        .find(|listener| listener.port == u32::from(port))
        .expect("the console's listener");
    let load_balancer = admin
        .load_balancers()
        .get_load_balancer(v1::GetLoadBalancerRequest {
            id: listener.load_balancer_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap();
    let eip: Ipv4Addr = load_balancer
        .eip_address
        .parse()
        .expect("the EIP's address");
    let address = std::net::SocketAddr::from((eip, port));
    let answers = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(address).is_none() {
            assert!(Instant::now() < deadline, "{address} never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        (0..40).filter_map(|_| get(address)).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let heavy_count = answers.iter().filter(|name| *name == "heavy").count();
    let light_count = answers.iter().filter(|name| *name == "light").count();
    assert_eq!(answers.len(), 40);
    assert_eq!((heavy_count, light_count), (30, 10), "{answers:?}");
}
