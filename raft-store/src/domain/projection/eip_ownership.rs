//! EIP ownership: the addresses the Raft leader must hold, and for whom.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::domain::catalog::Catalog;
use crate::domain::ids::{EipId, LoadBalancerId};
use crate::domain::model::Revision;

/// The addresses of every EIP associated with a Load Balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EipOwnership {
    /// The revision this was compiled at.
    pub revision: Revision,
    /// By address.
    pub held: BTreeMap<Ipv4Addr, HeldEip>,
}

/// One address to hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldEip {
    /// The EIP.
    pub eip_id: EipId,
    /// The Load Balancer it serves.
    pub load_balancer_id: LoadBalancerId,
}

impl EipOwnership {
    /// Compiles the set from the catalog.
    pub fn compile(catalog: &Catalog, revision: Revision) -> Self {
        let held = catalog
            .eips()
            .values()
            .filter_map(|eip| {
                let load_balancer_id = eip.load_balancer_id.clone()?;
                Some((
                    eip.address,
                    HeldEip {
                        eip_id: eip.id.clone(),
                        load_balancer_id,
                    },
                ))
            })
            .collect();
        Self { revision, held }
    }
}
