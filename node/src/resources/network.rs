//! A network: an address range that subnets divide.

use fulcrum_raft_store::domain::{Network, NetworkId};

use super::Column;
use super::text::or_dash;

describe! {
    v1::Network {
        field: "network",
        id: NetworkId,
        stored: Network,
        catalog: networks,
        client: networks,
        list: list_networks(ListNetworksRequest) -> networks,
        get: get_network(GetNetworkRequest) -> network,
        in_scope: |_, _| true,
        view: |_, stored| stored.into(),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::listed("CIDR", |r| r.cidr.clone()),
            Column::shown("DESCRIPTION", |r| or_dash(&r.description)),
            Column::listed("REVISION", |r| r.revision.to_string()),
        ],
    }
}
