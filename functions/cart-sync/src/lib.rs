//! cart-sync: SQS `cart-events` → customers' carts.
//!
//! Each cart event is folded into one DynamoDB item with one conditional write (the line it
//! touches, or the cart's clear marker); see `omnisync::store` for the layout and
//! `omnisync::domain::cart` for the rule.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CartEvent, CustomerEvent};
use omnisync::domain::cart::{CartEffect, effect};
use omnisync::lambda::sqs_function;
use omnisync::store::Table;

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
                self.table.apply_cart_line(customer_id, sku, key, op).await
            }
            CartEffect::Clear => self.table.apply_cart_clear(customer_id, key).await,
        }
        .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
