//! The catalog projection: every resource by id, serving the API's reads.
//!
//! Lookups by relation (the listeners of a Load Balancer, say) scan the maps;
//! the quotas bound them (50 listeners per Load Balancer, 1000 Load Balancers).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{
    CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, NetworkId, SubnetId,
};
use super::model::{Certificate, Eip, Group, Instance, Listener, LoadBalancer, Network, Subnet};
use super::rejection::Rejection;

/// Every resource, by id, in id order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub(crate) networks: BTreeMap<NetworkId, Network>,
    pub(crate) subnets: BTreeMap<SubnetId, Subnet>,
    pub(crate) instances: BTreeMap<InstanceId, Instance>,
    pub(crate) eips: BTreeMap<EipId, Eip>,
    pub(crate) load_balancers: BTreeMap<LoadBalancerId, LoadBalancer>,
    pub(crate) listeners: BTreeMap<ListenerId, Listener>,
    pub(crate) groups: BTreeMap<GroupId, Group>,
    pub(crate) certificates: BTreeMap<CertificateId, Certificate>,
}

macro_rules! accessors {
    ($($map:ident, $getter:ident, $id:ty, $resource:ty;)*) => {
        $(
            /// Every resource of this kind, by id.
            pub fn $map(&self) -> &BTreeMap<$id, $resource> {
                &self.$map
            }

            /// The resource named by `field`, or NOT_FOUND naming the field.
            pub fn $getter(&self, field: &str, id: &$id) -> Result<&$resource, Rejection> {
                self.$map
                    .get(id)
                    .ok_or_else(|| Rejection::not_found(field, <$id>::NOUN, id))
            }
        )*
    };
}

impl Catalog {
    accessors! {
        networks, network, NetworkId, Network;
        subnets, subnet, SubnetId, Subnet;
        instances, instance, InstanceId, Instance;
        eips, eip, EipId, Eip;
        load_balancers, load_balancer, LoadBalancerId, LoadBalancer;
        listeners, listener, ListenerId, Listener;
        groups, group, GroupId, Group;
        certificates, certificate, CertificateId, Certificate;
    }

    /// The listeners of a Load Balancer.
    pub fn listeners_of<'a>(
        &'a self,
        load_balancer_id: &'a LoadBalancerId,
    ) -> impl Iterator<Item = &'a Listener> + 'a {
        self.listeners
            .values()
            .filter(move |listener| &listener.load_balancer_id == load_balancer_id)
    }

    /// The groups of a Load Balancer.
    pub fn groups_of<'a>(
        &'a self,
        load_balancer_id: &'a LoadBalancerId,
    ) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups
            .values()
            .filter(move |group| &group.load_balancer_id == load_balancer_id)
    }

    /// The Load Balancer with this name, if any.
    pub fn load_balancer_named(&self, name: &str) -> Option<&LoadBalancer> {
        self.load_balancers.values().find(|lb| lb.meta.name == name)
    }

    /// The network an instance lives in.
    pub fn network_of_instance(&self, instance: &Instance) -> Option<&NetworkId> {
        self.subnets
            .get(&instance.subnet_id)
            .map(|subnet| &subnet.network_id)
    }

    /// The EIP of a Load Balancer, if one is associated.
    pub fn eip_of(&self, load_balancer: &LoadBalancer) -> Option<&Eip> {
        load_balancer
            .eip_id
            .as_ref()
            .and_then(|id| self.eips.get(id))
    }
}
