#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run_sqs(cart_sync::CartSync::new).await
}
