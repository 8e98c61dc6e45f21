//! The cluster CA and certificates tests hand out, as files, and a cluster
//! of agents that serve with them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fulcrum_node::config::TlsFiles;
use fulcrum_pki::{Authority, CaOptions, ClientOptions, NodeOptions, Pem, Role};

use super::{Member, cluster_with};

/// How often the agents under test look at their TLS files.
pub const RELOAD_INTERVAL: Duration = Duration::from_millis(100);

/// A cluster CA and the certificates a test hands out, as files.
pub struct Pki {
    pub directory: tempfile::TempDir,
    pub authority: Authority,
    pub ca: Pem,
}

impl Pki {
    pub fn new() -> Self {
        let ca = fulcrum_pki::create_ca(&CaOptions::default()).unwrap();
        let authority = Authority::from_pem(&ca.certificate, &ca.private_key).unwrap();
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("ca.crt"), &ca.certificate).unwrap();
        Self {
            directory,
            authority,
            ca,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    /// Writes node `id`'s certificate (for 127.0.0.1) and key.
    pub fn write_node(&self, id: u64) -> Pem {
        let pem = self
            .authority
            .issue_node(&NodeOptions {
                name: format!("node-{id}"),
                hosts: vec!["127.0.0.1".into(), "localhost".into()],
                validity_days: None,
            })
            .unwrap();
        write_pair(&self.path(&format!("node-{id}")), &pem);
        pem
    }

    pub fn client(&self, principal: &str, role: Role) -> Pem {
        self.authority
            .issue_client(&ClientOptions {
                principal: principal.into(),
                role,
                validity_days: None,
            })
            .unwrap()
    }

    pub fn files(&self, id: u64) -> TlsFiles {
        TlsFiles {
            ca_file: self.path("ca.crt"),
            cert_file: self.path(&format!("node-{id}.crt")),
            key_file: self.path(&format!("node-{id}.key")),
            reload_interval: RELOAD_INTERVAL,
        }
    }
}

/// Writes `stem.crt` and `stem.key`, each replaced whole (a reader never
/// sees half a file).
fn write_pair(stem: &Path, pem: &Pem) {
    fulcrum_pki::write_private(&stem.with_extension("crt"), &pem.certificate, true).unwrap();
    fulcrum_pki::write_private(&stem.with_extension("key"), &pem.private_key, true).unwrap();
}

/// A three-node cluster with TLS and authentication on.
pub async fn secure_cluster(pki: &Pki) -> Vec<Member> {
    for id in 1..=3 {
        pki.write_node(id);
    }
    let files: Vec<TlsFiles> = (1..=3).map(|id| pki.files(id)).collect();
    cluster_with(3, 3, move |config| {
        config.tls = Some(files[config.node_id as usize - 1].clone());
    })
    .await
}
