//! The PROXY protocol header (HAProxy's specification, versions 1 and 2)
//! that a TCP listener sends a member before the client's first byte, so
//! that the member learns the client's address and port, and the address
//! and port the client connected to.
//!
//! Both addresses of a header are of one family: when the client and the
//! listener differ (an IPv4 client on an IPv6 listener), the IPv4 one is
//! written as its IPv4-mapped IPv6 address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::config::ProxyProtocol;

/// The first twelve bytes of every version 2 header.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Version 2, command PROXY (the connection is relayed for a client).
const V2_VERSION_AND_COMMAND: u8 = 0x21;
/// Address family and transport: TCP over IPv4, TCP over IPv6.
const V2_TCP4: u8 = 0x11;
const V2_TCP6: u8 = 0x21;

/// The longest header: version 1 over IPv6 (107 bytes, the specification's
/// bound); version 2 over IPv6 is 52.
pub(crate) const MAX_HEADER_BYTES: usize = 107;

/// The header of `version` for a connection from `client` to `local` (the
/// listener's address as the client reached it).
pub(crate) fn header(version: ProxyProtocol, client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let (client_ip, local_ip) = same_family(client.ip(), local.ip());
    let mut header = Vec::with_capacity(MAX_HEADER_BYTES);
    match version {
        ProxyProtocol::V1 => {
            let family = if client_ip.is_ipv4() { "TCP4" } else { "TCP6" };
            header.extend_from_slice(
                format!(
                    "PROXY {family} {client_ip} {local_ip} {} {}\r\n",
                    client.port(),
                    local.port()
                )
                .as_bytes(),
            );
        }
        ProxyProtocol::V2 => {
            header.extend_from_slice(&V2_SIGNATURE);
            header.push(V2_VERSION_AND_COMMAND);
            let (family, addresses): (u8, Vec<u8>) = match (client_ip, local_ip) {
                (IpAddr::V4(from), IpAddr::V4(to)) => {
                    (V2_TCP4, [from.octets(), to.octets()].concat())
                }
                (from, to) => (V2_TCP6, [mapped(from), mapped(to)].concat()),
            };
            header.push(family);
            let length = addresses.len() + 4;
            header.extend_from_slice(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes());
            header.extend_from_slice(&addresses);
            header.extend_from_slice(&client.port().to_be_bytes());
            header.extend_from_slice(&local.port().to_be_bytes());
        }
    }
    debug_assert!(header.len() <= MAX_HEADER_BYTES);
    header
}

/// Both addresses in one family: IPv4 if both are, IPv6 otherwise.
fn same_family(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    match (a, b) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => (a, b),
        _ => (IpAddr::V6(as_v6(a)), IpAddr::V6(as_v6(b))),
    }
}

fn as_v6(address: IpAddr) -> Ipv6Addr {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn mapped(address: IpAddr) -> [u8; 16] {
    as_v6(address).octets()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn version_one_names_the_family_addresses_and_ports() {
        let header = header(
            ProxyProtocol::V1,
            address("192.0.2.7:51000"),
            address("198.51.100.1:443"),
        );
        assert_eq!(header, b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 443\r\n");
        let header = super::header(
            ProxyProtocol::V1,
            address("[2001:db8::7]:51000"),
            address("198.51.100.1:80"),
        );
        assert_eq!(
            header,
            b"PROXY TCP6 2001:db8::7 ::ffff:198.51.100.1 51000 80\r\n"
        );
    }

    #[test]
    fn version_two_is_binary_with_a_length() {
        let header = header(
            ProxyProtocol::V2,
            address("192.0.2.7:51000"),
            address("198.51.100.1:443"),
        );
        let mut expected = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        expected.extend_from_slice(&[0x21, 0x11, 0, 12]);
        expected.extend_from_slice(&[192, 0, 2, 7, 198, 51, 100, 1]);
        expected.extend_from_slice(&51000u16.to_be_bytes());
        expected.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(header, expected);

        let header = super::header(
            ProxyProtocol::V2,
            address("[2001:db8::7]:1"),
            address("[2001:db8::1]:2"),
        );
        assert_eq!(header.len(), 16 + 36);
        assert_eq!(&header[12..16], &[0x21, 0x21, 0, 36]);
        assert_eq!(&header[48..], &[0, 1, 0, 2]);
    }

    #[test]
    fn the_longest_header_fits_the_bound() {
        let longest = header(
            ProxyProtocol::V1,
            address("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535"),
            address("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
        );
        assert!(longest.len() <= MAX_HEADER_BYTES, "{}", longest.len());
    }
}
