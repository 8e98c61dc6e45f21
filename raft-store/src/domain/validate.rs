//! Field rules of the resource model: each function checks one kind of field
//! and names the field and the rule when it fails.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::model::{ConnectionLimit, SecretHash, StatusCodeRange};
use super::rejection::Rejection;

// The field limits live with every other limit; named here for the rules.
pub use super::limits::{
    CIDR_PREFIX_RANGE, DEFAULT_IDLE_TIMEOUT_S, DEFAULT_WEIGHT, MAX_CLIENT_TOKEN_CHARS,
    MAX_CONNECTION_LIMIT, MAX_DESCRIPTION_CHARS, MAX_HTTP_PATH_CHARS, MAX_IDLE_TIMEOUT_S,
    MAX_NAME_CHARS, MAX_PEM_BYTES, MAX_PRINCIPAL_BYTES, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS,
    MAX_TAGS, MAX_WEIGHT, SECRET_SHA256_BYTES,
};

/// A name: 1 to 32 letters (any script, Chinese included), digits, `_` and `-`.
pub fn name(field: &str, raw: &str) -> Result<String, Rejection> {
    let chars = raw.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(Rejection::invalid(
            field,
            format!("{raw:?} has {chars} characters; a name has 1 to {MAX_NAME_CHARS}"),
        ));
    }
    if let Some(bad) = raw
        .chars()
        .find(|&c| !(c.is_alphabetic() || c.is_ascii_digit() || c == '_' || c == '-'))
    {
        return Err(Rejection::invalid(
            field,
            format!("{raw:?} contains {bad:?}; a name has only letters, digits, '_' and '-'"),
        ));
    }
    Ok(raw.to_owned())
}

/// An optional name (EIPs): empty, or a valid name.
pub fn optional_name(field: &str, raw: &str) -> Result<String, Rejection> {
    if raw.is_empty() {
        Ok(String::new())
    } else {
        name(field, raw)
    }
}

/// A description: at most 256 characters.
pub fn description(field: &str, raw: &str) -> Result<String, Rejection> {
    let chars = raw.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        return Err(Rejection::invalid(
            field,
            format!("has {chars} characters; a description has at most {MAX_DESCRIPTION_CHARS}"),
        ));
    }
    Ok(raw.to_owned())
}

