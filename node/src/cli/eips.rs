//! `fulcrum eip`: Elastic IPs from the cluster's pool.

use fulcrum_api::v1;

use super::args::EipCommand;
use super::{Outcome, Session, list, output, resolve, revision_line, show, tags};

pub(super) async fn eip(session: &Session, command: EipCommand) -> Outcome {
    let mut client = session.client.eips();
    match command {
        EipCommand::Allocate {
            name,
            address,
            describe,
        } => {
            let reply = client
                .allocate_eip(session.request(v1::AllocateEipRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    address,
                }))
                .await?
                .into_inner();
            session.print_resource(reply.eip.as_ref(), &reply, "fulcrum.v1.AllocateEipResponse");
        }
        EipCommand::List => {
            list::<v1::Eip>(session, "").await?;
        }
        EipCommand::Show { eip } => {
            let id = resolve::eip(session, &eip).await?;
            show::<v1::Eip>(session, id).await?;
        }
        EipCommand::Release { eip } => {
            let id = resolve::eip(session, &eip).await?;
            let reply = client
                .release_eip(session.request(v1::ReleaseEipRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.ReleaseEipResponse"),
            );
        }
    }
    Ok(())
}
