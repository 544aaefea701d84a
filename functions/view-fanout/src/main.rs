use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use omnisync::aws::{Clients, load_sdk_config};
use omnisync::config::FunctionConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    omnisync::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let fanout = view_fanout::ViewFanout::new(&Clients::new(&load_sdk_config().await), &config)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let fanout = &fanout;
        async move { Ok::<_, Error>(fanout.process(event.payload).await) }
    }))
    .await
}
