//! Channel attribution of an order (contract §4, v1.1): its first and its last touch.
//!
//! A touch counts for an order when it was sent under the order's customer id or under a guest
//! id linked to it, comes before the order in event order, and occurred at most 30 days
//! ([`WINDOW_MS`]) before it. The first and the last counted touch (event order) give the
//! order's `first_touch` and `last_touch`; `null` when none counts.
//!
//! **Why it is safe to keep.** For one order the window is fixed (the order's key never
//! changes), and the set of touches only grows, so the first counted touch can only move
//! earlier and the last only later: [`Attribution::join`] of two attributions over two subsets
//! is the attribution over their union. The report keeps the attribution it counted (see
//! [`super::report`]) and joins it with what the touches at hand give, so a touch that has left
//! the table (touch items expire, `store/touches.rs`) never takes back what it gave.

use crate::contract::{Channel, EventKey, TouchKind};
use serde::{Deserialize, Serialize};

/// How long before an order a touch still counts: 30 days.
pub const WINDOW_MS: i64 = 2_592_000_000;

/// One `engagement.touched`, as stored under the id it was sent under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    pub key: EventKey,
    pub channel: Channel,
    pub kind: TouchKind,
    pub source: Option<String>,
    pub store_id: Option<String>,
    pub sku: Option<String>,
}

/// A touch as an attribution shows it, with its key (which decides first and last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    pub key: EventKey,
    pub channel: Channel,
    #[serde(default)]
    pub source: Option<String>,
}

impl From<&Touch> for Touched {
    fn from(touch: &Touch) -> Self {
        Touched {
            key: touch.key.clone(),
            channel: touch.channel,
            source: touch.source.clone(),
        }
    }
}

/// An order's first and last counted touch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    #[serde(default)]
    pub first: Option<Touched>,
    #[serde(default)]
    pub last: Option<Touched>,
}

/// Whether a touch at `touch` counts for an order placed at `order`.
pub fn counts(order: &EventKey, touch: &EventKey) -> bool {
    touch < order && order.at_ms - touch.at_ms <= WINDOW_MS
}

/// The attribution of an order placed at `order`, over `touches` (any order, duplicates
/// allowed).
pub fn attribute<'a>(
    order: &EventKey,
    touches: impl IntoIterator<Item = &'a Touch>,
) -> Attribution {
    let mut attribution = Attribution::default();
    for touch in touches {
        if counts(order, &touch.key) {
            attribution = attribution.join(Attribution {
                first: Some(touch.into()),
                last: Some(touch.into()),
            });
        }
    }
    attribution
}

impl Attribution {
    /// The attribution over the union of the two touch sets these were computed over: the
    /// earlier first, the later last.
    pub fn join(self, other: Attribution) -> Attribution {
        fn pick(a: Option<Touched>, b: Option<Touched>, later: bool) -> Option<Touched> {
            match (a, b) {
                (Some(a), Some(b)) => Some(if (a.key > b.key) == later { a } else { b }),
                (a, b) => a.or(b),
            }
        }
        Attribution {
            first: pick(self.first, other.first, false),
            last: pick(self.last, other.last, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn touch(at_ms: i64, n: u32, channel: usize) -> Touch {
        Touch {
            key: EventKey::new(at_ms, format!("t-{n}")),
            channel: Channel::ALL[channel],
            kind: TouchKind::Session,
            source: Some(format!("s-{n}")),
            store_id: None,
            sku: None,
        }
    }

    #[test]
    fn the_window_is_thirty_days_before_the_order_and_excludes_the_order_itself() {
        let order = EventKey::new(WINDOW_MS + 10, "o");
        assert!(
            counts(&order, &EventKey::new(10, "t")),
            "exactly 30 days before"
        );
        assert!(!counts(&order, &EventKey::new(9, "t")), "one ms more");
        assert!(
            counts(&order, &EventKey::new(WINDOW_MS + 10, "a")),
            "same instant, lower id"
        );
        assert!(
            !counts(&order, &EventKey::new(WINDOW_MS + 10, "o")),
            "the order's own key"
        );
        assert!(
            !counts(&order, &EventKey::new(WINDOW_MS + 10, "p")),
            "same instant, higher id"
        );
    }

    proptest! {
        /// Over any touch set, the attribution is the earliest and the latest counted touch,
        /// and joining attributions over any split of the set gives the attribution of the
        /// whole: so a late touch, or touches read in parts, change nothing but what they must.
        #[test]
        fn attribution_is_the_naive_first_and_last_and_joins_over_any_split(
            touches in proptest::collection::vec((0i64..100, 0u32..50, 0usize..4), 0..40),
            order_at in 0i64..100,
            split in proptest::collection::vec(any::<bool>(), 40),
        ) {
            // A window of 30 days is far beyond these instants: shift the touches to test its edge.
            let touches: Vec<Touch> = touches.iter().map(|(at, n, c)| touch(at * (WINDOW_MS / 50), *n, *c)).collect();
            let order = EventKey::new(order_at * (WINDOW_MS / 50), "o-1");
            let mut counted: Vec<&Touch> = touches.iter()
                .filter(|t| t.key < order && order.at_ms - t.key.at_ms <= WINDOW_MS)
                .collect();
            counted.sort_by(|a, b| a.key.cmp(&b.key));
            let naive = Attribution {
                first: counted.first().map(|t| Touched::from(*t)),
                last: counted.last().map(|t| Touched::from(*t)),
            };
            prop_assert_eq!(attribute(&order, &touches), naive.clone());
            let left = touches.iter().enumerate().filter(|(i, _)| split[*i]).map(|(_, t)| t);
            let right = touches.iter().enumerate().filter(|(i, _)| !split[*i]).map(|(_, t)| t);
            let joined = attribute(&order, left).join(attribute(&order, right));
            prop_assert_eq!(joined, naive);
        }
    }
}
