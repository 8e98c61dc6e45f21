//! The rules for access tokens: a secret's hash names one token only, the
//! cluster holds at most `MAX_ACCESS_TOKENS`, and a revocation names a token
//! that exists (at the revision the client expects).

use super::{Context, current};
use crate::domain::catalog::Catalog;
use crate::domain::command::{DeleteTarget, IssueAccessToken};
use crate::domain::event::Event;
use crate::domain::ids::AccessTokenId;
use crate::domain::limits::MAX_ACCESS_TOKENS;
use crate::domain::model::AccessToken;
use crate::domain::rejection::Rejection;

pub(super) fn issue_access_token(
    catalog: &Catalog,
    context: &mut Context,
    issue: &IssueAccessToken,
) -> Result<Vec<Event>, Rejection> {
    // Secrets are random: two equal hashes mean a node reused a secret, or
    // an entry was replayed under another client token. Either way the
    // second bearer must not share the first one's identity.
    if let Some(holder) = catalog.access_token_by_secret_hash(&issue.secret_sha256) {
        return Err(Rejection::already_exists(
            "secret_sha256",
            format!(
                "access token {} already has this secret; a secret is never reused (generate a new one)",
                holder.id
            ),
        ));
    }
    if catalog.access_tokens.len() >= MAX_ACCESS_TOKENS {
        return Err(Rejection::exhausted(format!(
            "the cluster holds {MAX_ACCESS_TOKENS} access tokens, the most it may; revoke some first"
        )));
    }
    Ok(vec![Event::AccessTokenIssued(AccessToken {
        id: AccessTokenId::derive(context.seed()?),
        principal: issue.principal.clone(),
        role: issue.role,
        description: issue.description.clone(),
        created_at_ms: context.now_ms,
        revision: context.revision,
        secret_sha256: issue.secret_sha256,
    })])
}

pub(super) fn revoke_access_token(
    catalog: &Catalog,
    target: &DeleteTarget<AccessTokenId>,
) -> Result<Vec<Event>, Rejection> {
    let token = current(
        catalog.access_token("id", &target.id),
        target.expected_revision,
    )?;
    Ok(vec![Event::AccessTokenRevoked(token.clone())])
}
