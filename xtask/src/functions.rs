//! The deployed functions by the template's logical id, each built by its crate's own
//! `function` constructor (the one its `main.rs` hands to the Lambda runtime), with the
//! environment the template declares for it (read back from the local stack) instead of the
//! process environment, so several functions share one process.
//!
//! Like Lambda, the runner hands a function the event as JSON and reads its response as JSON.

use anyhow::{Result, bail};
use futures::future::BoxFuture;
use omnisync::aws::Clients;
use omnisync::config::FunctionConfig;
use omnisync::lambda::Function;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type InvokeResult = Result<Value, lambda_runtime::Error>;

/// A function an event source mapping invokes: event JSON in, response JSON out.
pub trait JsonFunction: Send + Sync {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult>;
}

impl<F: Function> JsonFunction for F {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move {
            let event: F::Event = serde_json::from_value(event)?;
            Ok(serde_json::to_value(Function::invoke(self, event).await?)?)
        })
    }
}

/// Builds the function the template declares under `logical_id`.
pub fn build(
    logical_id: &str,
    clients: &Clients,
    environment: &BTreeMap<String, String>,
) -> Result<Arc<dyn JsonFunction>> {
    let config = FunctionConfig::from_lookup(|name| environment.get(name).cloned())?;
    let config = &config;
    Ok(match logical_id {
        "CartSyncFunction" => Arc::new(cart_sync::function(clients, config)?),
        "WishlistSyncFunction" => Arc::new(wishlist_sync::function(clients, config)?),
        "OrderSyncFunction" => Arc::new(order_sync::function(clients, config)?),
        "IdentitySyncFunction" => Arc::new(identity_sync::function(clients, config)?),
        "RefundProcessorFunction" => Arc::new(refund_processor::function(clients, config)?),
        "LoyaltyLedgerFunction" => Arc::new(loyalty_ledger::function(clients, config)?),
        "ViewFanoutFunction" => Arc::new(view_fanout::function(clients, config)?),
        "AvailabilityNotifierFunction" => {
            Arc::new(availability_notifier::function(clients, config)?)
        }
        other => bail!("no local build for function {other}; add it to xtask/src/functions.rs"),
    })
}
