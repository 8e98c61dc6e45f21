//! TLS for the node's ports, from the files `[tls]` names, reloaded when
//! they change.
//!
//! - The API port: the node's certificate; a client certificate signed by
//!   the cluster CA is optional (a caller may use a bearer token instead), a
//!   certificate from any other CA fails the handshake.
//! - The HTTP port (REST/JSON, `node.http_address`): the node's certificate,
//!   HTTP/1.1 or h2, and no client certificate asked for: browsers would
//!   send one with every request (an ambient credential a cross-site
//!   request could ride on), so this port takes bearer tokens only.
//! - The peer port: mutual TLS. Only a certificate signed by the cluster CA
//!   **with the role `node`** completes the handshake ([`NodeOnly`]), so no
//!   operator, viewer or stranger can append, vote, transfer leadership or
//!   forward a proposal.
//! - Outgoing peer connections present the same node certificate and accept
//!   only a server certificate the cluster CA signed.
//!
//! [`Tls::watch`] checks the files every `tls.reload_interval_ms`; when any
//! changed and the new set loads, new connections use it at once, and open
//! ones keep the session they have (nothing is dropped). A set that does not
//! load (a half-written file, a key that does not match) is logged and the
//! node keeps the previous one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use fulcrum_pki::Role;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use crate::config::TlsFiles;
use crate::file_stamp::ChangeWatch;

/// The protocol the gRPC ports speak inside TLS.
const ALPN_HTTP2: &[u8] = b"h2";
/// The HTTP port also speaks HTTP/1.1 (browsers, curl, SSE).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key}: cannot read {path}: {source}")]
    Read {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// A file does not hold what it must.
    #[error("{key}: {path}: {reason}")]
    Content {
        /// The setting naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the set (a key that does not match the certificate, say).
    #[error("tls: {0}")]
    Config(String),
}

/// The bytes of the three files, and the identity they hold.
struct Material {
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    key_pem: String,
    ca_pem: String,
    chain_pem: String,
}

fn read(key: &'static str, path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        key,
        path: path.to_owned(),
        source,
    })
}

