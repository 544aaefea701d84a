#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run(availability_notifier::function).await
}
