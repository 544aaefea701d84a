//! cart-sync: SQS `cart-events` → customers' carts.
//!
//! Each cart event is folded into one DynamoDB item with one conditional write (the line it
//! touches, or the cart's clear marker); see `omnisync::store` for the layout and
//! `omnisync::domain::cart` for the rule.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler};
use omnisync::config::FunctionConfig;
use omnisync::contract::{Event, EventType, Payload, ReasonCode, Rejection};
use omnisync::domain::cart::{CartEffect, effect};
use omnisync::store::cart::CartStore;

pub struct CartSync {
    carts: CartStore,
}

impl CartSync {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Self {
        CartSync {
            carts: CartStore::new(clients.dynamodb.clone(), &config.table),
        }
    }
}

impl EventHandler for CartSync {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "cart-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let (Payload::Cart(cart_event), Some(customer_id)) =
            (&event.payload, event.customer_id.as_deref())
        else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not a cart event").into());
        };
        let written = match effect(cart_event) {
            CartEffect::Line { sku, op } => {
                self.carts
                    .apply_line(customer_id, sku, event.key.clone(), op)
                    .await
            }
            CartEffect::Clear => self.carts.apply_clear(customer_id, event.key.clone()).await,
        }
        .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
