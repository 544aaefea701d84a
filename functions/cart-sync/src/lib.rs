//! cart-sync: SQS `cart-events` → customers' carts.
//!
//! Each cart event is folded into one DynamoDB item with one conditional write (the line it
//! touches, or the cart's clear marker); see `omnisync::store` for the layout and
//! `omnisync::domain::cart` for the rule.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use omnisync::aws::{Clients, load_sdk_config};
use omnisync::batch::{Applied, ApplyError, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{Event, EventType, Payload, ReasonCode, Rejection};
use omnisync::domain::cart::{CartEffect, effect};
use omnisync::queue::rejected::RejectedEvents;
use omnisync::store::WriteOutcome;
use omnisync::store::cart::CartStore;

/// The domain side of cart-sync.
pub struct CartSync {
    carts: CartStore,
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
        Ok(match written {
            WriteOutcome::Written => Applied::Changed,
            WriteOutcome::Unchanged => Applied::Unchanged,
        })
    }
}

/// The deployed function: batch handling around [`CartSync`].
pub type Function = SqsBatchProcessor<CartSync>;

/// Builds the function from its clients and the template's environment.
pub fn build(clients: &Clients, config: &FunctionConfig) -> Function {
    SqsBatchProcessor::new(
        CartSync {
            carts: CartStore::new(clients.dynamodb.clone(), &config.table),
        },
        RejectedEvents::new(clients.sqs.clone(), &config.rejected_queue_url),
        config.channel_senders.clone(),
    )
}

/// Builds the function as Lambda runs it: configuration from the process environment.
pub async fn from_env() -> Result<Function, ConfigError> {
    let config = FunctionConfig::from_env()?;
    Ok(build(&Clients::new(&load_sdk_config().await), &config))
}

/// The Lambda entry point.
pub async fn handle(function: &Function, event: SqsEvent) -> SqsBatchResponse {
    function.process(event).await
}
