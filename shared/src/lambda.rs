//! Running a function: what every `main.rs` does, in one place.
//!
//! Each function crate exports one constructor, `pub fn function(&Clients, &FunctionConfig) ->
//! Result<impl Function, ConfigError>`. Its `main.rs` hands that constructor to [`run`]; the local
//! event-source runner (`xtask`) calls the same constructor with the environment the template
//! declares, so the deployed and the local function are assembled by the same code.

use crate::aws::{Clients, load_sdk_config};
use crate::batch::{EventHandler, SqsBatchProcessor};
use crate::config::{ConfigError, FunctionConfig};
use crate::queue::{Publisher, RejectedEvents};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

pub use crate::batch::{BoxError, Deadline};

/// One Lambda function: the event it is invoked with and the response it returns, both JSON.
pub trait Function: Send + Sync {
    type Event: DeserializeOwned + Send;
    type Response: Serialize;

    /// Handles one invocation, answering before `deadline`. An `Err` fails the whole invocation
    /// (Lambda retries it); handlers report per-record failures in the response instead wherever
    /// the trigger allows.
    fn invoke(
        &self,
        event: Self::Event,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Self::Response, BoxError>> + Send;
}

impl<H: EventHandler> Function for SqsBatchProcessor<H> {
    type Event = SqsEvent;
    type Response = SqsBatchResponse;

    async fn invoke(
        &self,
        event: SqsEvent,
        deadline: Deadline,
    ) -> Result<SqsBatchResponse, BoxError> {
        Ok(self.process(event, deadline).await)
    }
}

/// Wraps an SQS handler in the batch processor every SQS-triggered function uses: validation,
/// the queue's typed input, channel authorization, `rejected-events` and batch item failures.
pub fn sqs_function<H: EventHandler>(
    clients: &Clients,
    config: &FunctionConfig,
    handler: H,
) -> SqsBatchProcessor<H> {
    SqsBatchProcessor::new(
        handler,
        RejectedEvents::new(
            Publisher::new(clients.sqs.clone()),
            &config.rejected_queue_url,
        ),
        config.channel_senders.clone(),
    )
    .with_timeline(config.state_table(clients))
}

/// Sets up logging, reads the environment, builds the clients and the function once, and serves
/// invocations until Lambda stops the execution environment.
pub async fn run<F, B>(build: B) -> Result<(), lambda_runtime::Error>
where
    F: Function,
    B: FnOnce(&Clients, &FunctionConfig) -> Result<F, ConfigError>,
{
    crate::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let clients = Clients::new(&load_sdk_config().await);
    let function = build(&clients, &config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<F::Event>| {
        // Boxed behind `dyn`: the runtime's future type would otherwise nest every handler's
        // future type, deeper than the compiler's default limit for the larger functions.
        let deadline = Deadline::from_epoch_ms(event.context.deadline);
        let invocation: BoxFuture<'_, Result<F::Response, BoxError>> =
            Box::pin(function.invoke(event.payload, deadline));
        invocation
    }))
    .await
}
