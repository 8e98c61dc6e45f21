//! Keep-alive connections to members, per thread: a connection that has
//! carried a complete exchange waits here for the next request to the same
//! member, for a while. Only members of the configuration in place are
//! kept: a new generation closes the connections to members it removed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use crate::config::Listener;
use crate::io::Conn;

/// The address of every member of every group of `listener`.
fn member_addresses(listener: &Listener) -> impl Iterator<Item = SocketAddr> + '_ {
    listener
        .groups()
        .flat_map(|group| &group.members)
        .map(|member| member.address)
}

/// A pooled connection idle longer than this is closed rather than reused:
/// the member may be closing it at the same moment.
const MAX_IDLE: Duration = Duration::from_secs(10);

/// A pooled connection and when it went idle.
type Idle = (Instant, Conn<TcpStream>);

/// One thread's idle member connections, by member address.
///
/// Invariant: each member's idle connections are in the order they went
/// idle (pushed at the end, taken from the end), so the expired ones are a
/// prefix: keeping and taking cost one clock read, not one per connection.
#[derive(Default)]
pub(crate) struct Pool {
    idle: RefCell<HashMap<SocketAddr, Vec<Idle>>>,
    /// The addresses of the members of the served listeners' groups, each
    /// with how many times those groups name it; only connections to these
    /// are kept.
    members: RefCell<HashMap<SocketAddr, usize>>,
    /// Addresses whose count fell to zero in this generation.
    unnamed: RefCell<Vec<SocketAddr>>,
}

impl Pool {
    /// The most recently used idle connection to `address`, if any is fresh.
    pub(crate) fn take(&self, address: SocketAddr) -> Option<Conn<TcpStream>> {
        let mut idle = self.idle.borrow_mut();
        let connections = idle.get_mut(&address)?;
        let (since, connection) = connections.pop()?;
        if since.elapsed() < MAX_IDLE {
            return Some(connection);
        }
        // The most recent one has expired, so all have.
        connections.clear();
        None
    }

    /// Keeps `connection` for reuse, unless `address` already has `limit`
    /// idle ones. Only connections with nothing buffered come here.
    pub(crate) fn put(&self, address: SocketAddr, connection: Conn<TcpStream>, limit: usize) {
        debug_assert!(connection.buffered().is_empty());
        if !self.members.borrow().contains_key(&address) {
            // An exchange that started before its member was removed.
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let connections = idle.entry(address).or_default();
        let now = Instant::now();
        let expired = connections
            .partition_point(|(since, _)| now.saturating_duration_since(*since) >= MAX_IDLE);
        connections.drain(..expired);
        debug_assert!(connections.is_sorted_by_key(|(since, _)| *since));
        if connections.len() < limit {
            connections.push((now, connection));
        }
    }

    /// Counts the members of `added`'s groups in, and those of
    /// `removed`'s out (a served listener that came, changed or went).
    pub(crate) fn count(&self, added: Option<&Listener>, removed: Option<&Listener>) {
        let mut members = self.members.borrow_mut();
        for address in added.into_iter().flat_map(member_addresses) {
            *members.entry(address).or_default() += 1;
        }
        for address in removed.into_iter().flat_map(member_addresses) {
            if let Some(count) = members.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    self.unnamed.borrow_mut().push(address);
                }
            }
        }
    }

    /// Forgets the members no served listener names any more, closing their
    /// idle connections: at the end of a generation, so that a member
    /// another listener takes up in the same generation keeps them.
    pub(crate) fn settle(&self) {
        let mut members = self.members.borrow_mut();
        let mut idle = self.idle.borrow_mut();
        for address in self.unnamed.borrow_mut().drain(..) {
            if members.get(&address) == Some(&0) {
                members.remove(&address);
                idle.remove(&address);
            }
        }
    }

    /// Closes every idle connection (at shutdown).
    pub(crate) fn clear(&self) {
        self.idle.borrow_mut().clear();
    }
}
