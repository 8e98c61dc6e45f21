//! Making certificates: the cluster CA, and the node and client certificates
//! it issues with the identity encoding of the crate's documentation.

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;

use crate::identity::{PRINCIPAL_MAX_BYTES, Role, check_name};
use crate::{Pem, PkiError};

/// The CA's subject CN, followed by the optional name of [`CaOptions`].
pub const CA_COMMON_NAME: &str = "Fulcrum cluster CA";
/// The longest CA name: RFC 5280 bounds a CN at 64 characters, and the name
/// follows [`CA_COMMON_NAME`] and a space.
pub const CA_NAME_MAX_BYTES: usize = 64 - CA_COMMON_NAME.len() - 1;
/// The shortest validity, in days, of any certificate.
pub const VALIDITY_DAYS_MIN: u32 = 1;
/// A CA's validity when the caller names none: ten years.
pub const CA_VALIDITY_DAYS_DEFAULT: u32 = 3650;
/// The longest validity of a CA: a hundred years.
pub const CA_VALIDITY_DAYS_MAX: u32 = 36500;
/// A node or client certificate's validity when the caller names none: a year.
pub const LEAF_VALIDITY_DAYS_DEFAULT: u32 = 365;
/// The longest validity of a node or client certificate: ten years.
pub const LEAF_VALIDITY_DAYS_MAX: u32 = 3650;
/// The most subject alternative names on a node certificate.
pub const HOSTS_MAX: usize = 64;

/// How far before its issue a certificate becomes valid, so that a node whose
/// clock is behind the issuing machine's accepts it at once.
const NOT_BEFORE_BACKDATE: Duration = Duration::hours(1);
/// Octets of a certificate's random serial number.
const SERIAL_BYTES: usize = 16;
/// Where serial numbers come from.
const RANDOM_SOURCE: &str = "/dev/urandom";
/// The longest DNS name, in bytes (RFC 1035).
const DNS_NAME_MAX_BYTES: usize = 253;
/// The longest DNS label, in bytes (RFC 1035).
const DNS_LABEL_MAX_BYTES: usize = 63;

/// What the cluster CA is made of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaOptions {
    /// Appended to [`CA_COMMON_NAME`] in the CA's CN (`Fulcrum cluster CA
    /// prod`): 1 to [`CA_NAME_MAX_BYTES`] characters of the principal set.
    pub name: Option<String>,
    /// [`VALIDITY_DAYS_MIN`] to [`CA_VALIDITY_DAYS_MAX`]; `None` is
    /// [`CA_VALIDITY_DAYS_DEFAULT`].
    pub validity_days: Option<u32>,
}

/// What a node certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeOptions {
    /// The node's name, the CN (`node-1`); the principal rules apply.
    pub name: String,
    /// Every IP address and DNS name the node answers on: 1 to [`HOSTS_MAX`].
    /// An IP address becomes an IP SAN; anything else must be a DNS name, and
    /// `*.` may start it.
    pub hosts: Vec<String>,
    /// [`VALIDITY_DAYS_MIN`] to [`LEAF_VALIDITY_DAYS_MAX`]; `None` is
    /// [`LEAF_VALIDITY_DAYS_DEFAULT`].
    pub validity_days: Option<u32>,
}

/// What a client certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// The CN; see [`check_principal`](crate::check_principal).
    pub principal: String,
    /// The OU: viewer, operator or admin; never node.
    pub role: Role,
    /// [`VALIDITY_DAYS_MIN`] to [`LEAF_VALIDITY_DAYS_MAX`]; `None` is
    /// [`LEAF_VALIDITY_DAYS_DEFAULT`].
    pub validity_days: Option<u32>,
}

/// Makes a self-signed cluster CA: ECDSA P-256, basic constraints CA with
/// path length 0 (it signs node and client certificates, never another CA),
/// key usages certificate signing, CRL signing and digital signature.
pub fn create_ca(options: &CaOptions) -> Result<Pem, PkiError> {
    let mut common_name = CA_COMMON_NAME.to_owned();
    if let Some(name) = &options.name {
        check_name("name", name, CA_NAME_MAX_BYTES)?;
        common_name.push(' ');
        common_name.push_str(name);
    }
    let (not_before, not_after) = validity(
        options.validity_days,
        CA_VALIDITY_DAYS_DEFAULT,
        CA_VALIDITY_DAYS_MAX,
    )?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before;
    params.not_after = not_after;
    let key = new_key()?;
    let certificate = params
        .self_signed(&key)
        .map_err(PkiError::generate("CA certificate"))?;
    Ok(Pem {
        certificate: certificate.pem(),
        private_key: key.serialize_pem(),
    })
}

