//! A listener, with its statuses; listings are scoped by Load Balancer.

use fulcrum_raft_store::domain::{Listener, ListenerId};

use super::Column;
use super::text::{operating, or_dash, protocol, provisioning, rules};

describe! {
    v1::Listener {
        field: "listener",
        id: ListenerId,
        stored: Listener,
        catalog: listeners,
        client: listeners,
        list: list_listeners(ListListenersRequest) -> listeners, scoped by load_balancer_id,
        get: get_listener(GetListenerRequest) -> listener,
        in_scope: |stored, scope| stored.load_balancer_id.as_str() == scope,
        view: |views, stored| views.listener(stored),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::listed("LOAD BALANCER", |r| r.load_balancer_id.clone()),
            Column::listed("PROTOCOL", |r| protocol(r.protocol)),
            Column::listed("PORT", |r| r.port.to_string()),
            Column::listed("GROUP", |r| or_dash(&r.default_group_id)),
            Column::listed("CONNECTION LIMIT", |r| r.connection_limit.to_string()),
            Column::shown("CERTIFICATE", |r| or_dash(&r.certificate_id)),
            Column::shown("RULES", |r| rules(&r.rules)),
            Column::listed("PROVISIONING", |r| provisioning(r.provisioning_status)),
            Column::shown("PROVISIONING ERROR", |r| or_dash(&r.provisioning_error)),
            Column::listed("OPERATING", |r| operating(r.operating_status)),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}
