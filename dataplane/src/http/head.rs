//! HTTP/1.1 message heads: parsed with httparse, checked, and rewritten for
//! the other side in one pass, with no allocation but the output buffer.
//!
//! Hop-by-hop fields (`Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`)
//! stop at the proxy; each side's connection management is the proxy's own.
//! A request with both `Content-Length` and `Transfer-Encoding`, with
//! disagreeing lengths, or with a transfer coding other than chunked last is
//! refused: those are the ambiguities request smuggling lives on. So is an
//! HTTP/1.1 request without exactly one `Host` field, or any request with
//! two (RFC 9112, section 3.2): HTTP/1.0 requests may go without one.

use std::io::Write;
use std::net::IpAddr;

/// Header fields a request may carry at most, whatever the configuration says.
pub(crate) const MAX_HEADERS: usize = 128;

/// How a message's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the sender closes (responses only).
    UntilClose,
}

/// Why a head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// More header fields than allowed (431).
    TooManyHeaders,
    /// Not well-formed HTTP/1.x, or ambiguous framing (400 / 502).
    Malformed(&'static str),
}

/// What the proxy adds to requests when the listener asks for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Forwarded {
    pub(crate) client: IpAddr,
    pub(crate) proto: &'static str,
    pub(crate) port: u16,
}

/// Where a part of a head lies in the bytes it was parsed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    /// The span of `part`, a slice of `whole`.
    fn of(whole: &[u8], part: &[u8]) -> Self {
        let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
        debug_assert!(start + part.len() <= whole.len());
        Self {
            start,
            end: start + part.len(),
        }
    }
}

/// A parsed request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// Bytes of the head (request line, fields and the empty line).
    pub(crate) length: usize,
    /// The request target, in the parsed bytes.
    pub(crate) target: Span,
    /// The `Host` field's value, in the parsed bytes.
    pub(crate) host: Option<Span>,
    /// The first `Cookie` field's value, in the parsed bytes.
    pub(crate) cookie: Option<Span>,
    pub(crate) framing: Framing,
    /// The client wants the connection kept open after the response.
    pub(crate) keep_alive: bool,
    /// The client asks to switch protocols (`Connection: upgrade`).
    pub(crate) upgrade: bool,
    /// The client waits for `100 Continue` before sending its body.
    pub(crate) expect_continue: bool,
    /// The method is HEAD: the response has no body whatever it says.
    pub(crate) head_method: bool,
    /// The method is idempotent (RFC 9110, 9.2.2: GET, HEAD, PUT, DELETE,
    /// OPTIONS, TRACE): sending it again has the effect of sending it once.
    pub(crate) idempotent: bool,
}

/// Parses the request head at the start of `input` and writes the head to
/// send to the member into `out`. `Ok(None)`: the head is not complete yet.
pub(crate) fn parse_request(
    input: &[u8],
    max_headers: usize,
    forwarded: Option<Forwarded>,
    out: &mut Vec<u8>,
) -> Result<Option<Request>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields[..max_headers.min(MAX_HEADERS)]);
    let length = match request.parse(input) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed("not an HTTP/1.x request head")),
    };
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");

    let mut connection = ConnectionTokens::default();
    let mut body = BodyFields::default();
    let mut expect_continue = false;
    let mut upgrade_field = false;
    let mut forwarded_for_written = false;
    let mut hosts = 0_usize;
    let mut host = None;
    let mut cookie = None;
    for field in request.headers.iter() {
        let name = field.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            host = Some(Span::of(input, field.value));
        } else if cookie.is_none() && name.eq_ignore_ascii_case("cookie") {
            cookie = Some(Span::of(input, field.value));
        }
        if is_hop_by_hop(name) {
            if name.eq_ignore_ascii_case("connection") {
                connection.read(field.value);
            }
            continue;
        }
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            body.read(name, field.value)?;
        } else if name.eq_ignore_ascii_case("expect") {
            // The proxy answers `100 Continue` itself, before it reads the body.
            if field.value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
                continue;
            }
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade_field = true;
        } else if let Some(forwarded) = forwarded {
            if name.eq_ignore_ascii_case("x-forwarded-for") {
                // Appended to, as the chain of proxies it records.
                out.extend_from_slice(b"X-Forwarded-For: ");
                out.extend_from_slice(field.value);
                let _ = write!(out, ", {}\r\n", forwarded.client);
                forwarded_for_written = true;
                continue;
            }
            if name.eq_ignore_ascii_case("x-forwarded-proto")
                || name.eq_ignore_ascii_case("x-forwarded-port")
            {
                // Replaced: the client does not get to say how it reached us.
                continue;
            }
        }
        write_field(out, name, field.value);
    }
    if let Some(forwarded) = forwarded {
        if !forwarded_for_written {
            let _ = write!(out, "X-Forwarded-For: {}\r\n", forwarded.client);
        }
        let _ = write!(
            out,
            "X-Forwarded-Proto: {}\r\nX-Forwarded-Port: {}\r\n",
            forwarded.proto, forwarded.port
        );
    }
    let upgrade = connection.upgrade && upgrade_field;
    if upgrade {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    }
    if hosts == 0 && version == 0 {
        // The member gets HTTP/1.1, which needs a Host; a request without an
        // authority sends an empty one (RFC 9112, section 3.2).
        out.extend_from_slice(b"Host: \r\n");
    }
    out.extend_from_slice(b"\r\n");
    let framing = match body.framing(false)? {
        Framing::UntilClose => {
            return Err(HeadError::Malformed("transfer coding other than chunked"));
        }
        framing => framing,
    };
    match hosts {
        0 if version == 1 => return Err(HeadError::Malformed("HTTP/1.1 request without Host")),
        0 | 1 => {}
        _ => return Err(HeadError::Malformed("more than one Host field")),
    }
    Ok(Some(Request {
        length,
        target: Span::of(input, target.as_bytes()),
        host,
        cookie,
        framing,
        keep_alive: version == 1 && !connection.close,
        upgrade,
        expect_continue,
        head_method: method == "HEAD",
        idempotent: matches!(
            method,
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
        ),
    }))
}

