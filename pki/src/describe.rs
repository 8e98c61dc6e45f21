//! What a PEM bundle holds, certificate by certificate, for people.

use std::fmt;
use std::net::IpAddr;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use sha2::{Digest as _, Sha256};
use time::{OffsetDateTime, UtcOffset};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer as _;

use crate::{PkiError, Role, hex};

/// The most certificates [`describe`] reads from one bundle.
pub const BUNDLE_CERTIFICATES_MAX: usize = 100;

/// One certificate, as [`describe`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// The subject distinguished name: `CN=node-1, OU=node`.
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// The subject CN, when there is one.
    pub principal: Option<String>,
    /// The subject OU, when it names a role.
    pub role: Option<Role>,
    /// Whether the basic constraints say CA.
    pub is_ca: bool,
    /// IP addresses and DNS names; other kinds as `uri:...`, `email:...` or
    /// `other`.
    pub subject_alt_names: Vec<String>,
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// The serial number's octets, lower-case hexadecimal.
    pub serial: String,
    /// SHA-256 of the DER certificate, lower-case hexadecimal, no colons.
    pub sha256_fingerprint: String,
    /// Key usages: `digital_signature`, `key_cert_sign`, `crl_sign`, ...
    pub key_usages: Vec<String>,
    /// Extended key usages: `server_auth`, `client_auth`, ...
    pub extended_key_usages: Vec<String>,
}

/// Describes every certificate of a PEM bundle, in order. Sections other
/// than `CERTIFICATE` are skipped; a bundle without any certificate, or with
/// more than [`BUNDLE_CERTIFICATES_MAX`], is refused.
pub fn describe(certificate_pem: &str) -> Result<Vec<Description>, PkiError> {
    let what = "certificate bundle";
    let mut descriptions = Vec::new();
    for (index, der) in CertificateDer::pem_slice_iter(certificate_pem.as_bytes()).enumerate() {
        if index == BUNDLE_CERTIFICATES_MAX {
            return Err(PkiError::Pem {
                what,
                reason: format!("more than {BUNDLE_CERTIFICATES_MAX} certificates"),
            });
        }
        let der = der.map_err(|error| PkiError::Pem {
            what,
            reason: error.to_string(),
        })?;
        descriptions.push(describe_der(&der).map_err(|error| PkiError::Pem {
            what,
            reason: format!("certificate {}: {error}", index + 1),
        })?);
    }
    if descriptions.is_empty() {
        return Err(PkiError::Pem {
            what,
            reason: "no CERTIFICATE section".to_owned(),
        });
    }
    Ok(descriptions)
}

