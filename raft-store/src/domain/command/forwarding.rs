//! Wire to domain for a listener's forwarding rules: each rule's name,
//! conditions and action checked field by field, named `rules[i].field`.
//! Whether the groups exist and belong to the listener's Load Balancer is
//! `decide`'s.

use std::collections::BTreeMap;

use fulcrum_api::v1;

use crate::domain::ids::GroupId;
use crate::domain::limits::{
    MAX_FIXED_RESPONSE_BODY_BYTES, MAX_RULE_TEXT_BYTES, MAX_RULES_PER_LISTENER,
};
use crate::domain::model::{
    FixedResponseAction, ForwardingRule, HeaderCondition, HostCondition, PathCondition,
    RedirectAction, RuleAction,
};
use crate::domain::rejection::Rejection;
use crate::domain::validate;

/// The content type of a fixed response that names none.
pub const DEFAULT_FIXED_RESPONSE_CONTENT_TYPE: &str = "text/plain";

/// The status of a redirect that names none.
pub const DEFAULT_REDIRECT_STATUS: u16 = 302;

/// The header fields a rule may not match on: the host has its own
/// condition, and the framing fields are the proxy's.
const UNMATCHABLE_FIELDS: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "cookie",
];

/// A listener's rules as the request gives them, in order.
pub(super) fn forwarding_rules(
    raw: &[v1::ForwardingRule],
) -> Result<Vec<ForwardingRule>, Rejection> {
    if raw.len() > MAX_RULES_PER_LISTENER {
        return Err(Rejection::invalid(
            "rules",
            format!(
                "has {} rules; a listener has at most {MAX_RULES_PER_LISTENER}",
                raw.len()
            ),
        ));
    }
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules = Vec::with_capacity(raw.len());
    for (n, rule) in raw.iter().enumerate() {
        let field = |name: &str| format!("rules[{n}].{name}");
        let name = validate::name(&field("name"), &rule.name)?;
        if let Some(first) = named.insert(rule.name.as_str(), n) {
            return Err(Rejection::invalid(
                &field("name"),
                format!(
                    "{name:?} is also the name of rules[{first}]; names are unique within a listener"
                ),
            ));
        }
        rules.push(ForwardingRule {
            name,
            host: host(&field("host"), &rule.host)?,
            path: path(&field("path"), &rule.path, rule.path_match)?,
            header: rule
                .header
                .as_ref()
                .map(|header| header_condition(&field("header"), header))
                .transpose()?,
            action: action(n, rule.action.as_ref())?,
        });
    }
    Ok(rules)
}

