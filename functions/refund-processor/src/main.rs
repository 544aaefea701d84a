#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run_sqs(refund_processor::RefundProcessor::new).await
}
