//! The Linux binder between two network namespaces joined by a veth pair:
//! a hold answers ARP and TCP, ends by itself at its time, is renewed,
//! released, and a new run cleans up what a killed one left. Needs root (CI
//! runs as root); removes the namespaces it made.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulcrum_eip::arp::{Mac, Port};
use fulcrum_eip::netns::run_in;
use fulcrum_eip::{Binder, Linux};

const EIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 50);

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two namespaces, `holder` (10.77.0.1) and `peer` (10.77.0.2), on a veth
/// pair; removed on drop.
struct Pair {
    holder: String,
    peer: String,
}

impl Pair {
    fn new() -> Self {
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "network-namespace tests need root (CI runs as root)"
        );
        let id = std::process::id();
        let pair = Self {
            holder: format!("eipt-h{id}"),
            peer: format!("eipt-p{id}"),
        };
        for ns in [&pair.holder, &pair.peer] {
            ip(&["netns", "add", ns]);
        }
        let (h, p) = (format!("eh{id}"), format!("ep{id}"));
        ip(&["link", "add", &h, "type", "veth", "peer", "name", &p]);
        for (ns, link, address) in [
            (&pair.holder, &h, "10.77.0.1/24"),
            (&pair.peer, &p, "10.77.0.2/24"),
        ] {
            ip(&["link", "set", link, "netns", ns]);
            ip(&["-n", ns, "link", "set", link, "name", "eth0"]);
            ip(&["-n", ns, "addr", "add", address, "dev", "eth0"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    fn holder_addresses(&self) -> String {
        let output = Command::new("ip")
            .args(["-n", &self.holder, "-4", "addr", "show", "dev", "eth0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Who answers ARP for the EIP, asked from the peer.
    fn owners(&self) -> Vec<Mac> {
        run_in(&self.peer, || {
            let mut port = Port::open("eth0").unwrap();
            port.ask(EIP).unwrap();
            port.answers(EIP, Instant::now() + Duration::from_millis(100))
                .unwrap()
        })
        .unwrap()
    }

    /// Whether a TCP connection from the peer to the EIP's port 9000 is accepted.
    fn connects(&self) -> bool {
        run_in(&self.peer, || {
            TcpStream::connect_timeout(&SocketAddr::from((EIP, 9000)), Duration::from_millis(300))
                .is_ok()
        })
        .unwrap()
    }

    fn hold(&self, binder: &Arc<Linux>, for_: Duration) {
        let binder = Arc::clone(binder);
        run_in(&self.holder, move || {
            binder.hold(&BTreeSet::from([EIP]), Instant::now() + for_)
        })
        .unwrap()
        .unwrap();
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.holder, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn a_hold_answers_ends_by_itself_is_renewed_released_and_cleaned_up_after_a_kill() {
    let pair = Pair::new();
    let binder = Arc::new(
        run_in(&pair.holder, || {
            Linux::start("eth0", Duration::from_millis(200))
        })
        .unwrap()
        .unwrap(),
    );
    let holder_mac = run_in(&pair.holder, || Port::open("eth0").unwrap().mac()).unwrap();
    // A server on the EIP, made inside the holder's namespace (FREEBIND is
    // not needed: the address is there while held; bind after the claim).
    pair.hold(&binder, Duration::from_millis(800));
    assert!(
        pair.holder_addresses().contains("10.77.0.50/32"),
        "{}",
        pair.holder_addresses()
    );
    assert!(pair.holder_addresses().contains("eth0:eip"));
    let listener = run_in(&pair.holder, || TcpListener::bind((EIP, 9000)).unwrap()).unwrap();
    let _accepting = std::thread::spawn(move || for _ in listener.incoming() {});
    assert_eq!(pair.owners(), vec![holder_mac]);
    assert!(pair.connects());

    // No renewal: the kernel ends the hold by itself. The address is still
    // on the interface (as after SIGKILL or SIGSTOP), but silent.
    std::thread::sleep(Duration::from_millis(900));
    assert!(pair.holder_addresses().contains("10.77.0.50/32"));
    assert_eq!(
        pair.owners(),
        Vec::<Mac>::new(),
        "an expired hold answers ARP"
    );
    assert!(!pair.connects(), "an expired hold accepts TCP");

    // Renewed, it answers again.
    pair.hold(&binder, Duration::from_secs(5));
    assert_eq!(pair.owners(), vec![holder_mac]);
    assert!(pair.connects());

    // Draining: an established connection goes on, a new one is not accepted.
    let established = run_in(&pair.peer, || {
        TcpStream::connect_timeout(&SocketAddr::from((EIP, 9000)), Duration::from_millis(300))
    })
    .unwrap()
    .unwrap();
    let draining = Arc::clone(&binder);
    run_in(&pair.holder, move || draining.drain(true))
        .unwrap()
        .unwrap();
    assert!(
        !pair.connects(),
        "a draining address accepts new connections"
    );
    let mut echo = established;
    assert!(std::io::Write::write_all(&mut echo, b"still here").is_ok());
    assert_eq!(
        pair.owners(),
        vec![holder_mac],
        "draining still answers ARP"
    );
    let undrained = Arc::clone(&binder);
    run_in(&pair.holder, move || undrained.drain(false))
        .unwrap()
        .unwrap();
    assert!(pair.connects());

    // Released: the address is gone.
    let released = Arc::clone(&binder);
    run_in(&pair.holder, move || released.release())
        .unwrap()
        .unwrap();
    assert!(!pair.holder_addresses().contains("10.77.0.50"));
    assert_eq!(pair.owners(), Vec::<Mac>::new());

    // A run that dies holding leaves the address; the next run's start
    // deletes it and starts with nothing held.
    pair.hold(&binder, Duration::from_secs(30));
    drop(binder);
    let restarted = run_in(&pair.holder, || {
        Linux::start("eth0", Duration::from_millis(200))
    })
    .unwrap()
    .unwrap();
    assert!(!pair.holder_addresses().contains("10.77.0.50"));
    assert!(restarted.held().is_empty());
    assert_eq!(pair.owners(), Vec::<Mac>::new());
}

#[test]
fn an_interface_that_does_not_exist_is_named_in_the_error() {
    let error = Linux::start("no-such-if0", Duration::from_millis(200))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("no-such-if0"), "{error}");
}
