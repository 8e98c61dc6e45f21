//! EIP binders: make this host answer for a set of IPv4 addresses, and stop.
//!
//! A node holds an EIP only while its lease allows (the node's `eip::lease`
//! says when). The binder turns that decision into the kernel's state, with
//! one property the lease argument rests on: **a hold ends by itself** at the
//! time it was given, unless renewed. A process killed with SIGKILL or
//! stopped with SIGSTOP removes nothing, and the kernel keeps an address until
//! someone deletes it; so the hold must live in the kernel with its own
//! expiry.
//!
//! - [`Loopback`]: one machine, no privileges. Every 127.0.0.0/8 address is
//!   already local; the node's forwarder binding its listeners is the hold.
//! - [`Linux`]: a deployment. The address goes on an interface (route
//!   netlink), an nftables gate drops the address's IP traffic and ARP
//!   unless a set element with a millisecond timeout says it is held, and a
//!   claim is announced with gratuitous ARP.
//!
//! [`arp`] also gives tests and the chaos suite an ARP prober (who answers
//! for an address), and [`netns`] runs code inside a network namespace.

mod address;
pub mod arp;
mod gate;
mod linux;
pub mod netns;

use std::collections::BTreeSet;
use std::io;
use std::net::Ipv4Addr;
use std::time::Instant;

pub use linux::Linux;

/// Makes this host answer for EIP addresses.
pub trait Binder: Send + Sync {
    /// Answers for exactly `addresses` until `until`, when the hold ends by
    /// itself unless a later call renews it; any other address held before
    /// is let go. `until` in the past lets go of everything.
    ///
    /// # Errors
    /// The kernel refused a change; the binder holds nothing it was not
    /// holding before the call (a failed claim is undone).
    fn hold(&self, addresses: &BTreeSet<Ipv4Addr>, until: Instant) -> io::Result<()>;

    /// While `on`, new TCP connections to the held addresses are refused
    /// silently (their SYNs dropped, so clients retry), and established ones
    /// go on: a graceful hand-over lets them finish before it releases. The
    /// holds stay as they are; a release also ends the draining.
    ///
    /// # Errors
    /// The kernel refused the change.
    fn drain(&self, on: bool) -> io::Result<()>;

    /// Lets go of every address now.
    ///
    /// # Errors
    /// The kernel refused a change; the holds still end at their `until`.
    fn release(&self) -> io::Result<()>;

    /// Releases everything for good: later holds are refused (a stopping
    /// node, whose last renewal may still be under way).
    ///
    /// # Errors
    /// As [`Binder::release`].
    fn shut_down(&self) -> io::Result<()> {
        self.release()
    }

    /// The addresses held, as last set (without waiting for a change in
    /// progress).
    fn held(&self) -> BTreeSet<Ipv4Addr>;
}

/// The binder for one machine without privileges: 127.0.0.0/8 is local
/// already, so holding is only bookkeeping; the forwarder's listeners,
/// bound only while the node holds, are the hold.
#[derive(Debug, Default)]
pub struct Loopback {
    held: std::sync::Mutex<BTreeSet<Ipv4Addr>>,
}

impl Binder for Loopback {
    fn hold(&self, addresses: &BTreeSet<Ipv4Addr>, until: Instant) -> io::Result<()> {
        if let Some(outside) = addresses.iter().find(|address| !address.is_loopback()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the loopback EIP binder holds only 127.0.0.0/8 addresses, not {outside}; \
                     use the Linux binder (eip.binder = \"linux\")"
                ),
            ));
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if until <= Instant::now() {
            held.clear();
        } else {
            held.clone_from(addresses);
        }
        Ok(())
    }

    fn drain(&self, _on: bool) -> io::Result<()> {
        // Nothing to gate: the forwarder stops accepting when it releases.
        Ok(())
    }

    fn release(&self) -> io::Result<()> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }

    fn held(&self) -> BTreeSet<Ipv4Addr> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_loopback_binder_holds_loopback_addresses_only() {
        let binder = Loopback::default();
        let later = Instant::now() + Duration::from_secs(5);
        let local = BTreeSet::from([Ipv4Addr::new(127, 7, 0, 1)]);
        assert!(binder.hold(&local, later).is_ok());
        assert_eq!(binder.held(), local);
        let error = binder
            .hold(&BTreeSet::from([Ipv4Addr::new(10, 0, 0, 1)]), later)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("not 10.0.0.1"), "{error}");
        assert_eq!(binder.held(), local, "a refused hold changes nothing");
        assert!(binder.release().is_ok());
        assert!(binder.held().is_empty());
    }
}
