//! Forwarding rules: which of a listener's rules takes a request, and the
//! answers of the rules that answer by themselves (redirects and fixed
//! responses).
//!
//! Rules are tried in the listener's order and the first whose conditions
//! all hold wins; a request no rule takes goes to the listener's own group.
//! Conditions read the request head in the client's buffer, where the
//! parser left the spans of its target and `Host` field: matching a host or
//! a path costs no allocation and no second parse. A header condition
//! parses the head again, and only for the rules that have one.

use std::io::Write;

use super::head::{MAX_HEADERS, Request, Span};
use crate::config::{FixedResponse, HeaderMatch, HostMatch, PathMatch, Redirect, Rule, Scheme};

/// A request head as the rules see it.
pub(crate) struct Head<'a> {
    /// The whole head, request line to the empty line.
    bytes: &'a [u8],
    /// The host, lowercase not assumed, its port left out.
    host: Option<&'a [u8]>,
    /// The port the `Host` field names, if any.
    host_port: Option<&'a [u8]>,
    /// The path: the target before `?` (for an absolute target, after its
    /// authority).
    path: &'a [u8],
    /// From `?` on, or empty.
    query: &'a [u8],
}

impl<'a> Head<'a> {
    /// The head of `request`, at the start of `buffer`.
    pub(crate) fn new(buffer: &'a [u8], request: &Request) -> Self {
        let slice = |span: Span| &buffer[span.start..span.end];
        let target = slice(request.target);
        let (authority, origin) = split_absolute(target);
        let (host, host_port) = match authority.or(request.host.map(slice)) {
            Some(authority) => {
                let (host, port) = split_port(authority);
                (Some(host), port)
            }
            None => (None, None),
        };
        let (path, query) = match origin.iter().position(|byte| *byte == b'?') {
            Some(at) => origin.split_at(at),
            None => (origin, &origin[origin.len()..]),
        };
        Self {
            bytes: &buffer[..request.length],
            host,
            host_port,
            path,
            query,
        }
    }

    /// Whether `rule`'s conditions all hold.
    pub(crate) fn matches(&self, rule: &Rule) -> bool {
        rule.host
            .as_ref()
            .is_none_or(|host| self.host_matches(host))
            && rule
                .path
                .as_ref()
                .is_none_or(|path| self.path_matches(path))
            && rule
                .header
                .as_ref()
                .is_none_or(|header| self.header_matches(header))
    }

    fn host_matches(&self, pattern: &HostMatch) -> bool {
        let Some(host) = self.host else {
            return false;
        };
        match pattern {
            HostMatch::Exact(name) => host.eq_ignore_ascii_case(name.as_bytes()),
            HostMatch::Wildcard(suffix) => {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
            }
        }
    }

    fn path_matches(&self, pattern: &PathMatch) -> bool {
        match pattern {
            PathMatch::Exact(path) => self.path == path.as_bytes(),
            PathMatch::Prefix(prefix) => self.path.starts_with(prefix.as_bytes()),
        }
    }

    fn header_matches(&self, wanted: &HeaderMatch) -> bool {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut fields);
        if request.parse(self.bytes).is_err() {
            return false;
        }
        request.headers.iter().any(|field| {
            field.name.eq_ignore_ascii_case(&wanted.name) && field.value == wanted.value.as_bytes()
        })
    }

    /// The answer of `redirect` to this request, reached over `scheme`:
    /// each part the redirect leaves out is the request's own.
    pub(crate) fn redirect(
        &self,
        redirect: &Redirect,
        scheme: Scheme,
        keep_alive: bool,
    ) -> Vec<u8> {
        let to_scheme = redirect.scheme.unwrap_or(scheme);
        let host = redirect
            .host
            .as_deref()
            .map(str::as_bytes)
            .or(self.host)
            .unwrap_or_default();
        // The request's port goes along only to the same scheme.
        let port: Option<u16> = redirect.port.or_else(|| {
            (to_scheme == scheme)
                .then(|| {
                    self.host_port
                        .and_then(|port| std::str::from_utf8(port).ok()?.parse().ok())
                })
                .flatten()
        });
        let path = redirect.path.as_deref().map_or(self.path, str::as_bytes);
        let mut location = Vec::with_capacity(16 + host.len() + path.len() + self.query.len());
        location.extend_from_slice(to_scheme.name().as_bytes());
        location.extend_from_slice(b"://");
        location.extend_from_slice(host);
        if let Some(port) = port.filter(|port| *port != to_scheme.default_port()) {
            let _ = write!(location, ":{port}");
        }
        location.extend_from_slice(if path.is_empty() { b"/" } else { path });
        location.extend_from_slice(self.query);
        let mut answer = Vec::with_capacity(96 + location.len());
        let _ = write!(
            answer,
            "HTTP/1.1 {} {}\r\nLocation: ",
            redirect.status,
            reason(redirect.status)
        );
        answer.extend_from_slice(&location);
        answer.extend_from_slice(b"\r\nContent-Length: 0\r\n");
        finish(&mut answer, keep_alive);
        answer
    }
}

