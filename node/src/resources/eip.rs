//! An Elastic IP, drawn from the cluster's pool.

use fulcrum_raft_store::domain::{Eip, EipId};

use super::Column;
use super::text::or_dash;

describe! {
    v1::Eip {
        field: "eip",
        id: EipId,
        stored: Eip,
        catalog: eips,
        client: eips,
        list: list_eips(ListEipsRequest) -> eips,
        get: get_eip(GetEipRequest) -> eip,
        in_scope: |_, _| true,
        view: |_, stored| stored.into(),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| or_dash(&r.name)),
            Column::listed("ADDRESS", |r| r.address.clone()),
            Column::listed("LOAD BALANCER", |r| or_dash(&r.load_balancer_id)),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}
