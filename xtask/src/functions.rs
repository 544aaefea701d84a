//! The deployed functions by the template's logical id, each built by its crate's own
//! `function` constructor (the one its `main.rs` hands to the Lambda runtime), with the
//! environment the template declares for it (read back from the local stack) instead of the
//! process environment, so several functions share one process; each invocation gets the
//! deadline the template's timeout sets, as in Lambda.
//!
//! Like Lambda, the runner hands a function the event as JSON and reads its response as JSON.

use crate::stack::FunctionSpec;
use anyhow::{Result, bail};
use futures::future::BoxFuture;
use omnisync::aws::Clients;
use omnisync::config::FunctionConfig;
use omnisync::lambda::{Deadline, Function};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub type InvokeResult = Result<Value, lambda_runtime::Error>;

/// A function an event source mapping invokes: event JSON in, response JSON out.
pub trait JsonFunction: Send + Sync {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult>;
}

/// A function with the timeout the template gives it: like Lambda, each invocation gets the
/// deadline `timeout` from its start.
struct WithTimeout<F> {
    function: F,
    timeout: Duration,
}

impl<F: Function> JsonFunction for WithTimeout<F> {
    fn invoke(&self, event: Value) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move {
            let deadline = Deadline::after(self.timeout);
            let event: F::Event = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                self.function.invoke(event, deadline).await?,
            )?)
        })
    }
}

fn timed<F: Function + 'static>(function: F, spec: &FunctionSpec) -> Arc<dyn JsonFunction> {
    Arc::new(WithTimeout {
        function,
        timeout: Duration::from_secs(spec.timeout_seconds),
    })
}

/// Builds the function the template declares under `logical_id`, with its environment and its
/// timeout.
pub fn build(
    logical_id: &str,
    clients: &Clients,
    spec: &FunctionSpec,
) -> Result<Arc<dyn JsonFunction>> {
    let config = FunctionConfig::from_lookup(|name| spec.environment.get(name).cloned())?;
    let config = &config;
    Ok(match logical_id {
        "CartSyncFunction" => timed(cart_sync::function(clients, config)?, spec),
        "WishlistSyncFunction" => timed(wishlist_sync::function(clients, config)?, spec),
        "OrderSyncFunction" => timed(order_sync::function(clients, config)?, spec),
        "IdentitySyncFunction" => timed(identity_sync::function(clients, config)?, spec),
        "EngagementSyncFunction" => timed(engagement_sync::function(clients, config)?, spec),
        "RefundProcessorFunction" => timed(refund_processor::function(clients, config)?, spec),
        "LoyaltyLedgerFunction" => timed(loyalty_ledger::function(clients, config)?, spec),
        "ViewFanoutFunction" => timed(view_fanout::function(clients, config)?, spec),
        "AvailabilityNotifierFunction" => {
            timed(availability_notifier::function(clients, config)?, spec)
        }
        other => bail!("no local build for function {other}; add it to xtask/src/functions.rs"),
    })
}