/// Tags: at most 50, keys 1 to 128 characters, values at most 256.
pub fn tags(
    field: &str,
    raw: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Rejection> {
    if raw.len() > MAX_TAGS {
        return Err(Rejection::invalid(
            field,
            format!("has {} tags; a resource has at most {MAX_TAGS}", raw.len()),
        ));
    }
    for (key, value) in raw {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
            return Err(Rejection::invalid(
                field,
                format!(
                    "key {key:?} has {key_chars} characters; a tag key has 1 to {MAX_TAG_KEY_CHARS}"
                ),
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(Rejection::invalid(
                &format!("{field}[{key}]"),
                format!("a tag value has at most {MAX_TAG_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(raw.clone())
}

/// A client token: at most 64 characters (empty means none).
pub fn client_token(raw: &str) -> Result<Option<String>, Rejection> {
    let chars = raw.chars().count();
    if chars > MAX_CLIENT_TOKEN_CHARS {
        return Err(Rejection::invalid(
            "client_token",
            format!("has {chars} characters; a client token has at most {MAX_CLIENT_TOKEN_CHARS}"),
        ));
    }
    Ok((!raw.is_empty()).then(|| raw.to_owned()))
}

/// A port: 1 to 65535.
pub fn port(field: &str, raw: u32) -> Result<u16, Rejection> {
    match u16::try_from(raw) {
        Ok(port) if port >= 1 => Ok(port),
        _ => Err(Rejection::invalid(
            field,
            format!("{raw} is not a port; a port is 1 to 65535"),
        )),
    }
}

/// A weight: 0 to 100, default 10.
pub fn weight(field: &str, raw: Option<u32>) -> Result<u8, Rejection> {
    match raw {
        None => Ok(DEFAULT_WEIGHT),
        Some(weight) if weight <= MAX_WEIGHT => Ok(weight as u8),
        Some(weight) => Err(Rejection::invalid(
            field,
            format!(
                "{weight} is out of range; a weight is 0 to {MAX_WEIGHT} (0 drains the member)"
            ),
        )),
    }
}

/// A connection limit: -1 for unlimited, or 1 to 1,000,000; 0 is refused.
pub fn connection_limit(field: &str, raw: Option<i64>) -> Result<ConnectionLimit, Rejection> {
    match raw {
        None | Some(-1) => Ok(ConnectionLimit::Unlimited),
        Some(limit) if (1..=MAX_CONNECTION_LIMIT).contains(&limit) => {
            Ok(ConnectionLimit::AtMost(limit as u32))
        }
        Some(limit) => Err(Rejection::invalid(
            field,
            format!(
                "{limit} is not allowed; a connection limit is -1 (unlimited) or 1 to {MAX_CONNECTION_LIMIT}"
            ),
        )),
    }
}

/// An idle timeout: 1 to 4000 seconds, default 60.
pub fn idle_timeout_s(field: &str, raw: Option<u32>) -> Result<u32, Rejection> {
    match raw {
        None => Ok(DEFAULT_IDLE_TIMEOUT_S),
        Some(seconds) if (1..=MAX_IDLE_TIMEOUT_S).contains(&seconds) => Ok(seconds),
        Some(seconds) => Err(Rejection::invalid(
            field,
            format!("{seconds} s is out of range; an idle timeout is 1 to {MAX_IDLE_TIMEOUT_S} s"),
        )),
    }
}

/// An IPv4 CIDR in canonical form (no host bits set), prefix /8 to /30.
pub fn cidr(field: &str, raw: &str) -> Result<Ipv4Net, Rejection> {
    let net: Ipv4Net = raw.parse().map_err(|_| {
        Rejection::invalid(
            field,
            format!("{raw:?} is not an IPv4 CIDR such as 10.0.0.0/16"),
        )
    })?;
    if net.trunc() != net {
        return Err(Rejection::invalid(
            field,
            format!("{raw} has host bits set; did you mean {}?", net.trunc()),
        ));
    }
    if !CIDR_PREFIX_RANGE.contains(&net.prefix_len()) {
        return Err(Rejection::invalid(
            field,
            format!(
                "{raw} has prefix /{}; a prefix is /{} to /{}",
                net.prefix_len(),
                CIDR_PREFIX_RANGE.start(),
                CIDR_PREFIX_RANGE.end()
            ),
        ));
    }
    Ok(net)
}

/// A CIDR of the EIP pool: canonical, any prefix.
pub fn pool_cidr(field: &str, raw: &str) -> Result<Ipv4Net, Rejection> {
    let net: Ipv4Net = raw.parse().map_err(|_| {
        Rejection::invalid(
            field,
            format!("{raw:?} is not an IPv4 CIDR such as 203.0.113.0/24"),
        )
    })?;
    if net.trunc() != net {
        return Err(Rejection::invalid(
            field,
            format!("{raw} has host bits set; did you mean {}?", net.trunc()),
        ));
    }
    Ok(net)
}

/// An IPv4 address.
pub fn address(field: &str, raw: &str) -> Result<Ipv4Addr, Rejection> {
    raw.parse().map_err(|_| {
        Rejection::invalid(
            field,
            format!("{raw:?} is not an IPv4 address such as 10.0.1.5"),
        )
    })
}

/// A number within bounds, or its default when absent.
pub fn bounded(
    field: &str,
    raw: Option<u32>,
    bounds: std::ops::RangeInclusive<u32>,
    default: u32,
    unit: &str,
) -> Result<u32, Rejection> {
    match raw {
        None => Ok(default),
        Some(value) if bounds.contains(&value) => Ok(value),
        Some(value) => Err(Rejection::invalid(
            field,
            format!(
                "{value}{unit} is out of range; it is {} to {}{unit}",
                bounds.start(),
                bounds.end()
            ),
        )),
    }
}

/// Whether `text` is all token characters (RFC 9110, 5.6.2): a field name
/// or a cookie name.
pub fn is_token(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// A cookie's name: 1 to 64 token characters (RFC 6265, RFC 9110).
pub fn cookie_name(field: &str, raw: &str) -> Result<String, Rejection> {
    const MAX_COOKIE_NAME_BYTES: usize = 64;
    if raw.is_empty() || raw.len() > MAX_COOKIE_NAME_BYTES || !is_token(raw) {
        return Err(Rejection::invalid(
            field,
            format!(
                "{raw:?} is not a cookie name: 1 to {MAX_COOKIE_NAME_BYTES} letters, digits or !#$%&'*+-.^_`|~"
            ),
        ));
    }
    Ok(raw.to_owned())
}

/// An HTTP health check path: starts with `/`, at most 1000 characters.
pub fn http_path(field: &str, raw: &str) -> Result<String, Rejection> {
    if !raw.starts_with('/') {
        return Err(Rejection::invalid(
            field,
            format!("{raw:?} does not start with '/'"),
        ));
    }
    let chars = raw.chars().count();
    if chars > MAX_HTTP_PATH_CHARS {
        return Err(Rejection::invalid(
            field,
            format!("has {chars} characters; a path has at most {MAX_HTTP_PATH_CHARS}"),
        ));
    }
    if raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Rejection::invalid(
            field,
            "contains a space or a control character",
        ));
    }
    Ok(raw.to_owned())
}

/// Expected status codes: `200`, `200-299` or `200,302`, codes 100 to 599.
pub fn expected_codes(field: &str, raw: &str) -> Result<Vec<StatusCodeRange>, Rejection> {
    let bad = || {
        Rejection::invalid(
            field,
            format!(
                "{raw:?} is not a list of status codes such as \"200\", \"200-299\" or \"200,302\" (codes 100 to 599)"
            ),
        )
    };
    let code = |text: &str| -> Result<u16, Rejection> {
        match text.trim().parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(code),
            _ => Err(bad()),
        }
    };
    let mut ranges = Vec::new();
    for part in raw.split(',') {
        let range = match part.split_once('-') {
            Some((first, last)) => StatusCodeRange {
                first: code(first)?,
                last: code(last)?,
            },
            None => {
                let single = code(part)?;
                StatusCodeRange {
                    first: single,
                    last: single,
                }
            }
        };
        if range.first > range.last {
            return Err(bad());
        }
        ranges.push(range);
    }
    Ok(ranges)
}

/// A principal: 1 to 128 bytes of `[A-Za-z0-9._@-]`, the first a letter or
/// a digit (so a principal is never empty, never an option, and reads the
/// same in a log line, a URL and a shell).
pub fn principal(field: &str, raw: &str) -> Result<String, Rejection> {
    let rule = format!(
        "a principal is 1 to {MAX_PRINCIPAL_BYTES} of the letters A-Z and a-z, digits, '.', '_', '@' and '-', starting with a letter or a digit"
    );
    if raw.is_empty() || raw.len() > MAX_PRINCIPAL_BYTES {
        return Err(Rejection::invalid(
            field,
            format!("has {} bytes; {rule}", raw.len()),
        ));
    }
    if let Some(bad) = raw
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')))
    {
        return Err(Rejection::invalid(
            field,
            format!("{raw:?} contains {bad:?}; {rule}"),
        ));
    }
    if !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Rejection::invalid(
            field,
            format!("{raw:?} does not start with a letter or a digit; {rule}"),
        ));
    }
    Ok(raw.to_owned())
}

/// A secret's SHA-256: exactly 32 bytes.
pub fn secret_sha256(field: &str, raw: &[u8]) -> Result<SecretHash, Rejection> {
    SecretHash::try_from(raw).map_err(|_| {
        Rejection::invalid(
            field,
            format!(
                "has {} bytes; a SHA-256 has exactly {SECRET_SHA256_BYTES}",
                raw.len()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_take_ascii_letters_digits_and_four_marks() {
        for ok in [
            "alice",
            "ops@example.com",
            "svc.deploy-bot_2",
            "9lives",
            &"p".repeat(128),
        ] {
            assert_eq!(principal("principal", ok).as_deref(), Ok(ok), "{ok:?}");
        }
        for bad in [
            "",
            &"p".repeat(129),
            "-lead",
            ".hidden",
            "has space",
            "é",
            "a/b",
            "a:b",
        ] {
            let error = principal("principal", bad).unwrap_err();
            assert!(
                error.message.starts_with("principal: "),
                "{}",
                error.message
            );
            assert!(
                error.message.contains("a principal is"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn a_secret_hash_is_exactly_32_bytes() {
        assert!(secret_sha256("secret_sha256", &[7; 32]).is_ok());
        for length in [0, 31, 33] {
            let error = secret_sha256("secret_sha256", &vec![7; length]).unwrap_err();
            assert!(
                error.message.starts_with("secret_sha256: "),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn names_accept_chinese_letters_digits_underscore_and_dash() {
        for ok in ["web", "负载均衡-1", "a_b-C9", "x", &"n".repeat(32)] {
            assert!(name("name", ok).is_ok(), "{ok:?} should pass");
        }
        for bad in [
            "",
            &"n".repeat(33),
            "has space",
            "dot.ted",
            "emoji🙂",
            "slash/",
        ] {
            let error = name("load_balancer.name", bad).unwrap_err();
            assert!(
                error.message.starts_with("load_balancer.name: "),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn expected_codes_parse_singles_ranges_and_lists() {
        assert_eq!(
            expected_codes("codes", "200,302").unwrap(),
            vec![
                StatusCodeRange {
                    first: 200,
                    last: 200
                },
                StatusCodeRange {
                    first: 302,
                    last: 302
                }
            ]
        );
        assert_eq!(
            expected_codes("codes", "200-299").unwrap(),
            vec![StatusCodeRange {
                first: 200,
                last: 299
            }]
        );
        for bad in ["", "abc", "99", "600", "300-200", "200,", "200-"] {
            assert!(expected_codes("codes", bad).is_err(), "{bad:?} should fail");
        }
    }
}
