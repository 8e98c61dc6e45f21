//! The access-token commands, wire to domain: the principal, the role, the
//! description and the secret's hash, each checked and named when wrong.
//!
//! The node that receives a `CreateAccessTokenRequest` generates the secret
//! and proposes `IssueAccessToken`: the client's request and the secret's
//! SHA-256, never the secret. Errors name the client's fields (`principal`,
//! `role`, `description`) and the node's (`secret_sha256`).

use fulcrum_api::v1;

use super::{DeleteTarget, delete};
use crate::domain::ids::AccessTokenId;
use crate::domain::model::{Role, SecretHash};
use crate::domain::rejection::Rejection;
use crate::domain::validate;

/// Issue an access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueAccessToken {
    /// Who the token authenticates.
    pub principal: String,
    /// What its bearer may do.
    pub role: Role,
    /// At most 256 characters.
    pub description: String,
    /// SHA-256 of the secret the node generated.
    pub secret_sha256: SecretHash,
}

impl TryFrom<v1::Role> for Role {
    type Error = Rejection;

    /// Reads a role; `ROLE_UNSPECIFIED` is refused, naming `role`.
    fn try_from(raw: v1::Role) -> Result<Self, Rejection> {
        match raw {
            v1::Role::Viewer => Ok(Role::Viewer),
            v1::Role::Operator => Ok(Role::Operator),
            v1::Role::Admin => Ok(Role::Admin),
            v1::Role::Unspecified => Err(Rejection::invalid(
                "role",
                "is required: one of VIEWER, OPERATOR, ADMIN",
            )),
        }
    }
}

/// A role as the wire carries it (an enum number, perhaps unknown).
pub(crate) fn role(raw: i32) -> Result<Role, Rejection> {
    let known = v1::Role::try_from(raw).map_err(|_| {
        Rejection::invalid(
            "role",
            format!("{raw} is not a role; the roles are VIEWER, OPERATOR and ADMIN"),
        )
    })?;
    Role::try_from(known)
}

pub(super) fn issue_access_token(
    raw: &v1::IssueAccessToken,
) -> Result<IssueAccessToken, Rejection> {
    let Some(request) = &raw.request else {
        return Err(Rejection::invalid("request", "is required"));
    };
    Ok(IssueAccessToken {
        principal: validate::principal("principal", &request.principal)?,
        role: role(request.role)?,
        description: validate::description("description", &request.description)?,
        secret_sha256: validate::secret_sha256("secret_sha256", &raw.secret_sha256)?,
    })
}

pub(super) fn revoke_access_token(
    raw: &v1::RevokeAccessTokenRequest,
) -> Result<DeleteTarget<AccessTokenId>, Rejection> {
    Ok(delete(
        AccessTokenId::parse("id", &raw.id)?,
        raw.expected_revision,
        false,
    ))
}

/// The request as the client-token memory identifies it: the client's
/// request alone. The secret's hash differs on every attempt (each node that
/// receives a retry generates a new secret), so a retry with the same client
/// token must be known by the request, and gets the first token's receipt.
pub(crate) fn fingerprinted(raw: &v1::IssueAccessToken) -> v1::Command {
    v1::Command {
        kind: Some(v1::command::Kind::IssueAccessToken(v1::IssueAccessToken {
            request: raw.request.clone(),
            secret_sha256: Vec::new(),
        })),
    }
}