/// The cluster CA, loaded to issue node and client certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's subject, for `Debug`.
    subject: String,
    /// No certificate it issues outlives it.
    not_after: OffsetDateTime,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Loads the CA from its PEM certificate (one `CERTIFICATE` section) and
    /// private key. Refuses a certificate that is not a CA, and a key that is
    /// not ECDSA P-256 or not the certificate's.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, PkiError> {
        let der = only_certificate(certificate_pem)?;
        let (_, certificate) = X509Certificate::from_der(&der).map_err(|error| PkiError::Pem {
            what: "ca certificate",
            reason: format!("not a DER X.509 certificate: {error}"),
        })?;
        if !certificate.is_ca() {
            return Err(PkiError::Authority {
                reason: "the certificate is not a CA (its basic constraints lack CA:TRUE)"
                    .to_owned(),
            });
        }
        if let Ok(Some(usage)) = certificate.key_usage()
            && !usage.value.key_cert_sign()
        {
            return Err(PkiError::Authority {
                reason: "the certificate's key usage lacks certificate signing".to_owned(),
            });
        }
        let key = KeyPair::from_pem(private_key_pem).map_err(|error| PkiError::Pem {
            what: "ca private key",
            reason: format!("not a PEM private key: {error}"),
        })?;
        if key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(PkiError::Authority {
                reason: "the private key is not ECDSA P-256".to_owned(),
            });
        }
        if key.public_key_raw() != certificate.public_key().subject_public_key.data.as_ref() {
            return Err(PkiError::Authority {
                reason: "the private key is not the certificate's".to_owned(),
            });
        }
        let subject = certificate.subject().to_string();
        let not_after = certificate.validity().not_after.to_datetime();
        let issuer =
            Issuer::from_ca_cert_der(&der, key).map_err(PkiError::generate("CA issuer"))?;
        Ok(Authority {
            issuer,
            subject,
            not_after,
        })
    }

    /// Issues a node certificate: CN the node's name, OU `node`, a SAN for
    /// each host, usable for TLS server and client authentication.
    pub fn issue_node(&self, options: &NodeOptions) -> Result<Pem, PkiError> {
        check_name("name", &options.name, PRINCIPAL_MAX_BYTES)?;
        let subject_alt_names = parse_hosts(&options.hosts)?;
        self.issue(Leaf {
            what: "node certificate",
            common_name: &options.name,
            role: Role::Node,
            subject_alt_names,
            extended_key_usages: vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            validity_days: options.validity_days,
        })
    }

    /// Issues a client certificate: CN the principal, OU the role (viewer,
    /// operator or admin), usable for TLS client authentication only.
    pub fn issue_client(&self, options: &ClientOptions) -> Result<Pem, PkiError> {
        check_name("principal", &options.principal, PRINCIPAL_MAX_BYTES)?;
        if options.role == Role::Node {
            return Err(PkiError::invalid(
                "role",
                options.role.as_str(),
                "is for node certificates; a client certificate takes viewer, operator or admin",
            ));
        }
        self.issue(Leaf {
            what: "client certificate",
            common_name: &options.principal,
            role: options.role,
            subject_alt_names: Vec::new(),
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ClientAuth],
            validity_days: options.validity_days,
        })
    }

    fn issue(&self, leaf: Leaf<'_>) -> Result<Pem, PkiError> {
        let (not_before, not_after) = validity(
            leaf.validity_days,
            LEAF_VALIDITY_DAYS_DEFAULT,
            LEAF_VALIDITY_DAYS_MAX,
        )?;
        if not_after > self.not_after {
            let days = leaf.validity_days.unwrap_or(LEAF_VALIDITY_DAYS_DEFAULT);
            return Err(PkiError::invalid_number(
                "validity_days",
                u64::from(days),
                format!(
                    "would outlive the CA, which expires {}: issue for fewer days or rotate the CA",
                    crate::describe::rfc3339(self.not_after)
                ),
            ));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, leaf.common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, leaf.role.as_str());
        params.subject_alt_names = leaf.subject_alt_names;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = leaf.extended_key_usages;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = new_key()?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::generate(leaf.what))?;
        Ok(Pem {
            certificate: certificate.pem(),
            private_key: key.serialize_pem(),
        })
    }
}

