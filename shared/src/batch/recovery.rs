//! Recovering what a stream mapping gave up on (contract §2, "Nothing lost").
//!
//! A stream mapping that gives up on records (retries exhausted, or older than
//! `MaximumRecordAgeInSeconds`) moves on and describes them on its on-failure queue. The records
//! stay in the stream for 24 hours only, and what they would have caused (a ledger entry, a
//! published view) is otherwise lost for good. So the function that gave up also consumes its
//! failure queue, with this processor, and repairs what the records touched **from the table's
//! state**, not by replaying them:
//!
//! - Lambda's on-failure record (`DDBStreamBatchInfo`: shard, first and last sequence number):
//!   the range is read back from the stream for the ids it touched, and each id is recovered
//!   ([`Recover::recover`]). A record may be recovered long after it was written, and its image
//!   may be stale by then; the state is not.
//! - When the range is no longer in the stream ([`RangeRead::Gone`]), nobody can know whom it
//!   touched, so every customer is recovered: a **sweep**, a page of the table at a time.
//! - A sweep message, `{"omnisync_recovery": "sweep", "after": null | {"pk", "sk"}}`, starts
//!   or continues one: sent by a schedule, by the operator (`omnisync reconcile`), or by this
//!   processor when a sweep nears the invocation's deadline (it sends where it got to, then
//!   ends the message), so a sweep of any size finishes across invocations.
//! - A customers message, `{"omnisync_recovery": "customers", "ids": [...]}`: the ids a message
//!   failed to recover while it recovered others. **Each id is its own unit of work**: a message
//!   that recovered some of its ids and failed on the rest sends the rest as a new message and
//!   is done, so what was recovered stays recovered, and a store that fails one request in
//!   twenty cannot keep a range of forty customers from ever getting through (it would if the
//!   whole range had to succeed in one go). Each such message holds strictly fewer ids than the
//!   one it came from (a sweep hands on at most one step's ids and moves on), so the chain ends;
//!   a message whose every id fails is retried by SQS like any other, up to the DLQ.
//!
//! Recovering an id must be idempotent and derive everything from stored state: the ledger
//! credits the entries the stored orders and refunds imply that are missing (entries are keyed
//! by id, written at most once); the fan-out publishes the current view with a new version. So a
//! recovery that runs twice, or races the live stream consumer, changes nothing more.
//!
//! A message that fails (the fault that made the mapping give up may still be there) is
//! reported as a batch item failure and comes back after the visibility timeout, until the
//! failure queue's redrive policy moves it to the failure queue's DLQ, from which
//! `omnisync redrive` sends it back.

use super::{BoxError, Deadline};
use crate::queue::Publisher;
use crate::store::stream_range::{RangeRead, StreamRange, StreamReader};
use crate::store::{ScanPosition, Table};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

/// How many ids are recovered at once.
const PARALLEL: usize = 8;

/// What a function recovers for one id, from stored state only.
pub trait Recover: Send + Sync {
    /// The sort-key prefix of the items a sweep looks for (`""`: any item of a customer).
    fn sweep_prefix(&self) -> &'static str;

    /// Brings what the function derives for `id` up to date with the stored state. Idempotent.
    fn recover(&self, id: &str) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A message on a failure queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryMessage {
    /// Lambda gave up on these stream records.
    GaveUp(StreamRange),
    /// Recover every id, from `after` on.
    Sweep { after: Option<ScanPosition> },
    /// Recover these ids (the ones an earlier message failed on).
    Customers { ids: BTreeSet<String> },
}

/// The body of a message this processor (or the operator, or a schedule) writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "omnisync_recovery", rename_all = "snake_case")]
pub enum RecoveryBody {
    Sweep {
        #[serde(default)]
        after: Option<ScanPosition>,
    },
    Customers {
        ids: BTreeSet<String>,
    },
}

impl RecoveryBody {
    /// A sweep from after `position` (`None`: from the start).
    pub fn sweep(after: Option<ScanPosition>) -> Self {
        RecoveryBody::Sweep { after }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("not a stream on-failure record nor a sweep message: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Failed(#[from] BoxError),
}

impl RecoveryMessage {
    /// Reads a failure queue's message body.
    pub fn parse(body: &str) -> Result<Self, RecoveryError> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| RecoveryError::Unreadable(e.to_string()))?;
        if value.get("omnisync_recovery").is_some() {
            let body: RecoveryBody = serde_json::from_value(value)
                .map_err(|e| RecoveryError::Unreadable(e.to_string()))?;
            return Ok(match body {
                RecoveryBody::Sweep { after } => RecoveryMessage::Sweep { after },
                RecoveryBody::Customers { ids } => RecoveryMessage::Customers { ids },
            });
        }
        let info = &value["DDBStreamBatchInfo"];
        let field = |name: &str| {
            info[name]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| RecoveryError::Unreadable(format!("no DDBStreamBatchInfo.{name}")))
        };
        Ok(RecoveryMessage::GaveUp(StreamRange {
            stream_arn: field("streamArn")?,
            shard_id: field("shardId")?,
            start_sequence: field("startSequenceNumber")?,
            end_sequence: field("endSequenceNumber")?,
        }))
    }
}