/// The answer of a fixed-response rule.
pub(crate) fn respond(fixed: &FixedResponse, keep_alive: bool) -> Vec<u8> {
    let mut answer = Vec::with_capacity(128 + fixed.body.len());
    let _ = write!(
        answer,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        fixed.status,
        reason(fixed.status),
        fixed.content_type,
        fixed.body.len()
    );
    finish(&mut answer, keep_alive);
    answer.extend_from_slice(fixed.body.as_bytes());
    answer
}

fn finish(answer: &mut Vec<u8>, keep_alive: bool) {
    if !keep_alive {
        answer.extend_from_slice(b"Connection: close\r\n");
    }
    answer.extend_from_slice(b"\r\n");
}

/// For an absolute target (`http://host:port/path?q`): its authority and
/// the rest; otherwise no authority and the target as it is.
fn split_absolute(target: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some(scheme_end) = target.windows(3).position(|window| window == b"://") else {
        return (None, target);
    };
    if target.first() == Some(&b'/') {
        return (None, target);
    }
    let rest = &target[scheme_end + 3..];
    let end = rest
        .iter()
        .position(|byte| matches!(byte, b'/' | b'?'))
        .unwrap_or(rest.len());
    (Some(&rest[..end]), &rest[end..])
}

/// `host:port` into the host and the port; `[v6]:port` keeps its brackets.
fn split_port(authority: &[u8]) -> (&[u8], Option<&[u8]>) {
    let colon = match authority.iter().rposition(|byte| *byte == b':') {
        Some(colon) if !authority[colon..].contains(&b']') => colon,
        _ => return (authority, None),
    };
    (&authority[..colon], Some(&authority[colon + 1..]))
}

