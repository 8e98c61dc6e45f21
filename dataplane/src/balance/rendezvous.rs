//! Source-IP hashing by weighted rendezvous (highest random weight) hashing:
//! every member scores every client, `weight / -ln(u)` with `u` a uniform
//! hash of (member key, client address) in (0, 1), and the highest score
//! wins. A client stays on its member while the member is there; removing a
//! member moves exactly the clients it had, and adding one takes only the
//! clients it now wins; shares follow the weights. Picking costs one hash per
//! member (groups hold at most 200).

use std::net::IpAddr;

use super::Candidate;

/// One group's weighted rendezvous hashing.
#[derive(Clone, Debug)]
pub struct WeightedRendezvous {
    members: Vec<(u64, f64)>,
}

/// FNV-1a, 64 bits: stable across builds and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// splitmix64's finaliser: spreads every input bit over the output.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

fn client_hash(client: IpAddr) -> u64 {
    match client {
        IpAddr::V4(address) => fnv1a(&address.octets()),
        IpAddr::V6(address) => fnv1a(&address.octets()),
    }
}

impl WeightedRendezvous {
    /// A balancer over `candidates`, keyed by their keys.
    pub fn new(candidates: &[Candidate]) -> Self {
        Self {
            members: candidates
                .iter()
                .map(|c| (fnv1a(c.key.as_bytes()), f64::from(c.weight)))
                .collect(),
        }
    }

    /// The member for `client` among those `usable` (the one that wins
    /// when the others are out), or `None` when every usable weight is 0.
    pub fn pick(&self, client: IpAddr, usable: impl Fn(usize) -> bool) -> Option<usize> {
        self.pick_hashed(client_hash(client), usable)
    }

    /// The member for a key of hash `key` (an application's session
    /// cookie, say) among those `usable`, as [`pick`](Self::pick) for a client.
    pub fn pick_hashed(&self, key: u64, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let client = key;
        let mut best: Option<(usize, f64)> = None;
        for (n, (key, weight)) in self.members.iter().enumerate() {
            if *weight == 0.0 || !usable(n) {
                continue;
            }
            let hash = mix(key ^ mix(client));
            // 53 random bits, shifted off 0 and 1: u in (0, 1).
            let unit = ((hash >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let score = weight / -unit.ln();
            if best.is_none_or(|(_, best_score)| score > best_score) {
                best = Some((n, score));
            }
        }
        best.map(|(n, _)| n)
    }

    /// Whether member `n` may take anything new (its weight is not 0).
    pub fn takes(&self, n: usize) -> bool {
        self.members.get(n).is_some_and(|(_, weight)| *weight > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn candidates(members: &[(&str, u32)]) -> Vec<Candidate> {
        members
            .iter()
            .map(|(key, weight)| Candidate {
                key: (*key).to_owned(),
                weight: *weight,
            })
            .collect()
    }

    fn clients() -> impl Iterator<Item = IpAddr> {
        (0..10_000u32).map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n * 7)))
    }

    #[test]
    fn a_client_stays_and_removing_another_member_moves_nobody_else() {
        let all = WeightedRendezvous::new(&candidates(&[("a", 10), ("b", 10), ("c", 10)]));
        let without_b = WeightedRendezvous::new(&candidates(&[("a", 10), ("c", 10)]));
        for client in clients() {
            let before = all.pick(client, |_| true).unwrap();
            assert_eq!(
                all.pick(client, |_| true),
                Some(before),
                "stable for {client}"
            );
            let after = without_b.pick(client, |_| true).unwrap();
            match before {
                0 => assert_eq!(after, 0, "{client} left a"),
                2 => assert_eq!(after, 1, "{client} left c"),
                _ => {}
            }
        }
    }

    #[test]
    fn shares_follow_the_weights_and_weight_zero_gets_nobody() {
        let balancer = WeightedRendezvous::new(&candidates(&[("a", 3), ("b", 1), ("z", 0)]));
        let mut counts = [0u32; 3];
        for client in clients() {
            counts[balancer.pick(client, |_| true).unwrap()] += 1;
        }
        assert_eq!(counts[2], 0);
        let share = f64::from(counts[0]) / 10_000.0;
        assert!(
            (0.72..=0.78).contains(&share),
            "a's share {share} (expected 0.75)"
        );
        let nobody = WeightedRendezvous::new(&candidates(&[("a", 0)]));
        assert_eq!(nobody.pick(IpAddr::V4(Ipv4Addr::LOCALHOST), |_| true), None);
    }
}
