#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run(identity_sync::function).await
}
