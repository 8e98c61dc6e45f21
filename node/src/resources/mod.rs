//! Each resource of the catalog described once, as the contract's message:
//! what it is called, how the catalog keeps it and the API shows it
//! ([`crate::api::Served`]), how a table shows it, and the contract's read
//! calls for it. The API's handlers (and through them the REST API), the
//! CLI's `list`, `show` and name lookups read everything they know of a
//! resource from here; a new resource is one file in this folder.
//!
//! Writes are not here: each create and update request has fields of its
//! own, built by the CLI command that takes them as flags.

/// Describes one resource: its contract message and read calls, the
/// catalog's map of it, the API's view, a listing's scope, its columns.
/// [`Resource`], [`Served`](crate::api::Served) and its list and get
/// requests' [`ListRequest`](crate::api::ListRequest) and
/// [`GetRequest`](crate::api::GetRequest) all come from this one
/// declaration; each file of this folder is one.
macro_rules! describe {
    // A listing's scope: the request's scope field, or none.
    (@scope $request:expr) => {
        ""
    };
    (@scope $request:expr, $field:ident) => {
        $request.$field.as_str()
    };
    (
        v1::$message:ident {
            field: $field:literal,
            id: $id:ident,
            stored: $stored:ident,
            catalog: $catalog:ident,
            client: $client:ident,
            list: $list:ident($list_request:ident) -> $items:ident $(, scoped by $scope_field:ident)?,
            get: $get:ident($get_request:ident) -> $one:ident,
            in_scope: $in_scope:expr,
            view: $view:expr,
            $(detail: $detail:expr,)?
            columns: [$($column:expr),* $(,)?] $(,)?
        }
    ) => {
        impl $crate::resources::Resource for fulcrum_api::v1::$message {
            const MESSAGE: &'static str = concat!("fulcrum.v1.", stringify!($message));
            const FIELD: &'static str = $field;
            const NOUN: &'static str = $id::NOUN;
            const COLUMNS: &'static [$crate::resources::Column<Self>] = &[$($column),*];

            fn id(&self) -> &str {
                &self.id
            }

            fn name(&self) -> &str {
                &self.name
            }

            $(
                fn detail(&self) -> Option<String> {
                    let detail: fn(&Self) -> String = $detail;
                    Some(detail(self))
                }
            )?

            async fn list(
                client: &fulcrum_api::Client,
                reading: &$crate::resources::Reading,
                scope: &str,
                page_token: String,
            ) -> Result<$crate::resources::Page<Self>, tonic::Status> {
                let _unscoped = scope;
                let request = reading.request(fulcrum_api::v1::$list_request {
                    page_size: $crate::resources::LIST_PAGE_SIZE,
                    page_token,
                    read: reading.read,
                    $($scope_field: scope.to_owned(),)?
                });
                let reply = client.$client().$list(request).await?.into_inner();
                Ok($crate::resources::Page {
                    items: reply.$items,
                    next_page_token: reply.next_page_token,
                })
            }

            async fn get(
                client: &fulcrum_api::Client,
                reading: &$crate::resources::Reading,
                id: String,
            ) -> Result<(Self, u64), tonic::Status> {
                let request = reading.request(fulcrum_api::v1::$get_request {
                    id,
                    read: reading.read,
                });
                let reply = client.$client().$get(request).await?.into_inner();
                Ok((reply.$one.unwrap_or_default(), reply.revision))
            }
        }

        impl $crate::api::ListRequest for fulcrum_api::v1::$list_request {
            fn listing(&self) -> $crate::api::Listing<'_> {
                $crate::api::Listing {
                    scope: describe!(@scope self $(, $scope_field)?),
                    page_size: self.page_size,
                    page_token: &self.page_token,
                    read: self.read.as_ref(),
                }
            }
        }

        impl $crate::api::GetRequest for fulcrum_api::v1::$get_request {
            fn id(&self) -> &str {
                &self.id
            }

            fn read(&self) -> Option<&fulcrum_api::v1::ReadOptions> {
                self.read.as_ref()
            }
        }

        impl $crate::api::Served for fulcrum_api::v1::$message {
            type Id = $id;
            type Stored = $stored;
            const NOUN: &'static str = $id::NOUN;

            fn parse_id(
                field: &str,
                raw: &str,
            ) -> Result<$id, fulcrum_raft_store::domain::Rejection> {
                $id::parse(field, raw)
            }

            fn stored(
                catalog: &fulcrum_raft_store::domain::Catalog,
            ) -> &std::collections::BTreeMap<$id, $stored> {
                catalog.$catalog()
            }

            fn key(stored: &$stored) -> &str {
                stored.id.as_str()
            }

            fn in_scope(stored: &$stored, scope: &str) -> bool {
                let in_scope: fn(&$stored, &str) -> bool = $in_scope;
                in_scope(stored, scope)
            }

            fn view(views: &$crate::api::Views<'_>, stored: &$stored) -> Self {
                let view: fn(&$crate::api::Views<'_>, &$stored) -> Self = $view;
                view(views, stored)
            }
        }
    };
}

