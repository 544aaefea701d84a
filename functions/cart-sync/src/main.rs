use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    omnisync::telemetry::init();
    let function = cart_sync::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(cart_sync::handle(&function, event.payload).await)
    }))
    .await
}
