//! The fuzz targets `http_head` and `chunked_body` in the normal test run:
//! every file of their seed corpus (`fuzz/corpus/<target>/`) and of their
//! crashes (`fuzz/regressions/<target>/`) goes through the same function the
//! fuzz target calls. A missing or empty directory fails, so that the replay
//! cannot pass by finding nothing.
//!
//! The seeds (`seed-*` files) are written by this test: a seed missing or
//! different from what it says here is (re)written and the test fails,
//! asking for the new file to be committed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use fulcrum_dataplane::fuzzing;

fn fuzz_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("dataplane sits in the workspace")
        .join("fuzz")
}

/// Runs every file of the target's corpus and regressions through `run`,
/// and names every file that panicked.
fn replay(target: &str, run: fn(&[u8])) {
    let mut failed = Vec::new();
    for kind in ["corpus", "regressions"] {
        let directory = fuzz_directory().join(kind).join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "{} holds no input: the replay would pass vacuously",
            directory.display()
        );
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{target} fails on:\n{}",
        failed.join("\n")
    );
}

/// Checks that each seed is committed as `fuzz/corpus/<target>/seed-<name>`;
/// writes the missing and changed ones and fails, so that they get committed.
fn check_seeds(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let directory = fuzz_directory().join("corpus").join(target);
    std::fs::create_dir_all(&directory).unwrap();
    let mut written = Vec::new();
    for (name, bytes) in seeds {
        let path = directory.join(format!("seed-{name}"));
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            std::fs::write(&path, bytes).unwrap();
            written.push(path.display().to_string());
        }
    }
    assert!(
        written.is_empty(),
        "seeds written; commit them:\n{}",
        written.join("\n")
    );
}

fn seed(first: u8, rest: &[&str]) -> Vec<u8> {
    let mut bytes = vec![first];
    bytes.extend(rest.concat().into_bytes());
    bytes
}

#[test]
fn http_head_corpus_and_regressions_pass() {
    replay("http_head", fuzzing::http_head);
}

#[test]
fn chunked_body_corpus_and_regressions_pass() {
    replay("chunked_body", fuzzing::chunked_body);
}

/// First byte: bits 0–1 the field limit (1, 8, 100, 128), bit 2 forwarded
/// fields, bit 3 an IPv6 client, bit 4 response-only mode, bits 5–6 the
/// canned request a response-only input answers.
#[test]
fn http_head_seeds_are_committed() {
    check_seeds(
        "http_head",
        &[
            (
                "get",
                seed(
                    0b10,
                    &[
                        "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello",
                    ],
                ),
            ),
            (
                "post-chunked-forwarded",
                seed(
                    0b110,
                    &[
                        "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
                        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                    ],
                ),
            ),
            (
                "http-1.0",
                seed(
                    0b11,
                    &[
                        "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
                        "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n",
                    ],
                ),
            ),
            (
                "websocket-upgrade",
                seed(
                    0b1111,
                    &[
                        "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                    ],
                ),
            ),
            (
                "head-not-modified",
                seed(
                    0b10,
                    &[
                        "HEAD /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"1\"\r\n\r\n",
                    ],
                ),
            ),
            (
                "response-only",
                seed(
                    0b1_0011,
                    &["HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"],
                ),
            ),
        ],
    );
}

/// First byte: bits 0–1 the read buffer (8, 64, 1024 or 32 KiB bytes), bits
/// 2–5 the number of piece sizes that follow it (each byte + 1).
#[test]
fn chunked_body_seeds_are_committed() {
    check_seeds(
        "chunked_body",
        &[
            ("one-chunk", seed(0b11, &["5\r\nhello\r\n0\r\n\r\n"])),
            (
                "chunks-trailers-and-next-request",
                seed(
                    0b11,
                    &[
                        "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n",
                        "0\r\nExpires: never\r\n\r\nGET /next HTTP/1.1\r\n",
                    ],
                ),
            ),
            (
                "one-byte-pieces",
                [
                    &[0b1_01, 0][..],
                    b"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
                ]
                .concat(),
            ),
            (
                "small-buffer-mixed-pieces",
                [
                    &[0b11_00, 2, 6, 0][..],
                    b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
                ]
                .concat(),
            ),
        ],
    );
}
