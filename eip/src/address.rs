//! EIP addresses on an interface, through route netlink.
//!
//! Every address the binder adds is a /32 with the label `<interface>:eip`,
//! so a later run can find (and delete) the ones a killed run left behind.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// What every EIP address's label ends with.
const LABEL_SUFFIX: &str = ":eip";

/// The longest label the kernel keeps (IFNAMSIZ − 1).
const LABEL_MAX: usize = 15;

/// The EIP addresses of one interface.
pub(crate) struct Addresses {
    socket: Socket,
    index: u32,
    label: String,
    sequence: u32,
}

impl Addresses {
    /// The EIP addresses of the interface with `index`, named `interface`.
    ///
    /// # Errors
    /// No netlink socket, or a name too long for the label.
    pub(crate) fn of(interface: &str, index: u32) -> io::Result<Self> {
        let label = format!("{interface}{LABEL_SUFFIX}");
        if label.len() > LABEL_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "eip.interface {interface:?} is too long: the EIP label \
                     \"{label}\" must fit in {LABEL_MAX} bytes"
                ),
            ));
        }
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Self {
            socket,
            index,
            label,
            sequence: 0,
        })
    }

    /// Adds `address`/32 (again, if present: that is no error).
    pub(crate) fn add(&mut self, address: Ipv4Addr) -> io::Result<()> {
        let mut message = self.message(address);
        message
            .attributes
            .push(AddressAttribute::Label(self.label.clone()));
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
        )
        .map(drop)
        .map_err(|error| context(error, "add", address))
    }

    /// Deletes `address`/32 (absent already: no error).
    pub(crate) fn delete(&mut self, address: Ipv4Addr) -> io::Result<()> {
        self.delete_at(self.index, address)
    }

    /// Deletes `address`/32 from the interface with `index`.
    pub(crate) fn delete_at(&mut self, index: u32, address: Ipv4Addr) -> io::Result<()> {
        let mut message = self.message(address);
        message.header.index = index;
        match self.request(RouteNetlinkMessage::DelAddress(message), NLM_F_ACK) {
            Err(error) if error.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL) => Ok(()),
            other => other
                .map(drop)
                .map_err(|error| context(error, "delete", address)),
        }
    }

    /// The addresses on any interface that carry an EIP label
    /// (`<interface>:eip`), with their interface's index: a run configured
    /// with another interface may have left them.
    pub(crate) fn labeled_anywhere(&mut self) -> io::Result<Vec<(u32, Ipv4Addr)>> {
        let mut query = AddressMessage::default();
        query.header.family = AddressFamily::Inet;
        let answers = self.request(RouteNetlinkMessage::GetAddress(query), NLM_F_DUMP)?;
        Ok(answers
            .into_iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewAddress(message) => {
                    let labeled = message.attributes.iter().any(
                        |a| matches!(a, AddressAttribute::Label(l) if l.ends_with(LABEL_SUFFIX)),
                    );
                    let local = message.attributes.iter().find_map(|a| match a {
                        AddressAttribute::Local(IpAddr::V4(v4)) => Some(*v4),
                        _ => None,
                    });
                    local
                        .filter(|_| labeled && message.header.prefix_len == 32)
                        .map(|address| (message.header.index, address))
                }
                _ => None,
            })
            .collect())
    }

    fn message(&self, address: Ipv4Addr) -> AddressMessage {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = 32;
        message.header.scope = AddressScope::Universe;
        message.header.index = self.index;
        message
            .attributes
            .push(AddressAttribute::Local(IpAddr::V4(address)));
        message
            .attributes
            .push(AddressAttribute::Address(IpAddr::V4(address)));
        message
    }

    /// Sends one request and collects the answers up to its acknowledgement
    /// (or the end of a dump).
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.sequence;
        let mut request = NetlinkMessage::new(header, NetlinkPayload::from(message));
        request.finalize();
        let mut bytes = vec![0; request.buffer_len()];
        request.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;

        let mut answers = Vec::new();
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let size = self.socket.recv(&mut &mut buffer[..], 0)?;
            let mut offset = 0;
            while offset < size {
                let answer =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buffer[offset..size])
                        .map_err(|error| {
                            io::Error::new(io::ErrorKind::InvalidData, error.to_string())
                        })?;
                let length = answer.header.length as usize;
                let ours = answer.header.sequence_number == self.sequence;
                match answer.payload {
                    _ if !ours => {}
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::Error(error) => {
                        return match error.code {
                            None => Ok(answers),
                            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                        };
                    }
                    NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                    _ => {}
                }
                if length == 0 {
                    break;
                }
                offset += length;
            }
        }
    }
}

fn context(error: io::Error, what: &str, address: Ipv4Addr) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("cannot {what} EIP address {address}: {error}"),
    )
}
