//! The REST API against its own OpenAPI document, judged by a tool nobody
//! here wrote: schemathesis (PyPI) generates requests from `/openapi.json`
//! for every operation, against a running agent, and checks that no answer
//! is a server error and that every answer's status, content type, headers
//! and body match the document.
//!
//! It needs schemathesis at `target/schemathesis/bin/schemathesis`
//! (`scripts/test` installs it in that virtual environment); without it the
//! test fails and says so.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::{cluster, leader};

/// The checks of "no server error, every response as documented".
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance";
/// Examples generated per operation: enough to reach every operation's
/// refusals and answers, few enough for the default test run.
const EXAMPLES_PER_OPERATION: &str = "8";
/// A fixed seed: a failure reproduces.
const SEED: &str = "20261201";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let schemathesis =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/schemathesis/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: scripts/test installs schemathesis there",
        schemathesis.display()
    );
    let members = cluster(1, 1).await;
    leader(&members).await;
    let document = format!("http://{}/openapi.json", members[0].http());
    // schemathesis keeps a cache where it runs: not in the checkout.
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(schemathesis)
            .current_dir(cwd)
            .args(["run", &document, "--checks", CHECKS])
            .args(["--max-examples", EXAMPLES_PER_OPERATION, "--seed", SEED])
            .args(["--no-color"])
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}"
    );
    // Every operation of the document was tested.
    let number_after = |label: &str| -> Option<u32> {
        let rest = report.split(label).nth(1)?;
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let selected = report
        .split("Selected: ")
        .nth(1)
        .and_then(|rest| rest.split('/').nth(1))
        .and_then(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u32>()
                .ok()
        });
    assert!(
        selected.is_some_and(|operations| operations > 50),
        "{report}"
    );
    assert_eq!(
        number_after("Tested:"),
        selected,
        "not every operation was tested:\n{report}"
    );
}
