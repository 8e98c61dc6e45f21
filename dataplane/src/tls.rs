//! TLS termination: a rustls server configuration per HTTPS listener, built
//! once per configuration (not per thread), with the client's SNI name
//! choosing among the listener's certificates.
//!
//! The access log wants each connection's negotiated version and SNI name,
//! which monoio-rustls keeps inside its stream. Both are learnt during the
//! handshake instead: the certificate resolver sees the name and the
//! key-log hook sees which secrets the version derives (it keeps the
//! label, never the secret). These hooks run synchronously inside a poll
//! of the handshake, so [`accept`] reads what they left in a thread-local
//! right after each poll of its own handshake, before any other
//! connection's can run on the thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, KeyLog, ServerConfig};

use crate::access_log::Handshake;
use crate::config::Certificate;

thread_local! {
    /// What the hooks saw during the poll in progress on this thread.
    static SEEN: RefCell<Handshake> = RefCell::new(Handshake::default());
}

/// Completes the TLS handshake of `stream`, returning what it negotiated.
pub(crate) async fn accept<S>(
    acceptor: &monoio_rustls::TlsAcceptor,
    stream: S,
) -> Result<(monoio_rustls::ServerTlsStream<S>, Handshake), monoio_rustls::TlsError>
where
    S: monoio::io::AsyncReadRent + monoio::io::AsyncWriteRent,
{
    let mut negotiated = Handshake::default();
    let mut handshake = std::pin::pin!(acceptor.accept(stream));
    std::future::poll_fn(move |cx| {
        SEEN.with_borrow_mut(|seen| *seen = Handshake::default());
        let poll = handshake.as_mut().poll(cx);
        SEEN.with_borrow_mut(|seen| {
            let seen = std::mem::take(seen);
            negotiated.version = seen.version.or(negotiated.version);
            negotiated.sni = seen.sni.or(negotiated.sni.take());
        });
        poll.map(|done| done.map(|stream| (stream, std::mem::take(&mut negotiated))))
    })
    .await
}

/// Learns the negotiated version from the secrets a handshake derives.
#[derive(Debug)]
struct VersionProbe;

