//! The deployed functions by the template's logical id, built exactly as their `main.rs` builds
//! them, but with the environment the template declares for them (read back from the local
//! stack) instead of the process environment, so several functions share one process.
//!
//! Like Lambda, the runner hands a function the event as JSON and reads its response as JSON.

use anyhow::{Result, bail};
use futures::future::BoxFuture;
use omnisync::aws::Clients;
use omnisync::batch::{EventHandler, SqsBatchProcessor};
use omnisync::config::FunctionConfig;
use omnisync::lambda::sqs_processor;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type InvokeResult = Result<Value, lambda_runtime::Error>;

/// A function an event source mapping invokes: event JSON in, response JSON out.
pub trait Function: Send + Sync {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult>;
}

impl<H: EventHandler + 'static> Function for SqsBatchProcessor<H> {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move {
            let batch = serde_json::from_value(event)?;
            Ok(serde_json::to_value(self.process(batch).await)?)
        })
    }
}

impl Function for loyalty_ledger::LoyaltyLedger {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move { Ok(self.handle(event).await?) })
    }
}

impl Function for view_fanout::ViewFanout {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move {
            let batch = serde_json::from_value(event)?;
            Ok(serde_json::to_value(self.process(batch).await)?)
        })
    }
}

/// Builds the function the template declares under `logical_id`.
pub fn build(
    logical_id: &str,
    clients: &Clients,
    environment: &BTreeMap<String, String>,
) -> Result<Arc<dyn Function>> {
    let config = FunctionConfig::from_lookup(|name| environment.get(name).cloned())?;
    Ok(match logical_id {
        "CartSyncFunction" => Arc::new(sqs_processor(clients, &config, cart_sync::CartSync::new)),
        "WishlistSyncFunction" => Arc::new(sqs_processor(
            clients,
            &config,
            wishlist_sync::WishlistSync::new,
        )),
        "OrderSyncFunction" => {
            Arc::new(sqs_processor(clients, &config, order_sync::OrderSync::new))
        }
        "IdentitySyncFunction" => Arc::new(sqs_processor(
            clients,
            &config,
            identity_sync::IdentitySync::new,
        )),
        "RefundProcessorFunction" => Arc::new(sqs_processor(
            clients,
            &config,
            refund_processor::RefundProcessor::new,
        )),
        "LoyaltyLedgerFunction" => Arc::new(loyalty_ledger::LoyaltyLedger::new(clients, &config)),
        "ViewFanoutFunction" => Arc::new(view_fanout::ViewFanout::new(clients, &config)?),
        "AvailabilityNotifierFunction" => {
            let notifier = availability_notifier::AvailabilityNotifier::new(clients, &config)?;
            Arc::new(sqs_processor(clients, &config, |_, _| notifier))
        }
        other => bail!("no local build for function {other}; add it to xtask/src/functions.rs"),
    })
}