/// A node or client certificate, checked, before its key and signature.
struct Leaf<'a> {
    what: &'static str,
    common_name: &'a str,
    role: Role,
    subject_alt_names: Vec<SanType>,
    extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    validity_days: Option<u32>,
}

/// The one certificate of the CA's PEM.
fn only_certificate(pem: &str) -> Result<CertificateDer<'static>, PkiError> {
    let what = "ca certificate";
    let mut certificates = CertificateDer::pem_slice_iter(pem.as_bytes());
    match (certificates.next(), certificates.next()) {
        (Some(Ok(der)), None) => Ok(der),
        (Some(Err(error)), _) | (Some(Ok(_)), Some(Err(error))) => Err(PkiError::Pem {
            what,
            reason: error.to_string(),
        }),
        (None, _) => Err(PkiError::Pem {
            what,
            reason: "no CERTIFICATE section".to_owned(),
        }),
        (Some(Ok(_)), Some(Ok(_))) => Err(PkiError::Pem {
            what,
            reason: "more than one CERTIFICATE section; give the CA's alone".to_owned(),
        }),
    }
}

/// Not before and not after, from now, for a validity in days.
fn validity(
    days: Option<u32>,
    default_days: u32,
    max_days: u32,
) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    let days = days.unwrap_or(default_days);
    if !(VALIDITY_DAYS_MIN..=max_days).contains(&days) {
        return Err(PkiError::invalid_number(
            "validity_days",
            u64::from(days),
            format!("must be {VALIDITY_DAYS_MIN} to {max_days} days"),
        ));
    }
    let now = OffsetDateTime::now_utc();
    Ok((
        now - NOT_BEFORE_BACKDATE,
        now + Duration::days(i64::from(days)),
    ))
}

fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::generate("key pair"))
}

/// [`SERIAL_BYTES`] random octets, positive and with a non-zero first octet so
/// that the DER integer keeps all of them.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; SERIAL_BYTES];
    File::open(RANDOM_SOURCE)
        .and_then(|mut source| source.read_exact(&mut bytes))
        .map_err(|source| PkiError::Io {
            action: "reading",
            path: Path::new(RANDOM_SOURCE).to_path_buf(),
            source,
        })?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A SAN per host: an IP SAN for an IP address, else a DNS SAN.
fn parse_hosts(hosts: &[String]) -> Result<Vec<SanType>, PkiError> {
    if !(1..=HOSTS_MAX).contains(&hosts.len()) {
        return Err(PkiError::invalid_number(
            "hosts",
            hosts.len() as u64,
            format!(
                "entries given; a node certificate needs 1 to {HOSTS_MAX} IP addresses or DNS names"
            ),
        ));
    }
    hosts
        .iter()
        .enumerate()
        .map(|(index, host)| parse_host(index, host))
        .collect()
}

fn parse_host(index: usize, host: &str) -> Result<SanType, PkiError> {
    if let Ok(address) = host.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(address));
    }
    let refuse = || {
        PkiError::invalid(
            format!("hosts[{index}]"),
            host,
            format!(
                "must be an IP address or a DNS name: dot-separated labels of 1 to \
                 {DNS_LABEL_MAX_BYTES} letters, digits and hyphens (no hyphen at either end), \
                 at most {DNS_NAME_MAX_BYTES} characters, the last label not all digits, \
                 optionally starting with *."
            ),
        )
    };
    if !dns_name_is_valid(host) {
        return Err(refuse());
    }
    let name = rcgen::string::Ia5String::try_from(host).map_err(|_| refuse())?;
    Ok(SanType::DnsName(name))
}

