//! The crate's error: what went wrong, naming the field or file and the rule.

use std::io;
use std::path::PathBuf;

/// How many characters of a refused value an error repeats; the rest is cut.
const SHOWN_VALUE_MAX_CHARS: usize = 64;

/// Why a certificate could not be made, read or written.
///
/// Sorted by what the caller can do: fix an argument, allow an overwrite,
/// bring other PEM or another certificate, fix the file system; the last is a
/// bug.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// An argument breaks a rule. `value` is already quoted (and cut when
    /// long) for the message: `principal: "a b" must be ...`.
    #[error("{field}: {value} {rule}")]
    Invalid {
        /// The argument, as the caller names it: `principal`, `hosts[2]`.
        field: String,
        /// The refused value, quoted when it is text.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The file exists and the caller did not ask to overwrite it.
    #[error("{}: already exists (overwrite it only when asked to)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// PEM text that does not hold what it should.
    #[error("{what}: {reason}")]
    Pem {
        /// Which input: `ca certificate`, `ca private key`, `certificate bundle`.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate that is not DER X.509, or does not name an identity the
    /// way the cluster encodes it.
    #[error("certificate: {reason}")]
    Certificate {
        /// What is wrong with it.
        reason: String,
    },
    /// A CA certificate and key that cannot issue: not a CA, or a key that is
    /// not the certificate's.
    #[error("ca: {reason}")]
    Authority {
        /// What is wrong with them.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done: `creating`, `writing`, `renaming to`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// rcgen refused to build or sign a certificate from checked input: a
    /// bug in this crate.
    #[error("generating {what}: {source}")]
    Generate {
        /// What was being made: `node certificate`, `key pair`.
        what: &'static str,
        /// rcgen's reason.
        #[source]
        source: rcgen::Error,
    },
}

impl PkiError {
    /// A text argument broke a rule: the value is quoted, and cut after
    /// [`SHOWN_VALUE_MAX_CHARS`] characters.
    pub(crate) fn invalid(field: impl Into<String>, value: &str, rule: impl Into<String>) -> Self {
        PkiError::Invalid {
            field: field.into(),
            value: quoted(value),
            rule: rule.into(),
        }
    }

    /// A number argument broke a rule.
    pub(crate) fn invalid_number(field: &str, value: u64, rule: impl Into<String>) -> Self {
        PkiError::Invalid {
            field: field.to_owned(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    pub(crate) fn generate(what: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| PkiError::Generate { what, source }
    }
}

/// `value` in double quotes with Rust's escapes, cut when long.
pub(crate) fn quoted(value: &str) -> String {
    match value.char_indices().nth(SHOWN_VALUE_MAX_CHARS) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut() {
        let long = "a".repeat(SHOWN_VALUE_MAX_CHARS + 10);
        let error = PkiError::invalid("principal", &long, "must be short");
        let expected = format!(
            "principal: \"{}\"... must be short",
            "a".repeat(SHOWN_VALUE_MAX_CHARS)
        );
        assert_eq!(error.to_string(), expected);
        assert_eq!(quoted("a b"), "\"a b\"");
    }
}
