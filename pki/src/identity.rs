//! The identity a certificate names: the principal in the subject CN, the
//! role in the subject OU; checked when issued, read on every handshake.

use std::fmt;
use std::str::FromStr;

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::AttributeTypeAndValue;

use crate::PkiError;
use crate::error::quoted;

/// The longest principal, in bytes (every allowed character is one byte).
pub const PRINCIPAL_MAX_BYTES: usize = 128;

/// What a certificate's holder may do; the subject OU spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A client that reads.
    Viewer,
    /// A client that reads and changes load balancers.
    Operator,
    /// A client that may do everything.
    Admin,
    /// A cluster node: the only role of a node certificate, never a client's.
    Node,
}

impl Role {
    /// Every role, in the order of their names in messages.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Node];

    /// The OU spelling: `viewer`, `operator`, `admin`, `node`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Node => "node",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = PkiError;

    /// Exact, lower-case names only: the OU is compared byte for byte.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| PkiError::invalid("role", text, ROLE_RULE))
    }
}

const ROLE_RULE: &str = "must be one of viewer, operator, admin, node";

/// Who a certificate names and in which role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The subject CN.
    pub principal: String,
    /// The subject OU.
    pub role: Role,
}

/// Checks a principal: 1 to [`PRINCIPAL_MAX_BYTES`] characters of
/// `A-Z a-z 0-9 . _ @ -`, the first a letter or digit. The error names the
/// field `principal`.
pub fn check_principal(principal: &str) -> Result<(), PkiError> {
    check_name("principal", principal, PRINCIPAL_MAX_BYTES)
}

/// The principal rule for any field (a node's `name` follows it too), with
/// its own length bound.
pub(crate) fn check_name(field: &str, value: &str, max_bytes: usize) -> Result<(), PkiError> {
    if name_is_valid(value, max_bytes) {
        Ok(())
    } else {
        Err(PkiError::invalid(field, value, name_rule(max_bytes)))
    }
}

fn name_is_valid(value: &str, max_bytes: usize) -> bool {
    let bytes = value.as_bytes();
    (1..=max_bytes).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'@' | b'-'))
}

fn name_rule(max_bytes: usize) -> String {
    format!(
        "must be 1 to {max_bytes} characters of A-Z a-z 0-9 . _ @ -, starting with a letter or digit"
    )
}

/// Reads the principal (subject CN) and role (subject OU) of a DER
/// certificate, checking both against the rules they were issued under.
///
/// This reads; it does not verify. Call it on a certificate the TLS stack has
/// already verified against the cluster CA. The cost is one X.509 parse.
pub fn identity_of(certificate_der: &[u8]) -> Result<Identity, PkiError> {
    let (rest, certificate) =
        X509Certificate::from_der(certificate_der).map_err(|error| PkiError::Certificate {
            reason: format!("not a DER X.509 certificate: {error}"),
        })?;
    if !rest.is_empty() {
        return Err(PkiError::Certificate {
            reason: format!("{} bytes follow the certificate", rest.len()),
        });
    }
    let subject = certificate.subject();
    let principal = only_string(
        subject.iter_common_name(),
        "common name (CN), the principal",
    )?;
    let role = only_string(
        subject.iter_organizational_unit(),
        "organizational unit (OU), the role",
    )?;
    if !name_is_valid(principal, PRINCIPAL_MAX_BYTES) {
        return Err(PkiError::Certificate {
            reason: format!(
                "subject CN (the principal) {} {}",
                quoted(principal),
                name_rule(PRINCIPAL_MAX_BYTES)
            ),
        });
    }
    let role = Role::from_str(role).map_err(|_| PkiError::Certificate {
        reason: format!("subject OU (the role) {} {ROLE_RULE}", quoted(role)),
    })?;
    Ok(Identity {
        principal: principal.to_owned(),
        role,
    })
}

/// The one attribute of a kind in a subject, as text.
fn only_string<'a, 'b: 'a>(
    mut attributes: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>,
    what: &str,
) -> Result<&'b str, PkiError> {
    let (Some(first), None) = (attributes.next(), attributes.next()) else {
        return Err(PkiError::Certificate {
            reason: format!("the subject must have exactly one {what}"),
        });
    };
    first.as_str().map_err(|_| PkiError::Certificate {
        reason: format!("the subject's {what} is not a string"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok` or the error's message.
    fn check(principal: &str, expected: Result<(), &str>) {
        let actual = check_principal(principal).map_err(|error| error.to_string());
        assert_eq!(
            actual,
            expected.map_err(str::to_owned),
            "principal {principal:?}"
        );
    }

    #[test]
    fn principals() {
        let rule =
            "must be 1 to 128 characters of A-Z a-z 0-9 . _ @ -, starting with a letter or digit";
        check("alice", Ok(()));
        check("node-1", Ok(()));
        check("ops@example.com", Ok(()));
        check("A.b_c-d@9", Ok(()));
        check("7", Ok(()));
        check(&"a".repeat(PRINCIPAL_MAX_BYTES), Ok(()));
        check("a b", Err(&format!("principal: \"a b\" {rule}")));
        check("", Err(&format!("principal: \"\" {rule}")));
        check("-alice", Err(&format!("principal: \"-alice\" {rule}")));
        check(".alice", Err(&format!("principal: \".alice\" {rule}")));
        check("alicé", Err(&format!("principal: \"alicé\" {rule}")));
        check("a/b", Err(&format!("principal: \"a/b\" {rule}")));
        check(
            "a,OU=admin",
            Err(&format!("principal: \"a,OU=admin\" {rule}")),
        );
        let long = "a".repeat(PRINCIPAL_MAX_BYTES + 1);
        let error = check_principal(&long).map(|()| "accepted".to_owned());
        assert!(
            matches!(&error, Err(PkiError::Invalid { field, .. }) if field == "principal"),
            "{error:?}"
        );
    }

    #[test]
    fn roles() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        for bad in ["Admin", "root", "", " admin"] {
            let error = bad.parse::<Role>().map(|role| role.to_string());
            assert_eq!(
                error.map_err(|error| error.to_string()),
                Err(format!(
                    "role: {bad:?} must be one of viewer, operator, admin, node"
                ))
            );
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let message = identity_of(b"not der").unwrap_err().to_string();
        assert!(
            message.starts_with("certificate: not a DER X.509 certificate: "),
            "{message}"
        );
    }
}
