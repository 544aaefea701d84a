//! Structured JSON logs for CloudWatch, following Lambda's logging conventions.
//!
//! One JSON object per line, flattened so CloudWatch Logs Insights can filter on `event_id`,
//! `event_type`, `channel` and `outcome` directly. Every line written during an invocation
//! carries the invocation's request id (`span.requestId`, from the span `lambda_runtime` opens
//! around each invocation), so one invocation's lines can be found together.
//!
//! The level follows Lambda's advanced logging controls: the template sets `LoggingConfig`
//! (`ApplicationLogLevel`), Lambda passes it as `AWS_LAMBDA_LOG_LEVEL`, and that wins over
//! `RUST_LOG`, which is only for local runs; `info` when neither is set ([`filter_directive`]).
//! Payloads are never logged: they hold customer data.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The filter directive for the environment: `AWS_LAMBDA_LOG_LEVEL` (Lambda's `TRACE`, `DEBUG`,
/// `INFO`, `WARN`, `ERROR` or `FATAL`; `FATAL` is `error` here) wins, then `RUST_LOG`, then
/// `info`. A blank value counts as unset.
pub fn filter_directive(aws_lambda_log_level: Option<&str>, rust_log: Option<&str>) -> String {
    fn given(value: Option<&str>) -> Option<&str> {
        value.map(str::trim).filter(|v| !v.is_empty())
    }
    if let Some(level) = given(aws_lambda_log_level) {
        return match level.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_owned(),
            other => other.to_owned(),
        };
    }
    given(rust_log).unwrap_or("info").to_owned()
}

/// The JSON subscriber, writing to `writer`.
fn subscriber<W>(directive: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // `Targets` takes `RUST_LOG`'s `target=level,…` form without the regex engine `EnvFilter`
    // carries (span and field filters are the one thing it lacks).
    let filter = directive
        .parse::<Targets>()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    tracing_subscriber::fmt()
        // The builder caps at `INFO` by default, and a filter layered on top can only narrow:
        // open it fully and let `Targets` decide.
        .with_max_level(LevelFilter::TRACE)
        .json()
        .flatten_event(true)
        // The invocation's span: `{"name": "Lambda runtime invoke", "requestId": …}`.
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
        .with(filter)
}

/// Installs the JSON subscriber on stdout. Calling it twice is harmless.
pub fn init() {
    let directive = filter_directive(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let _already_set =
        tracing::subscriber::set_global_default(subscriber(&directive, std::io::stdout));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn lambdas_level_wins_over_rust_log_and_info_is_the_default() {
        assert_eq!(filter_directive(Some("DEBUG"), Some("warn")), "debug");
        assert_eq!(filter_directive(Some("FATAL"), None), "error");
        assert_eq!(
            filter_directive(None, Some("warn,omnisync=debug")),
            "warn,omnisync=debug"
        );
        assert_eq!(filter_directive(Some(" "), Some("trace")), "trace");
        assert_eq!(filter_directive(None, None), "info");
    }

    /// Lines written to memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines logged under `directive` during one invocation that logs at every level.
    fn logged_at(directive: &str) -> Vec<serde_json::Value> {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = subscriber(directive, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let mut context = lambda_runtime::Context::default();
            context.request_id = "req-42".into();
            let span = lambda_runtime::layers::trace::request_span(&context);
            let _entered = span.enter();
            tracing::trace!("at trace");
            tracing::debug!("at debug");
            tracing::info!(event_id = "e-1", outcome = "applied", "done");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn levels(logged: &[serde_json::Value]) -> Vec<&str> {
        logged.iter().filter_map(|l| l["level"].as_str()).collect()
    }

    #[test]
    fn the_level_given_is_the_level_logged_below_info_too() {
        assert_eq!(levels(&logged_at("info")), ["INFO"]);
        assert_eq!(levels(&logged_at("debug")), ["DEBUG", "INFO"]);
        assert_eq!(levels(&logged_at("trace")), ["TRACE", "DEBUG", "INFO"]);
        assert_eq!(levels(&logged_at("warn")), Vec::<&str>::new());
        // A target's own level, for this crate's targets and not for another's.
        assert_eq!(levels(&logged_at("warn,omnisync=debug")), ["DEBUG", "INFO"]);
        assert_eq!(
            levels(&logged_at("info,aws_smithy_runtime=trace")),
            ["INFO"]
        );
    }

    #[test]
    fn a_line_written_during_an_invocation_carries_its_request_id() {
        let logged = logged_at("info");
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert_eq!(logged[0]["span"]["requestId"], "req-42");
        assert_eq!(logged[0]["event_id"], "e-1");
        assert_eq!(logged[0]["outcome"], "applied");
        assert_eq!(logged[0]["level"], "INFO");
    }
}
