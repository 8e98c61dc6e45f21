//! The catalog's relations, indexed: which subnets a network has, which
//! instance holds an address in a subnet, which listeners use a group, which
//! groups an instance is a member of, and so on. `decide` asks these instead
//! of scanning the catalog, so a command costs what it touches, not what the
//! catalog holds.
//!
//! Derived from the catalog: never stored (a state read back rebuilds it,
//! [`Relations::of`]), kept in step by the catalog's own mutators, and
//! checked against a rebuild by `State::check_invariants`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::ids::{
    AccessTokenId, CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId,
    NetworkId, SubnetId,
};
use super::model::{AccessToken, Eip, Group, Instance, Listener, LoadBalancer, SecretHash, Subnet};

/// Every relation the rules look up, by the resource they start from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Relations {
    pub(crate) subnets_of_network: BTreeMap<NetworkId, BTreeSet<SubnetId>>,
    /// Instances by address, per subnet (addresses are unique in a subnet).
    pub(crate) instances_of_subnet: BTreeMap<SubnetId, BTreeMap<Ipv4Addr, InstanceId>>,
    pub(crate) load_balancers_of_subnet: BTreeMap<SubnetId, BTreeSet<LoadBalancerId>>,
    /// Load Balancer names are unique in the cluster.
    pub(crate) load_balancer_named: BTreeMap<String, LoadBalancerId>,
    pub(crate) listeners_of_load_balancer: BTreeMap<LoadBalancerId, BTreeSet<ListenerId>>,
    pub(crate) groups_of_load_balancer: BTreeMap<LoadBalancerId, BTreeSet<GroupId>>,
    /// Listeners whose default group this is, or one of whose rules forwards to it.
    pub(crate) listeners_of_group: BTreeMap<GroupId, BTreeSet<ListenerId>>,
    pub(crate) listeners_of_certificate: BTreeMap<CertificateId, BTreeSet<ListenerId>>,
    /// The groups an instance is a member of, with how many of its ports.
    pub(crate) groups_of_instance: BTreeMap<InstanceId, BTreeMap<GroupId, u32>>,
    /// EIPs by address (addresses are unique in the cluster).
    pub(crate) eip_at: BTreeMap<Ipv4Addr, EipId>,
    /// Access tokens by the SHA-256 of their secret (unique in the cluster).
    pub(crate) access_token_by_secret: BTreeMap<SecretHash, AccessTokenId>,
}

fn link<P: Ord + Clone, C: Ord + Clone>(map: &mut BTreeMap<P, BTreeSet<C>>, parent: &P, child: &C) {
    map.entry(parent.clone()).or_default().insert(child.clone());
}

fn unlink<P: Ord, C: Ord>(map: &mut BTreeMap<P, BTreeSet<C>>, parent: &P, child: &C) {
    if let Some(children) = map.get_mut(parent) {
        children.remove(child);
        if children.is_empty() {
            map.remove(parent);
        }
    }
}

