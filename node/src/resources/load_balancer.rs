//! A Load Balancer, with its EIP address and statuses; a listing may ask for one name.

use fulcrum_raft_store::domain::{LoadBalancer, LoadBalancerId};

use super::Column;
use super::text::{operating, or_dash, provisioning, up_down};

describe! {
    v1::LoadBalancer {
        field: "loadBalancer",
        id: LoadBalancerId,
        stored: LoadBalancer,
        catalog: load_balancers,
        client: load_balancers,
        list: list_load_balancers(ListLoadBalancersRequest) -> load_balancers, scoped by name,
        get: get_load_balancer(GetLoadBalancerRequest) -> load_balancer,
        in_scope: |stored, scope| stored.meta.name == scope,
        view: |views, stored| views.load_balancer(stored),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::shown("DESCRIPTION", |r| or_dash(&r.description)),
            Column::shown("NETWORK", |r| r.network_id.clone()),
            Column::shown("SUBNET", |r| r.subnet_id.clone()),
            Column::shown("EIP", |r| or_dash(&r.eip_id)),
            Column::listed("EIP ADDRESS", |r| or_dash(&r.eip_address)),
            Column::shown("ADMIN STATE", |r| up_down(r.admin_state_up)),
            Column::shown("DELETE PROTECTION", |r| r.delete_protection.to_string()),
            Column::listed("PROVISIONING", |r| provisioning(r.provisioning_status)),
            Column::listed("OPERATING", |r| operating(r.operating_status)),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}
