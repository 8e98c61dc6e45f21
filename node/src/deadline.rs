//! Deadlines: the one a client sent in its `grpc-timeout` header, or the
//! node's default, carried on into every call made on the client's behalf.

use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// The longest deadline a peer's forwarded call is honoured for.
pub const MAX_DEADLINE: Duration = Duration::from_secs(300);

/// A server's deadlines: the default, and the cap on what a client asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    /// The deadline of a request that names none.
    pub default: Duration,
    /// The longest deadline honoured; longer ones are cut to this.
    pub max: Duration,
}

impl Deadlines {
    /// The instant by which the request carrying `metadata` must be answered.
    pub fn of(&self, metadata: &MetadataMap) -> Instant {
        let timeout = metadata
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            .unwrap_or(self.default)
            .min(self.max);
        Instant::now() + timeout
    }
}

/// The instant by which a request must be answered, by `default` and
/// [`MAX_DEADLINE`].
pub fn deadline_of(metadata: &MetadataMap, default: Duration) -> Instant {
    Deadlines {
        default,
        max: MAX_DEADLINE,
    }
    .of(metadata)
}

/// What is left of `deadline`, zero once it has passed.
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Parses the gRPC wire format of a timeout: at most 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`).
pub fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.checked_mul(3600)?),
        "M" => Duration::from_secs(value.checked_mul(60)?),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "S", "10", "10s", "123456789S", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
