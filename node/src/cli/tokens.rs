//! `fulcrum token`: bearer tokens for scripts and the console, made and
//! revoked by an admin. The secret is printed once, when it is made; the
//! cluster keeps only its SHA-256.

use fulcrum_api::v1;

use super::args::{RoleArg, TokenCommand};
use super::output::{self};
use super::{CliError, Outcome, Session, meta_table, or_dash, revision_line};
use crate::resources::text::fields;

impl From<RoleArg> for v1::Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Viewer => v1::Role::Viewer,
            RoleArg::Operator => v1::Role::Operator,
            RoleArg::Admin => v1::Role::Admin,
        }
    }
}

fn role_name(role: i32) -> String {
    v1::Role::try_from(role)
        .map_or("?", |role| match role {
            v1::Role::Viewer => "viewer",
            v1::Role::Operator => "operator",
            v1::Role::Admin => "admin",
            v1::Role::Unspecified => "?",
        })
        .to_owned()
}

pub(super) async fn token(session: &Session, command: TokenCommand) -> Outcome {
    let mut client = session.client.access_tokens();
    match command {
        TokenCommand::Create {
            principal,
            role,
            description,
        } => {
            let reply = client
                .create_access_token(session.request(v1::CreateAccessTokenRequest {
                    client_token: session.token(),
                    principal,
                    role: v1::Role::from(role).into(),
                    description,
                }))
                .await?
                .into_inner();
            let token = reply
                .token
                .clone()
                .ok_or_else(|| CliError::failed("the answer holds no token".to_owned()))?;
            if reply.secret.is_empty() {
                return Err(CliError::failed(format!(
                    "token {} was made by an earlier try of this client token; its secret was shown then and cannot be shown again: revoke it and make another",
                    token.id
                )));
            }
            session.print(
                || {
                    let mut text = fields(&[
                        ("ID", token.id.clone()),
                        ("PRINCIPAL", token.principal.clone()),
                        ("ROLE", role_name(token.role)),
                        ("SECRET", reply.secret.clone()),
                    ]);
                    text.push_str(
                        "The secret is shown once: keep it (fulcrum --token-file FILE ...).\n",
                    );
                    text
                },
                || output::json(&reply, "fulcrum.v1.CreateAccessTokenResponse"),
            );
        }
        TokenCommand::List => {
            let reply = client
                .list_access_tokens(session.request(v1::ListAccessTokensRequest {
                    page_size: 0,
                    page_token: String::new(),
                    read: session.read(),
                }))
                .await?
                .into_inner();
            session.print(
                || {
                    meta_table(
                        &["ID", "PRINCIPAL", "ROLE", "DESCRIPTION", "REVISION"],
                        reply.access_tokens.iter().map(|token| {
                            vec![
                                token.id.clone(),
                                token.principal.clone(),
                                role_name(token.role),
                                or_dash(&token.description),
                                token.revision.to_string(),
                            ]
                        }),
                    )
                },
                || output::json(&reply, "fulcrum.v1.ListAccessTokensResponse"),
            );
        }
        TokenCommand::Revoke { id } => {
            let reply = client
                .revoke_access_token(session.request(v1::RevokeAccessTokenRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.RevokeAccessTokenResponse"),
            );
        }
    }
    Ok(())
}
