//! wishlist-sync: SQS `wishlist-events` → customers' wishlists.
//!
//! Each event is one conditional write on the SKU's item, which keeps the latest op (see
//! `omnisync::domain::wishlist`). Purchases take SKUs off at read time, from the order items.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, WishlistEvent};
use omnisync::domain::wishlist::op_of;
use omnisync::lambda::sqs_function;
use omnisync::store::Table;

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

impl EventHandler for WishlistSync {
    type Input = CustomerEvent<WishlistEvent>;

    async fn apply(
        &self,
        event: &Self::Input,
        _delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let (sku, op) = op_of(&event.payload);
        let written = self
            .table
            .apply_wish(&event.customer_id, sku, event.key.clone(), op)
            .await
            .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