/// Whether an invocation's event is an SQS batch from the queue at `queue_url` (an SQS record's
/// `eventSourceARN` ends with the queue's name, the last segment of its URL).
pub fn comes_from(event: &Value, queue_url: &str) -> bool {
    let name = queue_url.rsplit('/').next().unwrap_or_default();
    event["Records"][0]["eventSource"] == "aws:sqs"
        && event["Records"][0]["eventSourceARN"]
            .as_str()
            .is_some_and(|arn| !name.is_empty() && arn.rsplit(':').next() == Some(name))
}

/// Consumes a failure queue (see the module docs).
pub struct RecoveryProcessor<R> {
    pub table: Table,
    pub streams: StreamReader,
    pub publisher: Publisher,
    /// The failure queue itself, where an unfinished sweep sends where it got to.
    pub queue_url: String,
    pub recover: R,
}

impl<R: Recover> RecoveryProcessor<R> {
    /// Handles every message in order; one that fails or is not done by the deadline is
    /// reported for redelivery, and so is every one after the deadline.
    pub async fn process(&self, batch: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in batch.records {
            let id = record.message_id.clone().unwrap_or_default();
            let body = record.body.as_deref().unwrap_or_default();
            let outcome = if deadline.reached() {
                None
            } else {
                deadline.run(self.handle(body, deadline)).await
            };
            let failed = match outcome {
                Some(Ok(())) => None,
                Some(Err(error)) => Some(error.to_string()),
                None => Some("not done before the invocation's deadline".to_owned()),
            };
            if let Some(error) = failed {
                tracing::warn!(message_id = %id, error, outcome = "retry", "recovery failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    async fn handle(&self, body: &str, deadline: Deadline) -> Result<(), RecoveryError> {
        match RecoveryMessage::parse(body)? {
            RecoveryMessage::GaveUp(range) => {
                match self
                    .streams
                    .customers_in(&range)
                    .await
                    .map_err(|e| RecoveryError::Failed(e.into()))?
                {
                    RangeRead::Customers(ids) => {
                        tracing::info!(shard = %range.shard_id, first = %range.start_sequence, last = %range.end_sequence, ids = ids.len(), outcome = "recovering");
                        self.recover_or_hand_on(ids).await
                    }
                    RangeRead::Gone => {
                        tracing::warn!(shard = %range.shard_id, first = %range.start_sequence, last = %range.end_sequence, outcome = "sweeping", "the records are no longer in the stream: recovering every customer");
                        self.sweep(None, deadline).await
                    }
                }
            }
            RecoveryMessage::Sweep { after } => self.sweep(after, deadline).await,
            RecoveryMessage::Customers { ids } => self.recover_or_hand_on(ids).await,
        }
    }

    /// Recovers each id; the ones that failed, with their errors.
    async fn recover_each(&self, ids: BTreeSet<String>) -> Vec<(String, BoxError)> {
        futures::stream::iter(ids)
            .map(|id| async move {
                match self.recover.recover(&id).await {
                    Ok(()) => None,
                    Err(error) => Some((id, error)),
                }
            })
            .buffer_unordered(PARALLEL)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// Recovers each id, and hands the ones that failed on as a new message when others were
    /// recovered (see the module docs). When every id failed, the message fails as a whole and
    /// SQS brings it back.
    async fn recover_or_hand_on(&self, ids: BTreeSet<String>) -> Result<(), RecoveryError> {
        let count = ids.len();
        let mut failed = self.recover_each(ids).await;
        if failed.len() == count
            && let Some((_, error)) = failed.pop()
        {
            return Err(RecoveryError::Failed(error));
        }
        self.hand_on(failed).await
    }

    /// Sends the ids that failed (if any) as a customers message.
    async fn hand_on(&self, failed: Vec<(String, BoxError)>) -> Result<(), RecoveryError> {
        if failed.is_empty() {
            return Ok(());
        }
        for (id, error) in &failed {
            tracing::warn!(
                id,
                error,
                outcome = "handed_on",
                "recovery failed; sent again"
            );
        }
        let ids = failed.into_iter().map(|(id, _)| id).collect();
        self.send(&RecoveryBody::Customers { ids }).await
    }

    async fn send(&self, body: &RecoveryBody) -> Result<(), RecoveryError> {
        let body = serde_json::to_string(body).map_err(|e| RecoveryError::Failed(e.into()))?;
        self.publisher
            .send_body(&self.queue_url, &body, &[])
            .await
            .map_err(|e| RecoveryError::Failed(e.into()))
    }

    /// Recovers the customers of a page, a few at a time, page after page. When the time left
    /// might not be enough for the next few, it sends where it got to (the key of the last item
    /// whose customer is recovered) as a new sweep message and ends: a sweep makes progress under
    /// any deadline, and finishes across as many invocations as it takes.
    async fn sweep(
        &self,
        mut after: Option<ScanPosition>,
        deadline: Deadline,
    ) -> Result<(), RecoveryError> {
        let mut recovered = 0usize;
        // The longest step so far (a page read, or recovering a few customers); before each
        // step there must be time for two of those.
        let mut slowest = Duration::ZERO;
        let mut done: Option<ScanPosition> = after.clone();
        loop {
            let read_at = Instant::now();
            let page = self
                .table
                .customers_page(self.recover.sweep_prefix(), after.as_ref())
                .await
                .map_err(|e| RecoveryError::Failed(e.into()))?;
            slowest = slowest.max(read_at.elapsed());
            for chunk in page.items.chunks(PARALLEL) {
                if !Self::time_for(deadline, slowest) {
                    return self.continue_from(done, recovered).await;
                }
                let started = Instant::now();
                let ids: BTreeSet<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
                recovered += ids.len();
                // What failed is handed on as its own message; the sweep goes on.
                let failed = self.recover_each(ids).await;
                self.hand_on(failed).await?;
                slowest = slowest.max(started.elapsed());
                done = chunk.last().map(|(_, position)| position.clone());
            }
            let Some(next) = page.next else {
                tracing::info!(recovered, outcome = "swept");
                return Ok(());
            };
            done = Some(next.clone());
            if !Self::time_for(deadline, slowest) {
                return self.continue_from(done, recovered).await;
            }
            after = Some(next);
        }
    }

    /// Whether there is time for another step like one that took `took`.
    fn time_for(deadline: Deadline, took: Duration) -> bool {
        deadline.cutoff().is_none_or(|cutoff| {
            cutoff.saturating_duration_since(Instant::now()) > took * 2 + Duration::from_millis(500)
        })
    }

    /// Sends the rest of a sweep, from after `position` (`None`: from the start).
    async fn continue_from(
        &self,
        position: Option<ScanPosition>,
        recovered: usize,
    ) -> Result<(), RecoveryError> {
        self.send(&RecoveryBody::sweep(position)).await?;
        tracing::info!(recovered, outcome = "sweep continues");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_lambdas_on_failure_record() {
        let body = json!({
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": "shardId-1", "startSequenceNumber": "100", "endSequenceNumber": "250",
                "batchSize": 2, "streamArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x"
            }
        });
        assert_eq!(
            RecoveryMessage::parse(&body.to_string()).unwrap(),
            RecoveryMessage::GaveUp(StreamRange {
                stream_arn: "arn:aws:dynamodb:us-east-1:1:table/t/stream/x".into(),
                shard_id: "shardId-1".into(),
                start_sequence: "100".into(),
                end_sequence: "250".into(),
            })
        );
    }

    #[test]
    fn reads_a_sweep_and_writes_one_back_the_same() {
        assert_eq!(
            RecoveryMessage::parse(r#"{"omnisync_recovery": "sweep"}"#).unwrap(),
            RecoveryMessage::Sweep { after: None }
        );
        let position = ScanPosition {
            pk: "CUSTOMER#c-9".into(),
            sk: "ORDER#o-1".into(),
        };
        let body = serde_json::to_string(&RecoveryBody::sweep(Some(position.clone()))).unwrap();
        assert_eq!(
            RecoveryMessage::parse(&body).unwrap(),
            RecoveryMessage::Sweep {
                after: Some(position)
            }
        );
    }

    #[test]
    fn reads_the_customers_it_hands_on() {
        let ids: BTreeSet<String> = ["c-1".to_owned(), "c-2".to_owned()].into();
        let body = serde_json::to_string(&RecoveryBody::Customers { ids: ids.clone() }).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"omnisync_recovery": "customers", "ids": ["c-1", "c-2"]})
        );
        assert_eq!(
            RecoveryMessage::parse(&body).unwrap(),
            RecoveryMessage::Customers { ids }
        );
    }

    #[test]
    fn tells_its_queue_from_another_by_name() {
        let from =
            |arn: &str| json!({"Records": [{"eventSource": "aws:sqs", "eventSourceARN": arn}]});
        let url = "https://sqs.us-east-1.amazonaws.com/1/p-loyalty-stream-failures";
        assert!(comes_from(
            &from("arn:aws:sqs:us-east-1:1:p-loyalty-stream-failures"),
            url
        ));
        assert!(!comes_from(
            &from("arn:aws:sqs:us-east-1:1:p-loyalty-events"),
            url
        ));
        assert!(!comes_from(
            &json!({"Records": [{"eventSource": "aws:dynamodb"}]}),
            url
        ));
    }

    #[test]
    fn anything_else_is_unreadable() {
        for body in [
            "not json",
            "{}",
            r#"{"DDBStreamBatchInfo": {"shardId": "s"}}"#,
            r#"{"omnisync_recovery": "everything"}"#,
            r#"{"omnisync_recovery": "customers"}"#,
        ] {
            assert!(
                matches!(
                    RecoveryMessage::parse(body),
                    Err(RecoveryError::Unreadable(_))
                ),
                "{body}"
            );
        }
    }
}
