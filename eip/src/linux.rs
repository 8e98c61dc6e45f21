//! The Linux binder: EIP addresses on a real interface, gated by nftables
//! elements that time out in the kernel, announced with gratuitous ARP.
//!
//! **Invariant**: the kernel answers for an address only while its `held`
//! element lives, and that element's timeout is the rest of the hold as the
//! caller gave it. Order of a claim: gate open (with its timeout), then the
//! address, then the announcement; of a release: gate closed, then the
//! address deleted. A killed or stopped process leaves the address behind,
//! but closed: the element times out by itself. A new run deletes the
//! addresses an earlier one left (they carry the EIP label), after closing
//! their gate.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::address::Addresses;
use crate::{Binder, arp, gate};

/// How long after a claim it is announced a second time: a neighbour that
/// missed the first announcement, or refused it within its ARP lock time
/// (1 s by default), takes the second.
const SECOND_ANNOUNCEMENT: Duration = Duration::from_millis(1100);

/// The Linux binder for one interface.
pub struct Linux {
    interface: String,
    state: Mutex<State>,
}

struct State {
    addresses: Addresses,
    /// Held addresses → when they were claimed, until announced twice.
    held: BTreeMap<Ipv4Addr, Option<Instant>>,
}

impl Linux {
    /// Takes charge of the EIP addresses on `interface`: installs the gate
    /// and deletes any EIP address an earlier run left.
    ///
    /// # Errors
    /// No such interface, `nft` missing or refused, or netlink refused
    /// (needs CAP_NET_ADMIN).
    pub fn start(interface: &str) -> io::Result<Self> {
        let index = arp::interface(interface)?.index;
        let mut addresses = Addresses::of(interface, index)?;
        let stale: BTreeSet<Ipv4Addr> = addresses.labeled()?.into_iter().collect();
        gate::install(&stale)?;
        for address in &stale {
            addresses.delete(*address)?;
        }
        if !stale.is_empty() {
            tracing::info!(
                ?stale,
                interface,
                "deleted EIP addresses an earlier run left"
            );
        }
        Ok(Self {
            interface: interface.to_owned(),
            state: Mutex::new(State {
                addresses,
                held: BTreeMap::new(),
            }),
        })
    }

    fn announce(&self, address: Ipv4Addr) {
        let announced =
            arp::Port::open(&self.interface).and_then(|mut port| port.announce(address));
        if let Err(error) = announced {
            // The address is held all the same; neighbours learn it when
            // their cache entries expire, later.
            tracing::warn!(%error, %address, "gratuitous ARP failed");
        }
    }
}

impl Binder for Linux {
    fn hold(&self, wanted: &BTreeSet<Ipv4Addr>, until: Instant) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let remaining = until.saturating_duration_since(Instant::now());
        if remaining < Duration::from_millis(1) {
            drop(state);
            return self.release();
        }
        let gone: BTreeSet<Ipv4Addr> = state
            .held
            .keys()
            .filter(|address| !wanted.contains(address))
            .copied()
            .collect();
        gate::update(wanted, remaining, &gone)?;
        for address in &gone {
            state.held.remove(address);
            state.addresses.delete(*address)?;
        }
        let now = Instant::now();
        for address in wanted {
            match state.held.get(address).copied() {
                None => {
                    if let Err(error) = state.addresses.add(*address) {
                        // Undo the claim's gate: hold nothing not held before.
                        let claimed = BTreeSet::from([*address]);
                        let _ = gate::update(&BTreeSet::new(), Duration::ZERO, &claimed);
                        return Err(error);
                    }
                    self.announce(*address);
                    state.held.insert(*address, Some(now));
                }
                Some(Some(claimed)) if now.duration_since(claimed) >= SECOND_ANNOUNCEMENT => {
                    self.announce(*address);
                    state.held.insert(*address, None);
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn drain(&self, on: bool) -> io::Result<()> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if on {
            let held: BTreeSet<Ipv4Addr> = state.held.keys().copied().collect();
            gate::drain(Some(&held))
        } else {
            gate::drain(None)
        }
    }

    fn release(&self) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.held.is_empty() {
            return gate::drain(None);
        }
        let held: BTreeSet<Ipv4Addr> = state.held.keys().copied().collect();
        gate::update(&BTreeSet::new(), Duration::ZERO, &held)?;
        gate::drain(None)?;
        state.held.clear();
        for address in held {
            state.addresses.delete(address)?;
        }
        Ok(())
    }

    fn held(&self) -> BTreeSet<Ipv4Addr> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .held
            .keys()
            .copied()
            .collect()
    }
}
