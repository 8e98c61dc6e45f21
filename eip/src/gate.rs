//! The kernel-side gate: nftables rules that drop an EIP's IP traffic and
//! ARP unless a set element with a timeout says the address is held.
//!
//! Two tables named `fulcrum`, one in the `ip` family and one in `arp`
//! (a set belongs to its table, so each has its own pair), each with
//! - `managed`: every address this binder has put on an interface, and
//! - `held`: the addresses it holds now, each element with a timeout: the
//!   rest of its hold, to the millisecond.
//!
//! The rules drop, for a managed address that is not held: IP packets to it
//! (prerouting) and from it (output), ARP requests for it (input), and ARP
//! that claims it (output). A third set in the `ip` table, `draining`, drops
//! only the SYNs of new TCP connections to its addresses (a hand-over lets
//! established connections finish). The timeout runs in the kernel, so a hold ends
//! when it should even if the process that set it is killed or stopped.
//!
//! nftables does not refresh the timeout of an element that exists when it is
//! added again, and cannot delete one that may be absent (nft 1.0.6 has no
//! `destroy`); a renewal is therefore "add, delete, add with the new
//! timeout" in one transaction, which the kernel applies atomically. Every
//! transient `add` carries a 1 ms timeout, so that even a script cut short
//! (nft commits what it read) cannot leave an element without one.
//!
//! The kernel counts a timeout from when the transaction lands, so the hold
//! ends that long after the caller's deadline. To keep that short, `nft` is
//! started first and the timeout is computed only when the script is
//! written to it; [`update`] returns how long the transaction took from that
//! moment, and the caller closes the gate at once when it took too long.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tables' name, in both families.
const TABLE: &str = "fulcrum";

/// The families the gate has a table in.
const FAMILIES: [&str; 2] = ["ip", "arp"];

/// Creates both tables afresh (dropping any left by an earlier run), with
/// `stale` managed and nothing held: addresses a killed run left on the
/// interface are silenced at once, before they are deleted.
pub(crate) fn install(stale: &BTreeSet<Ipv4Addr>) -> io::Result<()> {
    let mut script = String::new();
    for family in FAMILIES {
        // `add` then `delete`: deleting a table that may be absent.
        let _ = writeln!(script, "add table {family} {TABLE}");
        let _ = writeln!(script, "delete table {family} {TABLE}");
        let _ = writeln!(script, "add table {family} {TABLE}");
        let _ = writeln!(
            script,
            "add set {family} {TABLE} managed {{ type ipv4_addr; }}"
        );
        let _ = writeln!(
            script,
            "add set {family} {TABLE} held {{ type ipv4_addr; flags timeout; }}"
        );
    }
    let _ = writeln!(script, "add set ip {TABLE} draining {{ type ipv4_addr; }}");
    let ip_chains = [
        ("prerouting", "prerouting", "raw", "ip daddr"),
        ("output", "output", "raw", "ip saddr"),
    ];
    let arp_chains = [
        ("input", "input", "0", "arp daddr ip"),
        ("output", "output", "0", "arp saddr ip"),
    ];
    for (family, chains) in [("ip", ip_chains), ("arp", arp_chains)] {
        for (chain, hook, priority, field) in chains {
            let _ = writeln!(
                script,
                "add chain {family} {TABLE} {chain} \
                 {{ type filter hook {hook} priority {priority}; policy accept; }}"
            );
            let _ = writeln!(
                script,
                "add rule {family} {TABLE} {chain} {field} @managed {field} != @held drop"
            );
        }
    }
    let _ = writeln!(
        script,
        "add rule ip {TABLE} prerouting ip daddr @draining tcp flags & (syn | ack) == syn drop"
    );
    add_managed(&mut script, stale);
    run(&script)
}

/// Drains `addresses` (new TCP connections refused silently), or, with
/// `None`, ends every draining.
pub(crate) fn drain(addresses: Option<&BTreeSet<Ipv4Addr>>) -> io::Result<()> {
    let script = match addresses {
        Some(addresses) => addresses
            .iter()
            .map(|address| format!("add element ip {TABLE} draining {{ {address} }}\n"))
            .collect(),
        None => format!("flush set ip {TABLE} draining\n"),
    };
    if script.is_empty() {
        return Ok(());
    }
    run(&script)
}

/// Holds `open` until `until` (adding them to the managed ones first), and
/// lets `close` go, in one transaction; an `until` already past holds
/// nothing. Returns how long the transaction took from the moment its
/// timeout was computed: the hold may end that much after `until`.
pub(crate) fn update(
    open: &BTreeSet<Ipv4Addr>,
    until: Instant,
    close: &BTreeSet<Ipv4Addr>,
) -> io::Result<Duration> {
    if open.is_empty() && close.is_empty() {
        return Ok(Duration::ZERO);
    }
    run_with(|| {
        let millis = until.saturating_duration_since(Instant::now()).as_millis();
        let (open, close): (&BTreeSet<Ipv4Addr>, BTreeSet<Ipv4Addr>) = if millis == 0 {
            (&EMPTY, open.union(close).copied().collect())
        } else {
            (open, close.clone())
        };
        let mut script = String::new();
        add_managed(&mut script, open);
        for family in FAMILIES {
            for address in open {
                remove_held(&mut script, family, address);
                let _ = writeln!(
                    script,
                    "add element {family} {TABLE} held {{ {address} timeout {millis}ms }}"
                );
            }
            for address in &close {
                remove_held(&mut script, family, address);
            }
        }
        script
    })
}

/// No address.
static EMPTY: BTreeSet<Ipv4Addr> = BTreeSet::new();

/// Removes `address` from `family`'s held set whether it is there or not
/// (added first, with a 1 ms timeout, so the delete cannot fail).
fn remove_held(script: &mut String, family: &str, address: &Ipv4Addr) {
    let _ = writeln!(
        script,
        "add element {family} {TABLE} held {{ {address} timeout 1ms }}"
    );
    let _ = writeln!(
        script,
        "delete element {family} {TABLE} held {{ {address} }}"
    );
}

fn add_managed(script: &mut String, addresses: &BTreeSet<Ipv4Addr>) {
    for family in FAMILIES {
        for address in addresses {
            let _ = writeln!(
                script,
                "add element {family} {TABLE} managed {{ {address} }}"
            );
        }
    }
}

/// Runs `script` as one nftables transaction.
fn run(script: &str) -> io::Result<()> {
    run_with(|| script.to_owned()).map(drop)
}

/// Starts `nft`, then builds the script with `script` and runs it as one
/// transaction; returns the time from building to the end of the run.
fn run_with(script: impl FnOnce() -> String) -> io::Result<Duration> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot run nft (package nftables): {error}"),
            )
        })?;
    let built = Instant::now();
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script().as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if output.status.success() {
        Ok(built.elapsed())
    } else {
        Err(io::Error::other(format!(
            "nft refused the EIP gate's change: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
