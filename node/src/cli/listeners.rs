//! `fulcrum listener`: a Load Balancer's listeners.

use fulcrum_api::v1;

use super::args::{ListenerCommand, ProtocolArg};
use super::{
    Outcome, Session, admin_state, list, output, resolve, revision_line, rules, show, tags,
};

pub(super) fn protocol_value(protocol: ProtocolArg) -> v1::Protocol {
    match protocol {
        ProtocolArg::Tcp => v1::Protocol::Tcp,
        ProtocolArg::Http => v1::Protocol::Http,
        ProtocolArg::Https => v1::Protocol::Https,
    }
}

pub(super) async fn listener(session: &Session, command: ListenerCommand) -> Outcome {
    let mut client = session.client.listeners();
    match command {
        ListenerCommand::Create {
            name,
            load_balancer,
            protocol,
            port,
            group,
            connection_limit,
            certificate,
            idle_timeout,
            x_forwarded_for,
            access_log,
            describe,
        } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let default_group_id = match group {
                Some(group) => resolve::group(session, &group, Some(&load_balancer_id)).await?,
                None => String::new(),
            };
            let certificate_id = match certificate {
                Some(certificate) => resolve::certificate(session, &certificate).await?,
                None => String::new(),
            };
            let reply = client
                .create_listener(session.request(v1::CreateListenerRequest {
                    client_token: session.token(),
                    load_balancer_id,
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    protocol: protocol_value(protocol) as i32,
                    port,
                    connection_limit,
                    default_group_id,
                    certificate_id,
                    idle_timeout_s: idle_timeout,
                    insert_x_forwarded_for: x_forwarded_for,
                    admin_state_up: None,
                    access_log,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.listener.as_ref(),
                &reply,
                "fulcrum.v1.CreateListenerResponse",
            );
        }
        ListenerCommand::List { load_balancer } => {
            let load_balancer_id =
                resolve::optional_load_balancer(session, load_balancer.as_deref())
                    .await?
                    .unwrap_or_default();
            list::<v1::Listener>(session, &load_balancer_id).await?;
        }
        ListenerCommand::Show {
            listener,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            show::<v1::Listener>(session, id).await?;
        }
        ListenerCommand::Update {
            listener,
            load_balancer,
            name,
            group,
            connection_limit,
            admin_state: state,
            description,
            certificate,
            idle_timeout,
            x_forwarded_for,
            access_log,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            let default_group_id = match group {
                Some(group) => Some(resolve::group(session, &group, lb.as_deref()).await?),
                None => None,
            };
            let certificate_id = match certificate {
                Some(certificate) => Some(resolve::certificate(session, &certificate).await?),
                None => None,
            };
            let reply = client
                .update_listener(session.request(v1::UpdateListenerRequest {
                    client_token: session.token(),
                    id,
                    name,
                    default_group_id,
                    connection_limit,
                    admin_state_up: admin_state(state),
                    description,
                    certificate_id,
                    idle_timeout_s: idle_timeout,
                    insert_x_forwarded_for: x_forwarded_for,
                    access_log,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.listener.as_ref(),
                &reply,
                "fulcrum.v1.UpdateListenerResponse",
            );
        }
        ListenerCommand::SetRules {
            listener,
            load_balancer,
            rules: written,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            let written = written
                .iter()
                .map(|text| rules::parse(text))
                .collect::<Result<Vec<_>, _>>()?;
            // A rule's group is one of the listener's Load Balancer.
            let lb = match lb {
                Some(lb) => lb,
                None => client
                    .get_listener(session.request(v1::GetListenerRequest {
                        id: id.clone(),
                        read: None,
                    }))
                    .await?
                    .into_inner()
                    .listener
                    .map(|listener| listener.load_balancer_id)
                    .unwrap_or_default(),
            };
            let mut rules = Vec::with_capacity(written.len());
            for rules::WrittenRule { mut rule, forward } in written {
                if let Some(group) = forward {
                    let group_id = resolve::group(session, &group, Some(&lb)).await?;
                    rule.action = Some(v1::forwarding_rule::Action::ForwardGroupId(group_id));
                }
                rules.push(rule);
            }
            let reply = client
                .set_listener_rules(session.request(v1::SetListenerRulesRequest {
                    client_token: session.token(),
                    id,
                    rules,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.listener.as_ref(),
                &reply,
                "fulcrum.v1.SetListenerRulesResponse",
            );
        }
        ListenerCommand::Delete {
            listener,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::listener(session, &listener, lb.as_deref()).await?;
            let reply = client
                .delete_listener(session.request(v1::DeleteListenerRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteListenerResponse"),
            );
        }
    }
    Ok(())
}