/// A parsed response head.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Response {
    pub(crate) length: usize,
    pub(crate) status: u16,
    pub(crate) framing: Framing,
    /// The member's connection may carry another request after this response.
    pub(crate) reusable: bool,
    /// The client's connection must close after this response.
    pub(crate) closes_client: bool,
}

/// Parses the response head at the start of `input` for `request`, and
/// writes the head to send to the client into `out`.
pub(crate) fn parse_response(
    input: &[u8],
    request: &Request,
    out: &mut Vec<u8>,
) -> Result<Option<Response>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let length = match response.parse(input) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError::Malformed("not an HTTP/1.x response head")),
    };
    let (Some(status), Some(version)) = (response.code, response.version) else {
        return Err(HeadError::Malformed("incomplete status line"));
    };
    // httparse takes any three digits; a status line has 100 to 999 (found
    // by fuzzing: `011` went to the client as `11`).
    if status < 100 {
        return Err(HeadError::Malformed("status code below 100"));
    }
    out.clear();
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\n",
        response.reason.unwrap_or("")
    );
    let mut connection = ConnectionTokens::default();
    let mut body = BodyFields::default();
    for field in response.headers.iter() {
        if is_hop_by_hop(field.name) {
            if field.name.eq_ignore_ascii_case("connection") {
                connection.read(field.value);
            }
            continue;
        }
        if field.name.eq_ignore_ascii_case("content-length")
            || field.name.eq_ignore_ascii_case("transfer-encoding")
        {
            body.read(field.name, field.value)
                .map_err(|_| HeadError::Malformed("ambiguous response framing"))?;
        }
        write_field(out, field.name, field.value);
    }
    let framing = if status == 101
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || request.head_method
    {
        Framing::Empty
    } else {
        body.framing(true)
            .map_err(|_| HeadError::Malformed("ambiguous response framing"))?
    };
    let switching = status == 101;
    let closes_client = !switching && (framing == Framing::UntilClose || !request.keep_alive);
    if switching {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    } else if closes_client && status >= 200 {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(Response {
        length,
        status,
        framing,
        reusable: version == 1 && !connection.close && framing != Framing::UntilClose && !switching,
        closes_client,
    }))
}

fn is_hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "te"]
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop))
}

fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The tokens of `Connection` fields that matter to the proxy.
#[derive(Default)]
struct ConnectionTokens {
    close: bool,
    upgrade: bool,
}

impl ConnectionTokens {
    fn read(&mut self, value: &[u8]) {
        for token in value.split(|b| *b == b',') {
            let token = token.trim_ascii();
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.upgrade |= token.eq_ignore_ascii_case(b"upgrade");
        }
    }
}

/// `Content-Length` and `Transfer-Encoding` as read so far.
#[derive(Default)]
struct BodyFields {
    length: Option<u64>,
    /// Some(true) when the last transfer coding seen is chunked.
    chunked_last: Option<bool>,
}

