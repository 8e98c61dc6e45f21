//! The state's invariants, checked in full. Tests call this after every step;
//! it is O(size of the state), too slow for every apply in production.

use std::collections::BTreeSet;

use super::limits::{MAX_ACCESS_TOKENS, MAX_RULES_PER_LISTENER};
use super::model::Protocol;
use super::projection::dataplane::DataPlaneConfig;
use super::state::State;
use super::validate;

impl State {
    /// Checks every invariant listed on [`State`]; the error says which broke.
    pub fn check_invariants(&self) -> Result<(), String> {
        let catalog = &self.catalog;
        let mut rebuilt = catalog.clone();
        rebuilt.reindex();
        if rebuilt.relations != catalog.relations {
            return Err(format!(
                "the relations index differs from a rebuild: kept {:?}, rebuilt {:?}",
                catalog.relations, rebuilt.relations
            ));
        }
        let compiled = DataPlaneConfig::compile(catalog, self.revision);
        let kept = self.data_plane.config(self.revision);
        if kept != compiled {
            return Err(format!(
                "the data-plane projection differs from a compile from scratch: kept {kept:?}, compiled {compiled:?}"
            ));
        }
        let revision = self.revision;
        let mut revisions = Vec::new();
        revisions.extend(
            catalog
                .networks
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .subnets
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .instances
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .eips
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .load_balancers
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .listeners
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .groups
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .certificates
                .values()
                .map(|r| (r.id.to_string(), r.meta.revision)),
        );
        revisions.extend(
            catalog
                .access_tokens
                .values()
                .map(|r| (r.id.to_string(), r.revision)),
        );
        if let Some((id, at)) = revisions.iter().find(|(_, at)| *at > revision || *at == 0) {
            return Err(format!("{id} is at revision {at}, state is at {revision}"));
        }

        for subnet in catalog.subnets.values() {
            if !catalog.networks.contains_key(&subnet.network_id) {
                return Err(format!(
                    "subnet {} names missing network {}",
                    subnet.id, subnet.network_id
                ));
            }
        }
        for instance in catalog.instances.values() {
            if !catalog.subnets.contains_key(&instance.subnet_id) {
                return Err(format!(
                    "instance {} names missing subnet {}",
                    instance.id, instance.subnet_id
                ));
            }
        }

        let mut names = BTreeSet::new();
        for lb in catalog.load_balancers.values() {
            if !names.insert(&lb.meta.name) {
                return Err(format!(
                    "load balancer name {:?} is used twice",
                    lb.meta.name
                ));
            }
            if !catalog.networks.contains_key(&lb.network_id)
                || !catalog.subnets.contains_key(&lb.subnet_id)
            {
                return Err(format!(
                    "load balancer {} names a missing network or subnet",
                    lb.id
                ));
            }
            if let Some(eip_id) = &lb.eip_id {
                match catalog.eips.get(eip_id) {
                    Some(eip) if eip.load_balancer_id.as_ref() == Some(&lb.id) => {}
                    _ => {
                        return Err(format!(
                            "load balancer {} names EIP {eip_id}, which does not name it back",
                            lb.id
                        ));
                    }
                }
            }
        }
        for eip in catalog.eips.values() {
            if let Some(lb_id) = &eip.load_balancer_id {
                match catalog.load_balancers.get(lb_id) {
                    Some(lb) if lb.eip_id.as_ref() == Some(&eip.id) => {}
                    _ => {
                        return Err(format!(
                            "EIP {} names load balancer {lb_id}, which does not name it back",
                            eip.id
                        ));
                    }
                }
            }
        }
        let addresses: BTreeSet<_> = catalog.eips.values().map(|eip| eip.address).collect();
        if addresses.len() != catalog.eips.len() {
            return Err("two EIPs share an address".to_owned());
        }

        let mut ports = BTreeSet::new();
        let mut listener_names = BTreeSet::new();
        for listener in catalog.listeners.values() {
            if !catalog
                .load_balancers
                .contains_key(&listener.load_balancer_id)
            {
                return Err(format!(
                    "listener {} names a missing load balancer",
                    listener.id
                ));
            }
            if !ports.insert((&listener.load_balancer_id, listener.port)) {
                return Err(format!(
                    "port {} is used twice on load balancer {}",
                    listener.port, listener.load_balancer_id
                ));
            }
            if !listener_names.insert((&listener.load_balancer_id, &listener.meta.name)) {
                return Err(format!(
                    "listener name {:?} is used twice",
                    listener.meta.name
                ));
            }
            for group_id in listener.group_ids() {
                match catalog.groups.get(group_id) {
                    Some(group) if group.load_balancer_id == listener.load_balancer_id => {}
                    _ => {
                        return Err(format!(
                            "listener {} names group {group_id} of another or no load balancer",
                            listener.id
                        ));
                    }
                }
            }
            if !listener.rules.is_empty() && !listener.protocol.is_http() {
                return Err(format!("TCP listener {} has rules", listener.id));
            }
            if listener.rules.len() > MAX_RULES_PER_LISTENER {
                return Err(format!("listener {} has too many rules", listener.id));
            }
            let rule_names: BTreeSet<&str> = listener
                .rules
                .iter()
                .map(|rule| rule.name.as_str())
                .collect();
            if rule_names.len() != listener.rules.len() {
                return Err(format!(
                    "listener {} has two rules of one name",
                    listener.id
                ));
            }
            let needs_certificate = listener.protocol == Protocol::Https;
            match &listener.certificate_id {
                Some(id) if needs_certificate && catalog.certificates.contains_key(id) => {}
                None if !needs_certificate => {}
                _ => {
                    return Err(format!(
                        "listener {} has a certificate that does not fit",
                        listener.id
                    ));
                }
            }
        }

        let mut group_names = BTreeSet::new();
        for group in catalog.groups.values() {
            if !catalog.load_balancers.contains_key(&group.load_balancer_id) {
                return Err(format!("group {} names a missing load balancer", group.id));
            }
            if !group_names.insert((&group.load_balancer_id, &group.meta.name)) {
                return Err(format!("group name {:?} is used twice", group.meta.name));
            }
            let mut members = BTreeSet::new();
            for member in &group.members {
                if !catalog.instances.contains_key(&member.instance_id) {
                    return Err(format!(
                        "member {} names missing instance {}",
                        member.id, member.instance_id
                    ));
                }
                if !members.insert((&member.instance_id, member.port)) {
                    return Err(format!(
                        "group {} has instance {} port {} twice",
                        group.id, member.instance_id, member.port
                    ));
                }
                if member.weight > 100 {
                    return Err(format!("member {} has weight {}", member.id, member.weight));
                }
            }
        }

        if catalog.access_tokens.len() > MAX_ACCESS_TOKENS {
            return Err(format!(
                "{} access tokens, over the limit of {MAX_ACCESS_TOKENS}",
                catalog.access_tokens.len()
            ));
        }
        if catalog.relations.access_token_by_secret.len() != catalog.access_tokens.len() {
            return Err("two access tokens share a secret hash".to_owned());
        }
        for token in catalog.access_tokens.values() {
            if let Err(broken) = validate::principal("principal", &token.principal) {
                return Err(format!("access token {}: {}", token.id, broken.message));
            }
        }

        let mut previous = 0;
        for (at, events) in self.history.revisions() {
            if *at <= previous || *at > revision || *at < self.history.first_kept() {
                return Err(format!("history revision {at} is out of order"));
            }
            if events.is_empty() || events.iter().any(|event| event.revision != *at) {
                return Err(format!(
                    "history revision {at} holds no or mislabelled events"
                ));
            }
            previous = *at;
        }
        if self.tokens.len() > self.settings.client_token_capacity as usize {
            return Err("token memory is over capacity".to_owned());
        }
        self.tokens.check_consistent()
    }
}
