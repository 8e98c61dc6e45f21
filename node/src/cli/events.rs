//! `fulcrum events`: the history, and the stream of events as they are
//! applied; each event names the principal that sent its command.

use fulcrum_api::v1;

use super::args::EventsCommand;
use super::output::{self, Format};
use super::{Outcome, Session, meta_table, or_dash, print_out};
use crate::resources::text::{self, Table};

fn event_rows(events: &[v1::Event]) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|event| {
            vec![
                event.revision.to_string(),
                text::event_type(event.r#type),
                event.resource_id.clone(),
                or_dash(&event.parent_id),
                or_dash(&event.principal),
            ]
        })
        .collect()
}

/// The history's columns: BY is the principal that sent the command.
const EVENT_HEADER: &[&str] = &["REVISION", "EVENT", "RESOURCE", "PARENT", "BY"];

pub(super) async fn events(session: &Session, command: EventsCommand) -> Outcome {
    let mut client = session.client.events();
    match command {
        EventsCommand::List { resource, from } => {
            let reply = client
                .list_events(session.request(v1::ListEventsRequest {
                    resource_id: resource.unwrap_or_default(),
                    from_revision: from,
                    page_size: 0,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            session.print(
                || meta_table(EVENT_HEADER, event_rows(&reply.events)),
                || output::json(&reply, "fulcrum.v1.ListEventsResponse"),
            );
        }
        EventsCommand::Watch { from } => {
            // A watch runs until interrupted: no deadline.
            let mut stream = client
                .watch(v1::WatchRequest {
                    from_revision: from,
                })
                .await?
                .into_inner();
            if session.format == Format::Table {
                print_out(&meta_table(EVENT_HEADER, Vec::new()));
            }
            while let Some(batch) = stream.message().await? {
                session.print(
                    || {
                        let mut table = Table::new(EVENT_HEADER);
                        for row in event_rows(&batch.events) {
                            table.row(row);
                        }
                        table
                            .render()
                            .lines()
                            .skip(1)
                            .map(|line| format!("{line}\n"))
                            .collect()
                    },
                    || output::json(&batch, "fulcrum.v1.WatchResponse"),
                );
            }
        }
    }
    Ok(())
}
