//! ARP on one interface, through a packet socket: gratuitous announcements
//! of a claimed address, and probes that ask who answers for an address (the
//! tests' and chaos suite's view of EIP ownership, as a LAN sees it).

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, Config, DataLinkReceiver, DataLinkSender, NetworkInterface};

/// A hardware (MAC) address.
pub type Mac = [u8; 6];

const BROADCAST: Mac = [0xff; 6];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;
/// Ethernet header (14) + ARP for IPv4 over Ethernet (28).
const FRAME_LEN: usize = 42;

/// Writes `mac` as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &Mac) -> String {
    mac.iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An ARP message for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// 1: request, 2: reply.
    pub operation: u16,
    /// Who sends it.
    pub sender_mac: Mac,
    /// The address the sender claims.
    pub sender_ip: Ipv4Addr,
    /// Whom it is for (zero in a request).
    pub target_mac: Mac,
    /// The address asked about.
    pub target_ip: Ipv4Addr,
}

impl Arp {
    /// The Ethernet frame that carries it to `destination`.
    pub fn frame(&self, destination: Mac) -> [u8; FRAME_LEN] {
        let mut frame = [0_u8; FRAME_LEN];
        frame[0..6].copy_from_slice(&destination);
        frame[6..12].copy_from_slice(&self.sender_mac);
        frame[12..14].copy_from_slice(&ETHERTYPE_ARP);
        // Hardware Ethernet (1), protocol IPv4, 6-byte and 4-byte addresses.
        frame[14..20].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
        frame[20..22].copy_from_slice(&self.operation.to_be_bytes());
        frame[22..28].copy_from_slice(&self.sender_mac);
        frame[28..32].copy_from_slice(&self.sender_ip.octets());
        frame[32..38].copy_from_slice(&self.target_mac);
        frame[38..42].copy_from_slice(&self.target_ip.octets());
        frame
    }

    /// The ARP message an Ethernet frame carries, if it carries one for IPv4.
    pub fn parse(frame: &[u8]) -> Option<Self> {
        if frame.len() < FRAME_LEN
            || frame[12..14] != ETHERTYPE_ARP
            || frame[14..20] != [0, 1, 0x08, 0x00, 6, 4]
        {
            return None;
        }
        let mac = |at: usize| -> Mac {
            let mut mac = [0; 6];
            mac.copy_from_slice(&frame[at..at + 6]);
            mac
        };
        let ip = |at: usize| Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3]);
        Some(Self {
            operation: u16::from_be_bytes([frame[20], frame[21]]),
            sender_mac: mac(22),
            sender_ip: ip(28),
            target_mac: mac(32),
            target_ip: ip(38),
        })
    }
}

/// A packet socket on one interface, for ARP.
pub struct Port {
    mac: Mac,
    address: Option<Ipv4Addr>,
    sender: Box<dyn DataLinkSender>,
    receiver: Box<dyn DataLinkReceiver>,
}

impl Port {
    /// Opens the interface named `name` in this thread's network namespace.
    ///
    /// # Errors
    /// No such interface, no MAC address, or no packet socket (needs
    /// CAP_NET_RAW).
    pub fn open(name: &str) -> io::Result<Self> {
        let interface = interface(name)?;
        let mac = interface.mac.map(|mac| mac.octets()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface {name} has no MAC address"),
            )
        })?;
        let address = interface.ips.iter().find_map(|network| match network.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
        let config = Config {
            read_timeout: Some(Duration::from_millis(5)),
            promiscuous: false,
            ..Config::default()
        };
        match pnet_datalink::channel(&interface, config)? {
            Channel::Ethernet(sender, receiver) => Ok(Self {
                mac,
                address,
                sender,
                receiver,
            }),
            _ => Err(io::Error::other(format!("no Ethernet channel on {name}"))),
        }
    }

    /// This interface's MAC address.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// Announces that this interface now answers for `address`: a
    /// gratuitous request and a gratuitous reply, both broadcast, which
    /// update the neighbours' caches at once.
    ///
    /// # Errors
    /// The frame could not be sent.
    pub fn announce(&mut self, address: Ipv4Addr) -> io::Result<()> {
        for (operation, target_mac) in [(OP_REQUEST, [0; 6]), (OP_REPLY, BROADCAST)] {
            let arp = Arp {
                operation,
                sender_mac: self.mac,
                sender_ip: address,
                target_mac,
                target_ip: address,
            };
            self.send(&arp.frame(BROADCAST))?;
        }
        Ok(())
    }

    /// Asks who answers for `target`, broadcast, from this interface's
    /// first IPv4 address.
    ///
    /// # Errors
    /// The interface has no IPv4 address, or the frame could not be sent.
    pub fn ask(&mut self, target: Ipv4Addr) -> io::Result<()> {
        let sender_ip = self.address.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the interface has no IPv4 address",
            )
        })?;
        let arp = Arp {
            operation: OP_REQUEST,
            sender_mac: self.mac,
            sender_ip,
            target_mac: [0; 6],
            target_ip: target,
        };
        self.send(&arp.frame(BROADCAST))
    }

    /// The MAC addresses that answered for `target` until `deadline`, each
    /// once, in order of arrival.
    ///
    /// # Errors
    /// Reading from the socket failed.
    pub fn answers(&mut self, target: Ipv4Addr, deadline: Instant) -> io::Result<Vec<Mac>> {
        let mut macs = Vec::new();
        while Instant::now() < deadline {
            let frame = match self.receiver.next() {
                Ok(frame) => frame,
                Err(error) if error.kind() == io::ErrorKind::TimedOut => continue,
                Err(error) => return Err(error),
            };
            if let Some(arp) = Arp::parse(frame)
                && arp.operation == OP_REPLY
                && arp.sender_ip == target
                && arp.target_mac == self.mac
                && !macs.contains(&arp.sender_mac)
            {
                macs.push(arp.sender_mac);
            }
        }
        Ok(macs)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.sender
            .send_to(frame, None)
            .unwrap_or_else(|| Err(io::Error::other("the packet socket sent nothing")))
    }
}

/// The interface named `name` in this thread's network namespace.
pub(crate) fn interface(name: &str) -> io::Result<NetworkInterface> {
    pnet_datalink::interfaces()
        .into_iter()
        .find(|interface| interface.name == name)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no network interface named {name:?}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arp_frame_reads_back_as_written() {
        let arp = Arp {
            operation: OP_REPLY,
            sender_mac: [2, 0, 0, 0, 0, 1],
            sender_ip: Ipv4Addr::new(10, 88, 0, 128),
            target_mac: [2, 0, 0, 0, 0, 2],
            target_ip: Ipv4Addr::new(10, 88, 0, 100),
        };
        let frame = arp.frame([2, 0, 0, 0, 0, 2]);
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        assert_eq!(Arp::parse(&frame), Some(arp));
        let mut ipv6_over_ethernet = frame;
        ipv6_over_ethernet[16] = 0x86;
        assert_eq!(Arp::parse(&ipv6_over_ethernet), None);
        assert_eq!(Arp::parse(&frame[..41]), None);
        assert_eq!(format_mac(&arp.sender_mac), "02:00:00:00:00:01");
    }
}