impl Relations {
    /// The relations of a catalog's resources, built from scratch.
    pub(crate) fn of<'a>(
        subnets: impl Iterator<Item = &'a Subnet>,
        instances: impl Iterator<Item = &'a Instance>,
        eips: impl Iterator<Item = &'a Eip>,
        load_balancers: impl Iterator<Item = &'a LoadBalancer>,
        listeners: impl Iterator<Item = &'a Listener>,
        groups: impl Iterator<Item = &'a Group>,
        access_tokens: impl Iterator<Item = &'a AccessToken>,
    ) -> Self {
        let mut relations = Self::default();
        subnets.for_each(|subnet| relations.add_subnet(subnet));
        eips.for_each(|eip| relations.add_eip(eip));
        instances.for_each(|instance| relations.add_instance(instance));
        load_balancers.for_each(|lb| relations.add_load_balancer(lb));
        listeners.for_each(|listener| relations.add_listener(listener));
        groups.for_each(|group| relations.add_group(group));
        access_tokens.for_each(|token| relations.add_access_token(token));
        relations
    }

    /// For resources no relation starts from or points to.
    pub(crate) fn no_relation<R>(&mut self, _resource: &R) {}

    pub(crate) fn add_subnet(&mut self, subnet: &Subnet) {
        link(&mut self.subnets_of_network, &subnet.network_id, &subnet.id);
    }

    pub(crate) fn remove_subnet(&mut self, subnet: &Subnet) {
        unlink(&mut self.subnets_of_network, &subnet.network_id, &subnet.id);
    }

    pub(crate) fn add_instance(&mut self, instance: &Instance) {
        self.instances_of_subnet
            .entry(instance.subnet_id.clone())
            .or_default()
            .insert(instance.address, instance.id.clone());
    }

    pub(crate) fn remove_instance(&mut self, instance: &Instance) {
        if let Some(addresses) = self.instances_of_subnet.get_mut(&instance.subnet_id) {
            addresses.remove(&instance.address);
            if addresses.is_empty() {
                self.instances_of_subnet.remove(&instance.subnet_id);
            }
        }
    }

    pub(crate) fn add_eip(&mut self, eip: &Eip) {
        self.eip_at.insert(eip.address, eip.id.clone());
    }

    pub(crate) fn remove_eip(&mut self, eip: &Eip) {
        if self.eip_at.get(&eip.address) == Some(&eip.id) {
            self.eip_at.remove(&eip.address);
        }
    }

    pub(crate) fn add_load_balancer(&mut self, lb: &LoadBalancer) {
        link(&mut self.load_balancers_of_subnet, &lb.subnet_id, &lb.id);
        self.load_balancer_named
            .insert(lb.meta.name.clone(), lb.id.clone());
    }

    pub(crate) fn remove_load_balancer(&mut self, lb: &LoadBalancer) {
        unlink(&mut self.load_balancers_of_subnet, &lb.subnet_id, &lb.id);
        if self.load_balancer_named.get(&lb.meta.name) == Some(&lb.id) {
            self.load_balancer_named.remove(&lb.meta.name);
        }
    }

    pub(crate) fn add_listener(&mut self, listener: &Listener) {
        link(
            &mut self.listeners_of_load_balancer,
            &listener.load_balancer_id,
            &listener.id,
        );
        for group in listener.group_ids() {
            link(&mut self.listeners_of_group, group, &listener.id);
        }
        if let Some(certificate) = &listener.certificate_id {
            link(
                &mut self.listeners_of_certificate,
                certificate,
                &listener.id,
            );
        }
    }

    pub(crate) fn remove_listener(&mut self, listener: &Listener) {
        unlink(
            &mut self.listeners_of_load_balancer,
            &listener.load_balancer_id,
            &listener.id,
        );
        for group in listener.group_ids() {
            unlink(&mut self.listeners_of_group, group, &listener.id);
        }
        if let Some(certificate) = &listener.certificate_id {
            unlink(
                &mut self.listeners_of_certificate,
                certificate,
                &listener.id,
            );
        }
    }

    pub(crate) fn add_group(&mut self, group: &Group) {
        link(
            &mut self.groups_of_load_balancer,
            &group.load_balancer_id,
            &group.id,
        );
        for member in &group.members {
            self.add_member(&group.id, &member.instance_id);
        }
    }

    pub(crate) fn remove_group(&mut self, group: &Group) {
        unlink(
            &mut self.groups_of_load_balancer,
            &group.load_balancer_id,
            &group.id,
        );
        for member in &group.members {
            self.remove_member(&group.id, &member.instance_id);
        }
    }

    pub(crate) fn add_access_token(&mut self, token: &AccessToken) {
        self.access_token_by_secret
            .insert(token.secret_sha256, token.id.clone());
    }

    pub(crate) fn remove_access_token(&mut self, token: &AccessToken) {
        if self.access_token_by_secret.get(&token.secret_sha256) == Some(&token.id) {
            self.access_token_by_secret.remove(&token.secret_sha256);
        }
    }

    pub(crate) fn add_member(&mut self, group: &GroupId, instance: &InstanceId) {
        *self
            .groups_of_instance
            .entry(instance.clone())
            .or_default()
            .entry(group.clone())
            .or_default() += 1;
    }

    pub(crate) fn remove_member(&mut self, group: &GroupId, instance: &InstanceId) {
        let Some(groups) = self.groups_of_instance.get_mut(instance) else {
            return;
        };
        if let Some(count) = groups.get_mut(group) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                groups.remove(group);
            }
        }
        if groups.is_empty() {
            self.groups_of_instance.remove(instance);
        }
    }
}
