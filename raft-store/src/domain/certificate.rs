//! Reading an uploaded certificate: the PEM chain, its key, the leaf's
//! fingerprint and expiry. Pure functions of the uploaded text.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use super::rejection::Rejection;
use super::validate::MAX_PEM_BYTES;

/// What the domain learns from an uploaded certificate.
#[derive(Debug)]
pub(crate) struct ParsedCertificate {
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub(crate) fingerprint: String,
    /// The leaf's `notAfter`, in Unix milliseconds.
    pub(crate) not_after_ms: i64,
}

/// Checks the chain and the key and reads the leaf's fingerprint and expiry.
///
/// Whether the key matches the leaf needs a crypto provider; the node checks
/// that before it proposes the upload, and the data plane again when it loads it.
pub(crate) fn parse(chain_pem: &str, key_pem: &str) -> Result<ParsedCertificate, Rejection> {
    for (field, pem) in [("certificate_chain", chain_pem), ("private_key", key_pem)] {
        if pem.len() > MAX_PEM_BYTES {
            return Err(Rejection::invalid(
                field,
                format!(
                    "has {} bytes; at most {MAX_PEM_BYTES} are accepted",
                    pem.len()
                ),
            ));
        }
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
    PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|error| {
        Rejection::invalid(
            "private_key",
            format!("is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {error}"),
        )
    })?;
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
