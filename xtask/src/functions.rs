//! The deployed functions by the template's logical id, built exactly as their `main.rs` builds
//! them (`omnisync::lambda::sqs_processor` around the function's handler), but with the
//! environment the template declares for them (read back from the local stack) instead of the
//! process environment, so several functions share one process.

use anyhow::{Result, bail};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use omnisync::aws::Clients;
use omnisync::batch::{EventHandler, SqsBatchProcessor};
use omnisync::config::FunctionConfig;
use omnisync::lambda::sqs_processor;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A function an SQS event source mapping invokes.
pub trait SqsFunction: Send + Sync {
    fn invoke(
        &self,
        event: SqsEvent,
    ) -> BoxFuture<'_, Result<SqsBatchResponse, lambda_runtime::Error>>;
}

impl<H: EventHandler + 'static> SqsFunction for SqsBatchProcessor<H> {
    fn invoke(
        &self,
        event: SqsEvent,
    ) -> BoxFuture<'_, Result<SqsBatchResponse, lambda_runtime::Error>> {
        Box::pin(async move { Ok(self.process(event).await) })
    }
}

/// Builds the function the template declares under `logical_id`.
pub fn build(
    logical_id: &str,
    clients: &Clients,
    environment: &BTreeMap<String, String>,
) -> Result<Arc<dyn SqsFunction>> {
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
        other => bail!("no local build for function {other}; add it to xtask/src/functions.rs"),
    })
}