/// A host name: labels of letters, digits and `-`, 1 to 63 bytes each, at
/// most 253 bytes in all.
fn host_name(field: &str, raw: &str) -> Result<String, Rejection> {
    let valid = !raw.is_empty()
        && raw.len() <= 253
        && raw.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        });
    if !valid {
        return Err(Rejection::invalid(
            field,
            format!(
                "{raw:?} is not a host name (dot-separated labels of letters, digits and '-', at most 253 characters)"
            ),
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

fn host(field: &str, raw: &str) -> Result<Option<HostCondition>, Rejection> {
    if raw.is_empty() {
        return Ok(None);
    }
    Ok(Some(match raw.strip_prefix("*.") {
        Some(suffix) => HostCondition::Wildcard(host_name(field, suffix)?),
        None => HostCondition::Exact(host_name(field, raw)?),
    }))
}

/// A path of a condition or a redirect: as a health check's (at most
/// `MAX_HTTP_PATH_CHARS`), in ASCII.
fn rule_path(field: &str, raw: &str) -> Result<String, Rejection> {
    let path = validate::http_path(field, raw)?;
    if !path.is_ascii() {
        return Err(Rejection::invalid(
            field,
            "must be ASCII (percent-encode the rest)",
        ));
    }
    Ok(path)
}

fn path(field: &str, raw: &str, how: i32) -> Result<Option<PathCondition>, Rejection> {
    let how = v1::PathMatch::try_from(how).map_err(|_| {
        Rejection::invalid(
            &format!("{field}_match"),
            format!("{how} is not a path match; they are PREFIX and EXACT"),
        )
    })?;
    if raw.is_empty() {
        if how != v1::PathMatch::Unspecified {
            return Err(Rejection::invalid(
                &format!("{field}_match"),
                "applies only with a path",
            ));
        }
        return Ok(None);
    }
    let path = rule_path(field, raw)?;
    Ok(Some(match how {
        v1::PathMatch::Exact => PathCondition::Exact(path),
        v1::PathMatch::Unspecified | v1::PathMatch::Prefix => PathCondition::Prefix(path),
    }))
}

/// Visible ASCII and spaces, at most `max` bytes.
fn visible(field: &str, raw: &str, max: usize) -> Result<(), Rejection> {
    if raw.len() > max
        || !raw
            .bytes()
            .all(|byte| byte.is_ascii_graphic() || byte == b' ')
    {
        return Err(Rejection::invalid(
            field,
            format!("must be at most {max} visible ASCII characters and spaces"),
        ));
    }
    Ok(())
}

fn header_condition(field: &str, raw: &v1::HeaderCondition) -> Result<HeaderCondition, Rejection> {
    if raw.name.is_empty() || raw.name.len() > 256 || !validate::is_token(&raw.name) {
        return Err(Rejection::invalid(
            &format!("{field}.name"),
            format!("{:?} is not a header field name", raw.name),
        ));
    }
    if UNMATCHABLE_FIELDS
        .iter()
        .any(|taken| raw.name.eq_ignore_ascii_case(taken))
    {
        return Err(Rejection::invalid(
            &format!("{field}.name"),
            format!(
                "{:?} cannot be matched: use the host condition for Host; framing and cookie fields are the proxy's",
                raw.name
            ),
        ));
    }
    visible(&format!("{field}.value"), &raw.value, MAX_RULE_TEXT_BYTES)?;
    Ok(HeaderCondition {
        name: raw.name.clone(),
        value: raw.value.clone(),
    })
}

fn action(n: usize, raw: Option<&v1::forwarding_rule::Action>) -> Result<RuleAction, Rejection> {
    use v1::forwarding_rule::Action;
    let field = |name: &str| format!("rules[{n}].{name}");
    Ok(match raw {
        None => {
            return Err(Rejection::invalid(
                &field("action"),
                "is required: one of forward_group_id, redirect and fixed_response",
            ));
        }
        Some(Action::ForwardGroupId(id)) => {
            RuleAction::Forward(GroupId::parse(&field("forward_group_id"), id)?)
        }
        Some(Action::Redirect(redirect)) => {
            RuleAction::Redirect(redirect_action(&field("redirect"), redirect)?)
        }
        Some(Action::FixedResponse(fixed)) => {
            RuleAction::FixedResponse(fixed_response(&field("fixed_response"), fixed)?)
        }
    })
}

fn redirect_action(field: &str, raw: &v1::RedirectAction) -> Result<RedirectAction, Rejection> {
    let status = match raw.status {
        0 => DEFAULT_REDIRECT_STATUS,
        301 | 302 | 307 | 308 => raw.status as u16,
        other => {
            return Err(Rejection::invalid(
                &format!("{field}.status"),
                format!("{other} is not 301, 302, 307 or 308"),
            ));
        }
    };
    let https = match raw.scheme.as_str() {
        "" => None,
        "http" => Some(false),
        "https" => Some(true),
        other => {
            return Err(Rejection::invalid(
                &format!("{field}.scheme"),
                format!("{other:?} is not \"http\" or \"https\""),
            ));
        }
    };
    let host = (!raw.host.is_empty())
        .then(|| host_name(&format!("{field}.host"), &raw.host))
        .transpose()?;
    let port = match raw.port {
        0 => None,
        port => Some(validate::port(&format!("{field}.port"), port)?),
    };
    let path = (!raw.path.is_empty())
        .then(|| rule_path(&format!("{field}.path"), &raw.path))
        .transpose()?;
    if https.is_none() && host.is_none() && port.is_none() && path.is_none() {
        return Err(Rejection::invalid(
            field,
            "names none of scheme, host, port and path: it would send the client back where it came from",
        ));
    }
    Ok(RedirectAction {
        status,
        https,
        host,
        port,
        path,
    })
}

fn fixed_response(
    field: &str,
    raw: &v1::FixedResponseAction,
) -> Result<FixedResponseAction, Rejection> {
    let status = u16::try_from(raw.status)
        .ok()
        .filter(|status| (200..=599).contains(status))
        .ok_or_else(|| {
            Rejection::invalid(
                &format!("{field}.status"),
                format!("{} is not a status from 200 to 599", raw.status),
            )
        })?;
    let content_type = if raw.content_type.is_empty() {
        DEFAULT_FIXED_RESPONSE_CONTENT_TYPE.to_owned()
    } else {
        visible(&format!("{field}.content_type"), &raw.content_type, 256)?;
        raw.content_type.clone()
    };
    if raw.body.len() > MAX_FIXED_RESPONSE_BODY_BYTES {
        return Err(Rejection::invalid(
            &format!("{field}.body"),
            format!(
                "has {} bytes; at most {MAX_FIXED_RESPONSE_BODY_BYTES}",
                raw.body.len()
            ),
        ));
    }
    Ok(FixedResponseAction {
        status,
        content_type,
        body: raw.body.clone(),
    })
}
