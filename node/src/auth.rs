//! Who may call what on the public API: authentication (a bearer token or
//! a client certificate, each naming a principal and a role) and
//! authorization (each method needs a role), as one tower layer in front of
//! every public service.
//!
//! - A request with `authorization: Bearer TOKEN` is the token's principal:
//!   the token's SHA-256 is looked up in the replicated token table, so a
//!   revoked token stops working on a node as soon as it applies the
//!   revocation. A token that is not in the table is UNAUTHENTICATED, even
//!   on a connection with a client certificate.
//! - Otherwise a client certificate the cluster CA signed (verified in the
//!   TLS handshake) names the principal (CN) and role (OU).
//! - Otherwise the call is UNAUTHENTICATED, except the health service, which
//!   load balancers and orchestrators probe without credentials.
//!
//! Roles grant in order: `viewer` (reads, history, watch, status) <
//! `operator` (creates, updates, deletes) < `admin` (membership, leadership,
//! settings, the EIP pool, tokens); a node certificate counts as admin (a
//! node joins its cluster through the API). A call beyond the caller's role
//! is PERMISSION_DENIED naming the role it needs. The principal is put in
//! the request's extensions, for the audit trail.
//!
//! Without TLS (`--dev`, loopback, or `tls.insecure`) nothing is checked:
//! every caller is [`Principal::anonymous`], an admin.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use fulcrum_pki::Role;
use sha2::{Digest, Sha256};

use crate::transport::PeerInfo;

/// The header a bearer token travels in, and its scheme.
pub const AUTHORIZATION: &str = "authorization";
const BEARER: &str = "Bearer ";

/// Who made a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The name the audit trail records.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// The caller of a node without authentication.
    pub fn anonymous() -> Self {
        Self {
            name: "anonymous".to_owned(),
            role: Role::Admin,
        }
    }

    /// A node acting on its own (proposing the bootstrap EIP pool, say).
    pub fn node(id: u64) -> Self {
        Self {
            name: format!("node-{id}"),
            role: Role::Node,
        }
    }
}

/// How a role ranks: a role grants everything a lower one does.
fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 1,
        Role::Operator => 2,
        Role::Admin | Role::Node => 3,
    }
}

/// Whether `held` may call a method that needs `needed`.
pub fn grants(held: Role, needed: Role) -> bool {
    rank(held) >= rank(needed)
}

/// The role a gRPC method (`/package.Service/Method`) needs; `None` for the
/// health service, which anyone may ask.
pub fn required_role(path: &str) -> Option<Role> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (service, method) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match service {
        // Probes need no credential; a watch holds a stream open, so it does.
        "grpc.health.v1.Health" if method == "Check" => None,
        "grpc.health.v1.Health" => Some(Role::Viewer),
        "grpc.reflection.v1.ServerReflection" | "grpc.reflection.v1alpha.ServerReflection" => {
            Some(Role::Viewer)
        }
        "fulcrum.v1.ClusterService" => Some(match method {
            "GetClusterStatus" | "GetClusterSettings" => Role::Viewer,
            _ => Role::Admin,
        }),
        "fulcrum.v1.AccessTokenService" => Some(Role::Admin),
        "fulcrum.v1.EventService" => Some(Role::Viewer),
        service if service.starts_with("fulcrum.v1.") => Some(
            if ["Get", "List", "Watch"]
                .iter()
                .any(|read| method.starts_with(read))
            {
                Role::Viewer
            } else {
                Role::Operator
            },
        ),
        // Anything else this port might serve: the highest bar.
        _ => Some(Role::Admin),
    }
}

/// The replicated token table, as the authenticator sees it.
pub trait TokenTable: Send + Sync {
    /// The principal of the token whose secret hashes to `secret_sha256`,
    /// if it exists and is not revoked.
    fn principal(&self, secret_sha256: &[u8; 32]) -> Option<Principal>;
}

/// The certificate role of a token's role (tokens never carry `node`).
pub fn role_of(role: fulcrum_raft_store::domain::Role) -> Role {
    match role {
        fulcrum_raft_store::domain::Role::Viewer => Role::Viewer,
        fulcrum_raft_store::domain::Role::Operator => Role::Operator,
        fulcrum_raft_store::domain::Role::Admin => Role::Admin,
    }
}

/// SHA-256 of a token's secret: all the table keeps of it.
pub fn secret_sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether and how the API checks its callers.
#[derive(Clone)]
pub enum Authentication {
    /// No TLS: every caller is [`Principal::anonymous`].
    Off,
    /// Tokens from this table, certificates from the handshake.
    On(Arc<dyn TokenTable>),
}

