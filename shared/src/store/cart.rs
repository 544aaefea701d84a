//! Cart items: one per line plus one for the latest cart-wide clear (layout in [`super`]).

use super::versioned::Versioned;
use super::{StoreError, WriteOutcome, customer_pk};
use crate::contract::EventKey;
use crate::domain::cart::{Cart, Delta, LineOp, LineState, Reset};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

const LINE_PREFIX: &str = "CART#LINE#";
const CLEAR_SK: &str = "CART#CLEAR";
const CART_PREFIX: &str = "CART#";

/// Reads and writes customers' carts.
#[derive(Debug, Clone)]
pub struct CartStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl CartStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        CartStore {
            client,
            table: table.into(),
        }
    }

    fn item(&self, customer_id: &str, sk: String) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.table,
            pk: customer_pk(customer_id),
            sk,
        }
    }

    /// Folds one line op into the customer's line for `sku`.
    pub async fn apply_line(
        &self,
        customer_id: &str,
        sku: &str,
        key: EventKey,
        op: LineOp,
    ) -> Result<WriteOutcome, StoreError> {
        self.item(customer_id, format!("{LINE_PREFIX}{sku}"))
            .update(|stored: &mut StoredLine| {
                let mut line = stored.to_state();
                let changed = line.apply(key.clone(), op);
                *stored = StoredLine::from_state(&line);
                changed
            })
            .await
    }

    /// Records a cart-wide clear, if it is the latest one.
    pub async fn apply_clear(
        &self,
        customer_id: &str,
        key: EventKey,
    ) -> Result<WriteOutcome, StoreError> {
        self.item(customer_id, CLEAR_SK.to_owned())
            .update(|stored: &mut StoredClear| {
                let mut cart = Cart {
                    cleared: stored.key.clone(),
                    ..Cart::default()
                };
                let changed = cart.apply_clear(key.clone());
                stored.key = cart.cleared;
                changed
            })
            .await
    }

    /// Loads the customer's whole cart with one (paginated) query.
    pub async fn load(&self, customer_id: &str) -> Result<Cart, StoreError> {
        let pk = customer_pk(customer_id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(CART_PREFIX.into()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut cart = Cart::default();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::Request {
                operation: "Query",
                pk: pk.clone(),
                sk: CART_PREFIX.into(),
                source: Box::new(e.into()),
            })?;
            let sk = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => continue,
            };
            let reader = self.item(customer_id, sk.clone());
            if sk == CLEAR_SK {
                let (clear, _rev): (StoredClear, u64) = reader.decode(item)?;
                cart.cleared = clear.key;
            } else if let Some(sku) = sk.strip_prefix(LINE_PREFIX) {
                let (line, _rev): (StoredLine, u64) = reader.decode(item)?;
                cart.lines.insert(sku.to_owned(), line.to_state());
            }
        }
        Ok(cart)
    }
}

/// The stored form of [`LineState`]: short attribute names, deltas as a sorted list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoredLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reset: Option<StoredReset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ops: Vec<StoredDelta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredReset {
    t: i64,
    e: String,
    q: u32,
}

/// `d` > 0 adds, `d` < 0 is a purchase (a delta is never 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredDelta {
    t: i64,
    e: String,
    d: i64,
}

impl StoredLine {
    fn to_state(&self) -> LineState {
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

    fn from_state(line: &LineState) -> Self {
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoredClear {
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    key: Option<EventKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_line_round_trips() {
        let mut line = LineState::default();
        line.apply(EventKey::new(5, "b"), LineOp::Set(3));
        line.apply(EventKey::new(6, "c"), LineOp::Add(4));
        line.apply(EventKey::new(7, "d"), LineOp::Purchase(2));
        let stored = StoredLine::from_state(&line);
        assert_eq!(stored.to_state(), line);
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&stored).unwrap();
        let back: StoredLine = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, stored);
    }

    #[test]
    fn stored_clear_round_trips_through_an_item() {
        let clear = StoredClear {
            key: Some(EventKey::new(9, "clr")),
        };
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&clear).unwrap();
        assert_eq!(item.get("t"), Some(&AttributeValue::N("9".into())));
        let back: StoredClear = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, clear);
    }
}
