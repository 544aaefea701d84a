//! The stored shapes of the item kinds that are storage, not domain, values (the layout is in
//! [`super`]; orders, refund decisions, ledger entries and debit decisions are stored as their
//! domain types).
//!
//! Short attribute names keep items small: `t` = `occurred_at` in UTC ms, `e` = event id.

use super::key::wish_index_pk;
use crate::contract::EventKey;
use crate::domain::cart::{Delta, LineState, Reset};
use crate::domain::wishlist::{WishEntry, WishOp};
use serde::{Deserialize, Serialize};

/// A cart line: the latest reset and the deltas after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<StoredReset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<StoredDelta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReset {
    pub t: i64,
    pub e: String,
    pub q: u32,
}

/// `d` > 0 adds, `d` < 0 is a purchase (a delta is never 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelta {
    pub t: i64,
    pub e: String,
    pub d: i64,
}

impl StoredLine {
    pub fn to_state(&self) -> LineState {
        LineState {
            reset: self.reset.as_ref().map(|r| Reset {
                key: EventKey::new(r.t, r.e.clone()),
                quantity: r.q,
            }),
            deltas: self
                .ops
                .iter()
                .map(|op| {
                    let delta = if op.d >= 0 {
                        Delta::Add(u32::try_from(op.d).unwrap_or(u32::MAX))
                    } else {
                        Delta::Purchase(u32::try_from(-op.d).unwrap_or(u32::MAX))
                    };
                    (EventKey::new(op.t, op.e.clone()), delta)
                })
                .collect(),
        }
    }

    pub fn from_state(line: &LineState) -> Self {
        StoredLine {
            reset: line.reset.as_ref().map(|r| StoredReset {
                t: r.key.at_ms,
                e: r.key.event_id.clone(),
                q: r.quantity,
            }),
            ops: line
                .deltas
                .iter()
                .map(|(key, delta)| StoredDelta {
                    t: key.at_ms,
                    e: key.event_id.clone(),
                    d: match delta {
                        Delta::Add(n) => i64::from(*n),
                        Delta::Purchase(n) => -i64::from(*n),
                    },
                })
                .collect(),
        }
    }
}

/// The cart's latest clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredClear {
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub key: Option<EventKey>,
}

/// A wishlist SKU's latest op: added (with its size) or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWish {
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub key: Option<EventKey>,
    #[serde(default)]
    pub added: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `WISHSKU#<sku>` while the SKU is added: the partition key of the sparse index that finds
    /// who wishes for a SKU without scanning the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    /// The item's own partition key (`CUSTOMER#<id>`), while the SKU is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

impl StoredWish {
    /// Sets or clears the index attributes to match the entry.
    pub fn indexed(mut self, sku: &str, owner_pk: &str) -> Self {
        if self.added {
            self.gsi1pk = Some(wish_index_pk(sku));
            self.gsi1sk = Some(owner_pk.to_owned());
        } else {
            self.gsi1pk = None;
            self.gsi1sk = None;
        }
        self
    }

    pub fn to_entry(&self) -> Option<WishEntry> {
        self.key.clone().map(|key| WishEntry {
            key,
            op: if self.added {
                WishOp::Add {
                    preferred_size: self.size.clone(),
                }
            } else {
                WishOp::Remove
            },
        })
    }

    pub fn from_entry(entry: &WishEntry) -> Self {
        let (added, size) = match &entry.op {
            WishOp::Add { preferred_size } => (true, preferred_size.clone()),
            WishOp::Remove => (false, None),
        };
        StoredWish {
            key: Some(entry.key.clone()),
            added,
            size,
            gsi1pk: None,
            gsi1sk: None,
        }
    }
}

/// Who placed an `order_id` first, and with which event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrderClaim {
    pub customer_id: String,
    pub event_id: String,
}

/// In a guest id's partition: the link that won (the earliest in event order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLinkedTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub key: Option<EventKey>,
}

/// In a customer's partition: a guest id that was linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGuestLink {
    #[serde(flatten)]
    pub key: EventKey,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Channel, Fulfillment};
    use crate::domain::cart::LineOp;
    use crate::domain::order::{Order, OrderStatusState, PurchasedLine};
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;

    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        value: &T,
    ) {
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(value).unwrap();
        let back: T = serde_dynamo::from_item(item).unwrap();
        assert_eq!(&back, value);
    }

    #[test]
    fn every_item_shape_round_trips() {
        let mut line = LineState::default();
        line.apply(EventKey::new(5, "b"), LineOp::Set(3));
        line.apply(EventKey::new(6, "c"), LineOp::Add(4));
        line.apply(EventKey::new(7, "d"), LineOp::Purchase(2));
        let stored = StoredLine::from_state(&line);
        assert_eq!(stored.to_state(), line);
        round_trip(&stored);
        round_trip(&StoredClear {
            key: Some(EventKey::new(9, "clr")),
        });
        let wish = WishEntry {
            key: EventKey::new(3, "w"),
            op: WishOp::Add {
                preferred_size: Some("M".into()),
            },
        };
        assert_eq!(StoredWish::from_entry(&wish).to_entry(), Some(wish.clone()));
        round_trip(&StoredWish::from_entry(&wish));
        let mut status = OrderStatusState::default();
        status.apply(EventKey::new(8, "s"), crate::contract::OrderStatus::Shipped);
        round_trip(&Order {
            order_id: "o-1".into(),
            placed: EventKey::new(1, "p"),
            channel: Channel::Web,
            store_id: None,
            currency: "EUR".into(),
            fulfillment: Fulfillment::Pickup,
            pickup_store_id: Some("s-1".into()),
            lines: vec![PurchasedLine {
                sku: "A".into(),
                quantity: 2,
                unit_price_minor: 6000,
                refunded_quantity: 0,
            }],
            total_minor: 12000,
            status,
        });
        round_trip(&StoredLinkedTo {
            customer_id: Some("c-1".into()),
            key: Some(EventKey::new(4, "l")),
        });
        round_trip(&StoredGuestLink {
            key: EventKey::new(4, "l"),
        });
    }
}
