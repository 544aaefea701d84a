//! The stored shapes of the item kinds that are storage, not domain, values (the layout is in
//! [`super`]; orders, refund decisions, ledger entries and debit decisions are stored as their
//! domain types).
//!
//! Short attribute names keep items small: `t` = `occurred_at` in UTC ms, `e` = event id.

use super::key::wish_index_pk;
use crate::contract::EventKey;
use crate::domain::cart::{Delta, LineState, Reset};
use crate::domain::wishlist::{WishEntry, WishOp};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A cart line item's attribute for one delta: `o:<t>:<event id>` (`t` holds no `:`, so the
/// first `:` after the prefix ends it). See [`super::cart`] for why each op is an attribute.
pub fn delta_attribute(key: &EventKey) -> String {
    format!("{DELTA_PREFIX}{}:{}", key.at_ms, key.event_id)
}

const DELTA_PREFIX: &str = "o:";

/// The stored value of a delta: > 0 adds, < 0 is a purchase (a delta is never 0).
pub fn delta_value(delta: Delta) -> AttributeValue {
    let d = match delta {
        Delta::Add(n) => i64::from(n),
        Delta::Purchase(n) => -i64::from(n),
    };
    AttributeValue::N(d.to_string())
}

/// The stored value of a line's reset: `{t, e, q}`.
pub fn reset_value(reset: &Reset) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        (
            "t".to_owned(),
            AttributeValue::N(reset.key.at_ms.to_string()),
        ),
        (
            "e".to_owned(),
            AttributeValue::S(reset.key.event_id.clone()),
        ),
        (
            "q".to_owned(),
            AttributeValue::N(reset.quantity.to_string()),
        ),
    ]))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredReset {
    t: i64,
    e: String,
    q: u32,
}

/// Reads a cart line item: the line's state (its reset and the deltas after it) and the key of
/// every delta attribute it holds, the ones its reset supersedes included, in key order. An
/// absent item is an empty line.
pub fn line(
    item: &HashMap<String, AttributeValue>,
) -> Result<(LineState, Vec<EventKey>), serde_dynamo::Error> {
    let bad = |what: String| <serde_dynamo::Error as serde::de::Error>::custom(what);
    let reset = match item.get("reset") {
        None => None,
        Some(value) => {
            let stored: StoredReset = serde_dynamo::from_attribute_value(value.clone())?;
            Some(Reset {
                key: EventKey::new(stored.t, stored.e),
                quantity: stored.q,
            })
        }
    };
    let mut attributes = Vec::new();
    let mut deltas = std::collections::BTreeMap::new();
    for (name, value) in item {
        let Some(rest) = name.strip_prefix(DELTA_PREFIX) else {
            continue;
        };
        let key = rest
            .split_once(':')
            .and_then(|(t, e)| Some(EventKey::new(t.parse().ok()?, e)))
            .ok_or_else(|| {
                bad(format!(
                    "delta attribute `{name}` is not `o:<t>:<event id>`"
                ))
            })?;
        let d: i64 = match value {
            AttributeValue::N(n) => n.parse().ok(),
            _ => None,
        }
        .filter(|d| *d != 0)
        .ok_or_else(|| bad(format!("delta attribute `{name}` is not a non-zero number")))?;
        let delta = match u32::try_from(d.unsigned_abs()) {
            Ok(n) if d > 0 => Delta::Add(n),
            Ok(n) => Delta::Purchase(n),
            Err(_) => return Err(bad(format!("delta attribute `{name}` is out of range"))),
        };
        if reset.as_ref().is_none_or(|r: &Reset| key > r.key) {
            deltas.insert(key.clone(), delta);
        }
        attributes.push(key);
    }
    attributes.sort();
    Ok((LineState { reset, deltas }, attributes))
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
    /// The attributes an entry may leave out (removed from the item when it does).
    pub const OPTIONAL: &'static [&'static str] = &["size", "gsi1pk", "gsi1sk"];

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
        let mut item = HashMap::new();
        if let Some(reset) = &line.reset {
            item.insert("reset".to_owned(), reset_value(reset));
        }
        for (key, delta) in &line.deltas {
            item.insert(delta_attribute(key), delta_value(*delta));
        }
        // A delta the reset supersedes, left in the item by a write that could not know it.
        item.insert(
            delta_attribute(&EventKey::new(5, "a")),
            delta_value(Delta::Add(7)),
        );
        item.insert("rev".to_owned(), AttributeValue::N("3".into()));
        let (read, attributes) = super::line(&item).unwrap();
        assert_eq!(read, line);
        assert_eq!(
            attributes,
            [
                EventKey::new(5, "a"),
                EventKey::new(6, "c"),
                EventKey::new(7, "d")
            ]
        );
        assert_eq!(super::line(&HashMap::new()).unwrap(), Default::default());
        item.insert("o:x:y".to_owned(), AttributeValue::N("1".into()));
        assert!(
            super::line(&item).is_err(),
            "a malformed delta attribute is refused"
        );
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
