//! Cart writes: one item per line plus one for the latest cart-wide clear.

use super::items::{CART_CLEAR_SK, CART_LINE_PREFIX, StoredClear, StoredLine};
use super::versioned::Versioned;
use super::{StoreError, WriteOutcome, customer_pk};
use crate::contract::EventKey;
use crate::domain::cart::{Cart, LineOp};

/// Folds cart events into customers' cart items.
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
        self.item(customer_id, format!("{CART_LINE_PREFIX}{sku}"))
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
        self.item(customer_id, CART_CLEAR_SK.to_owned())
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
}
