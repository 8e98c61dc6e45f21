//! `fulcrum certificate`: TLS certificates for HTTPS listeners.

use fulcrum_api::v1;

use super::args::CertificateCommand;
use super::{CliError, Outcome, Session, list, output, resolve, revision_line, show, tags};

pub(super) async fn certificate(session: &Session, command: CertificateCommand) -> Outcome {
    let mut client = session.client.certificates();
    match command {
        CertificateCommand::Upload {
            name,
            chain,
            private_key,
            describe,
        } => {
            let read = |path: &std::path::Path, flag: &str| {
                std::fs::read_to_string(path).map_err(|error| {
                    CliError::usage(format!("--{flag} {}: {error}", path.display()))
                })
            };
            let reply = client
                .upload_certificate(session.request(v1::UploadCertificateRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    certificate_chain: read(&chain, "chain")?,
                    private_key: read(&private_key, "private-key")?,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.certificate.as_ref(),
                &reply,
                "fulcrum.v1.UploadCertificateResponse",
            );
        }
        CertificateCommand::List => {
            list::<v1::Certificate>(session, "").await?;
        }
        CertificateCommand::Show { certificate } => {
            let id = resolve::certificate(session, &certificate).await?;
            show::<v1::Certificate>(session, id).await?;
        }
        CertificateCommand::Delete { certificate } => {
            let id = resolve::certificate(session, &certificate).await?;
            let reply = client
                .delete_certificate(session.request(v1::DeleteCertificateRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                    cascade: false,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteCertificateResponse"),
            );
        }
    }
    Ok(())
}
