#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run(view_fanout::function).await
}
