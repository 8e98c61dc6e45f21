//! The README's secure set-up, for real: `fulcrum certs` makes the CA and
//! the certificates, an agent process runs with TLS and a data key, the CLI
//! works as an admin with a client certificate and as a script with a
//! token, the history says who did what, and the agent's files are its own.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fulcrum");

/// The agent process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary with none of the caller's client settings.
fn fulcrum(arguments: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    for variable in [
        "FULCRUM_ENDPOINT",
        "FULCRUM_CA",
        "FULCRUM_CERT",
        "FULCRUM_KEY",
        "FULCRUM_TOKEN",
        "FULCRUM_TOKEN_FILE",
        "FULCRUM_CLI_CONFIG",
    ] {
        command.env_remove(variable);
    }
    command
        .env("XDG_CONFIG_HOME", "/nonexistent/fulcrum-tests")
        .args(arguments)
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

fn every_file(directory: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![directory.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

#[test]
fn the_readmes_secure_set_up_works_end_to_end() {
    let directory = tempfile::tempdir().unwrap();
    let pki = directory.path().join("pki");
    let pki_text = text(&pki);
    succeeded(&fulcrum(&["certs", "create-ca", "--dir", &pki_text]));
    succeeded(&fulcrum(&[
        "certs",
        "issue-node",
        "--dir",
        &pki_text,
        "--name",
        "node-1",
        "--host",
        "127.0.0.1",
    ]));
    succeeded(&fulcrum(&[
        "certs",
        "issue-client",
        "--dir",
        &pki_text,
        "--principal",
        "alice",
        "--role",
        "admin",
    ]));
    std::fs::write(
        pki.join("data.key"),
        fulcrum_node::secrets::new_key_file().unwrap(),
    )
    .unwrap();

    let ports: Vec<u16> = {
        let held: Vec<TcpListener> = (0..2)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        held.iter()
            .map(|listener| listener.local_addr().unwrap().port())
            .collect()
    };
    let (api, raft) = (
        format!("127.0.0.1:{}", ports[0]),
        format!("127.0.0.1:{}", ports[1]),
    );
    let data = directory.path().join("data");
    let file = |name: &str| text(&pki.join(name));
    let _agent = Running(
        Command::new(BIN)
            .args(["agent", "--id", "1", "--data-dir", &text(&data)])
            .args(["--api-address", &api, "--raft-address", &raft])
            .args(["--initial-members", &format!("1={raft}/{api}")])
            .args(["--eip-pool", "127.77.0.0/16"])
            .args(["--tls-ca-file", &file("ca.crt")])
            .args(["--tls-cert-file", &file("node-1.crt")])
            .args(["--tls-key-file", &file("node-1.key")])
            .args(["--data-key-file", &file("data.key")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ca = file("ca.crt");
    let as_alice = |arguments: &[&str]| {
        let mut all = vec!["--endpoint", &api, "--ca", &ca, "--cert", "", "--key", ""];
        let (cert, key) = (file("client.alice.crt"), file("client.alice.key"));
        all[5] = &cert;
        all[7] = &key;
        all.extend_from_slice(arguments);
        fulcrum(&all)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !as_alice(&["cluster", "status"]).status.success() {
        assert!(Instant::now() < deadline, "the agent never answered alice");
        std::thread::sleep(Duration::from_millis(100));
    }

    // No credential: refused, and the refusal says so.
    let anonymous = fulcrum(&["--endpoint", &api, "--ca", &ca, "network", "list"]);
    assert!(!anonymous.status.success());
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("Unauthenticated"),
        "{}",
        String::from_utf8_lossy(&anonymous.stderr)
    );

    // Alice makes a token for a script; the script uses it from a file.
    let made = succeeded(&as_alice(&[
        "--output",
        "json",
        "token",
        "create",
        "deploy-bot",
        "--role",
        "operator",
    ]));
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    let token_file = directory.path().join("bot.token");
    std::fs::write(&token_file, &secret).unwrap();
    let token_file = text(&token_file);
    let as_bot = |arguments: &[&str]| {
        let mut all = vec!["--endpoint", &api, "--ca", &ca, "--token-file", &token_file];
        all.extend_from_slice(arguments);
        fulcrum(&all)
    };
    succeeded(&as_bot(&[
        "network",
        "create",
        "vpc",
        "--cidr",
        "127.0.0.0/16",
    ]));
    let denied = as_bot(&["cluster", "set-eip-pool", "127.78.0.0/16"]);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("needs the role admin"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    // The history says who did what.
    let history = succeeded(&as_alice(&["--output", "json", "events", "list"]));
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let principal_of = |kind: &str| -> Vec<String> {
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["type"] == kind)
            .map(|event| event["principal"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(principal_of("EVENT_TYPE_ACCESS_TOKEN_ISSUED"), ["alice"]);
    assert_eq!(principal_of("EVENT_TYPE_NETWORK_CREATED"), ["deploy-bot"]);
    let table = succeeded(&as_alice(&["events", "list"]));
    assert!(
        table.contains("BY") && table.contains("deploy-bot"),
        "{table}"
    );

    // Revoked, the token stops working.
    let id = made["token"]["id"].as_str().unwrap().to_owned();
    succeeded(&as_alice(&["token", "revoke", &id]));
    assert!(!as_bot(&["network", "list"]).status.success());

    // Everything the agent wrote is its own: the data directory 0700, its
    // files 0600 (and the files fulcrum certs wrote too).
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let written = every_file(&data);
    assert!(written.len() > 3, "{written:?}");
    for path in written.iter().chain(&every_file(&pki)) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        if path.file_name().is_some_and(|name| name == "data.key") {
            continue;
        }
        assert_eq!(mode(path), expected, "{}", path.display());
    }
}
