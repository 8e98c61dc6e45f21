//! `AccessTokenService`: bearer tokens, created and revoked by an admin.
//!
//! The node that receives a create draws the secret (32 random bytes from
//! the workspace's one crypto provider), proposes only its SHA-256, and
//! shows the secret in its answer, once. Every node authenticates a token
//! against its own copy of the replicated table, so a revocation takes
//! effect on a node as soon as that node applies it.

use fulcrum_api::v1;
use fulcrum_api::v1::command::Kind;
use fulcrum_raft_store::domain::AccessTokenId;
use tonic::{Request, Response, Status};

use super::{Api, page};
use crate::auth::secret_sha256;
use crate::secrets::{hex, random};

/// Random bytes in a secret.
const SECRET_BYTES: usize = 32;
/// What every secret starts with, so that one found in a log or a
/// repository is recognised for what it is.
const SECRET_PREFIX: &str = "fulcrum_";

/// A new secret: the prefix and 32 random bytes in hex.
fn new_secret() -> Result<String, Status> {
    let bytes: [u8; SECRET_BYTES] = random()
        .map_err(|_| Status::unavailable("no random bytes for a token secret; try again"))?;
    Ok(format!("{SECRET_PREFIX}{}", hex(&bytes)))
}

#[tonic::async_trait]
impl v1::access_token_service_server::AccessTokenService for Api {
    async fn create_access_token(
        &self,
        request: Request<v1::CreateAccessTokenRequest>,
    ) -> Result<Response<v1::CreateAccessTokenResponse>, Status> {
        let secret = new_secret()?;
        let hash = secret_sha256(&secret);
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                |r| {
                    Kind::IssueAccessToken(v1::IssueAccessToken {
                        request: Some(r),
                        secret_sha256: hash.to_vec(),
                    })
                },
            )
            .await?;
        self.render(|_, state| {
            let token = AccessTokenId::parse("id", &receipt.resource_id)
                .ok()
                .and_then(|id| state.access_tokens().get(&id));
            // A retried client token answers the first token, whose secret
            // this node never saw: it cannot be shown again.
            let secret = match token {
                Some(token) if token.secret_sha256 == hash => secret.clone(),
                _ => String::new(),
            };
            Ok(v1::CreateAccessTokenResponse {
                token: token.map(Into::into),
                secret,
                revision: receipt.revision,
            })
        })
    }

    async fn list_access_tokens(
        &self,
        request: Request<v1::ListAccessTokensRequest>,
    ) -> Result<Response<v1::ListAccessTokensResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (access_tokens, next_page_token) = page(
                state.access_tokens().values(),
                |token| token.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListAccessTokensResponse {
                access_tokens,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn revoke_access_token(
        &self,
        request: Request<v1::RevokeAccessTokenRequest>,
    ) -> Result<Response<v1::RevokeAccessTokenResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::RevokeAccessToken)
            .await?;
        Ok(Response::new(v1::RevokeAccessTokenResponse {
            revision: receipt.revision,
        }))
    }
}
