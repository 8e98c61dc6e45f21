//! The typed client: one channel to a Fulcrum node, and a client per service
//! on it. Any node answers: writes sent to a follower are forwarded to the
//! leader, so callers never need to find the leader themselves.
//!
//! A connection is plaintext, or TLS when [`Credentials`] carry the cluster
//! CA: the node's certificate must chain to that CA and name the address's
//! host, and the client presents its own certificate when it has one. A
//! bearer token, when given, rides on every request of every service client
//! made from the [`Client`].

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::v1;

/// The largest message the client sends or accepts (a page of a listing).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The longest bearer token the client sends, in bytes.
pub const TOKEN_MAX_BYTES: usize = 4096;

/// The metadata key that carries the bearer token.
const AUTHORIZATION: &str = "authorization";

/// What a client trusts and what it proves itself with. The default has
/// nothing: a plaintext connection without a token, as [`Client::connect`].
///
/// `Debug` shows which parts are present, never a key or the token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The cluster CA, PEM (one or more `CERTIFICATE` sections). With it the
    /// connection uses TLS and the node's certificate must chain to it.
    pub ca_pem: Option<String>,
    /// The client's certificate and its private key, both PEM, presented in
    /// the TLS handshake. Needs `ca_pem`.
    pub identity: Option<(String, String)>,
    /// Sent as `authorization: Bearer <token>` on every request: 1 to
    /// [`TOKEN_MAX_BYTES`] visible ASCII characters. Without `ca_pem` it is
    /// sent only to a loopback address, where nobody else can read it.
    pub token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "ca_pem",
                &self
                    .ca_pem
                    .as_ref()
                    .map(|pem| format!("<{} bytes>", pem.len())),
            )
            .field(
                "identity",
                &self
                    .identity
                    .as_ref()
                    .map(|_| "<certificate and private key>"),
            )
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Puts `authorization: Bearer <token>` on every request, when there is a
/// token; the interceptor of every service client a [`Client`] hands out.
///
/// `Debug` says whether there is a token, never what it is.
#[derive(Clone, Default)]
pub struct Authorization {
    value: Option<AsciiMetadataValue>,
}

/// A token the client will not send. The message states the rule without
/// repeating the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be 1 to {TOKEN_MAX_BYTES} visible ASCII characters, without spaces ({length} bytes given)"
)]
pub struct TokenError {
    /// The refused token's length, in bytes.
    pub length: usize,
}

impl Authorization {
    /// The header for `token`; `None` adds nothing.
    pub fn bearer(token: Option<&str>) -> Result<Self, TokenError> {
        let Some(token) = token else {
            return Ok(Self::default());
        };
        let refused = TokenError {
            length: token.len(),
        };
        let length_ok = (1..=TOKEN_MAX_BYTES).contains(&token.len());
        if !length_ok || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(refused);
        }
        // Visible ASCII always parses; the error stays for safety.
        let mut value: AsciiMetadataValue =
            format!("Bearer {token}").parse().map_err(|_| refused)?;
        // Kept out of HTTP/2's header compression tables.
        value.set_sensitive(true);
        Ok(Self { value: Some(value) })
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.value.is_some() {
            "Bearer <redacted>"
        } else {
            "none"
        };
        f.debug_tuple("Authorization").field(&shown).finish()
    }
}

impl Interceptor for Authorization {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.value {
            request.metadata_mut().insert(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}

/// The transport of every service client: the channel, with the token added.
pub type ClientChannel = InterceptedService<Channel, Authorization>;

/// A connection to one node, shared by every service client made from it.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    authorization: Authorization,
}

/// Why connecting failed, sorted by what the caller can do: fix the address
/// or credentials, or retry (perhaps another node).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address or the credentials break a rule; retrying cannot help.
    #[error("cannot connect to {address}: {reason}")]
    Invalid {
        /// The address as given.
        address: String,
        /// Which part is wrong, and the rule.
        reason: String,
    },
    /// The node could not be reached, or the TLS handshake failed (the
    /// source chain says why: refused, timed out, unknown issuer, ...).
    #[error("cannot connect to {address}: {source}")]
    Transport {
        /// The address as given.
        address: String,
        /// tonic's error.
        #[source]
        source: tonic::transport::Error,
    },
}

