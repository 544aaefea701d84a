#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run_sqs(identity_sync::IdentitySync::new).await
}
