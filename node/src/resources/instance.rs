//! An instance: a backend server in a subnet; listings are scoped by subnet.

use fulcrum_raft_store::domain::{Instance, InstanceId};

use super::Column;

describe! {
    v1::Instance {
        field: "instance",
        id: InstanceId,
        stored: Instance,
        catalog: instances,
        client: networks,
        list: list_instances(ListInstancesRequest) -> instances, scoped by subnet_id,
        get: get_instance(GetInstanceRequest) -> instance,
        in_scope: |stored, scope| stored.subnet_id.as_str() == scope,
        view: |_, stored| stored.into(),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::listed("SUBNET", |r| r.subnet_id.clone()),
            Column::listed("ADDRESS", |r| r.address.clone()),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}