fn certificates(
    key: &'static str,
    path: &Path,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let content = |reason: String| TlsError::Content {
        key,
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        // The PEM error quotes the line it stopped at: never print it, the
        // file might hold a key.
        .map_err(|_| content("not PEM certificates".to_owned()))?;
    if certificates.is_empty() {
        return Err(content("holds no certificate".to_owned()));
    }
    Ok(certificates)
}

impl Material {
    fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let ca_pem = read("tls.ca_file", &files.ca_file)?;
        let chain_pem = read("tls.cert_file", &files.cert_file)?;
        let key_pem = read("tls.key_file", &files.key_file)?;
        let ca = certificates("tls.ca_file", &files.ca_file, &ca_pem)?;
        let chain = certificates("tls.cert_file", &files.cert_file, &chain_pem)?;
        let identity = fulcrum_pki::identity_of(&chain[0]).map_err(|error| TlsError::Content {
            key: "tls.cert_file",
            path: files.cert_file.clone(),
            reason: error.to_string(),
        })?;
        if identity.role != Role::Node {
            return Err(TlsError::Content {
                key: "tls.cert_file",
                path: files.cert_file.clone(),
                reason: format!(
                    "is a {} certificate for {:?}; a node needs one with the role node (fulcrum certs issue-node)",
                    identity.role, identity.principal
                ),
            });
        }
        // Never the PEM error itself: it quotes the key's text.
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| TlsError::Content {
                key: "tls.key_file",
                path: files.key_file.clone(),
                reason: "not a PEM private key (PKCS#8, PKCS#1 or SEC1)".to_owned(),
            })?;
        Ok(Self {
            ca,
            chain,
            key,
            key_pem,
            ca_pem,
            chain_pem,
        })
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        for certificate in &self.ca {
            roots
                .add(certificate.clone())
                .map_err(|error| TlsError::Config(format!("tls.ca_file: {error}")))?;
        }
        Ok(Arc::new(roots))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn verifier_error(error: VerifierBuilderError) -> TlsError {
    TlsError::Config(format!("tls.ca_file: {error}"))
}

/// A server configuration presenting the node's certificate to clients
/// that `verifier` accepts (`None`: no client certificate asked for),
/// offering the protocols `alpn`.
fn server_config(
    material: &Material,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(material.chain.clone(), material.key.clone_key())
        .map_err(|error| TlsError::Config(format!("tls.cert_file and tls.key_file: {error}")))?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Accepts a client certificate only when the cluster CA signed it and it
/// names the role `node`: the peer port's gate.
#[derive(Debug)]
pub struct NodeOnly {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for NodeOnly {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        match fulcrum_pki::identity_of(end_entity) {
            Ok(identity) if identity.role == Role::Node => Ok(verified),
            Ok(identity) => Err(rustls::Error::General(format!(
                "the peer port accepts node certificates only; {:?} holds the role {}",
                identity.principal, identity.role
            ))),
            Err(error) => Err(rustls::Error::General(format!(
                "the peer certificate names no Fulcrum identity: {error}"
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}

/// One loaded set: both server configurations and the peers' client side.
pub struct Loaded {
    /// The API port: client certificates optional.
    pub api: Arc<ServerConfig>,
    /// The peer port: node certificates only.
    pub peer: Arc<ServerConfig>,
    /// The HTTP port: no client certificates; h2 or HTTP/1.1.
    pub http: Arc<ServerConfig>,
    /// Outgoing peer connections (and this node's own calls to a member's API).
    pub peer_client: tonic::transport::ClientTlsConfig,
    /// The cluster CA (PEM), for clients this node makes of other APIs.
    pub ca_pem: String,
    /// This node's certificate chain and key (PEM), for the same.
    pub identity_pem: (String, String),
    /// Counts the sets loaded since start: a cached peer channel older than
    /// the current one is rebuilt.
    pub generation: u64,
}

impl Loaded {
    fn build(files: &TlsFiles, generation: u64) -> Result<Self, TlsError> {
        let material = Material::load(files)?;
        let roots = material.roots()?;
        let optional = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .allow_unauthenticated()
            .build()
            .map_err(verifier_error)?;
        let required = WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(verifier_error)?;
        let api = server_config(&material, Some(optional), &[ALPN_HTTP2])?;
        let peer = server_config(
            &material,
            Some(Arc::new(NodeOnly { inner: required })),
            &[ALPN_HTTP2],
        )?;
        let http = server_config(&material, None, &[ALPN_HTTP2, ALPN_HTTP1])?;
        let peer_client = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&material.ca_pem))
            .identity(tonic::transport::Identity::from_pem(
                &material.chain_pem,
                &material.key_pem,
            ));
        Ok(Self {
            api,
            peer,
            http,
            peer_client,
            ca_pem: material.ca_pem.clone(),
            identity_pem: (material.chain_pem.clone(), material.key_pem.clone()),
            generation,
        })
    }
}

/// The node's TLS: the current set, and the files it came from.
pub struct Tls {
    files: TlsFiles,
    current: ArcSwap<Loaded>,
    changes: ChangeWatch,
    generations: AtomicU64,
}

impl Tls {
    /// Loads the files once; an error here stops the node from starting.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let changes = ChangeWatch::new(vec![
            files.ca_file.clone(),
            files.cert_file.clone(),
            files.key_file.clone(),
        ]);
        let loaded = Loaded::build(&files, 0)?;
        Ok(Arc::new(Self {
            files,
            current: ArcSwap::from_pointee(loaded),
            changes,
            generations: AtomicU64::new(0),
        }))
    }

    /// The set new connections use.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// Reloads the files if they changed since the last look; true when a
    /// new set took effect.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        if !self.changes.changed() {
            return Ok(false);
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let loaded = Loaded::build(&self.files, generation)?;
        self.current.store(Arc::new(loaded));
        Ok(true)
    }

    /// Checks the files every `tls.reload_interval_ms`, forever.
    pub async fn watch(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.files.reload_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.reload_if_changed() {
                Ok(true) => tracing::info!(
                    cert_file = %self.files.cert_file.display(),
                    "the TLS files changed: new connections use the new certificate"
                ),
                Ok(false) => {}
                Err(error) => tracing::warn!(
                    %error,
                    "the TLS files changed but do not load; the previous certificate stays in use"
                ),
            }
        }
    }
}
