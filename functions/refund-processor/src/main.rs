#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run(refund_processor::function).await
}
