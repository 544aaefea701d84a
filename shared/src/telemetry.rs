//! Structured JSON logs for CloudWatch.
//!
//! One JSON object per line, flattened so CloudWatch Logs Insights can filter on `event_id`,
//! `event_type`, `channel` and `outcome` directly. The level comes from `RUST_LOG` (or Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`), `info` by default. Payloads are never logged: they hold customer data.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Calling it twice is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(
                std::env::var("AWS_LAMBDA_LOG_LEVEL")
                    .unwrap_or_default()
                    .to_lowercase(),
            )
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_set = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}
