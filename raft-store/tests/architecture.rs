//! The shape of the workspace, held by a test: which crate may depend on
//! which (design.md, "Dependency rules"), and a domain that stays pure.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// What each workspace member may depend on. A new crate must be added here,
/// which makes its place in the architecture a decision.
struct Rule {
    folder: &'static str,
    /// The Fulcrum crates it may depend on; `None` means any (the node ties everything together).
    ours: Option<&'static [&'static str]>,
    /// Crates it must not depend on at all.
    forbidden: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        folder: "api",
        ours: Some(&[]),
        forbidden: &[],
    },
    Rule {
        folder: "raft-store",
        ours: Some(&["fulcrum-api"]),
        forbidden: &[],
    },
    Rule {
        folder: "dataplane",
        ours: Some(&["fulcrum-api"]),
        forbidden: &["tokio", "openraft"],
    },
    Rule {
        folder: "eip",
        ours: Some(&[]),
        forbidden: &["tokio", "openraft"],
    },
    Rule {
        // The cluster's certificates: pure, no IO framework.
        folder: "pki",
        ours: Some(&[]),
        forbidden: &["tokio", "openraft", "tonic"],
    },
    Rule {
        folder: "node",
        ours: None,
        forbidden: &[],
    },
    Rule {
        // A black box's tester: it may bind and probe addresses (the EIP
        // crate's ARP and namespace tools), never reach into the node.
        folder: "chaos-tests",
        ours: Some(&["fulcrum-api", "fulcrum-eip", "fulcrum-pki"]),
        forbidden: &["fulcrum-node", "fulcrum-raft-store", "openraft"],
    },
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("raft-store sits in the workspace")
        .to_path_buf()
}

fn read_toml(path: &Path) -> toml::Table {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.parse()
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn crates_depend_only_on_what_the_design_allows() {
    let root = read_toml(&workspace_root().join("Cargo.toml"));
    let members = root["workspace"]["members"]
        .as_array()
        .expect("workspace.members is a list");
    let mut problems = Vec::new();
    for member in members {
        let folder = member.as_str().expect("member is a path");
        let Some(rule) = RULES.iter().find(|rule| rule.folder == folder) else {
            problems.push(format!("{folder}: no dependency rule; add one to RULES"));
            continue;
        };
        let manifest = read_toml(&workspace_root().join(folder).join("Cargo.toml"));
        let dependencies = manifest
            .get("dependencies")
            .and_then(|d| d.as_table())
            .cloned()
            .unwrap_or_default();
        for name in dependencies.keys() {
            if rule.forbidden.contains(&name.as_str()) {
                problems.push(format!("{folder} depends on {name}, which it must not"));
            }
            if let Some(ours) = rule.ours
                && name.starts_with("fulcrum-")
                && !ours.contains(&name.as_str())
            {
                problems.push(format!(
                    "{folder} depends on {name}; it may depend only on {ours:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Text that must not appear in the domain: IO, clocks, randomness, unordered
/// maps, and the runtime and Raft crates.
const IMPURE: &[&str] = &[
    "HashMap",
    "HashSet",
    "std::time",
    "SystemTime",
    "Instant",
    "std::fs",
    "std::env",
    "std::net::TcpStream",
    "std::thread",
    "rand::",
    "tokio",
    "openraft",
    "rocksdb",
];

fn rust_files(folder: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).expect("domain folder is readable") {
        let path = entry.expect("entry is readable").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn the_domain_does_no_io_and_reads_no_clock() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("raft-store/src/domain"), &mut files);
    assert!(files.len() > 10, "the domain's files were not found");
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in IMPURE.iter().filter(|word| code.contains(*word)) {
                problems.push(format!(
                    "{}:{}: {word}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the domain must stay pure:\n{}",
        problems.join("\n")
    );
}
