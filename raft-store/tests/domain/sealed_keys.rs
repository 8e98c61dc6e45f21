//! Certificate keys: sealed from log format 3 on (the domain checks the
//! sealed text's shape only), clear PEM in entries of formats 1 and 2; and
//! what the state keeps of a sealed key is that text, never the clear key.

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::sealed::{MAX_SEALED_BYTES, SEALED_PREFIX};
use fulcrum_raft_store::domain::{RejectionKind, State};
use prost::Message;
use v1::command::Kind;

use crate::harness::*;

fn upload(private_key: &str) -> Kind {
    Kind::UploadCertificate(v1::UploadCertificateRequest {
        name: "site".into(),
        certificate_chain: CERTIFICATE_PEM.into(),
        private_key: private_key.into(),
        ..Default::default()
    })
}

/// The three hex fields of the test key's stand-in: key id, nonce, ciphertext.
fn stand_in_fields() -> [String; 3] {
    let text = sealed_stand_in(PRIVATE_KEY_PEM);
    let fields: Vec<String> = text
        .strip_prefix(SEALED_PREFIX)
        .expect("a stand-in is sealed-shaped")
        .split(':')
        .map(str::to_owned)
        .collect();
    fields.try_into().expect("a stand-in has three fields")
}

/// Uploads the test certificate with `private_key` in an entry of log format
/// `format_version`, after a log of the current format. `Ok(())`: accepted,
/// and the catalog keeps exactly `private_key`. `Err(says)`: refused
/// INVALID_ARGUMENT naming `private_key`, with `says` in the message, and
/// nothing changed. Answers what went otherwise.
fn check(format_version: u32, private_key: &str, expected: Result<(), &str>) -> Result<(), String> {
    let mut log = Log::new();
    let (catalog_before, revision_before) = (log.state.catalog().clone(), log.state.revision());
    let answer = log.submit_at(format_version, upload(private_key)).answer;
    match (answer, expected) {
        (Ok(receipt), Ok(())) => {
            let stored = log
                .state
                .catalog()
                .certificates()
                .values()
                .find(|certificate| certificate.id.as_str() == receipt.resource_id)
                .ok_or("accepted, but the catalog has no such certificate")?;
            if stored.private_key_pem != private_key {
                return Err(format!(
                    "the catalog keeps {:?} instead of the key as sent",
                    stored.private_key_pem
                ));
            }
            Ok(())
        }
        (Ok(receipt), Err(_)) => Err(format!("accepted at revision {}", receipt.revision)),
        (Err(rejection), Ok(())) => Err(format!("refused: {}", rejection.message)),
        (Err(rejection), Err(says)) => {
            if rejection.kind != RejectionKind::InvalidArgument
                || rejection.field.as_deref() != Some("private_key")
                || !rejection.message.starts_with("private_key: ")
                || !rejection.message.contains(says)
            {
                return Err(format!(
                    "{:?} on field {:?}, not INVALID_ARGUMENT on private_key saying {says:?}: {}",
                    rejection.kind, rejection.field, rejection.message
                ));
            }
            if log.state.catalog() != &catalog_before || log.state.revision() != revision_before {
                return Err("refused, but the state changed".into());
            }
            Ok(())
        }
    }
}

