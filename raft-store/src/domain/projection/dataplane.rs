//! The data-plane configuration: per listener on an EIP, what to accept and
//! where to send it. Every node keeps it warm; the EIP owner serves it.

use std::net::Ipv4Addr;

use crate::domain::catalog::Catalog;
use crate::domain::ids::{CertificateId, GroupId, ListenerId, LoadBalancerId, MemberId};
use crate::domain::model::{Algorithm, ConnectionLimit, HealthCheck, Protocol, Revision};

/// Everything the forwarder serves, at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataPlaneConfig {
    /// The revision this configuration was compiled at: the data plane's generation.
    pub revision: Revision,
    /// Sorted by (address, port); one entry per serving listener.
    pub listeners: Vec<ForwardingEntry>,
}

/// One listener: an address and port to accept on, and where traffic goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardingEntry {
    /// The listener.
    pub listener_id: ListenerId,
    /// Its Load Balancer.
    pub load_balancer_id: LoadBalancerId,
    /// The revision of the listener's last change.
    pub listener_revision: Revision,
    /// The Load Balancer's EIP address.
    pub address: Ipv4Addr,
    /// The listener's port.
    pub port: u16,
    /// TCP, HTTP or HTTPS.
    pub protocol: Protocol,
    /// Concurrent client connections allowed.
    pub connection_limit: ConnectionLimit,
    /// Seconds of inactivity before a connection is closed.
    pub idle_timeout_s: u32,
    /// Add X-Forwarded-For, -Proto and -Port (HTTP and HTTPS).
    pub insert_x_forwarded_for: bool,
    /// Write a line per HTTP request (HTTP and HTTPS) or per connection (TCP).
    pub access_log: bool,
    /// The certificate an HTTPS listener presents.
    pub certificate: Option<TlsCertificate>,
    /// None: every request is refused (503 for HTTP, close for TCP).
    pub group: Option<GroupConfig>,
}

/// A certificate in the form the forwarder loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCertificate {
    /// The certificate.
    pub certificate_id: CertificateId,
    /// PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The key as the catalog keeps it: a sealed text (`sealed.rs`) for an
    /// upload of log format 3 on, which the data plane opens; clear PEM for
    /// an older one.
    pub private_key_pem: String,
}

/// The group a listener forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// The group.
    pub group_id: GroupId,
    /// The revision of the group's last change.
    pub group_revision: Revision,
    /// How new connections are spread.
    pub algorithm: Algorithm,
    /// None: no monitoring.
    pub health_check: Option<HealthCheck>,
    /// In the group's order.
    pub members: Vec<MemberConfig>,
}

/// One backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConfig {
    /// The member.
    pub member_id: MemberId,
    /// The instance's address.
    pub address: Ipv4Addr,
    /// The instance's port.
    pub port: u16,
    /// 0 drains: no new connections.
    pub weight: u8,
    /// False: no new connections.
    pub admin_state_up: bool,
}

impl DataPlaneConfig {
    /// Compiles the listeners of every Load Balancer that has an EIP and is
    /// administratively up; listeners that are down are left out.
    pub fn compile(catalog: &Catalog, revision: Revision) -> Self {
        let mut listeners: Vec<ForwardingEntry> = catalog
            .listeners()
            .values()
            .filter(|listener| listener.admin_state_up)
            .filter_map(|listener| {
                let lb = catalog.load_balancers().get(&listener.load_balancer_id)?;
                if !lb.admin_state_up {
                    return None;
                }
                let eip = catalog.eip_of(lb)?;
                Some(ForwardingEntry {
                    listener_id: listener.id.clone(),
                    load_balancer_id: lb.id.clone(),
                    listener_revision: listener.meta.revision,
                    address: eip.address,
                    port: listener.port,
                    protocol: listener.protocol,
                    connection_limit: listener.connection_limit,
                    idle_timeout_s: listener.idle_timeout_s,
                    insert_x_forwarded_for: listener.insert_x_forwarded_for,
                    access_log: listener.access_log,
                    certificate: listener.certificate_id.as_ref().and_then(|id| {
                        catalog
                            .certificates()
                            .get(id)
                            .map(|certificate| TlsCertificate {
                                certificate_id: certificate.id.clone(),
                                certificate_chain_pem: certificate.certificate_chain_pem.clone(),
                                private_key_pem: certificate.private_key_pem.clone(),
                            })
                    }),
                    group: listener
                        .default_group_id
                        .as_ref()
                        .and_then(|id| catalog.groups().get(id))
                        .map(|group| GroupConfig {
                            group_id: group.id.clone(),
                            group_revision: group.meta.revision,
                            algorithm: group.algorithm,
                            health_check: group.health_check.clone(),
                            members: group
                                .members
                                .iter()
                                .filter_map(|member| {
                                    let instance = catalog.instances().get(&member.instance_id)?;
                                    Some(MemberConfig {
                                        member_id: member.id.clone(),
                                        address: instance.address,
                                        port: member.port,
                                        weight: member.weight,
                                        admin_state_up: member.admin_state_up,
                                    })
                                })
                                .collect(),
                        }),
                })
            })
            .collect();
        listeners.sort_by_key(|entry| (entry.address, entry.port));
        Self {
            revision,
            listeners,
        }
    }
}
