//! AWS SDK set-up. The standard provider chain reads `AWS_ENDPOINT_URL`, region and credentials,
//! so the same code runs against moto, LocalStack or AWS without a code path of its own.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use std::time::Duration;

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt of a request may take (a stalled connection is abandoned and retried).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request may take with all its retries: well inside a function's timeout, so a
/// stalled call fails one record (which SQS or the stream retries), never the whole invocation.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The timeouts every client gets (the SDK sets none by default: a stalled call would wait for
/// the function's own timeout).
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The one HTTP client every SDK client uses: hyper 1 with rustls on ring. The SDK crates'
/// default client is the same but for aws-lc, a larger library for what a function does with
/// it (TLS to AWS endpoints); one client instead of the crates' two keeps every function's
/// package small (`docs/BENCHMARKS.md`).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The standard configuration chain with omnisync's HTTP client and timeouts; callers may
/// refine it (an endpoint, a region) before loading.
pub fn sdk_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
}

/// Loads the shared SDK configuration from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The service clients a function uses. Built once per execution environment and shared by
/// every invocation (the clients pool connections).
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The configuration they were built from, for a function that needs one more client.
    pub sdk: SdkConfig,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            sdk: sdk.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint that accepts connections and never answers: the call must fail by itself,
    /// within the operation timeout, instead of hanging until the function is killed.
    #[tokio::test]
    async fn a_stalled_endpoint_fails_the_call_within_the_operation_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let sdk = sdk_config_loader()
            .endpoint_url(format!("http://{address}"))
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
            .load()
            .await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let call = client
            .get_item()
            .table_name("t")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into()))
            .send();
        let outcome = tokio::time::timeout(OPERATION_TIMEOUT * 3, call).await;
        held.abort();
        let result = outcome.expect("the SDK gave up by itself, before the test's own limit");
        assert!(result.is_err(), "a stalled endpoint cannot answer");
    }
}
