use lambda_runtime::{Error, LambdaEvent, service_fn};
use omnisync::aws::{Clients, load_sdk_config};
use omnisync::config::FunctionConfig;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    omnisync::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let ledger =
        loyalty_ledger::LoyaltyLedger::new(&Clients::new(&load_sdk_config().await), &config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let ledger = &ledger;
        async move { Ok::<_, Error>(ledger.handle(event.payload).await?) }
    }))
    .await
}