impl BodyFields {
    fn read(&mut self, name: &str, value: &[u8]) -> Result<(), HeadError> {
        if name.eq_ignore_ascii_case("content-length") {
            let length =
                parse_length(value).ok_or(HeadError::Malformed("invalid content-length"))?;
            if self.length.is_some_and(|seen| seen != length) {
                return Err(HeadError::Malformed("conflicting content-length fields"));
            }
            self.length = Some(length);
        } else {
            let last = value
                .split(|b| *b == b',')
                .map(<[u8]>::trim_ascii)
                .rfind(|coding| !coding.is_empty())
                .ok_or(HeadError::Malformed("empty transfer-encoding"))?;
            self.chunked_last = Some(last.eq_ignore_ascii_case(b"chunked"));
        }
        Ok(())
    }

    /// The framing these fields give; `until_close_allowed` for responses,
    /// which may end with the connection.
    fn framing(&self, until_close_allowed: bool) -> Result<Framing, HeadError> {
        match (self.length, self.chunked_last) {
            (Some(_), Some(_)) => Err(HeadError::Malformed(
                "both content-length and transfer-encoding",
            )),
            (None, Some(true)) => Ok(Framing::Chunked),
            (None, Some(false)) => Ok(Framing::UntilClose),
            (Some(0), None) => Ok(Framing::Empty),
            (Some(length), None) => Ok(Framing::Length(length)),
            (None, None) if until_close_allowed => Ok(Framing::UntilClose),
            (None, None) => Ok(Framing::Empty),
        }
    }
}

fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn request(
        text: &str,
        forwarded: Option<Forwarded>,
    ) -> (Result<Option<Request>, HeadError>, String) {
        let mut out = Vec::new();
        let parsed = parse_request(text.as_bytes(), 100, forwarded, &mut out);
        (parsed, String::from_utf8(out).unwrap())
    }

    #[test]
    fn requests_lose_hop_by_hop_fields_and_gain_forwarded_ones() {
        let forwarded = Forwarded {
            client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            proto: "https",
            port: 443,
        };
        let (parsed, out) = request(
            "POST /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: gopher\r\nContent-Length: 3\r\n\r\nabc",
            Some(forwarded),
        );
        let parsed = parsed.unwrap().unwrap();
        assert_eq!(parsed.framing, Framing::Length(3));
        assert!(parsed.keep_alive);
        assert_eq!(
            out,
            "POST /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.7\r\nContent-Length: 3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n\r\n"
        );
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for text in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "GARBAGE\r\n\r\n",
        ] {
            assert!(
                matches!(request(text, None).0, Err(HeadError::Malformed(_))),
                "{text}"
            );
        }
        assert_eq!(request("GET / HTTP/1.1\r\nHost: a\r\n", None).0, Ok(None));
    }

    #[test]
    fn responses_say_how_they_end() {
        let get = request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", None)
            .0
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        let response = parse_response(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
            &get,
            &mut out,
        )
        .unwrap()
        .unwrap();
        assert_eq!(response.framing, Framing::Length(2));
        assert!(response.reusable && !response.closes_client);
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        let response = parse_response(b"HTTP/1.0 200 OK\r\n\r\n", &get, &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(response.framing, Framing::UntilClose);
        assert!(!response.reusable && response.closes_client);
        assert!(out.ends_with(b"Connection: close\r\n\r\n"));
    }

    #[test]
    fn http_1_1_requests_need_exactly_one_host() {
        let check = |text: &str, expected: Result<(), HeadError>| {
            let parsed = request(text, None).0.map(|request| {
                assert!(request.is_some(), "{text}: incomplete");
            });
            assert_eq!(parsed, expected, "{text}");
        };
        check("GET / HTTP/1.1\r\nHost: a\r\n\r\n", Ok(()));
        check("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", Ok(()));
        check("GET / HTTP/1.0\r\n\r\n", Ok(()));
        check("GET / HTTP/1.0\r\nHost: a\r\n\r\n", Ok(()));
        check(
            "GET / HTTP/1.1\r\n\r\n",
            Err(HeadError::Malformed("HTTP/1.1 request without Host")),
        );
        check(
            "GET / HTTP/1.1\r\nX-Host: a\r\n\r\n",
            Err(HeadError::Malformed("HTTP/1.1 request without Host")),
        );
        for text in [
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        ] {
            check(text, Err(HeadError::Malformed("more than one Host field")));
        }
        // Forwarded as HTTP/1.1, an HTTP/1.0 request without Host gains an
        // empty one; with a Host, it keeps its own.
        let (_, out) = request("GET / HTTP/1.0\r\n\r\n", None);
        assert_eq!(out, "GET / HTTP/1.1\r\nHost: \r\n\r\n");
        let (_, out) = request("GET / HTTP/1.0\r\nHost: a\r\n\r\n", None);
        assert_eq!(out, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    }
}