macro_rules! service_clients {
    ($($method:ident => $client:ty,)*) => {
        impl Client {
            $(
                #[doc = concat!("A `", stringify!($client), "` on this connection.")]
                pub fn $method(&self) -> $client {
                    <$client>::new(self.channel())
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(MAX_MESSAGE_BYTES)
                }
            )*
        }
    };
}

service_clients! {
    networks => v1::network_service_client::NetworkServiceClient<ClientChannel>,
    eips => v1::eip_service_client::EipServiceClient<ClientChannel>,
    load_balancers => v1::load_balancer_service_client::LoadBalancerServiceClient<ClientChannel>,
    listeners => v1::listener_service_client::ListenerServiceClient<ClientChannel>,
    groups => v1::virtual_server_group_service_client::VirtualServerGroupServiceClient<ClientChannel>,
    certificates => v1::certificate_service_client::CertificateServiceClient<ClientChannel>,
    access_tokens => v1::access_token_service_client::AccessTokenServiceClient<ClientChannel>,
    events => v1::event_service_client::EventServiceClient<ClientChannel>,
    cluster => v1::cluster_service_client::ClusterServiceClient<ClientChannel>,
}

impl Client {
    /// The channel with the token added, for a service client of its own.
    pub fn channel(&self) -> ClientChannel {
        InterceptedService::new(self.channel.clone(), self.authorization.clone())
    }

    /// Connects to the node at `address` (`host:port`, or a URL with
    /// `http://`) in plaintext, without credentials.
    pub async fn connect(address: &str, timeout: Duration) -> Result<Self, ConnectError> {
        Self::connect_with(address, timeout, &Credentials::default()).await
    }

    /// Connects to the node at `address` with `credentials`.
    ///
    /// With a CA the connection uses TLS: `host:port` means
    /// `https://host:port`, and `http://` is refused. The node's certificate
    /// must chain to the CA and name `host` (an IP address or a DNS name).
    /// Without a CA the connection is plaintext, and `https://`, a client
    /// certificate, and a token to a host that is not loopback are refused.
    /// `timeout` bounds the TCP connect and the TLS handshake each.
    pub async fn connect_with(
        address: &str,
        timeout: Duration,
        credentials: &Credentials,
    ) -> Result<Self, ConnectError> {
        let invalid = |reason: String| ConnectError::Invalid {
            address: address.to_owned(),
            reason,
        };
        let transport = |source| ConnectError::Transport {
            address: address.to_owned(),
            source,
        };
        let authorization = Authorization::bearer(credentials.token.as_deref())
            .map_err(|error| invalid(format!("token: {error}")))?;
        let url = url(address, credentials.ca_pem.is_some()).map_err(invalid)?;
        let endpoint = Endpoint::from_shared(url)
            .map_err(transport)?
            .connect_timeout(timeout)
            .tcp_nodelay(true);
        let endpoint = match &credentials.ca_pem {
            Some(ca_pem) => {
                let tls =
                    tls_config(ca_pem, credentials.identity.as_ref(), timeout).map_err(invalid)?;
                endpoint.tls_config(tls).map_err(transport)?
            }
            None => {
                if credentials.identity.is_some() {
                    return Err(invalid(
                        "a client certificate needs TLS: give the CA that signed the node's \
                         certificate (--ca)"
                            .to_owned(),
                    ));
                }
                if credentials.token.is_some() && !is_loopback(endpoint.uri().host()) {
                    return Err(invalid(
                        "a token would cross the network in the clear: give the CA that signed \
                         the node's certificate (--ca) to use TLS"
                            .to_owned(),
                    ));
                }
                endpoint
            }
        };
        let channel = endpoint.connect().await.map_err(transport)?;
        Ok(Self {
            channel,
            authorization,
        })
    }

    /// A client on a channel the caller built (its own TLS, if any), without
    /// a token.
    pub fn from_channel(channel: Channel) -> Self {
        Self {
            channel,
            authorization: Authorization::default(),
        }
    }
}

/// The URL for `address`: `https://` with TLS, `http://` without; an
/// explicit scheme must agree.
fn url(address: &str, tls: bool) -> Result<String, String> {
    match (address.split_once("://"), tls) {
        (None, true) => Ok(format!("https://{address}")),
        (None, false) => Ok(format!("http://{address}")),
        (Some(("https", _)), true) | (Some(("http", _)), false) => Ok(address.to_owned()),
        (Some(("https", _)), false) => Err(
            "an https:// address needs the CA that signed the node's certificate (--ca)"
                .to_owned(),
        ),
        (Some(("http", _)), true) => Err(
            "http:// is plaintext, but a CA was given for TLS: write https://HOST:PORT or HOST:PORT"
                .to_owned(),
        ),
        (Some((scheme, _)), _) => Err(format!(
            "scheme {scheme:?}: must be http or https (or none: HOST:PORT)"
        )),
    }
}

