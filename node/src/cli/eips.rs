//! `fulcrum eip`: Elastic IPs from the cluster's pool.

use fulcrum_api::v1;

use super::args::EipCommand;
use super::output::{fields, or_dash};
use super::{Outcome, Session, meta_table, output, resolve, revision_line, tags};

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
            let eip = reply.eip.clone().unwrap_or_default();
            session.print(
                || eip_fields(&eip),
                || output::json(&reply, "fulcrum.v1.AllocateEipResponse"),
            );
        }
        EipCommand::List => {
            let eips = resolve::eips(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "ADDRESS", "LOAD BALANCER"],
                        eips.iter().map(|e| {
                            vec![
                                e.id.clone(),
                                or_dash(&e.name),
                                e.address.clone(),
                                or_dash(&e.load_balancer_id),
                            ]
                        }),
                    )
                },
                || output::json_list(&eips, "fulcrum.v1.Eip"),
            );
        }
        EipCommand::Show { eip } => {
            let id = resolve::eip(session, &eip).await?;
            let reply = client
                .get_eip(session.request(v1::GetEipRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let eip = reply.eip.clone().unwrap_or_default();
            session.print(
                || eip_fields(&eip),
                || output::json(&reply, "fulcrum.v1.GetEipResponse"),
            );
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

pub(super) fn eip_fields(eip: &v1::Eip) -> String {
    fields(&[
        ("ID", eip.id.clone()),
        ("NAME", or_dash(&eip.name)),
        ("ADDRESS", eip.address.clone()),
        ("LOAD BALANCER", or_dash(&eip.load_balancer_id)),
        ("REVISION", eip.revision.to_string()),
    ])
}
