//! EIP ownership: which node holds the EIP addresses, and when.
//!
//! [`lease`] holds the rule and its timing argument. The node's data-plane
//! feed applies it: while the rule says hold, the node's forwarder serves
//! the listeners of every associated EIP; otherwise it serves none.

pub mod lease;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::dataplane::NodeDataPlane;

/// A leader's graceful hand-over: before it asks another node to take
/// leadership (which the voters grant without waiting for the lease), it
/// lets go of the EIPs, so the new leader may claim them at once.
pub struct Handover {
    yielding: watch::Sender<bool>,
    data_plane: Arc<NodeDataPlane>,
}

/// Released EIPs; dropping it lets the node claim them again if it still
/// leads (a transfer that failed).
pub struct Released<'a>(&'a Handover);

impl Drop for Released<'_> {
    fn drop(&mut self) {
        self.0.yielding.send_replace(false);
    }
}

impl Handover {
    /// The hand-over of the node that serves through `data_plane`.
    pub fn new(data_plane: Arc<NodeDataPlane>) -> Self {
        Self {
            yielding: watch::Sender::new(false),
            data_plane,
        }
    }

    /// Whether the node is handing leadership over (the feed releases then).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.yielding.subscribe()
    }

    /// Releases the EIPs and waits, up to `patience`, until this node's
    /// forwarder has stopped serving them.
    ///
    /// # Errors
    /// The forwarder did not confirm the release in time (the EIPs stay
    /// released until the returned guard would have been dropped).
    pub async fn release(&self, patience: Duration) -> Result<Released<'_>, &'static str> {
        self.yielding.send_replace(true);
        let released = Released(self);
        let deadline = tokio::time::Instant::now() + patience;
        while !self.data_plane.serves_nothing() {
            if tokio::time::Instant::now() >= deadline {
                return Err("the data plane did not release the EIPs in time");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(released)
    }
}
