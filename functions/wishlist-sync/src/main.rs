#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    omnisync::lambda::run_sqs(wishlist_sync::WishlistSync::new).await
}
