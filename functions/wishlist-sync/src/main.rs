#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run(wishlist_sync::function).await
}