impl KeyLog for VersionProbe {
    fn will_log(&self, label: &str) -> bool {
        matches!(label, "CLIENT_RANDOM" | "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    }

    /// Keeps which label came; the secret is not looked at.
    fn log(&self, label: &str, _client_random: &[u8], _secret: &[u8]) {
        let version = match label {
            "CLIENT_RANDOM" => "TLSv1.2",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => "TLSv1.3",
            _ => return,
        };
        SEEN.with_borrow_mut(|seen| seen.version = Some(version));
    }
}

/// The crypto provider of the whole workspace: aws-lc-rs, the one that
/// monoio-rustls brings in through rustls's defaults, with AES-128-GCM
/// first among its suites (as most TLS terminators order them).
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
}

/// The server configuration for `certificates`: SNI chooses, the first
/// certificate answers clients that name no host or an unknown one, ALPN
/// offers `http/1.1` only.
///
/// # Errors
/// A message naming the certificate whose chain or key could not be used.
pub(crate) fn server_config(certificates: &[Certificate]) -> Result<Arc<ServerConfig>, String> {
    if certificates.is_empty() {
        return Err("an HTTPS listener needs a certificate".to_owned());
    }
    let provider = provider();
    let keys = certificates
        .iter()
        .map(|certificate| {
            certified_key(certificate, &provider)
                .map(Arc::new)
                .map_err(|reason| format!("certificate {}: {reason}", certificate.id))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS versions: {error}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver::new(keys)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's suite order decides, not the client's.
    config.ignore_client_order = true;
    config.key_log = Arc::new(VersionProbe);
    // Resumption by stateless tickets (AES-256 and HMAC-SHA256 keys made
    // here, rotated every 6 hours): a resumed handshake skips the
    // certificate signature, and no thread takes the session cache's lock
    // to store or find a session. The keys live with this configuration,
    // which unchanged certificates keep across generations; another node
    // (after a failover) answers a ticket with a full handshake.
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
        .map_err(|error| format!("session tickets: {error}"))?;
    Ok(Arc::new(config))
}

fn certified_key(
    certificate: &Certificate,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(certificate.chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("chain is not PEM: {error}"))?;
    if chain.is_empty() {
        return Err("the chain holds no certificate".to_owned());
    }
    webpki::EndEntityCert::try_from(&chain[0])
        .map_err(|error| format!("the leaf certificate cannot be parsed: {error}"))?;
    let key = PrivateKeyDer::from_pem_slice(certificate.private_key_pem.as_bytes())
        .map_err(|error| format!("private key is not PEM: {error}"))?;
    let key = CertifiedKey::from_der(chain, key, provider)
        .map_err(|error| format!("private key unusable with the chain: {error}"))?;
    Ok(key)
}

/// Chooses a certificate by the client's SNI name, from an index of the
/// certificates' DNS names built once per configuration (a handshake costs
/// a lookup, not a parse of every certificate): a certificate naming the
/// name exactly, else one whose wildcard (`*.example.com`) covers its first
/// label, else the first certificate. Among certificates naming the same
/// name, the first listed wins.
#[derive(Debug)]
struct SniResolver {
    keys: Vec<Arc<CertifiedKey>>,
    /// Lower-case DNS name → index in `keys`.
    exact: HashMap<String, usize>,
    /// Lower-case domain under a wildcard (`example.com` for
    /// `*.example.com`) → index in `keys`.
    wildcard: HashMap<String, usize>,
}

impl SniResolver {
    fn new(keys: Vec<Arc<CertifiedKey>>) -> Self {
        let (mut exact, mut wildcard) = (HashMap::new(), HashMap::new());
        for (index, key) in keys.iter().enumerate() {
            let Some(leaf) = key
                .end_entity_cert()
                .ok()
                .and_then(|leaf| webpki::EndEntityCert::try_from(leaf).ok())
            else {
                continue;
            };
            for name in leaf.valid_dns_names() {
                let name = name.to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(domain) => wildcard.entry(domain.to_owned()).or_insert(index),
                    None => exact.entry(name).or_insert(index),
                };
            }
        }
        Self {
            keys,
            exact,
            wildcard,
        }
    }

    fn for_name(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let lower;
        let name = if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let index = self.exact.get(name).or_else(|| {
            let (_, domain) = name.split_once('.')?;
            self.wildcard.get(domain)
        })?;
        self.keys.get(*index)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = client_hello.server_name();
        SEEN.with_borrow_mut(|seen| seen.sni = sni.map(Arc::from));
        sni.and_then(|name| self.for_name(name))
            .or_else(|| self.keys.first())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_certificates_are_named() {
        let bad = Certificate {
            id: "cert-9".to_owned(),
            chain_pem: "not pem".to_owned(),
            private_key_pem: String::new(),
        };
        let error = server_config(&[bad]).unwrap_err();
        assert!(error.starts_with("certificate cert-9: "), "{error}");
        assert!(server_config(&[]).is_err());
    }

    fn certified(names: &[&str]) -> Arc<CertifiedKey> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let issued = rcgen::generate_simple_self_signed(names).unwrap();
        let certificate = Certificate {
            id: "c".to_owned(),
            chain_pem: issued.cert.pem(),
            private_key_pem: issued.signing_key.serialize_pem(),
        };
        Arc::new(certified_key(&certificate, &provider()).unwrap())
    }

    #[test]
    fn sni_prefers_an_exact_name_then_a_wildcard_then_the_first() {
        let wildcard = certified(&["*.example.com"]);
        let exact = certified(&["api.example.com", "other.test"]);
        let resolver = SniResolver::new(vec![Arc::clone(&wildcard), Arc::clone(&exact)]);
        let chosen = |name: &str| resolver.for_name(name).map(Arc::clone);
        assert!(Arc::ptr_eq(&chosen("api.example.com").unwrap(), &exact));
        assert!(Arc::ptr_eq(&chosen("API.Example.COM").unwrap(), &exact));
        assert!(Arc::ptr_eq(&chosen("other.test").unwrap(), &exact));
        assert!(Arc::ptr_eq(&chosen("www.example.com").unwrap(), &wildcard));
        // A wildcard covers one label, not the domain itself nor two labels.
        assert!(chosen("example.com").is_none());
        assert!(chosen("a.b.example.com").is_none());
        assert!(chosen("unknown.test").is_none());
    }
}
