//! Cart writes: one item per line plus one for the latest cart-wide clear.

use super::items::{StoredClear, StoredLine};
use super::key::CustomerItem;
use super::{StoreError, Table, WriteOutcome};
use crate::contract::EventKey;
use crate::domain::cart::{Cart, LineOp};

impl Table {
    /// Folds one line op into the customer's line for `sku`. Also returns where the line, as
    /// written, should be compacted, if it keeps too many adds
    /// ([`crate::domain::cart::LineState::compaction_point`]).
    pub async fn apply_cart_line(
        &self,
        customer_id: &str,
        sku: &str,
        key: EventKey,
        op: LineOp,
    ) -> Result<(WriteOutcome, Option<EventKey>), StoreError> {
        let mut compact_at = None;
        let outcome = self
            .customer_item(customer_id, &CustomerItem::CartLine(sku.to_owned()))
            .update(|stored: &mut StoredLine| {
                let mut line = stored.to_state();
                let changed = line.apply(key.clone(), op);
                compact_at = line.compaction_point();
                *stored = StoredLine::from_state(&line);
                changed
            })
            .await?;
        Ok((outcome, compact_at))
    }

    /// Records a cart-wide clear, if it is the latest one.
    pub async fn apply_cart_clear(
        &self,
        customer_id: &str,
        key: EventKey,
    ) -> Result<WriteOutcome, StoreError> {
        self.customer_item(customer_id, &CustomerItem::CartClear)
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
