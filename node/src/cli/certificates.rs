//! `fulcrum certificate`: TLS certificates for HTTPS listeners.

use fulcrum_api::v1;

use super::args::CertificateCommand;
use super::output::fields;
use super::{CliError, Outcome, Session, meta_table, output, resolve, revision_line, tags};

pub(super) fn certificate_fields(certificate: &v1::Certificate) -> String {
    fields(&[
        ("ID", certificate.id.clone()),
        ("NAME", certificate.name.clone()),
        ("FINGERPRINT", certificate.fingerprint.clone()),
        (
            "NOT AFTER (UNIX MS)",
            certificate.not_after_unix_ms.to_string(),
        ),
        ("REVISION", certificate.revision.to_string()),
    ])
}

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
            let certificate = reply.certificate.clone().unwrap_or_default();
            session.print(
                || certificate_fields(&certificate),
                || output::json(&reply, "fulcrum.v1.UploadCertificateResponse"),
            );
        }
        CertificateCommand::List => {
            let certificates = resolve::certificates(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "FINGERPRINT"],
                        certificates
                            .iter()
                            .map(|c| vec![c.id.clone(), c.name.clone(), c.fingerprint.clone()]),
                    )
                },
                || output::json_list(&certificates, "fulcrum.v1.Certificate"),
            );
        }
        CertificateCommand::Show { certificate } => {
            let id = resolve::certificate(session, &certificate).await?;
            let reply = client
                .get_certificate(session.request(v1::GetCertificateRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let certificate = reply.certificate.clone().unwrap_or_default();
            session.print(
                || certificate_fields(&certificate),
                || output::json(&reply, "fulcrum.v1.GetCertificateResponse"),
            );
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
