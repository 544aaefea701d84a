//! Running an SQS-triggered function: what every `main.rs` does, in one place.

use crate::aws::{Clients, load_sdk_config};
use crate::batch::{EventHandler, SqsBatchProcessor};
use crate::config::FunctionConfig;
use crate::queue::rejected::RejectedEvents;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

/// Builds the batch processor around a function's handler.
pub fn sqs_processor<H: EventHandler>(
    clients: &Clients,
    config: &FunctionConfig,
    handler: impl FnOnce(&Clients, &FunctionConfig) -> H,
) -> SqsBatchProcessor<H> {
    SqsBatchProcessor::new(
        handler(clients, config),
        RejectedEvents::new(clients.sqs.clone(), &config.rejected_queue_url),
        config.channel_senders.clone(),
    )
}

/// Sets up logging, reads the environment, builds the clients once, and serves SQS batches until
/// Lambda stops the execution environment.
pub async fn run_sqs<H: EventHandler>(
    handler: impl FnOnce(&Clients, &FunctionConfig) -> H,
) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let clients = Clients::new(&load_sdk_config().await);
    serve_sqs(sqs_processor(&clients, &config, handler)).await
}

/// Serves SQS batches with an already built processor.
pub async fn serve_sqs<H: EventHandler>(
    processor: SqsBatchProcessor<H>,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let processor = &processor;
        async move { Ok::<_, lambda_runtime::Error>(processor.process(event.payload).await) }
    }))
    .await
}