mod certificate;
mod eip;
mod group;
mod instance;
mod listener;
mod load_balancer;
mod network;
mod subnet;
pub mod text;

use std::future::Future;
use std::time::Duration;

use fulcrum_api::{Client, v1};
use tonic::Status;

/// One field of a resource as text, under a column title.
pub struct Column<R> {
    /// The title (`PORT`).
    pub title: &'static str,
    /// The field's value as text (`-` for none).
    pub value: fn(&R) -> String,
    /// Whether a listing shows it (`show` shows every column).
    pub listed: bool,
}

impl<R> Column<R> {
    /// A column `show` and `list` both have.
    pub const fn listed(title: &'static str, value: fn(&R) -> String) -> Self {
        Self {
            title,
            value,
            listed: true,
        }
    }

    /// A column of `show` only.
    pub const fn shown(title: &'static str, value: fn(&R) -> String) -> Self {
        Self {
            title,
            value,
            listed: false,
        }
    }
}

/// How a read is asked: its consistency and its deadline.
#[derive(Clone, Debug)]
pub struct Reading {
    /// Linearizable, or this node's state as it is.
    pub read: Option<v1::ReadOptions>,
    /// The call's deadline.
    pub timeout: Duration,
}

impl Reading {
    /// `message` as a request with this reading's deadline.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}

/// One page of a listing.
pub struct Page<R> {
    /// The resources of the page, in id order.
    pub items: Vec<R>,
    /// The token of the next page; empty after the last.
    pub next_page_token: String,
}

/// One resource of the contract.
pub trait Resource: prost::Message + Default + Clone + Send + Sync + 'static {
    /// The contract's message (`fulcrum.v1.Listener`), for JSON output.
    const MESSAGE: &'static str;
    /// The field of a get answer that holds one (`listener`).
    const FIELD: &'static str;
    /// What errors and the CLI call one (`listener`).
    const NOUN: &'static str;
    /// Its fields as text: every one for `show`, the listed ones for `list`.
    const COLUMNS: &'static [Column<Self>];

    /// Its id.
    fn id(&self) -> &str;
    /// Its name (names need not be unique; ids are).
    fn name(&self) -> &str;
    /// What `show` prints after the columns (a group's members), if anything.
    fn detail(&self) -> Option<String> {
        None
    }

    /// The contract's list call: one page of the resources in `scope` (the
    /// parent's id, or a Load Balancer's name; empty for all).
    fn list(
        client: &Client,
        reading: &Reading,
        scope: &str,
        page_token: String,
    ) -> impl Future<Output = Result<Page<Self>, Status>> + Send;

    /// The contract's get call: the resource and the revision it was read at.
    fn get(
        client: &Client,
        reading: &Reading,
        id: String,
    ) -> impl Future<Output = Result<(Self, u64), Status>> + Send;
}

/// The largest page a listing asks for.
pub const LIST_PAGE_SIZE: u32 = 1000;

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::{DescriptorPool, Kind};

    /// A resource's columns start with its id and name and have distinct
    /// titles; its message is the contract's, and some get answer holds
    /// it under its field's JSON name.
    fn check<R: Resource>(pool: &DescriptorPool) {
        let titles: Vec<&str> = R::COLUMNS.iter().map(|column| column.title).collect();
        assert_eq!(&titles[..2], ["ID", "NAME"], "{}", R::MESSAGE);
        let mut unique = titles.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), titles.len(), "{}: a title twice", R::MESSAGE);
        assert!(R::COLUMNS.iter().filter(|column| column.listed).count() >= 3);
        assert!(
            pool.get_message_by_name(R::MESSAGE).is_some(),
            "{}",
            R::MESSAGE
        );
        let held = pool.all_messages().any(|message| {
            message.name().starts_with("Get")
                && message.fields().any(|field| {
                    field.json_name() == R::FIELD
                        && matches!(field.kind(), Kind::Message(m) if m.full_name() == R::MESSAGE)
                })
        });
        assert!(held, "no get answer holds {} as {}", R::MESSAGE, R::FIELD);
        let sample = R::default();
        for column in R::COLUMNS {
            let _ = (column.value)(&sample);
        }
    }

    #[test]
    fn every_resource_is_described_whole() {
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).unwrap();
        check::<v1::Network>(&pool);
        check::<v1::Subnet>(&pool);
        check::<v1::Instance>(&pool);
        check::<v1::Eip>(&pool);
        check::<v1::LoadBalancer>(&pool);
        check::<v1::Listener>(&pool);
        check::<v1::VirtualServerGroup>(&pool);
        check::<v1::Certificate>(&pool);
    }
}
