//! Names to ids: every command takes a resource by name or by id. Listings
//! are read whole, page by page; a name that matches several resources is
//! refused with their ids, so the caller can choose.

use fulcrum_api::v1;

use super::{CliError, EXIT_FAILURE, Session};

/// Reads every page of a listing.
macro_rules! list_all {
    ($session:expr, $client:ident, $call:ident, $request:ident { $($field:ident: $value:expr),* }, $items:ident) => {{
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = v1::$request {
                page_token,
                page_size: 1000,
                read: $session.read(),
                $($field: $value,)*
            };
            let reply = $session
                .client
                .$client()
                .$call($session.request(request))
                .await?
                .into_inner();
            all.extend(reply.$items);
            if reply.next_page_token.is_empty() {
                break all;
            }
            page_token = reply.next_page_token;
        }
    }};
}

fn pick<'a>(
    noun: &str,
    reference: &str,
    candidates: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<String, CliError> {
    let candidates: Vec<(&str, &str)> = candidates.collect();
    if let Some((id, _)) = candidates.iter().find(|(id, _)| *id == reference) {
        return Ok((*id).to_owned());
    }
    let named: Vec<&str> = candidates
        .iter()
        .filter(|(_, name)| *name == reference)
        .map(|(id, _)| *id)
        .collect();
    match named.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(CliError {
            message: format!("no {noun} is named or has the id {reference:?}"),
            code: EXIT_FAILURE,
        }),
        several => Err(CliError {
            message: format!(
                "{} {noun}s are named {reference:?} ({}): give an id",
                several.len(),
                several.join(", ")
            ),
            code: EXIT_FAILURE,
        }),
    }
}

pub(super) async fn networks(session: &Session) -> Result<Vec<v1::Network>, CliError> {
    Ok(list_all!(
        session,
        networks,
        list_networks,
        ListNetworksRequest {},
        networks
    ))
}

pub(super) async fn subnets(
    session: &Session,
    network_id: &str,
) -> Result<Vec<v1::Subnet>, CliError> {
    Ok(list_all!(
        session,
        networks,
        list_subnets,
        ListSubnetsRequest {
            network_id: network_id.to_owned()
        },
        subnets
    ))
}

pub(super) async fn instances(
    session: &Session,
    subnet_id: &str,
) -> Result<Vec<v1::Instance>, CliError> {
    Ok(list_all!(
        session,
        networks,
        list_instances,
        ListInstancesRequest {
            subnet_id: subnet_id.to_owned()
        },
        instances
    ))
}

pub(super) async fn eips(session: &Session) -> Result<Vec<v1::Eip>, CliError> {
    Ok(list_all!(
        session,
        eips,
        list_eips,
        ListEipsRequest {},
        eips
    ))
}

pub(super) async fn load_balancers(session: &Session) -> Result<Vec<v1::LoadBalancer>, CliError> {
    Ok(list_all!(
        session,
        load_balancers,
        list_load_balancers,
        ListLoadBalancersRequest {
            name: String::new()
        },
        load_balancers
    ))
}

pub(super) async fn listeners(
    session: &Session,
    load_balancer_id: &str,
) -> Result<Vec<v1::Listener>, CliError> {
    Ok(list_all!(
        session,
        listeners,
        list_listeners,
        ListListenersRequest {
            load_balancer_id: load_balancer_id.to_owned()
        },
        listeners
    ))
}

pub(super) async fn groups(
    session: &Session,
    load_balancer_id: &str,
) -> Result<Vec<v1::VirtualServerGroup>, CliError> {
    Ok(list_all!(
        session,
        groups,
        list_groups,
        ListGroupsRequest {
            load_balancer_id: load_balancer_id.to_owned()
        },
        groups
    ))
}

pub(super) async fn certificates(session: &Session) -> Result<Vec<v1::Certificate>, CliError> {
    Ok(list_all!(
        session,
        certificates,
        list_certificates,
        ListCertificatesRequest {},
        certificates
    ))
}

pub(super) async fn network(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = networks(session).await?;
    pick(
        "network",
        reference,
        all.iter().map(|n| (n.id.as_str(), n.name.as_str())),
    )
}

pub(super) async fn subnet(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = subnets(session, "").await?;
    pick(
        "subnet",
        reference,
        all.iter().map(|s| (s.id.as_str(), s.name.as_str())),
    )
}

pub(super) async fn instance(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = instances(session, "").await?;
    pick(
        "instance",
        reference,
        all.iter().map(|i| (i.id.as_str(), i.name.as_str())),
    )
}

/// An EIP by id, name or address.
pub(super) async fn eip(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = eips(session).await?;
    if let Some(eip) = all.iter().find(|eip| eip.address == reference) {
        return Ok(eip.id.clone());
    }
    pick(
        "EIP",
        reference,
        all.iter().map(|e| (e.id.as_str(), e.name.as_str())),
    )
}

pub(super) async fn load_balancer(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = load_balancers(session).await?;
    pick(
        "Load Balancer",
        reference,
        all.iter().map(|lb| (lb.id.as_str(), lb.name.as_str())),
    )
}

pub(super) async fn optional_load_balancer(
    session: &Session,
    reference: Option<&str>,
) -> Result<Option<String>, CliError> {
    match reference {
        Some(reference) => load_balancer(session, reference).await.map(Some),
        None => Ok(None),
    }
}

/// A listener by id, or by name within `load_balancer_id` (or the cluster).
pub(super) async fn listener(
    session: &Session,
    reference: &str,
    load_balancer_id: Option<&str>,
) -> Result<String, CliError> {
    let all = listeners(session, load_balancer_id.unwrap_or_default()).await?;
    pick(
        "listener",
        reference,
        all.iter().map(|l| (l.id.as_str(), l.name.as_str())),
    )
}

/// A group by id, or by name within `load_balancer_id` (or the cluster).
pub(super) async fn group(
    session: &Session,
    reference: &str,
    load_balancer_id: Option<&str>,
) -> Result<String, CliError> {
    let all = groups(session, load_balancer_id.unwrap_or_default()).await?;
    pick(
        "group",
        reference,
        all.iter().map(|g| (g.id.as_str(), g.name.as_str())),
    )
}

pub(super) async fn certificate(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = certificates(session).await?;
    pick(
        "certificate",
        reference,
        all.iter().map(|c| (c.id.as_str(), c.name.as_str())),
    )
}
