//! The Linux binder: EIP addresses on a real interface, gated by nftables
//! elements that time out in the kernel, announced with gratuitous ARP.
//!
//! **Invariant**: the kernel answers for an address only while its `held`
//! element lives, and that element's timeout is the rest of the hold as the
//! caller gave it, counted from when the transaction lands. When a
//! transaction lands later than the allowance the caller gives
//! ([`Linux::start`]), the binder closes the gate at once and reports an
//! error, so the hold overruns `until` by at most the allowance plus one
//! more transaction. Order of a claim: gate open, then the address, then the
//! announcement (only while the hold has time left); of a release: gate
//! closed, then the address deleted. Any failure after the gate opened
//! closes it again for the addresses the call was claiming. A killed or
//! stopped process leaves the address behind, but closed: the element times
//! out by itself. A new run closes and deletes the EIP addresses an earlier
//! one left, on any interface.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::address::Addresses;
use crate::{Binder, arp, gate};

/// How long after a claim it is announced a second time: a neighbour that
/// missed the first announcement, or refused it within its ARP lock time
/// (1 s by default), takes the second.
const SECOND_ANNOUNCEMENT: Duration = Duration::from_millis(1100);

/// How often a held address is announced again, for neighbours that missed
/// the claim's announcements.
const REANNOUNCEMENT: Duration = Duration::from_secs(10);

/// A hold of the same addresses is written to the kernel again only once
/// its end has moved this much: renewing at every quorum acknowledgement
/// (every heartbeat) would run `nft` twenty times a second for nothing. The
/// kernel's hold then ends up to this much before the caller's `until`,
/// never after it.
const RENEWAL_STEP: Duration = Duration::from_millis(100);

/// An announcement is sent only while the hold has at least this much left.
const ANNOUNCE_MARGIN: Duration = Duration::from_millis(20);

/// The Linux binder for one interface.
pub struct Linux {
    interface: String,
    /// How late a gate transaction may land before the binder closes the
    /// gate again (the lease's release allowance).
    allowance: Duration,
    state: Mutex<State>,
    /// The gate-open addresses, readable without waiting for a change in
    /// progress.
    view: Mutex<BTreeSet<Ipv4Addr>>,
    /// Set by [`Binder::shut_down`]: no hold after it.
    closed: AtomicBool,
}

struct State {
    addresses: Addresses,
    /// Gate-open addresses → when they were claimed and last announced.
    held: BTreeMap<Ipv4Addr, Announced>,
    /// Addresses whose gate is closed but whose deletion failed: tried
    /// again at every call.
    leftover: BTreeSet<Ipv4Addr>,
    /// The `until` last written to the kernel for the held addresses.
    written_until: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Announced {
    claimed: Instant,
    last: Instant,
    times: u32,
}

impl Linux {
    /// Takes charge of the EIP addresses on `interface`: installs the gate
    /// (closed for every EIP address an earlier run left, on any interface)
    /// and deletes those addresses. A gate transaction that lands more than
    /// `allowance` after its timeout was computed is undone.
    ///
    /// # Errors
    /// No such interface, `nft` missing or refused, or netlink refused
    /// (needs CAP_NET_ADMIN).
    pub fn start(interface: &str, allowance: Duration) -> io::Result<Self> {
        let index = arp::interface(interface)?.index;
        let mut addresses = Addresses::of(interface, index)?;
        let stale = addresses.labeled_anywhere()?;
        let gated: BTreeSet<Ipv4Addr> = stale.iter().map(|(_, address)| *address).collect();
        gate::install(&gated)?;
        for (at, address) in &stale {
            addresses.delete_at(*at, *address)?;
        }
        if !stale.is_empty() {
            tracing::info!(?gated, "deleted EIP addresses an earlier run left");
        }
        Ok(Self {
            interface: interface.to_owned(),
            allowance,
            state: Mutex::new(State {
                addresses,
                held: BTreeMap::new(),
                leftover: BTreeSet::new(),
                written_until: None,
            }),
            view: Mutex::new(BTreeSet::new()),
            closed: AtomicBool::new(false),
        })
    }

