//! AWS SDK set-up. The standard provider chain reads `AWS_ENDPOINT_URL`, region and credentials,
//! so the same code runs against moto, LocalStack or AWS without a code path of its own.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the shared SDK configuration from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}
