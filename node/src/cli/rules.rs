//! `fulcrum listener set-rules`: a forwarding rule written on the command
//! line, `key=value` pairs separated by commas:
//!
//! ```text
//! name=api,host=api.example.com,path-prefix=/v2/,forward=api-group
//! name=canary,header=x-canary:yes,forward=canary-group
//! name=tls,redirect-scheme=https,redirect-status=301
//! name=gone,path=/old,respond-status=410,respond-body=moved away
//! ```
//!
//! Conditions: `host`, `path` (exact) or `path-prefix`, `header`
//! (`NAME:VALUE`). One action: `forward` (a group's name or id),
//! `redirect-*` (`status`, `scheme`, `host`, `port`, `path`: any of them
//! makes a redirect) or `respond-*` (`status`, `type`, `body`). A value
//! cannot hold a comma. The cluster checks every value; this only reads
//! the pairs.

use fulcrum_api::v1;

use super::CliError;

/// A rule as written, its group (if it forwards) still a name or an id.
pub(super) struct WrittenRule {
    pub(super) rule: v1::ForwardingRule,
    /// The `forward` value, for the caller to resolve.
    pub(super) forward: Option<String>,
}

/// Reads one `--rule` value.
pub(super) fn parse(text: &str) -> Result<WrittenRule, CliError> {
    let usage = |message: String| CliError::usage(format!("--rule {text:?}: {message}"));
    let mut rule = v1::ForwardingRule::default();
    let mut forward = None;
    let mut redirect: Option<v1::RedirectAction> = None;
    let mut respond: Option<v1::FixedResponseAction> = None;
    for pair in text.split(',') {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(format!("{pair:?} is not KEY=VALUE")))?;
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| usage(format!("{key}: {value:?} is not a number")))
        };
        match key {
            "name" => rule.name = value.to_owned(),
            "host" => rule.host = value.to_owned(),
            "path" | "path-prefix" => {
                rule.path = value.to_owned();
                rule.path_match = if key == "path" {
                    v1::PathMatch::Exact
                } else {
                    v1::PathMatch::Prefix
                } as i32;
            }
            "header" => {
                let (name, value) = value
                    .split_once(':')
                    .ok_or_else(|| usage(format!("header: {value:?} is not NAME:VALUE")))?;
                rule.header = Some(v1::HeaderCondition {
                    name: name.to_owned(),
                    value: value.to_owned(),
                });
            }
            "forward" => forward = Some(value.to_owned()),
            "redirect-status" => redirect.get_or_insert_default().status = number()?,
            "redirect-scheme" => redirect.get_or_insert_default().scheme = value.to_owned(),
            "redirect-host" => redirect.get_or_insert_default().host = value.to_owned(),
            "redirect-port" => redirect.get_or_insert_default().port = number()?,
            "redirect-path" => redirect.get_or_insert_default().path = value.to_owned(),
            "respond-status" => respond.get_or_insert_default().status = number()?,
            "respond-type" => respond.get_or_insert_default().content_type = value.to_owned(),
            "respond-body" => respond.get_or_insert_default().body = value.to_owned(),
            other => {
                return Err(usage(format!(
                    "{other:?} is not a key; they are name, host, path, path-prefix, header, \
                     forward, redirect-status, redirect-scheme, redirect-host, redirect-port, \
                     redirect-path, respond-status, respond-type and respond-body"
                )));
            }
        }
    }
    use v1::forwarding_rule::Action;
    rule.action = match (&forward, redirect, respond) {
        (Some(_), None, None) => None,
        (None, Some(redirect), None) => Some(Action::Redirect(redirect)),
        (None, None, Some(respond)) => Some(Action::FixedResponse(respond)),
        _ => {
            return Err(usage(
                "give exactly one action: forward, redirect-* or respond-*".to_owned(),
            ));
        }
    };
    Ok(WrittenRule { rule, forward })
}

#[cfg(test)]
mod tests {
    use super::*;
    use v1::forwarding_rule::Action;

    #[test]
    fn a_written_rule_becomes_its_request() {
        let written =
            parse("name=api,host=*.example.com,path-prefix=/v2/,header=x-canary:yes,forward=web")
                .unwrap();
        assert_eq!(written.forward.as_deref(), Some("web"));
        assert_eq!(written.rule.host, "*.example.com");
        assert_eq!(written.rule.path_match, v1::PathMatch::Prefix as i32);
        assert_eq!(written.rule.header.unwrap().value, "yes");

        let redirect = parse("name=tls,redirect-scheme=https,redirect-status=301").unwrap();
        let Some(Action::Redirect(action)) = redirect.rule.action else {
            panic!("a redirect");
        };
        assert_eq!((action.scheme.as_str(), action.status), ("https", 301));

        let gone = parse("name=gone,path=/old,respond-status=410,respond-body=moved away").unwrap();
        assert_eq!(gone.rule.path_match, v1::PathMatch::Exact as i32);
        assert!(matches!(gone.rule.action, Some(Action::FixedResponse(_))));
    }

    #[test]
    fn a_rule_without_one_action_or_with_a_stray_key_is_refused() {
        for text in [
            "name=a",
            "name=a,forward=g,respond-status=200",
            "name=a,colour=red,forward=g",
            "name=a,header=novalue,forward=g",
            "name=a,redirect-port=eighty",
            "name",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
