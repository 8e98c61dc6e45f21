//! A subnet: a range of a network's addresses; listings are scoped by network.

use fulcrum_raft_store::domain::{Subnet, SubnetId};

use super::Column;

describe! {
    v1::Subnet {
        field: "subnet",
        id: SubnetId,
        stored: Subnet,
        catalog: subnets,
        client: networks,
        list: list_subnets(ListSubnetsRequest) -> subnets, scoped by network_id,
        get: get_subnet(GetSubnetRequest) -> subnet,
        in_scope: |stored, scope| stored.network_id.as_str() == scope,
        view: |_, stored| stored.into(),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::listed("NETWORK", |r| r.network_id.clone()),
            Column::listed("CIDR", |r| r.cidr.clone()),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}
