//! The resource services, one module each: networks, EIPs, Load Balancers,
//! listeners, virtual server groups and certificates. Each call is a write
//! (a command for the log) or a read (of this node's catalog, after the read
//! barrier). What a call needs to know of its resource (where the catalog
//! keeps it, how it is shown, what scopes a listing) is its [`Served`]
//! description, in [`crate::resources`]; the calls themselves are the
//! generic [`Api::get_one`], [`Api::list_page`] and [`Api::write_and_show`].

mod certificates;
mod eips;
mod groups;
mod listeners;
mod load_balancers;
mod networks;

use std::collections::BTreeMap;

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{Catalog, Rejection};
use tonic::{Request, Status};

use super::views::Views;
use super::{Api, page, refused};

/// How the API serves one resource: the catalog's map of it, its view,
/// and the scope a listing filters by.
pub trait Served: Sized {
    /// Its id in the domain.
    type Id: Ord + std::fmt::Display + 'static;
    /// What the catalog keeps.
    type Stored: 'static;
    /// The noun of a NOT_FOUND.
    const NOUN: &'static str;

    /// Parses an id from the request's `field`.
    fn parse_id(field: &str, raw: &str) -> Result<Self::Id, Rejection>;
    /// Every one, by id.
    fn stored(catalog: &Catalog) -> &BTreeMap<Self::Id, Self::Stored>;
    /// The id of a stored one, as text (listings page by it).
    fn key(stored: &Self::Stored) -> &str;
    /// Whether a listing scoped by `scope` (not empty) holds `stored`.
    fn in_scope(stored: &Self::Stored, scope: &str) -> bool;
    /// How the API shows it (statuses filled in).
    fn view(views: &Views<'_>, stored: &Self::Stored) -> Self;
}

/// What a list request asks: its scope (empty for all) and its page.
pub struct Listing<'a> {
    /// The parent's id (or a Load Balancer's name); empty for all.
    pub scope: &'a str,
    /// At most this many (0: the default page size).
    pub page_size: u32,
    /// The last id of the previous page; empty for the first.
    pub page_token: &'a str,
    /// The read's consistency.
    pub read: Option<&'a v1::ReadOptions>,
}

/// A list request of the contract (each has the fields of a [`Listing`]).
pub trait ListRequest {
    /// What it asks.
    fn listing(&self) -> Listing<'_>;
}

/// A get request of the contract: an id and a read's consistency.
pub trait GetRequest {
    /// The id it names.
    fn id(&self) -> &str;
    /// The read's consistency.
    fn read(&self) -> Option<&v1::ReadOptions>;
}

impl Api {
    /// The resource `id` names, as this node shows it after the read's
    /// barrier, with the revision it was read at; INVALID_ARGUMENT for a
    /// malformed id, NOT_FOUND for an unknown one.
    async fn get_one<R: Served, Req: GetRequest>(
        &self,
        request: &Request<Req>,
    ) -> Result<(R, u64), Status> {
        let message = request.get_ref();
        self.read(request, message.read(), |views, state| {
            let stored = named::<R>(state.catalog(), "id", message.id())?;
            Ok((R::view(views, stored), state.revision()))
        })
        .await
        .map(tonic::Response::into_inner)
    }

    /// One page of the resources in the listing's scope, the next page's
    /// token, and the revision they were read at.
    async fn list_page<R: Served, Req: ListRequest>(
        &self,
        request: &Request<Req>,
    ) -> Result<(Vec<R>, String, u64), Status> {
        let listing = request.get_ref().listing();
        self.read(request, listing.read, |views, state| {
            let (items, next) = page(
                R::stored(state.catalog()).values().filter(|stored| {
                    listing.scope.is_empty() || R::in_scope(stored, listing.scope)
                }),
                R::key,
                listing.page_size,
                listing.page_token,
                |stored| R::view(views, stored),
            );
            Ok((items, next, state.revision()))
        })
        .await
        .map(tonic::Response::into_inner)
    }

    /// Commits the write `request` carries and answers the resource it made
    /// or changed, as this node shows it now (none if a later write removed
    /// it already), with the write's revision.
    async fn write_and_show<R: Served, Req>(
        &self,
        request: Request<Req>,
        client_token: impl FnOnce(&Req) -> String,
        kind: impl FnOnce(Req) -> v1::command::Kind,
    ) -> Result<(Option<R>, u64), Status> {
        let receipt = self.write(request, client_token, kind).await?;
        Ok((self.show(&receipt.resource_id)?, receipt.revision))
    }

    /// As [`Api::write_and_show`], showing the resource `id` names (the
    /// Load Balancer an EIP was associated with, say).
    async fn write_and_show_named<R: Served, Req>(
        &self,
        id: String,
        request: Request<Req>,
        client_token: impl FnOnce(&Req) -> String,
        kind: impl FnOnce(Req) -> v1::command::Kind,
    ) -> Result<(Option<R>, u64), Status> {
        let receipt = self.write(request, client_token, kind).await?;
        Ok((self.show(&id)?, receipt.revision))
    }

    /// The resource `raw` names as this node shows it now, if any.
    fn show<R: Served>(&self, raw: &str) -> Result<Option<R>, Status> {
        self.render(|views, state| {
            Ok(stored_one::<R>(state.catalog(), raw).map(|stored| R::view(views, stored)))
        })
        .map(tonic::Response::into_inner)
    }
}

/// The stored resource `raw` names, if `raw` is a well-formed id of one.
fn stored_one<'c, R: Served>(catalog: &'c Catalog, raw: &str) -> Option<&'c R::Stored> {
    let id = R::parse_id("id", raw).ok()?;
    R::stored(catalog).get(&id)
}

/// The stored resource the request's `field` names, or INVALID_ARGUMENT
/// for a malformed id, or NOT_FOUND.
fn named<'c, R: Served>(
    catalog: &'c Catalog,
    field: &str,
    raw: &str,
) -> Result<&'c R::Stored, Status> {
    let id = R::parse_id(field, raw).map_err(refused)?;
    R::stored(catalog)
        .get(&id)
        .ok_or_else(|| refused(Rejection::not_found(field, R::NOUN, &id)))
}
