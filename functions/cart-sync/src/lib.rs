//! cart-sync: SQS `cart-events` → customers' carts.
//!
//! Each cart event is folded into one DynamoDB item with one conditional write (the line it
//! touches, or the cart's clear marker); see `omnisync::store` for the layout and
//! `omnisync::domain::cart` for the rule. A line that keeps more than 100 adds after its latest
//! reset is compacted: the oldest are folded into a reset whose quantity is the customer's line
//! at that point (`LineState::compaction_point`, `shopping::line_quantity_at`), one read of the
//! customer's partitions and one more write, once per 50 adds of a line at most.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::EventKey;
use omnisync::contract::{CartEvent, CustomerEvent};
use omnisync::domain::cart::{CartEffect, LineOp, effect};
use omnisync::domain::shopping::line_quantity_at;
use omnisync::lambda::sqs_function;
use omnisync::store::{StoreError, Table, WriteOutcome};

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<CartSync>, ConfigError> {
    let table = config.state_table(clients);
    Ok(sqs_function(clients, config, CartSync { table }))
}

pub struct CartSync {
    table: Table,
}

impl EventHandler for CartSync {
    type Input = CustomerEvent<CartEvent>;

    async fn apply(
        &self,
        event: &Self::Input,
        _delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let customer_id = &event.customer_id;
        let key = event.key.clone();
        let written = match effect(&event.payload) {
            CartEffect::Line { sku, op } => {
                let (written, compact_at) = self
                    .table
                    .apply_cart_line(customer_id, sku, key, op)
                    .await
                    .map_err(ApplyError::transient)?;
                if let Some(point) = compact_at {
                    self.compact(customer_id, sku, point)
                        .await
                        .map_err(ApplyError::transient)?;
                }
                written
            }
            CartEffect::Clear => self
                .table
                .apply_cart_clear(customer_id, key)
                .await
                .map_err(ApplyError::transient)?,
        };
        Ok(written.into())
    }
}

impl CartSync {
    /// Folds the line's adds up to `point` into a reset there. The event was written before, so
    /// a crash here only leaves the line longer until its next add compacts it.
    async fn compact(&self, id: &str, sku: &str, point: EventKey) -> Result<(), StoreError> {
        let (own, guests) = self.table.shopping_ops(id).await?;
        let guests: Vec<_> = guests.iter().collect();
        let quantity = line_quantity_at(&own, &guests, sku, &point);
        let (written, _) = self
            .table
            .apply_cart_line(id, sku, point.clone(), LineOp::Set(quantity))
            .await?;
        tracing::info!(customer_id = id, sku, at = %point.event_id, quantity, outcome = if written == WriteOutcome::Written { "compacted" } else { "unchanged" });
        Ok(())
    }
}
