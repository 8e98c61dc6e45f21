//! Reading an uploaded certificate: the PEM chain, its key, the leaf's
//! fingerprint and expiry. Pure functions of the uploaded text.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use super::limits::Rules;
use super::rejection::Rejection;
use super::sealed::Sealed;
use super::validate::MAX_PEM_BYTES;

/// What the domain learns from an uploaded certificate.
#[derive(Debug)]
pub struct ParsedCertificate {
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub fingerprint: String,
    /// The leaf's `notAfter`, in Unix milliseconds.
    pub not_after_ms: i64,
}

/// Checks the chain and the key and reads the leaf's fingerprint and expiry.
/// Under `rules` that seal keys (log format 3), the key must be a sealed
/// text, whose shape alone is checked; before, a clear PEM key.
///
/// Whether the key matches the leaf needs a crypto provider and the clear
/// key; the node checks that before it seals and proposes the upload, and
/// the data plane again when it loads it.
pub(crate) fn parse(
    chain_pem: &str,
    key: &str,
    rules: Rules,
) -> Result<ParsedCertificate, Rejection> {
    if rules.sealed_keys() {
        Sealed::parse("private_key", key)?;
        return parse_chain(chain_pem);
    }
    check_clear_key(key)?;
    parse_chain(chain_pem)
}

/// Checks a clear PEM private key (what a client uploads, and what entries
/// before log format 3 hold).
pub fn check_clear_key(key_pem: &str) -> Result<(), Rejection> {
    if key_pem.len() > MAX_PEM_BYTES {
        return Err(Rejection::invalid(
            "private_key",
            format!(
                "has {} bytes; at most {MAX_PEM_BYTES} are accepted",
                key_pem.len()
            ),
        ));
    }
    // Never the PEM error itself: it quotes the key's text, and a refusal
    // is logged and shown.
    PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
        Rejection::invalid(
            "private_key",
            "is not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        )
    })?;
    Ok(())
}

/// Checks the chain and reads the leaf's fingerprint and expiry.
pub fn parse_chain(chain_pem: &str) -> Result<ParsedCertificate, Rejection> {
    if chain_pem.len() > MAX_PEM_BYTES {
        return Err(Rejection::invalid(
            "certificate_chain",
            format!(
                "has {} bytes; at most {MAX_PEM_BYTES} are accepted",
                chain_pem.len()
            ),
        ));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|error| {
            Rejection::invalid("certificate_chain", format!("is not valid PEM: {error}"))
        })?;
    let Some(leaf) = chain.first() else {
        return Err(Rejection::invalid(
            "certificate_chain",
            "holds no \"BEGIN CERTIFICATE\" block; give the leaf certificate first",
        ));
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|error| {
        Rejection::invalid(
            "certificate_chain",
            format!("the first certificate is not valid X.509: {error}"),
        )
    })?;
    for (position, certificate) in chain.iter().enumerate().skip(1) {
        if x509_parser::parse_x509_certificate(certificate.as_ref()).is_err() {
            return Err(Rejection::invalid(
                "certificate_chain",
                format!(
                    "certificate {} of the chain is not valid X.509",
                    position + 1
                ),
            ));
        }
    }
    let fingerprint = Sha256::digest(leaf.as_ref())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let not_after_ms = parsed.validity().not_after.timestamp().saturating_mul(1000);
    Ok(ParsedCertificate {
        fingerprint,
        not_after_ms,
    })
}
