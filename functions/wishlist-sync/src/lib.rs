//! wishlist-sync: SQS `wishlist-events` → customers' wishlists.
//!
//! The events of a batch are grouped by the SKU item they touch; only the latest op of each
//! group can win (the item is a register, see `omnisync::domain::wishlist`), so each item gets
//! one conditional `UpdateItem` with that op, no read, and the group's other ops are
//! superseded. Purchases take SKUs off at read time, from the order items.

use omnisync::aws::Clients;
use omnisync::batch::coalesce;
use omnisync::batch::{
    Admitted, Applied, ApplyError, Deadline, Delivery, EventHandler, SqsBatchProcessor,
};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, WishlistEvent};
use omnisync::domain::wishlist::op_of;
use omnisync::lambda::sqs_function;
use omnisync::store::{Table, WriteOutcome};
use std::future::Future;

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<WishlistSync>, ConfigError> {
    let table = config.state_table(clients);
    Ok(sqs_function(clients, config, WishlistSync { table }))
}

pub struct WishlistSync {
    table: Table,
}

type Event = CustomerEvent<WishlistEvent>;

impl EventHandler for WishlistSync {
    type Input = Event;

    async fn apply(&self, event: &Event, _delivery: &Delivery<'_>) -> Result<Applied, ApplyError> {
        self.write(vec![event])
            .await
            .pop()
            .unwrap_or(Ok(Applied::Unchanged))
    }

    fn apply_batch<'a>(
        &'a self,
        events: &'a [Admitted<'a, Event>],
        deadline: Deadline,
    ) -> impl Future<Output = Vec<Option<Result<Applied, ApplyError>>>> + Send + 'a {
        coalesce::by_item(
            events,
            deadline,
            |event| (event.customer_id.as_str(), op_of(&event.payload).0),
            move |group| self.write(group),
        )
    }
}

impl WishlistSync {
    /// Writes the latest op of one SKU's events; the others are superseded by it.
    async fn write(&self, group: Vec<&Event>) -> Vec<Result<Applied, ApplyError>> {
        let Some(latest) = group.iter().max_by(|a, b| a.key.cmp(&b.key)) else {
            return Vec::new();
        };
        let (sku, op) = op_of(&latest.payload);
        let written = match self
            .table
            .apply_wish(&latest.customer_id, sku, latest.key.clone(), op)
            .await
        {
            Ok(written) => written,
            Err(error) => return coalesce::for_each(ApplyError::transient(error), group.len()),
        };
        let mut changed = written == WriteOutcome::Written;
        group
            .iter()
            .map(|event| {
                // Only the latest changed anything (once, if it came twice).
                Ok(if changed && event.key == latest.key {
                    changed = false;
                    Applied::Changed
                } else {
                    Applied::Unchanged
                })
            })
            .collect()
    }
}