fn dns_name_is_valid(name: &str) -> bool {
    if name.is_empty() || name.len() > DNS_NAME_MAX_BYTES {
        return false;
    }
    let name = name.strip_prefix("*.").unwrap_or(name);
    let labels_are_valid = name.split('.').all(|label| {
        let bytes = label.as_bytes();
        (1..=DNS_LABEL_MAX_BYTES).contains(&bytes.len())
            && bytes
                .iter()
                .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    // An all-digit last label is a mistyped IP address (`10.0.0`), never a
    // name the node answers to.
    let last_label_has_letter = name
        .rsplit('.')
        .next()
        .is_some_and(|label| !label.bytes().all(|byte| byte.is_ascii_digit()));
    labels_are_valid && last_label_has_letter
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's SAN, or the error's message.
    fn check(host: &str, expected: Result<&str, ()>) {
        let actual = parse_host(3, host);
        match (actual, expected) {
            (Ok(SanType::IpAddress(address)), Ok(text)) => assert_eq!(address.to_string(), text),
            (Ok(SanType::DnsName(name)), Ok(text)) => assert_eq!(name.as_str(), text),
            (Err(error), Err(())) => {
                let message = error.to_string();
                assert!(message.starts_with("hosts[3]: \""), "{message}");
                assert!(
                    message.contains(" must be an IP address or a DNS name: "),
                    "{message}"
                );
            }
            (actual, expected) => panic!("host {host:?}: got {actual:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn hosts() {
        check("10.0.0.1", Ok("10.0.0.1"));
        check("::1", Ok("::1"));
        check("fd00::7", Ok("fd00::7"));
        check("node-1", Ok("node-1"));
        check("node-1.fulcrum.internal", Ok("node-1.fulcrum.internal"));
        check("*.fulcrum.internal", Ok("*.fulcrum.internal"));
        check("localhost", Ok("localhost"));
        check("", Err(()));
        check("10.0.0", Err(()));
        check("10.0.0.256", Err(()));
        check("-node", Err(()));
        check("node-", Err(()));
        check("node..internal", Err(()));
        check("node.internal.", Err(()));
        check(".node", Err(()));
        check("no de", Err(()));
        check("node_1", Err(()));
        check("*", Err(()));
        check("*.", Err(()));
        check("a.*.b", Err(()));
        check("[::1]", Err(()));
        check("10.0.0.1:7000", Err(()));
        check("nodé", Err(()));
        check(
            &"a".repeat(DNS_LABEL_MAX_BYTES),
            Ok(&"a".repeat(DNS_LABEL_MAX_BYTES)),
        );
        check(&"a".repeat(DNS_LABEL_MAX_BYTES + 1), Err(()));
        let longest = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(longest.len(), DNS_NAME_MAX_BYTES);
        check(&longest, Ok(&longest));
        check(&format!("{longest}e"), Err(()));
    }

    #[test]
    fn host_counts() {
        let message = |hosts: Vec<String>| {
            parse_hosts(&hosts).map_or_else(|error| error.to_string(), |_| "accepted".to_owned())
        };
        assert_eq!(
            message(Vec::new()),
            "hosts: 0 entries given; a node certificate needs 1 to 64 IP addresses or DNS names"
        );
        assert_eq!(
            message(vec!["10.0.0.1".to_owned(); HOSTS_MAX + 1]),
            "hosts: 65 entries given; a node certificate needs 1 to 64 IP addresses or DNS names"
        );
        assert_eq!(message(vec!["10.0.0.1".to_owned(); HOSTS_MAX]), "accepted");
    }

    #[test]
    fn validity_bounds() {
        let message = |days, max| {
            validity(Some(days), 1, max)
                .map_or_else(|error| error.to_string(), |_| "accepted".to_owned())
        };
        assert_eq!(message(0, 3650), "validity_days: 0 must be 1 to 3650 days");
        assert_eq!(message(1, 3650), "accepted");
        assert_eq!(message(3650, 3650), "accepted");
        assert_eq!(
            message(3651, 3650),
            "validity_days: 3651 must be 1 to 3650 days"
        );
        let (not_before, not_after) = validity(None, 365, 3650).unwrap();
        assert_eq!(
            not_after - not_before,
            Duration::days(365) + NOT_BEFORE_BACKDATE
        );
    }

    #[test]
    fn serials_are_sixteen_positive_octets() {
        let first = random_serial().unwrap();
        let second = random_serial().unwrap();
        assert_eq!(first.len(), SERIAL_BYTES);
        assert_ne!(first, second);
        let bytes = first.to_bytes();
        assert_eq!(bytes[0] & 0xc0, 0x40);
    }
}