fn describe_der(der: &[u8]) -> Result<Description, String> {
    let (_, certificate) = X509Certificate::from_der(der)
        .map_err(|error| format!("not a DER X.509 certificate: {error}"))?;
    let subject = certificate.subject();
    let principal = subject
        .iter_common_name()
        .next()
        .and_then(|name| name.as_str().ok())
        .map(str::to_owned);
    let role = subject
        .iter_organizational_unit()
        .next()
        .and_then(|unit| unit.as_str().ok())
        .and_then(|unit| unit.parse().ok());
    let subject_alt_names = match certificate.subject_alternative_name() {
        Ok(Some(names)) => names.value.general_names.iter().map(general_name).collect(),
        Ok(None) => Vec::new(),
        Err(error) => return Err(format!("subject alternative names: {error}")),
    };
    let key_usages = match certificate.key_usage() {
        Ok(Some(usage)) => {
            let usage = usage.value;
            [
                (usage.digital_signature(), "digital_signature"),
                (usage.non_repudiation(), "non_repudiation"),
                (usage.key_encipherment(), "key_encipherment"),
                (usage.data_encipherment(), "data_encipherment"),
                (usage.key_agreement(), "key_agreement"),
                (usage.key_cert_sign(), "key_cert_sign"),
                (usage.crl_sign(), "crl_sign"),
                (usage.encipher_only(), "encipher_only"),
                (usage.decipher_only(), "decipher_only"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name.to_owned())
            .collect()
        }
        Ok(None) => Vec::new(),
        Err(error) => return Err(format!("key usage: {error}")),
    };
    let extended_key_usages = match certificate.extended_key_usage() {
        Ok(Some(usage)) => {
            let usage = usage.value;
            let mut names: Vec<String> = [
                (usage.any, "any"),
                (usage.server_auth, "server_auth"),
                (usage.client_auth, "client_auth"),
                (usage.code_signing, "code_signing"),
                (usage.email_protection, "email_protection"),
                (usage.time_stamping, "time_stamping"),
                (usage.ocsp_signing, "ocsp_signing"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name.to_owned())
            .collect();
            names.extend(usage.other.iter().map(|oid| oid.to_id_string()));
            names
        }
        Ok(None) => Vec::new(),
        Err(error) => return Err(format!("extended key usage: {error}")),
    };
    let validity = certificate.validity();
    Ok(Description {
        subject: subject.to_string(),
        issuer: certificate.issuer().to_string(),
        principal,
        role,
        is_ca: certificate.is_ca(),
        subject_alt_names,
        not_before: rfc3339(validity.not_before.to_datetime()),
        not_after: rfc3339(validity.not_after.to_datetime()),
        serial: hex(certificate.raw_serial()),
        sha256_fingerprint: hex(&Sha256::digest(der)),
        key_usages,
        extended_key_usages,
    })
}

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(name) => (*name).to_owned(),
        GeneralName::IPAddress(octets) => match *octets {
            [a, b, c, d] => IpAddr::from([*a, *b, *c, *d]).to_string(),
            octets => match <[u8; 16]>::try_from(octets) {
                Ok(octets) => IpAddr::from(octets).to_string(),
                Err(_) => format!("ip:{}", hex(octets)),
            },
        },
        GeneralName::URI(uri) => format!("uri:{uri}"),
        GeneralName::RFC822Name(address) => format!("email:{address}"),
        _ => "other".to_owned(),
    }
}

/// `2025-01-31T12:00:00Z`: RFC 3339 in UTC, whole seconds.
pub(crate) fn rfc3339(time: OffsetDateTime) -> String {
    let time = time.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

impl fmt::Display for Description {
    /// One `field: value` line per field; lists are comma-separated, and an
    /// absent value or empty list is `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(items: &[String]) -> String {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join(", ")
            }
        }
        writeln!(f, "subject: {}", self.subject)?;
        writeln!(f, "issuer: {}", self.issuer)?;
        writeln!(f, "principal: {}", self.principal.as_deref().unwrap_or("-"))?;
        writeln!(f, "role: {}", self.role.map_or("-", Role::as_str))?;
        writeln!(f, "is_ca: {}", self.is_ca)?;
        writeln!(f, "subject_alt_names: {}", list(&self.subject_alt_names))?;
        writeln!(f, "not_before: {}", self.not_before)?;
        writeln!(f, "not_after: {}", self.not_after)?;
        writeln!(f, "serial: {}", self.serial)?;
        writeln!(f, "sha256_fingerprint: {}", self.sha256_fingerprint)?;
        writeln!(f, "key_usages: {}", list(&self.key_usages))?;
        writeln!(
            f,
            "extended_key_usages: {}",
            list(&self.extended_key_usages)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        let time = OffsetDateTime::from_unix_timestamp(1_738_324_805).unwrap();
        assert_eq!(rfc3339(time), "2025-01-31T12:00:05Z");
        let offset = UtcOffset::from_hms(2, 0, 0).unwrap();
        assert_eq!(rfc3339(time.to_offset(offset)), "2025-01-31T12:00:05Z");
    }

    #[test]
    fn bundles_without_certificates_are_refused() {
        for bundle in [
            "",
            "hello",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let error = describe(bundle).map(|descriptions| descriptions.len());
            assert!(
                matches!(
                    &error,
                    Err(PkiError::Pem {
                        what: "certificate bundle",
                        ..
                    })
                ),
                "{bundle:?}: {error:?}"
            );
        }
    }
}