    fn announce(&self, address: Ipv4Addr, until: Instant) -> bool {
        // The packet socket bypasses the gate: announce only while holding.
        if Instant::now() + ANNOUNCE_MARGIN >= until {
            return false;
        }
        let announced =
            arp::Port::open(&self.interface).and_then(|mut port| port.announce(address));
        if let Err(error) = &announced {
            // The address is held all the same; neighbours learn it when
            // their cache entries expire, later.
            tracing::warn!(%error, %address, "gratuitous ARP failed");
        }
        announced.is_ok()
    }

    /// Closes the gate for `addresses` and deletes them (leftovers on failure).
    fn close(state: &mut State, addresses: &BTreeSet<Ipv4Addr>) -> io::Result<()> {
        if addresses.is_empty() {
            return Ok(());
        }
        gate::update(&BTreeSet::new(), Instant::now(), addresses)?;
        for address in addresses {
            state.held.remove(address);
            if state.addresses.delete(*address).is_err() {
                state.leftover.insert(*address);
            }
        }
        Ok(())
    }

    fn publish(&self, state: &State) {
        *self.view.lock().unwrap_or_else(PoisonError::into_inner) =
            state.held.keys().copied().collect();
    }

    fn hold_locked(
        &self,
        state: &mut State,
        wanted: &BTreeSet<Ipv4Addr>,
        until: Instant,
    ) -> io::Result<()> {
        let leftovers = std::mem::take(&mut state.leftover);
        for address in leftovers {
            if !wanted.contains(&address) && state.addresses.delete(address).is_err() {
                state.leftover.insert(address);
            }
        }
        let before: BTreeSet<Ipv4Addr> = state.held.keys().copied().collect();
        let gone: BTreeSet<Ipv4Addr> = before.difference(wanted).copied().collect();
        let claimed: BTreeSet<Ipv4Addr> = wanted.difference(&before).copied().collect();
        let renewal_due = state
            .written_until
            .is_none_or(|written| until >= written + RENEWAL_STEP);
        if gone.is_empty() && claimed.is_empty() && !renewal_due {
            return Ok(());
        }
        state.written_until = Some(until);
        let took = gate::update(wanted, until, &gone)?;
        for address in &gone {
            state.held.remove(address);
            if state.addresses.delete(*address).is_err() {
                state.leftover.insert(*address);
            }
        }
        if took > self.allowance {
            // The hold may end up to `took` after `until`: end it now.
            let open: BTreeSet<Ipv4Addr> = wanted.iter().copied().collect();
            Self::close(state, &open)?;
            return Err(io::Error::other(format!(
                "the EIP gate took {took:?} to apply, more than the {:?} allowed: closed again",
                self.allowance
            )));
        }
        if Instant::now() >= until {
            // The transaction held nothing (the deadline had passed).
            Self::close(state, wanted)?;
            return Ok(());
        }
        for address in &claimed {
            if let Err(error) = state.addresses.add(*address) {
                Self::close(state, &claimed)?;
                return Err(error);
            }
            let now = Instant::now();
            state.held.insert(
                *address,
                Announced {
                    claimed: now,
                    last: now,
                    times: 0,
                },
            );
        }
        let now = Instant::now();
        for (address, announced) in &mut state.held {
            let due = match announced.times {
                0 => true,
                1 => now.duration_since(announced.claimed) >= SECOND_ANNOUNCEMENT,
                _ => now.duration_since(announced.last) >= REANNOUNCEMENT,
            };
            if due && self.announce(*address, until) {
                announced.times += 1;
                announced.last = now;
            }
        }
        Ok(())
    }
}

impl Binder for Linux {
    fn hold(&self, wanted: &BTreeSet<Ipv4Addr>, until: Instant) -> io::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(io::Error::other("the EIP binder is shut down"));
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let held = self.hold_locked(&mut state, wanted, until);
        self.publish(&state);
        held
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
        let held: BTreeSet<Ipv4Addr> = state.held.keys().copied().collect();
        let closed = Self::close(&mut state, &held).and_then(|()| gate::drain(None));
        self.publish(&state);
        closed
    }

    fn shut_down(&self) -> io::Result<()> {
        self.closed.store(true, Ordering::Release);
        self.release()
    }

    fn held(&self) -> BTreeSet<Ipv4Addr> {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