impl Authentication {
    /// Who `request` comes from, or why it is refused.
    pub fn principal<B>(&self, request: &http::Request<B>) -> Result<Principal, tonic::Status> {
        if !self.is_on() {
            return Ok(Principal::anonymous());
        }
        if let Some(header) = request.headers().get(AUTHORIZATION) {
            return self.bearer_principal(header);
        }
        request
            .extensions()
            .get::<PeerInfo>()
            .and_then(|peer| peer.identity.as_ref())
            .map(|identity| Principal {
                name: identity.principal.clone(),
                role: identity.role,
            })
            .ok_or_else(|| {
                tonic::Status::unauthenticated(
                    "no credential: present a client certificate signed by the cluster CA (--cert/--key) or a bearer token (--token)",
                )
            })
    }

    /// Whether callers must present a credential.
    pub fn is_on(&self) -> bool {
        matches!(self, Self::On(_))
    }

    /// The principal of an `authorization: Bearer TOKEN` header, or why it
    /// is refused.
    pub fn bearer_principal(&self, header: &http::HeaderValue) -> Result<Principal, tonic::Status> {
        let secret = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix(BEARER))
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                tonic::Status::unauthenticated("authorization: expected `Bearer TOKEN`")
            })?;
        self.token_principal(secret)
    }

    /// The principal of a bearer token's secret, or why it is refused.
    pub fn token_principal(&self, secret: &str) -> Result<Principal, tonic::Status> {
        let Self::On(tokens) = self else {
            return Ok(Principal::anonymous());
        };
        tokens.principal(&secret_sha256(secret)).ok_or_else(|| {
            tonic::Status::unauthenticated(
                "authorization: the token is not valid (unknown, or revoked)",
            )
        })
    }
}

/// The layer that authenticates and authorizes every call.
#[derive(Clone)]
pub struct Authorize {
    authentication: Authentication,
}

impl Authorize {
    /// Checks callers as `authentication` says.
    pub fn new(authentication: Authentication) -> Self {
        Self { authentication }
    }
}

impl<S> tower::Layer<S> for Authorize {
    type Service = AuthorizeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService {
            inner,
            authentication: self.authentication.clone(),
        }
    }
}

/// The service [`Authorize`] wraps around another.
#[derive(Clone)]
pub struct AuthorizeService<S> {
    inner: S,
    authentication: Authentication,
}

/// The refusal of `request` by `authentication`, or `None` when it may go on
/// (with its principal put in its extensions).
fn check<B>(
    authentication: &Authentication,
    request: &mut http::Request<B>,
) -> Option<tonic::Status> {
    let needed = required_role(request.uri().path());
    match (authentication.principal(request), needed) {
        (Ok(principal), Some(needed)) if !grants(principal.role, needed) => {
            Some(tonic::Status::permission_denied(format!(
                "{} needs the role {needed}; {} holds the role {}",
                request.uri().path(),
                principal.name,
                principal.role
            )))
        }
        (Ok(principal), _) => {
            request.extensions_mut().insert(principal);
            None
        }
        (Err(_), None) => None,
        (Err(refusal), Some(_)) => Some(refusal),
    }
}

impl<S, Body, ResponseBody> tower::Service<http::Request<Body>> for AuthorizeService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = http::Response<ResponseBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        match check(&self.authentication, &mut request) {
            None => Box::pin(self.inner.call(request)),
            Some(refusal) => {
                tracing::debug!(path = request.uri().path(), %refusal, "call refused");
                Box::pin(std::future::ready(Ok(refusal.into_http())))
            }
        }
    }
}

