//! The console's session: signing in exchanges an access token for a
//! cookie, so the console's page load is refused (401) without a
//! credential and its scripts never hold the token.
//!
//! - `POST /console/session` with `{"token": "..."}` checks the token as
//!   the API would and answers who it names (`principal`, `role`), setting
//!   the cookie `fulcrum_session` (`HttpOnly`: no script reads it;
//!   `SameSite=Strict`: no other site's page sends it; `Secure` over TLS;
//!   `Path=/`; gone when the browser closes, or after [`MAX_AGE`]).
//! - `GET /console/session` answers the same for the cookie the browser
//!   sends, or 401; `DELETE /console/session` clears the cookie.
//! - A REST call without an `authorization` header is authenticated by the
//!   cookie only when it also carries `x-fulcrum-console: 1`, a header a
//!   page of another origin cannot add without a CORS preflight, which
//!   this server never grants.
//! - The console's page (`/`) answers 401 without a valid cookie (its body
//!   is still the console, which shows the sign-in form).
//!
//! The cookie holds the token itself: revoking the token ends every
//! session made with it, on every node, with no session table to keep.

use std::time::Duration;

use http::HeaderMap;
use http::header::COOKIE;
use serde::Deserialize;

use super::errors::RestError;
use crate::auth::{Authentication, Principal};

/// Where the console signs in, asks who it is, and signs out.
pub const PATH: &str = "/console/session";
/// The cookie that carries the token.
pub const COOKIE_NAME: &str = "fulcrum_session";
/// The header that lets the cookie authenticate a REST call.
pub const CONSOLE_HEADER: &str = "x-fulcrum-console";
/// How long a session lasts at most (the token's own revocation ends it
/// sooner).
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// The longest token accepted (the node issues 47 characters).
const MAX_TOKEN_CHARS: usize = 256;

/// The sign-in body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// Checks sessions as the API checks callers.
pub struct Sessions {
    authentication: Authentication,
    /// Over TLS: the cookie is marked `Secure`.
    secure: bool,
}

impl Sessions {
    /// Sessions checked by `authentication`; `secure` when served over TLS.
    pub fn new(authentication: Authentication, secure: bool) -> Self {
        Self {
            authentication,
            secure,
        }
    }

    /// Whether the console's page needs a signed-in browser.
    pub fn required(&self) -> bool {
        self.authentication.is_on()
    }

    /// The principal of an `authorization: Bearer TOKEN` header, or why it
    /// is refused.
    pub fn bearer_principal(&self, header: &http::HeaderValue) -> Result<Principal, tonic::Status> {
        self.authentication.bearer_principal(header)
    }

    /// The token the request's cookie carries, if any.
    pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
    }

    /// The bearer credential a REST call carries through its cookie: only
    /// when it says it comes from the console.
    pub fn cookie_authorization(headers: &HeaderMap) -> Option<http::HeaderValue> {
        let from_console = headers
            .get(CONSOLE_HEADER)
            .is_some_and(|value| value.as_bytes() == b"1");
        if !from_console {
            return None;
        }
        Self::cookie_token(headers)
            .and_then(|token| http::HeaderValue::from_str(&format!("Bearer {token}")).ok())
    }

    /// Who the cookie of `headers` names, or why there is no session.
    pub fn principal(&self, headers: &HeaderMap) -> Result<Principal, RestError> {
        if !self.required() {
            return Ok(Principal::anonymous());
        }
        let token = Self::cookie_token(headers).ok_or_else(|| {
            RestError::from_status(&tonic::Status::unauthenticated(
                "no session: sign in with an access token",
            ))
        })?;
        self.authentication
            .token_principal(token)
            .map_err(|status| RestError::from_status(&status))
    }

    /// Checks the token of a sign-in body; answers its principal and the
    /// `set-cookie` value (none without authentication).
    pub fn sign_in(&self, body: &[u8]) -> Result<(Principal, Option<String>), RestError> {
        let sign_in: SignIn = serde_json::from_slice(body).map_err(|error| {
            RestError::invalid("body", format!("expected {{\"token\": \"...\"}}: {error}"))
        })?;
        let token = sign_in.token.trim();
        if !self.required() {
            return Ok((Principal::anonymous(), None));
        }
        if token.is_empty() {
            return Err(RestError::invalid("token", "must not be empty"));
        }
        if token.chars().count() > MAX_TOKEN_CHARS
            || !token
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '"' | '\\'))
        {
            return Err(RestError::invalid(
                "token",
                format!(
                    "not an access token (at most {MAX_TOKEN_CHARS} printable characters, no `;`, `,`, `\"` or `\\`)"
                ),
            ));
        }
        let principal = self
            .authentication
            .token_principal(token)
            .map_err(|status| RestError::from_status(&status))?;
        Ok((principal, Some(self.cookie(token, MAX_AGE))))
    }

    /// The `set-cookie` value that ends the session.
    pub fn sign_out(&self) -> String {
        self.cookie("", Duration::ZERO)
    }

    fn cookie(&self, token: &str, max_age: Duration) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            max_age.as_secs()
        )
    }
}

/// The JSON a session answer carries.
pub fn describe(principal: &Principal, required: bool) -> serde_json::Value {
    serde_json::json!({
        "principal": principal.name,
        "role": principal.role.as_str(),
        "authenticationRequired": required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let map = headers(&[("cookie", "a=1; fulcrum_session=fct_abc ; b=2")]);
        assert_eq!(Sessions::cookie_token(&map), Some("fct_abc"));
        assert_eq!(Sessions::cookie_token(&headers(&[("cookie", "a=1")])), None);
        assert_eq!(
            Sessions::cookie_token(&headers(&[("cookie", "fulcrum_session=")])),
            None
        );
    }

    #[test]
    fn the_cookie_authenticates_only_calls_from_the_console() {
        let cookie = ("cookie", "fulcrum_session=fct_abc");
        assert_eq!(Sessions::cookie_authorization(&headers(&[cookie])), None);
        assert_eq!(
            Sessions::cookie_authorization(&headers(&[cookie, (CONSOLE_HEADER, "0")])),
            None
        );
        assert_eq!(
            Sessions::cookie_authorization(&headers(&[cookie, (CONSOLE_HEADER, "1")])).unwrap(),
            "Bearer fct_abc"
        );
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let tls = Sessions::new(Authentication::Off, true);
        let cookie = tls.cookie("fct_abc", MAX_AGE);
        for part in [
            "fulcrum_session=fct_abc",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Secure",
            "Max-Age=43200",
        ] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        assert!(
            Sessions::new(Authentication::Off, false)
                .sign_out()
                .contains("Max-Age=0")
        );
        assert!(
            !Sessions::new(Authentication::Off, false)
                .sign_out()
                .contains("Secure")
        );
    }

    #[test]
    fn without_authentication_anyone_is_signed_in_and_no_cookie_is_set() {
        let sessions = Sessions::new(Authentication::Off, false);
        let (principal, cookie) = sessions.sign_in(br#"{"token": ""}"#).unwrap();
        assert_eq!(principal, Principal::anonymous());
        assert_eq!(cookie, None);
        assert_eq!(
            sessions.principal(&HeaderMap::new()).unwrap(),
            Principal::anonymous()
        );
        let error = sessions.sign_in(b"{}").unwrap_err();
        assert!(error.message.starts_with("body: "), "{}", error.message);
    }
}
