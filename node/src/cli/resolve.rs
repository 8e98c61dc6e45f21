//! Names to ids: every command takes a resource by name or by id. Listings
//! are read whole, page by page; a name that matches several resources is
//! refused with their ids, so the caller can choose.

use fulcrum_api::v1;

use super::{CliError, EXIT_FAILURE, Session};
use crate::resources::Resource;

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

/// The most pages a listing follows (a million resources at 1,000 a page).
const MAX_PAGES: usize = 1000;

/// Every resource of a kind in `scope` (a parent's id; empty for all),
/// read page by page.
pub(super) async fn all<R: Resource>(session: &Session, scope: &str) -> Result<Vec<R>, CliError> {
    let reading = session.reading();
    let mut items = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = R::list(&session.client, &reading, scope, page_token).await?;
        items.extend(page.items);
        if page.next_page_token.is_empty() {
            return Ok(items);
        }
        page_token = page.next_page_token;
    }
    Err(CliError::failed(format!(
        "the listing of {}s did not end after {MAX_PAGES} pages",
        R::NOUN
    )))
}

/// The id of the resource `reference` names (its id, or its name if one
/// resource in `scope` has it).
pub(super) async fn id_of<R: Resource>(
    session: &Session,
    reference: &str,
    scope: &str,
) -> Result<String, CliError> {
    let all = all::<R>(session, scope).await?;
    pick(R::NOUN, reference, all.iter().map(|r| (r.id(), r.name())))
}

pub(super) async fn network(session: &Session, reference: &str) -> Result<String, CliError> {
    id_of::<v1::Network>(session, reference, "").await
}

pub(super) async fn subnet(session: &Session, reference: &str) -> Result<String, CliError> {
    id_of::<v1::Subnet>(session, reference, "").await
}

pub(super) async fn instance(session: &Session, reference: &str) -> Result<String, CliError> {
    id_of::<v1::Instance>(session, reference, "").await
}

/// An EIP by id, name or address.
pub(super) async fn eip(session: &Session, reference: &str) -> Result<String, CliError> {
    let all = all::<v1::Eip>(session, "").await?;
    if let Some(eip) = all.iter().find(|eip| eip.address == reference) {
        return Ok(eip.id.clone());
    }
    pick(
        v1::Eip::NOUN,
        reference,
        all.iter().map(|e| (e.id(), e.name())),
    )
}

pub(super) async fn load_balancer(session: &Session, reference: &str) -> Result<String, CliError> {
    id_of::<v1::LoadBalancer>(session, reference, "").await
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
    id_of::<v1::Listener>(session, reference, load_balancer_id.unwrap_or_default()).await
}

/// A group by id, or by name within `load_balancer_id` (or the cluster).
pub(super) async fn group(
    session: &Session,
    reference: &str,
    load_balancer_id: Option<&str>,
) -> Result<String, CliError> {
    id_of::<v1::VirtualServerGroup>(session, reference, load_balancer_id.unwrap_or_default()).await
}

pub(super) async fn certificate(session: &Session, reference: &str) -> Result<String, CliError> {
    id_of::<v1::Certificate>(session, reference, "").await
}