/// The principal the authorization layer found for a request (anonymous
/// when the layer did not run: in-process callers).
pub fn principal_of<T>(request: &tonic::Request<T>) -> Principal {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table(Vec<([u8; 32], Principal)>);

    impl TokenTable for Table {
        fn principal(&self, secret_sha256: &[u8; 32]) -> Option<Principal> {
            self.0
                .iter()
                .find(|(hash, _)| hash == secret_sha256)
                .map(|(_, principal)| principal.clone())
        }
    }

    fn request(
        path: &str,
        token: Option<&str>,
        certificate: Option<(&str, Role)>,
    ) -> http::Request<()> {
        let mut request = http::Request::builder().uri(path);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let mut request = request.body(()).expect("a request");
        request.extensions_mut().insert(PeerInfo {
            remote: None,
            identity: certificate.map(|(principal, role)| {
                Arc::new(fulcrum_pki::Identity {
                    principal: principal.to_owned(),
                    role,
                })
            }),
        });
        request
    }

    fn on() -> Authentication {
        Authentication::On(Arc::new(Table(vec![(
            secret_sha256("fct_operator"),
            Principal {
                name: "ci".to_owned(),
                role: Role::Operator,
            },
        )])))
    }

    /// The outcome of a call: the principal, or the gRPC code and message.
    fn outcome(
        authentication: &Authentication,
        mut request: http::Request<()>,
    ) -> Result<String, (tonic::Code, String)> {
        match check(authentication, &mut request) {
            None => Ok(request
                .extensions()
                .get::<Principal>()
                .map_or_else(|| "-".to_owned(), |principal| principal.name.clone())),
            Some(status) => Err((status.code(), status.message().to_owned())),
        }
    }

    #[test]
    fn each_method_needs_its_role() {
        let cases = [
            (
                "/fulcrum.v1.LoadBalancerService/ListLoadBalancers",
                Some(Role::Viewer),
            ),
            (
                "/fulcrum.v1.LoadBalancerService/GetLoadBalancer",
                Some(Role::Viewer),
            ),
            (
                "/fulcrum.v1.LoadBalancerService/CreateLoadBalancer",
                Some(Role::Operator),
            ),
            (
                "/fulcrum.v1.LoadBalancerService/DeleteLoadBalancer",
                Some(Role::Operator),
            ),
            ("/fulcrum.v1.EventService/Watch", Some(Role::Viewer)),
            (
                "/fulcrum.v1.ClusterService/GetClusterStatus",
                Some(Role::Viewer),
            ),
            (
                "/fulcrum.v1.ClusterService/UpdateClusterSettings",
                Some(Role::Admin),
            ),
            ("/fulcrum.v1.ClusterService/AddLearner", Some(Role::Admin)),
            (
                "/fulcrum.v1.ClusterService/TransferLeadership",
                Some(Role::Admin),
            ),
            (
                "/fulcrum.v1.AccessTokenService/ListAccessTokens",
                Some(Role::Admin),
            ),
            (
                "/fulcrum.internal.v1.RaftService/AppendEntries",
                Some(Role::Admin),
            ),
            ("/grpc.health.v1.Health/Check", None),
            ("/grpc.health.v1.Health/Watch", Some(Role::Viewer)),
        ];
        for (path, needed) in cases {
            assert_eq!(required_role(path), needed, "{path}");
        }
    }

    /// Every method of the public contract, with the role it needs: a new
    /// method fails here until someone decides its role.
    #[test]
    fn every_public_method_has_the_role_written_here() {
        let pool = prost_reflect::DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let mut found: Vec<String> = pool
            .services()
            .flat_map(|service| {
                service
                    .methods()
                    .map(|method| {
                        let path = format!("/{}/{}", service.full_name(), method.name());
                        let role = required_role(&path).map_or("anyone", Role::as_str);
                        format!("{} {role}", &path[12..])
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort();
        let expected = include_str!("auth_roles.txt")
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert_eq!(
            found, expected,
            "update node/src/auth_roles.txt after deciding each new method's role"
        );
    }

    #[test]
    fn callers_are_authenticated_then_authorized() {
        let create = "/fulcrum.v1.LoadBalancerService/CreateLoadBalancer";
        let settings = "/fulcrum.v1.ClusterService/UpdateClusterSettings";
        let authentication = on();
        assert_eq!(
            outcome(&authentication, request(create, None, None)).map_err(|(code, _)| code),
            Err(tonic::Code::Unauthenticated)
        );
        let (code, message) = outcome(
            &authentication,
            request(create, None, Some(("vera", Role::Viewer))),
        )
        .expect_err("a viewer cannot create");
        assert_eq!(code, tonic::Code::PermissionDenied);
        assert!(
            message.contains("needs the role operator") && message.contains("vera"),
            "{message}"
        );
        assert_eq!(
            outcome(&authentication, request(create, Some("fct_operator"), None)),
            Ok("ci".to_owned())
        );
        let (code, message) = outcome(
            &authentication,
            request(settings, Some("fct_operator"), None),
        )
        .expect_err("an operator cannot change settings");
        assert_eq!(code, tonic::Code::PermissionDenied);
        assert!(message.contains("needs the role admin"), "{message}");
        assert_eq!(
            outcome(
                &authentication,
                request(settings, None, Some(("root", Role::Admin)))
            ),
            Ok("root".to_owned())
        );
        // A token that is not in the table is refused, certificate or not.
        let (code, _) = outcome(
            &authentication,
            request(create, Some("fct_revoked"), Some(("root", Role::Admin))),
        )
        .expect_err("an unknown token is refused");
        assert_eq!(code, tonic::Code::Unauthenticated);
        // Health needs nothing.
        assert!(
            outcome(
                &authentication,
                request("/grpc.health.v1.Health/Check", None, None)
            )
            .is_ok()
        );
        // Without TLS, everyone is the anonymous admin.
        assert_eq!(
            outcome(&Authentication::Off, request(settings, None, None)),
            Ok("anonymous".to_owned())
        );
    }
}
