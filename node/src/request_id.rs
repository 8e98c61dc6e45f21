//! Request ids: every public API call has one, taken from the client's
//! `x-request-id` header (1 to 128 visible ASCII characters) or made here.
//! It is answered in the response's `x-request-id`, carried to the leader
//! when a write is forwarded, and is a field of the call's tracing span on
//! both nodes, so every log line of the call names it.

use tokio::task::futures::TaskLocalFuture;

/// The header the id travels in, on the public API and between peers.
pub const HEADER: &str = "x-request-id";
/// The longest id taken from a client.
const MAX_CHARS: usize = 128;
/// Random bytes of a made id (hex: twice as many characters).
const MADE_BYTES: usize = 8;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the call this task serves, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `future` as the call with `id`.
pub fn scope<F: std::future::Future>(id: String, future: F) -> TaskLocalFuture<String, F> {
    CURRENT.scope(id, future)
}

/// The client's id when it is one, else a new one.
pub fn of(given: Option<&http::HeaderValue>) -> String {
    given
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty() && id.len() <= MAX_CHARS && id.chars().all(|c| c.is_ascii_graphic())
        })
        .map_or_else(made, str::to_owned)
}

/// A new id: 16 hex digits.
fn made() -> String {
    let mut bytes = [0u8; MADE_BYTES];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The system's randomness failed: the time still tells calls apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_id_is_kept_when_it_is_one() {
        let given = http::HeaderValue::from_static("checkout-42");
        assert_eq!(of(Some(&given)), "checkout-42");
        for bad in ["", "a b", &"x".repeat(MAX_CHARS + 1)] {
            let value = http::HeaderValue::from_str(bad).unwrap();
            let id = of(Some(&value));
            assert_eq!(id.len(), MADE_BYTES * 2, "{bad:?} is replaced");
        }
        assert_ne!(of(None), of(None));
    }

    #[tokio::test]
    async fn the_id_is_the_tasks_while_it_serves_the_call() {
        assert_eq!(current(), None);
        let seen = scope("r-1".to_owned(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("r-1"));
    }
}
