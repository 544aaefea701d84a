//! Processing a DynamoDB Streams batch in shard order.
//!
//! Records of one item arrive in order on one shard, and Lambda resumes a shard from the sequence
//! number a response names. So a stream function works through its units of work (a record, or
//! all of one customer's records) in order, stops at the first that fails, and names the first
//! sequence number of that unit: everything before it is done, and everything from it on is
//! delivered again (re-applying a done unit is a no-op, since every write is idempotent).

use super::Deadline;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use std::fmt::Display;
use std::future::Future;

/// Applies `units` (each with the sequence number to resume from if it fails) in order, and stops
/// at the first failure, or at the deadline's cutoff (the unit not done is reported like a
/// failure, so Lambda resumes there).
pub async fn in_shard_order<T, E, F, Fut>(
    units: impl IntoIterator<Item = (String, T)>,
    deadline: Deadline,
    mut apply: F,
) -> DynamoDbEventResponse
where
    E: Display,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    use crate::metrics::{BatchMetrics, Outcome};
    let started = std::time::Instant::now();
    let retries_before = crate::metrics::contention_retries();
    let mut metrics = BatchMetrics::default();
    let mut response = DynamoDbEventResponse::default();
    let mut units = units.into_iter();
    for (sequence, unit) in units.by_ref() {
        let failed = match deadline.run(apply(unit)).await {
            Some(Ok(())) => None,
            Some(Err(error)) => Some(error.to_string()),
            None => Some("not done before the invocation's deadline".to_owned()),
        };
        if let Some(error) = failed {
            tracing::warn!(sequence, error, outcome = "retry", "stream record failed");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence);
            response.batch_item_failures.push(failure);
            metrics.record(Some(STREAM_UNIT), Outcome::Retried, None);
            break;
        }
        metrics.record(Some(STREAM_UNIT), Outcome::Applied, None);
    }
    // The units after a failure are delivered again with it.
    for _ in units {
        metrics.record(Some(STREAM_UNIT), Outcome::Retried, None);
    }
    metrics.contention_retries = crate::metrics::contention_retries() - retries_before;
    metrics.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    metrics.emit();
    response
}

/// The `EventType` a stream batch's units are counted under in the metrics.
pub const STREAM_UNIT: &str = "stream";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_at_the_first_failure_and_names_it() {
        let mut applied = Vec::new();
        let units = [("1", 1), ("2", 2), ("3", 3)].map(|(s, n)| (s.to_owned(), n));
        let response = in_shard_order(units, Deadline::none(), |n| {
            applied.push(n);
            async move { if n == 2 { Err("boom") } else { Ok(()) } }
        })
        .await;
        assert_eq!(applied, [1, 2], "nothing after the failure");
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, [Some("2".to_owned())]);
    }

    #[tokio::test]
    async fn a_clean_batch_reports_nothing() {
        let units = [("1".to_owned(), ())];
        let response =
            in_shard_order(units, Deadline::none(), |()| async { Ok::<(), &str>(()) }).await;
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn at_the_deadline_the_unit_not_done_is_reported_and_nothing_after_it_runs() {
        let mut started = Vec::new();
        let units = [("1", 0u64), ("2", 5_000), ("3", 0)].map(|(s, n)| (s.to_owned(), n));
        let deadline = Deadline::after(std::time::Duration::from_millis(250));
        let response = in_shard_order(units, deadline, |millis| {
            started.push(millis);
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
                Ok::<(), &str>(())
            }
        })
        .await;
        assert_eq!(
            started,
            [0, 5_000],
            "the unit after the cut-off one never starts"
        );
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, [Some("2".to_owned())]);
    }
}
