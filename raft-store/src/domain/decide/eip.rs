//! The rules for EIPs: allocating them from the pool, releasing them, and
//! binding them to Load Balancers.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{Context, current, diverged};
use crate::domain::catalog::Catalog;
use crate::domain::command::{DeleteTarget, NewMeta};
use crate::domain::event::Event;
use crate::domain::ids::{EipId, LoadBalancerId};
use crate::domain::limits::quota;
use crate::domain::model::{Eip, LoadBalancer, Settings};
use crate::domain::rejection::Rejection;

pub(super) fn allocate_eip(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    meta: &NewMeta,
    address: Option<Ipv4Addr>,
) -> Result<Vec<Event>, Rejection> {
    if settings.eip_pool.is_empty() {
        return Err(Rejection::precondition(
            None,
            "the cluster has no EIP pool; set one with UpdateClusterSettings (eip_pool)",
        ));
    }
    context.within_new_quota(catalog.eips.len(), settings.quotas.eips, &quota::EIPS)?;
    let address = match address {
        Some(address) => {
            if !settings.eip_pool.iter().any(|cidr| cidr.contains(&address)) {
                return Err(Rejection::invalid(
                    "address",
                    format!(
                        "{address} is outside the EIP pool ({})",
                        pool_text(settings)
                    ),
                ));
            }
            if catalog.eip_at(&address).is_some() {
                return Err(Rejection::already_exists(
                    "address",
                    format!("EIP {address} is already allocated"),
                ));
            }
            address
        }
        None => settings
            .eip_pool
            .iter()
            .find_map(|cidr| lowest_free(catalog, cidr))
            .ok_or_else(|| {
                Rejection::exhausted(format!(
                    "every address of the EIP pool ({}) is allocated",
                    pool_text(settings)
                ))
            })?,
    };
    Ok(vec![Event::EipAllocated(Eip {
        id: EipId::derive(context.seed()?),
        meta: context.meta(meta),
        address,
        load_balancer_id: None,
    })])
}

/// The lowest host address of `cidr` that no EIP holds: a walk of the
/// block's hosts beside the allocated addresses inside it (both in order),
/// so it costs the allocated addresses of the block, not a scan of all EIPs.
fn lowest_free(catalog: &Catalog, cidr: &Ipv4Net) -> Option<Ipv4Addr> {
    let mut hosts = cidr.hosts();
    let first = hosts.next()?;
    let mut taken = catalog
        .relations
        .eip_at
        .range(first..=cidr.broadcast())
        .map(|(address, _)| *address)
        .peekable();
    std::iter::once(first).chain(hosts).find(|host| {
        while taken.next_if(|address| address < host).is_some() {}
        taken.peek() != Some(host)
    })
}

fn pool_text(settings: &Settings) -> String {
    settings
        .eip_pool
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn release_eip(
    catalog: &Catalog,
    target: &DeleteTarget<EipId>,
) -> Result<Vec<Event>, Rejection> {
    let eip = current(catalog.eip("id", &target.id), target.expected_revision)?;
    if let Some(lb) = &eip.load_balancer_id {
        return Err(Rejection::precondition(
            Some("id"),
            format!(
                "EIP {} is associated with load balancer {lb}; disassociate it first",
                eip.id
            ),
        ));
    }
    Ok(vec![Event::EipReleased { id: eip.id.clone() }])
}

pub(super) fn associate_eip(
    catalog: &Catalog,
    context: &Context,
    load_balancer_id: &LoadBalancerId,
    eip_id: &EipId,
) -> Result<Vec<Event>, Rejection> {
    let lb = catalog.load_balancer("load_balancer_id", load_balancer_id)?;
    let eip = catalog.eip("eip_id", eip_id)?;
    if let Some(current) = &lb.eip_id {
        return Err(Rejection::precondition(
            Some("load_balancer_id"),
            format!(
                "load balancer {load_balancer_id} already has EIP {current}; a load balancer has at most one EIP"
            ),
        ));
    }
    if let Some(owner) = &eip.load_balancer_id {
        return Err(Rejection::precondition(
            Some("eip_id"),
            format!(
                "EIP {eip_id} ({}) is already bound to load balancer {owner}",
                eip.address
            ),
        ));
    }
    let (mut lb, mut eip) = (lb.clone(), eip.clone());
    lb.eip_id = Some(eip.id.clone());
    eip.load_balancer_id = Some(lb.id.clone());
    context.touch(&mut lb.meta);
    context.touch(&mut eip.meta);
    Ok(vec![Event::EipAssociated {
        eip,
        load_balancer: lb,
    }])
}

pub(super) fn disassociate_eip(
    catalog: &Catalog,
    context: &Context,
    load_balancer_id: &LoadBalancerId,
) -> Result<Vec<Event>, Rejection> {
    let lb = catalog.load_balancer("load_balancer_id", load_balancer_id)?;
    Ok(vec![disassociate(catalog, context, lb)?])
}

pub(super) fn disassociate(
    catalog: &Catalog,
    context: &Context,
    lb: &LoadBalancer,
) -> Result<Event, Rejection> {
    let Some(eip_id) = &lb.eip_id else {
        return Err(Rejection::precondition(
            Some("load_balancer_id"),
            format!("load balancer {} has no EIP", lb.id),
        ));
    };
    let mut eip = catalog
        .eips
        .get(eip_id)
        .unwrap_or_else(|| {
            diverged(
                context,
                format!(
                    "load balancer {} names EIP {eip_id}, which does not exist",
                    lb.id
                ),
            )
        })
        .clone();
    let mut lb = lb.clone();
    lb.eip_id = None;
    eip.load_balancer_id = None;
    context.touch(&mut lb.meta);
    context.touch(&mut eip.meta);
    Ok(Event::EipDisassociated {
        eip,
        load_balancer: lb,
    })
}
