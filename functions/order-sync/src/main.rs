#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run_sqs(order_sync::OrderSync::new).await
}