/// The TLS settings: the CA as the only root, the client's certificate when
/// given, `timeout` on the handshake. The PEM is checked here because the TLS
/// stack skips what it cannot parse, which would surface later as an
/// unexplained "unknown issuer".
fn tls_config(
    ca_pem: &str,
    identity: Option<&(String, String)>,
    timeout: Duration,
) -> Result<ClientTlsConfig, String> {
    check_certificates("ca", ca_pem)?;
    let mut config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .timeout(timeout);
    if let Some((certificate_pem, key_pem)) = identity {
        check_certificates("cert", certificate_pem)?;
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            // Never the PEM error itself: it quotes the key's text.
            .map_err(|_| "key: not a PEM private key (PKCS#8, PKCS#1 or SEC1)".to_owned())?;
        config = config.identity(Identity::from_pem(certificate_pem, key_pem));
    }
    Ok(config)
}

/// At least one `CERTIFICATE` section, each parsable.
fn check_certificates(what: &str, pem: &str) -> Result<(), String> {
    let mut count = 0usize;
    for section in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        section.map_err(|error| format!("{what}: not PEM certificates: {error}"))?;
        count += 1;
    }
    if count == 0 {
        return Err(format!("{what}: no CERTIFICATE section in the PEM"));
    }
    Ok(())
}

/// Whether `host` (from a URI, IPv6 in brackets) is this machine only.
fn is_loopback(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let check = |address: &str, tls: bool, expected: Result<&str, &str>| {
            let actual = url(address, tls);
            match expected {
                Ok(url) => assert_eq!(actual.as_deref(), Ok(url), "{address} tls={tls}"),
                Err(part) => assert!(
                    actual.as_ref().is_err_and(|reason| reason.contains(part)),
                    "{address} tls={tls}: {actual:?}"
                ),
            }
        };
        check("10.0.0.1:7400", false, Ok("http://10.0.0.1:7400"));
        check("10.0.0.1:7400", true, Ok("https://10.0.0.1:7400"));
        check("http://h:1", false, Ok("http://h:1"));
        check("https://h:1", true, Ok("https://h:1"));
        check("https://h:1", false, Err("--ca"));
        check("http://h:1", true, Err("https://HOST:PORT"));
        check("ftp://h:1", true, Err("must be http or https"));
    }

    #[test]
    fn tokens() {
        assert!(Authorization::bearer(None).is_ok_and(|header| header.value.is_none()));
        let header = Authorization::bearer(Some("abc.DEF-123_~+/=")).unwrap();
        assert_eq!(
            header.value.as_ref().map(|value| value.to_str().unwrap()),
            Some("Bearer abc.DEF-123_~+/=")
        );
        assert_eq!(
            format!("{header:?}"),
            "Authorization(\"Bearer <redacted>\")"
        );
        let too_long = "t".repeat(TOKEN_MAX_BYTES + 1);
        for bad in ["", "has space", "tab\t", "é", too_long.as_str()] {
            let error = Authorization::bearer(Some(bad)).unwrap_err().to_string();
            assert!(error.starts_with("must be 1 to 4096"), "{bad:?}: {error}");
            assert!(
                bad.is_empty() || !error.contains(bad),
                "{error} repeats the token"
            );
        }
    }

    #[test]
    fn debug_hides_the_key_and_the_token() {
        let credentials = Credentials {
            ca_pem: Some("CA-PEM".to_owned()),
            identity: Some(("CERT-PEM".to_owned(), "SECRET-KEY".to_owned())),
            token: Some("SECRET-TOKEN".to_owned()),
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<6 bytes>"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "[::1]", "localhost", "LocalHost", "127.7.7.7"] {
            assert!(is_loopback(Some(host)), "{host}");
        }
        for host in ["10.0.0.1", "[fe80::1]", "node-1.example", "localhost.evil"] {
            assert!(!is_loopback(Some(host)), "{host}");
        }
        assert!(!is_loopback(None));
    }

    #[test]
    fn bad_pem_is_named() {
        let error = tls_config("not pem", None, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error, "ca: no CERTIFICATE section in the PEM");
    }
}
