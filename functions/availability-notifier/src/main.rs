use omnisync::aws::{Clients, load_sdk_config};
use omnisync::config::FunctionConfig;
use omnisync::lambda::sqs_processor;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let clients = Clients::new(&load_sdk_config().await);
    let notifier = availability_notifier::AvailabilityNotifier::new(&clients, &config)?;
    omnisync::lambda::serve_sqs(sqs_processor(&clients, &config, |_, _| notifier)).await
}
