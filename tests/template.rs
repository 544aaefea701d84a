//! The infrastructure template: lint-clean, and the deployed stack (on the local endpoint, with
//! the template's own defaults) has the settings the delivery guarantees depend on.

use crate::support::stack_with_defaults;
use aws_sdk_sqs::types::QueueAttributeName;
use std::process::Command;

#[test]
fn cfn_lint_passes() {
    let root = xtask::workspace_root();
    let cfn_lint = root.join(".venv/bin/cfn-lint");
    assert!(
        cfn_lint.exists(),
        "{} is missing: run `cargo xtask setup`",
        cfn_lint.display()
    );
    let output = Command::new(cfn_lint)
        .arg(root.join("infra/template.yaml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sqs_mapping_reports_item_failures_and_redrives_to_a_dlq() {
    let Some(stack) = stack_with_defaults("tpl").await else {
        return;
    };
    let sqs = stack.sqs();
    assert!(!stack.manifest.event_sources.is_empty());
    for source in &stack.manifest.event_sources {
        let xtask::stack::EventSource::Sqs(source) = source else {
            continue;
        };
        let function = &stack.manifest.functions[&source.function];
        assert!(
            source.report_batch_item_failures,
            "{}: ReportBatchItemFailures",
            source.mapping
        );
        assert!(
            source.visibility_timeout_seconds >= 6 * function.timeout_seconds,
            "{}: visibility timeout {} s < 6 × function timeout {} s",
            source.mapping,
            source.visibility_timeout_seconds,
            function.timeout_seconds
        );
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&source.queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let policy: serde_json::Value = serde_json::from_str(
            attributes
                .get(&QueueAttributeName::RedrivePolicy)
                .expect("a redrive policy"),
        )
        .unwrap();
        let dlq = policy["deadLetterTargetArn"].as_str().unwrap();
        assert_eq!(
            dlq,
            format!("{}-dlq", source.queue_arn),
            "{}: DLQ named <queue>-dlq",
            source.mapping
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_follow_prefix_and_logical_name() {
    let Some(stack) = stack_with_defaults("tpl-names").await else {
        return;
    };
    for name in [
        "cart-events",
        "cart-events-dlq",
        "rejected-events",
        "notifications.fifo",
    ] {
        assert!(
            stack.queue_url(name).is_ok(),
            "queue {}-{name}",
            stack.prefix
        );
    }
    assert_eq!(stack.table().unwrap(), format!("{}-state", stack.prefix));
    for (logical_id, spec) in &stack.manifest.functions {
        assert!(
            spec.function_name
                .starts_with(&format!("{}-", stack.prefix)),
            "{logical_id}"
        );
        assert_eq!(
            spec.environment.get("OMNISYNC_TABLE"),
            Some(&format!("{}-state", stack.prefix))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_mapping_bisects_bounds_retries_and_age_and_has_an_on_failure_destination() {
    let Some(stack) = stack_with_defaults("tpl-streams").await else {
        return;
    };
    let streams: Vec<&xtask::stack::StreamSource> = stack
        .manifest
        .event_sources
        .iter()
        .filter_map(|s| match s {
            xtask::stack::EventSource::Stream(stream) => Some(stream),
            _ => None,
        })
        .collect();
    assert!(!streams.is_empty());
    for source in streams {
        assert!(source.report_batch_item_failures, "{}", source.mapping);
        assert!(source.bisect_batch_on_function_error, "{}", source.mapping);
        assert!(
            (0..=100).contains(&source.maximum_retry_attempts),
            "{}: bounded retries",
            source.mapping
        );
        assert!(
            (60..=86_400).contains(&source.maximum_record_age_seconds),
            "{}: bounded age",
            source.mapping
        );
        assert!(
            source.on_failure_queue_url.is_some(),
            "{}: on-failure destination",
            source.mapping
        );
    }
}
