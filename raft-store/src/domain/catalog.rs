//! The catalog projection: every resource by id, serving the API's reads.
//!
//! Lookups by relation (the listeners of a Load Balancer, say) go through
//! [`Relations`], an index the catalog's mutators keep in step: a lookup
//! costs what it finds, not the size of the catalog.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::ids::{
    AccessTokenId, CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId,
    NetworkId, SubnetId,
};
use super::model::{
    AccessToken, Certificate, Eip, Group, Instance, Listener, LoadBalancer, Network, SecretHash,
    Subnet,
};
use super::rejection::Rejection;
use super::relations::Relations;

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
    pub(crate) access_tokens: BTreeMap<AccessTokenId, AccessToken>,
    /// Derived from the maps above: not stored, rebuilt by [`Catalog::reindex`].
    #[serde(skip)]
    pub(crate) relations: Relations,
}

/// `put_*` and `remove_*` for one kind of resource: the only way `evolve`
/// changes the maps, so the relations stay in step.
macro_rules! mutators {
    ($($map:ident, $put:ident, $remove:ident, $id:ty, $resource:ty, $add:ident, $forget:ident;)*) => {
        $(
            /// Inserts or replaces the resource, and its relations.
            pub(crate) fn $put(&mut self, resource: $resource) {
                if let Some(old) = self.$map.get(&resource.id) {
                    self.relations.$forget(old);
                }
                self.relations.$add(&resource);
                self.$map.insert(resource.id.clone(), resource);
            }

            /// Removes the resource and its relations; `None` when it is not there.
            pub(crate) fn $remove(&mut self, id: &$id) -> Option<$resource> {
                let old = self.$map.remove(id)?;
                self.relations.$forget(&old);
                Some(old)
            }
        )*
    };
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
    mutators! {
        networks, put_network, remove_network, NetworkId, Network, no_relation, no_relation;
        subnets, put_subnet, remove_subnet, SubnetId, Subnet, add_subnet, remove_subnet;
        instances, put_instance, remove_instance, InstanceId, Instance, add_instance, remove_instance;
        eips, put_eip, remove_eip, EipId, Eip, add_eip, remove_eip;
        load_balancers, put_load_balancer, remove_load_balancer, LoadBalancerId, LoadBalancer, add_load_balancer, remove_load_balancer;
        listeners, put_listener, remove_listener, ListenerId, Listener, add_listener, remove_listener;
        groups, put_group, remove_group, GroupId, Group, add_group, remove_group;
        certificates, put_certificate, remove_certificate, CertificateId, Certificate, no_relation, no_relation;
        access_tokens, put_access_token, remove_access_token, AccessTokenId, AccessToken, add_access_token, remove_access_token;
    }

    /// Rebuilds the relations from the maps (after the catalog was read back).
    pub(crate) fn reindex(&mut self) {
        self.relations = Relations::of(
            self.subnets.values(),
            self.instances.values(),
            self.eips.values(),
            self.load_balancers.values(),
            self.listeners.values(),
            self.groups.values(),
            self.access_tokens.values(),
        );
    }

    accessors! {
        networks, network, NetworkId, Network;
        subnets, subnet, SubnetId, Subnet;
        instances, instance, InstanceId, Instance;
        eips, eip, EipId, Eip;
        load_balancers, load_balancer, LoadBalancerId, LoadBalancer;
        listeners, listener, ListenerId, Listener;
        groups, group, GroupId, Group;
        certificates, certificate, CertificateId, Certificate;
        access_tokens, access_token, AccessTokenId, AccessToken;
    }

    /// The access token whose secret has this SHA-256, if any: the lookup
    /// behind every bearer token a node checks (O(log n), no scan).
    pub fn access_token_by_secret_hash(&self, secret_sha256: &SecretHash) -> Option<&AccessToken> {
        self.relations
            .access_token_by_secret
            .get(secret_sha256)
            .and_then(|id| self.access_tokens.get(id))
    }

    /// The listeners of a Load Balancer, in id order.
    pub fn listeners_of<'a>(
        &'a self,
        load_balancer_id: &LoadBalancerId,
    ) -> impl Iterator<Item = &'a Listener> + 'a {
        related(
            &self.listeners,
            self.relations
                .listeners_of_load_balancer
                .get(load_balancer_id),
        )
    }

    /// The groups of a Load Balancer, in id order.
    pub fn groups_of<'a>(
        &'a self,
        load_balancer_id: &LoadBalancerId,
    ) -> impl Iterator<Item = &'a Group> + 'a {
        related(
            &self.groups,
            self.relations.groups_of_load_balancer.get(load_balancer_id),
        )
    }

    /// The subnets of a network, in id order.
    pub fn subnets_of<'a>(
        &'a self,
        network_id: &NetworkId,
    ) -> impl Iterator<Item = &'a Subnet> + 'a {
        related(
            &self.subnets,
            self.relations.subnets_of_network.get(network_id),
        )
    }

    /// The instances of a subnet, in address order.
    pub fn instances_of<'a>(
        &'a self,
        subnet_id: &SubnetId,
    ) -> impl Iterator<Item = &'a Instance> + 'a {
        self.relations
            .instances_of_subnet
            .get(subnet_id)
            .into_iter()
            .flat_map(|addresses| addresses.values())
            .filter_map(|id| self.instances.get(id))
    }

    /// The instance at `address` in a subnet, if any.
    pub fn instance_at(&self, subnet_id: &SubnetId, address: &Ipv4Addr) -> Option<&Instance> {
        self.relations
            .instances_of_subnet
            .get(subnet_id)?
            .get(address)
            .and_then(|id| self.instances.get(id))
    }

    /// The Load Balancers in a subnet, in id order.
    pub fn load_balancers_in<'a>(
        &'a self,
        subnet_id: &SubnetId,
    ) -> impl Iterator<Item = &'a LoadBalancer> + 'a {
        related(
            &self.load_balancers,
            self.relations.load_balancers_of_subnet.get(subnet_id),
        )
    }

    /// The listeners whose default group is `group_id`, or one of whose
    /// rules forwards to it, in id order.
    pub fn listeners_using_group<'a>(
        &'a self,
        group_id: &GroupId,
    ) -> impl Iterator<Item = &'a Listener> + 'a {
        related(
            &self.listeners,
            self.relations.listeners_of_group.get(group_id),
        )
    }

    /// The listeners that serve `certificate_id`, in id order.
    pub fn listeners_using_certificate<'a>(
        &'a self,
        certificate_id: &CertificateId,
    ) -> impl Iterator<Item = &'a Listener> + 'a {
        related(
            &self.listeners,
            self.relations.listeners_of_certificate.get(certificate_id),
        )
    }

    /// The groups `instance_id` is a member of, in id order.
    pub fn groups_with_member<'a>(
        &'a self,
        instance_id: &InstanceId,
    ) -> impl Iterator<Item = &'a Group> + 'a {
        self.relations
            .groups_of_instance
            .get(instance_id)
            .into_iter()
            .flat_map(|groups| groups.keys())
            .filter_map(|id| self.groups.get(id))
    }

    /// The EIP at `address`, if one is allocated.
    pub fn eip_at(&self, address: &Ipv4Addr) -> Option<&Eip> {
        self.relations
            .eip_at
            .get(address)
            .and_then(|id| self.eips.get(id))
    }

    /// The Load Balancer with this name, if any.
    pub fn load_balancer_named(&self, name: &str) -> Option<&LoadBalancer> {
        self.relations
            .load_balancer_named
            .get(name)
            .and_then(|id| self.load_balancers.get(id))
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

/// The resources of `map` whose ids `ids` lists, in id order.
fn related<'a, Id: Ord, R>(
    map: &'a BTreeMap<Id, R>,
    ids: Option<&'a std::collections::BTreeSet<Id>>,
) -> impl Iterator<Item = &'a R> + 'a {
    ids.into_iter()
        .flat_map(|ids| ids.iter())
        .filter_map(move |id| map.get(id))
}