/// The reason phrase of the statuses rules answer with.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuleAction;
    use crate::http::head::parse_request;

    fn head_of(raw: &str, check: impl FnOnce(&Head<'_>)) {
        let mut out = Vec::new();
        let request = parse_request(raw.as_bytes(), 100, None, &mut out)
            .unwrap()
            .unwrap();
        check(&Head::new(raw.as_bytes(), &request));
    }

    fn rule(host: Option<HostMatch>, path: Option<PathMatch>, header: Option<HeaderMatch>) -> Rule {
        Rule {
            id: "r".to_owned(),
            host,
            path,
            header,
            action: RuleAction::Respond(FixedResponse {
                status: 200,
                content_type: "text/plain".to_owned(),
                body: String::new(),
            }),
        }
    }

    #[test]
    fn hosts_match_exactly_or_by_wildcard_whatever_the_case_and_port() {
        let exact = rule(
            Some(HostMatch::Exact("api.example.com".to_owned())),
            None,
            None,
        );
        let wildcard = rule(
            Some(HostMatch::Wildcard(".example.com".to_owned())),
            None,
            None,
        );
        head_of(
            "GET / HTTP/1.1\r\nHost: API.Example.com:8080\r\n\r\n",
            |head| {
                assert!(head.matches(&exact));
                assert!(head.matches(&wildcard));
            },
        );
        head_of("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", |head| {
            assert!(!head.matches(&exact));
            assert!(
                !head.matches(&wildcard),
                "the wildcard needs a label before it"
            );
        });
        head_of("GET / HTTP/1.0\r\n\r\n", |head| {
            assert!(!head.matches(&exact))
        });
        head_of(
            "GET http://api.example.com/x HTTP/1.1\r\nHost: other\r\n\r\n",
            |head| {
                assert!(head.matches(&exact), "an absolute target's authority wins");
            },
        );
    }

    #[test]
    fn paths_match_exactly_or_by_prefix_without_the_query() {
        let exact = rule(None, Some(PathMatch::Exact("/login".to_owned())), None);
        let prefix = rule(None, Some(PathMatch::Prefix("/static/".to_owned())), None);
        head_of("GET /login?next=/ HTTP/1.1\r\nHost: a\r\n\r\n", |head| {
            assert!(head.matches(&exact));
            assert!(!head.matches(&prefix));
        });
        head_of("GET /static/app.js HTTP/1.1\r\nHost: a\r\n\r\n", |head| {
            assert!(!head.matches(&exact));
            assert!(head.matches(&prefix));
        });
        head_of("GET /login/ HTTP/1.1\r\nHost: a\r\n\r\n", |head| {
            assert!(!head.matches(&exact));
        });
    }

    #[test]
    fn a_header_condition_needs_the_field_with_that_value() {
        let canary = rule(
            None,
            None,
            Some(HeaderMatch {
                name: "x-canary".to_owned(),
                value: "yes".to_owned(),
            }),
        );
        head_of(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Canary: yes\r\n\r\n",
            |head| {
                assert!(head.matches(&canary));
            },
        );
        head_of(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Canary: no\r\n\r\n",
            |head| {
                assert!(!head.matches(&canary));
            },
        );
        head_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n", |head| {
            assert!(!head.matches(&canary))
        });
    }

    #[test]
    fn a_redirect_keeps_what_it_does_not_replace() {
        let to_https = Redirect {
            status: 301,
            scheme: Some(Scheme::Https),
            host: None,
            port: None,
            path: None,
        };
        head_of(
            "GET /a/b?x=1 HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n",
            |head| {
                let answer =
                    String::from_utf8(head.redirect(&to_https, Scheme::Http, true)).unwrap();
                assert!(
                    answer.starts_with("HTTP/1.1 301 Moved Permanently\r\n"),
                    "{answer}"
                );
                assert!(
                    answer.contains("\r\nLocation: https://shop.example/a/b?x=1\r\n"),
                    "{answer}"
                );
                assert!(!answer.contains("Connection: close"));
            },
        );
        let elsewhere = Redirect {
            status: 308,
            scheme: None,
            host: Some("new.example".to_owned()),
            port: Some(8443),
            path: Some("/moved".to_owned()),
        };
        head_of(
            "GET /old?q HTTP/1.1\r\nHost: old.example:8080\r\n\r\n",
            |head| {
                let answer =
                    String::from_utf8(head.redirect(&elsewhere, Scheme::Https, false)).unwrap();
                assert!(
                    answer.contains("\r\nLocation: https://new.example:8443/moved?q\r\n"),
                    "{answer}"
                );
                assert!(answer.contains("Connection: close"));
            },
        );
        let same_scheme = Redirect {
            path: Some("/x".to_owned()),
            ..to_https.clone()
        };
        head_of("GET / HTTP/1.1\r\nHost: a.example:8443\r\n\r\n", |head| {
            let answer =
                String::from_utf8(head.redirect(&same_scheme, Scheme::Https, true)).unwrap();
            assert!(
                answer.contains("\r\nLocation: https://a.example:8443/x\r\n"),
                "{answer}"
            );
        });
    }

    #[test]
    fn a_fixed_response_carries_its_body() {
        let fixed = FixedResponse {
            status: 404,
            content_type: "text/plain".to_owned(),
            body: "nothing here\n".to_owned(),
        };
        let answer = String::from_utf8(respond(&fixed, true)).unwrap();
        assert_eq!(
            answer,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nnothing here\n"
        );
    }
}
