//! The contract's event order (§1): `(occurred_at in UTC milliseconds, event_id as bytes)`.
//!
//! It is a total order that every function computes the same way, so "latest" and "after" mean
//! the same thing everywhere, whatever the arrival order.

use serde::{Deserialize, Serialize};

/// The sort key of one event. Field order matters: the derived `Ord` compares the instant first
/// and breaks ties by the bytes of the event id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventKey {
    /// `occurred_at` as a UTC instant, in milliseconds since the Unix epoch (sub-millisecond
    /// digits truncated).
    #[serde(rename = "t")]
    pub at_ms: i64,
    /// The event id; `String`'s `Ord` is byte-wise, as the contract asks.
    #[serde(rename = "e")]
    pub event_id: String,
}

impl EventKey {
    pub fn new(at_ms: i64, event_id: impl Into<String>) -> Self {
        EventKey {
            at_ms,
            event_id: event_id.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_decides_before_event_id() {
        assert!(EventKey::new(1, "z") < EventKey::new(2, "a"));
        assert!(EventKey::new(-5, "z") < EventKey::new(0, "a"));
    }

    #[test]
    fn event_id_breaks_ties_by_bytes() {
        assert!(
            EventKey::new(7, "B") < EventKey::new(7, "a"),
            "uppercase sorts first in bytes"
        );
        assert!(EventKey::new(7, "a") < EventKey::new(7, "a-"));
    }
}