/// Runs every row through [`check`] and names each that went otherwise.
#[track_caller]
fn check_all(rows: Vec<(&str, u32, String, Result<(), &str>)>) {
    let failures: Vec<String> = rows
        .into_iter()
        .filter_map(|(what, format_version, private_key, expected)| {
            check(format_version, &private_key, expected)
                .err()
                .map(|problem| format!("{what} (format {format_version}): {problem}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn at_the_current_format_a_key_must_arrive_sealed() {
    let [key_id, nonce, ciphertext] = stand_in_fields();
    let sealed = |key_id: &str, nonce: &str, ciphertext: &str| {
        format!("{SEALED_PREFIX}{key_id}:{nonce}:{ciphertext}")
    };
    let current = LOG_FORMAT_VERSION;
    check_all(vec![
        (
            "a sealed key",
            current,
            sealed_stand_in(PRIVATE_KEY_PEM),
            Ok(()),
        ),
        (
            "a clear PEM key",
            current,
            PRIVATE_KEY_PEM.into(),
            Err("must be sealed"),
        ),
        ("no key", current, String::new(), Err("must be sealed")),
        (
            "a sealed text of two fields",
            current,
            format!("{SEALED_PREFIX}{key_id}:{nonce}"),
            Err("three fields"),
        ),
        (
            "a sealed text of four fields",
            current,
            format!("{}:{ciphertext}", sealed(&key_id, &nonce, &ciphertext)),
            Err("three fields"),
        ),
        (
            "a key id that is not hex",
            current,
            sealed(&format!("zz{}", &key_id[2..]), &nonce, &ciphertext),
            Err("not hex"),
        ),
        (
            "a nonce with an odd number of digits",
            current,
            sealed(&key_id, &nonce[1..], &ciphertext),
            Err("odd number of hex digits"),
        ),
        (
            "a key id of 4 bytes",
            current,
            sealed(&key_id[..8], &nonce, &ciphertext),
            Err("id has 8 bytes"),
        ),
        (
            "a nonce of 8 bytes",
            current,
            sealed(&key_id, &nonce[..16], &ciphertext),
            Err("nonce has 12 bytes"),
        ),
        (
            "a ciphertext no longer than its tag",
            current,
            sealed(&key_id, &nonce, &ciphertext[..32]),
            Err("shorter than its tag"),
        ),
        (
            "a sealed text over the limit",
            current,
            sealed(&key_id, &nonce, &"ab".repeat(MAX_SEALED_BYTES / 2)),
            Err(&format!("at most {MAX_SEALED_BYTES}")),
        ),
    ]);
}

#[test]
fn entries_of_formats_one_and_two_keep_their_clear_keys() {
    let mut rows = Vec::new();
    for format in [1, 2] {
        rows.extend([
            (
                "a clear PEM key",
                format,
                PRIVATE_KEY_PEM.to_owned(),
                Ok(()),
            ),
            (
                "a key that is not PEM",
                format,
                "no key".to_owned(),
                Err("is not a PEM private key"),
            ),
            (
                "a sealed key, which no build of that format wrote",
                format,
                sealed_stand_in(PRIVATE_KEY_PEM),
                Err("is not a PEM private key"),
            ),
        ]);
    }
    check_all(rows);
}

/// The base64 lines of a PEM text.
fn pem_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

fn occurs(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Every byte the state and its log keep, by where they are kept: the
/// snapshot, the history, the state's records and the log entries.
fn kept_bytes(log: &Log) -> Vec<(&'static str, Vec<u8>)> {
    let state: &State = &log.state;
    let mut snapshot = Vec::new();
    state.write_snapshot(&mut snapshot).unwrap();
    let history = postcard::to_stdvec(state.history()).unwrap();
    let records = state
        .record_keys()
        .iter()
        .flat_map(|key| state.record(key).unwrap().unwrap_or_default())
        .collect();
    let entries = log
        .entries
        .iter()
        .flat_map(|(_, entry)| entry.encode_to_vec())
        .collect();
    vec![
        ("snapshot", snapshot),
        ("history", history),
        ("records", records),
        ("log entries", entries),
    ]
}

#[test]
fn the_state_keeps_the_sealed_text_and_never_the_clear_key() {
    let sealed = sealed_stand_in(PRIVATE_KEY_PEM);
    let lines = pem_lines(PRIVATE_KEY_PEM);
    assert!(lines.len() >= 2, "the test key has a body");
    // Each base64 line of the clear key, and the whole body in one piece.
    let mut body = lines.clone();
    body.push(lines.concat());
    assert!(
        body.iter().all(|part| !sealed.contains(part.as_str())),
        "the stand-in spells the clear key"
    );

    let fixture = Fixture::new();
    let stored = fixture.log.state.catalog().certificates();
    assert_eq!(stored.len(), 1);
    assert!(
        stored
            .values()
            .all(|certificate| certificate.private_key_pem == sealed),
        "the catalog keeps exactly the sealed text"
    );
    for (place, bytes) in kept_bytes(&fixture.log) {
        assert!(occurs(&bytes, &sealed), "the {place} lacks the sealed key");
        for part in &body {
            assert!(
                !occurs(&bytes, part),
                "the {place} holds the clear key's {part:?}"
            );
        }
    }

    // The search finds a clear key where one is: a format-2 log's state
    // keeps the key as that format carried it.
    let mut old = Log::at_format(2);
    old.ok(certificate_at(2, "site"));
    for (place, bytes) in kept_bytes(&old) {
        assert!(
            lines.iter().all(|line| occurs(&bytes, line)),
            "the format-2 {place} should hold the clear key"
        );
    }
}

fn reseal(keys: Vec<(String, String)>) -> Kind {
    Kind::ResealCertificateKeys(v1::ResealCertificateKeys {
        keys: keys
            .into_iter()
            .map(|(certificate_id, private_key)| v1::ResealedKey {
                certificate_id,
                private_key,
            })
            .collect(),
    })
}

#[test]
fn a_reseal_replaces_the_sealed_keys_of_the_certificates_that_remain() {
    let mut log = Log::new();
    let uploaded = log
        .submit(upload(&sealed_stand_in(PRIVATE_KEY_PEM)))
        .answer
        .expect("uploaded")
        .resource_id;
    let anew = sealed_stand_in("another key");
    let gone = "cert-0000000000000000".to_owned();
    let applied = log.submit(reseal(vec![
        (uploaded.clone(), anew.clone()),
        (gone.clone(), anew.clone()),
    ]));
    applied.answer.expect("resealed");
    // One event, for the certificate that exists; the catalog keeps the new text.
    assert_eq!(applied.events.len(), 1);
    let stored = log
        .state
        .catalog()
        .certificates()
        .values()
        .find(|certificate| certificate.id.as_str() == uploaded)
        .expect("still there");
    assert_eq!(stored.private_key_pem, anew);

    // Refusals name the field: only gone certificates, a clear key, too many keys.
    let only_gone = log
        .submit(reseal(vec![(gone, anew.clone())]))
        .answer
        .expect_err("nothing to reseal");
    assert_eq!(only_gone.kind, RejectionKind::FailedPrecondition);
    let clear = log
        .submit(reseal(vec![(uploaded.clone(), PRIVATE_KEY_PEM.to_owned())]))
        .answer
        .expect_err("a clear key");
    assert_eq!(
        clear.field.as_deref(),
        Some("keys[0].private_key"),
        "{}",
        clear.message
    );
    let too_many = vec![(uploaded.clone(), anew.clone()); 1_001];
    let refused = log
        .submit(reseal(too_many))
        .answer
        .expect_err("over the limit");
    assert_eq!(
        refused.field.as_deref(),
        Some("keys"),
        "{}",
        refused.message
    );
    // Older formats had no such command.
    let old = log
        .submit_at(2, reseal(vec![(uploaded, anew)]))
        .answer
        .expect_err("format 2");
    assert!(old.message.contains("command"), "{}", old.message);
}

#[test]
fn a_retried_upload_sealed_anew_gets_the_first_answer() {
    let mut log = Log::new();
    let sealed_once = |key: &str| {
        Kind::UploadCertificate(v1::UploadCertificateRequest {
            client_token: "upload-1".into(),
            name: "site".into(),
            certificate_chain: CERTIFICATE_PEM.into(),
            private_key: sealed_stand_in(key),
            ..Default::default()
        })
    };
    let first = log
        .submit_with_token("upload-1", sealed_once(PRIVATE_KEY_PEM))
        .answer
        .expect("uploaded");
    // The retry's node sealed the same key with another nonce: another text.
    let retry = log.submit_with_token("upload-1", sealed_once(&format!("{PRIVATE_KEY_PEM}\n")));
    assert!(retry.replayed, "{:?}", retry.answer);
    assert_eq!(retry.answer.expect("the first answer"), first);
    assert_eq!(log.state.catalog().certificates().len(), 1);
}
