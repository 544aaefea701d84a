//! SQS batch handling with `ReportBatchItemFailures` semantics (contract §2, "Nothing lost").
//!
//! The one place a message body becomes a function's typed input: validated by
//! [`parse_event`], taken apart into the handler's [`QueueInput`] (which refuses a type of
//! another queue), and authorized for its channel; only then is the handler called.
//!
//! Each record of a batch ends in exactly one of three ways:
//! - **applied** (or found already applied): the record is left out of the response, and Lambda
//!   deletes it;
//! - **rejected** (a permanent error: invalid body, type not for this queue, channel not
//!   permitted, or a domain rejection): the original body goes to `rejected-events` with the
//!   reason, and the record counts as handled;
//! - **failed** (a transient error: throttling, timeouts, contention that outlived its retries,
//!   or `rejected-events` itself unreachable): the record is reported as a batch item failure, SQS
//!   redelivers it after the visibility timeout, and the queue's redrive policy moves it to the
//!   DLQ if it never clears.
//!
//! One bad record never fails the batch. Records are processed concurrently (bounded); handlers
//! are idempotent and resolve races with conditional writes, so concurrency cannot lose updates.

use super::Deadline;
use crate::clock::now_ms;
use crate::config::ChannelAuthorization;
use crate::contract::{EventType, QueueInput, ReasonCode, RejectedEvent, Rejection, parse_event};
use crate::domain::timeline::{Entry, Strand};
use crate::queue::RejectedEvents;
use crate::store::Table;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::future::Future;

/// How many records (or coalesced writes) of one batch are in flight at once.
pub const CONCURRENCY: usize = 10;

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// State changed.
    Changed,
    /// Already applied (a redelivery) or superseded: nothing to change.
    Unchanged,
    /// Set aside until something it needs arrives (an event waiting for its order); it will be
    /// delivered again then, or moved to its queue's DLQ when its wait is over.
    Waiting,
}

impl From<crate::store::WriteOutcome> for Applied {
    fn from(outcome: crate::store::WriteOutcome) -> Self {
        match outcome {
            crate::store::WriteOutcome::Written => Applied::Changed,
            crate::store::WriteOutcome::Unchanged => Applied::Unchanged,
        }
    }
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Permanent: the event is refused for good and goes to `rejected-events`.
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// Transient: SQS should deliver it again.
    #[error("transient failure: {0}")]
    Transient(#[source] BoxError),
}

impl ApplyError {
    pub fn transient(error: impl Into<BoxError>) -> Self {
        ApplyError::Transient(error.into())
    }

    /// Keeps permanent and transient failures apart where a handler could not tell: a store
    /// request DynamoDB refused as invalid (`ValidationException`, e.g. an item over 400 KB)
    /// fails the same way on every delivery, so it is a rejection, not a retry.
    pub fn classified(self) -> Self {
        match self {
            ApplyError::Transient(error) => {
                match error
                    .downcast_ref::<crate::store::StoreError>()
                    .and_then(crate::store::StoreError::refused_as_invalid)
                {
                    Some(rejection) => ApplyError::Rejected(rejection),
                    None => ApplyError::Transient(error),
                }
            }
            rejected => rejected,
        }
    }
}

/// The SQS message an event came in: what a handler needs to set the message aside and deliver
/// it again later (an event that waits for its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    pub message_id: &'a str,
    /// The body, unchanged.
    pub body: &'a str,
    /// The sender the event was authorized as (the original sender of a message re-delivered by
    /// omnisync itself).
    pub sender_id: Option<&'a str>,
    /// When the event was first sent (milliseconds since the Unix epoch): a re-delivered
    /// message keeps the time of the first.
    pub first_sent_ms: i64,
}

/// Message attributes of a message omnisync delivers again (see [`Delivery`]). They are trusted
/// only when the sending principal is one of omnisync's own (`OMNISYNC_REDELIVERING_SENDERS`).
pub const ORIGINAL_SENDER_ATTRIBUTE: &str = "omnisync-original-sender";
pub const FIRST_SENT_ATTRIBUTE: &str = "omnisync-first-sent";

/// The domain side of one SQS-triggered function: its queue's typed input, and how it applies
/// one event.
pub trait EventHandler: Send + Sync {
    /// The queue's events, typed (see [`QueueInput`]).
    type Input: QueueInput;

    /// Applies one validated event. Must be idempotent: the same event may arrive many times.
    fn apply(
        &self,
        event: &Self::Input,
        delivery: &Delivery<'_>,
    ) -> impl Future<Output = Result<Applied, ApplyError>> + Send;

    /// Applies the admitted events of one batch, in the order they came: one result per event,
    /// `None` for an event not done by the deadline's cutoff. The default applies each event on
    /// its own, [`CONCURRENCY`] at a time. A handler whose events can touch one item overrides
    /// it to fold them into one write ([`super::coalesce::by_item`]).
    fn apply_batch<'a>(
        &'a self,
        events: &'a [Admitted<'a, Self::Input>],
        deadline: Deadline,
    ) -> impl Future<Output = Vec<Option<Result<Applied, ApplyError>>>> + Send + 'a {
        futures::stream::iter(events)
            .map(move |admitted| async move {
                deadline
                    .run(self.apply(&admitted.event, &admitted.delivery))
                    .await
            })
            .buffered(CONCURRENCY)
            .collect()
    }
}

/// One event of a batch admitted for its handler: the typed input and how it was delivered.
#[derive(Debug)]
pub struct Admitted<'a, I> {
    pub event: I,
    pub delivery: Delivery<'a>,
}

/// Validates, authorizes, applies and routes every record of an SQS batch.
pub struct SqsBatchProcessor<H> {
    handler: H,
    rejected: RejectedEvents,
    senders: ChannelAuthorization,
    /// Where the customers' timelines are recorded (`None`: not recorded, in unit tests).
    timeline: Option<Table>,
}

/// How one record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied(Applied),
    Rejected,
    Failed,
}

impl Outcome {
    fn metric(self) -> crate::metrics::Outcome {
        use crate::metrics::Outcome as Metric;
        match self {
            Outcome::Applied(Applied::Changed) => Metric::Applied,
            Outcome::Applied(Applied::Unchanged) => Metric::Unchanged,
            Outcome::Applied(Applied::Waiting) => Metric::Waiting,
            Outcome::Rejected => Metric::Rejected,
            Outcome::Failed => Metric::Retried,
        }
    }
}

/// A record admitted for its handler, with the fields its log lines carry.
type AdmittedRecord<'a, I> = (Admitted<'a, I>, LogFields<'a>);

/// How a record ended, with what the batch's metrics count it by.
struct Counted {
    outcome: Outcome,
    event_type: Option<EventType>,
    reason: Option<ReasonCode>,
}

impl Counted {
    fn unread(outcome: Outcome, reason: Option<ReasonCode>) -> Self {
        Counted {
            outcome,
            event_type: None,
            reason,
        }
    }
}

impl<H: EventHandler> SqsBatchProcessor<H> {
    pub fn new(handler: H, rejected: RejectedEvents, senders: ChannelAuthorization) -> Self {
        SqsBatchProcessor {
            handler,
            rejected,
            senders,
            timeline: None,
        }
    }

    /// Records every event that ends applied (or decided) in its customer's timeline, in
    /// `table` (contract §4, `timeline`): the batch layer does it for every function, so no
    /// handler can forget it.
    pub fn with_timeline(mut self, table: Table) -> Self {
        self.timeline = Some(table);
        self
    }

    /// Processes a whole batch; the response lists exactly the records SQS must deliver again.
    /// Records not done by the deadline's cutoff are among them.
    ///
    /// Every record is admitted (or refused) first; the refused go to `rejected-events` in
    /// batches while the handler applies the admitted ones, and the handler's own rejections
    /// follow in one more round of batches.
    pub async fn process(&self, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let started = std::time::Instant::now();
        let retries_before = crate::metrics::contention_retries();
        let records = event.records;
        let mut counted: Vec<Option<Counted>> = records.iter().map(|_| None).collect();
        let mut admitted = Vec::new();
        let mut admitted_fields = Vec::new();
        let mut refused = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let body = record.body.as_deref().unwrap_or_default();
            match self.admit(record, body) {
                Ok((event, fields)) => {
                    admitted.push(event);
                    admitted_fields.push((i, fields));
                }
                Err((rejection, event_type)) => {
                    let message_id = record.message_id.as_deref().unwrap_or_default();
                    tracing::info!(message_id, outcome = "rejected", reason_code = %rejection.reason, detail = %rejection.detail);
                    refused.push((i, rejection, event_type));
                }
            }
        }
        let (applied, refused_sent) = futures::join!(
            self.handler.apply_batch(&admitted, deadline),
            self.reject_all(&records, &refused, deadline),
        );
        for ((i, rejection, event_type), outcome) in refused.iter().zip(refused_sent) {
            counted[*i] = Some(Counted {
                outcome,
                event_type: *event_type,
                reason: Some(rejection.reason),
            });
        }
        let applied: Vec<Option<Result<Applied, ApplyError>>> = applied
            .into_iter()
            .map(|result| result.map(|r| r.map_err(ApplyError::classified)))
            .collect();
        let recorded = self.record_timelines(&admitted, &applied, deadline).await;
        let mut rejected_by_handler = Vec::new();
        for (((i, fields), result), recorded) in admitted_fields.iter().zip(applied).zip(recorded) {
            let event_type = Some(fields.event_type);
            let result = match (result, recorded) {
                (Some(_), Err(error)) => Some(Err(ApplyError::Transient(error))),
                (result, _) => result,
            };
            let outcome = match result {
                Some(Ok(applied)) => {
                    fields.info(match applied {
                        Applied::Changed => "applied",
                        Applied::Unchanged => "unchanged",
                        Applied::Waiting => "waiting",
                    });
                    Outcome::Applied(applied)
                }
                Some(Err(ApplyError::Rejected(rejection))) => {
                    tracing::info!(
                        message_id = fields.message_id, event_id = fields.event_id, event_type = fields.event_type.as_str(), channel = fields.channel,
                        outcome = "rejected", reason_code = %rejection.reason, detail = %rejection.detail
                    );
                    rejected_by_handler.push((*i, rejection, event_type));
                    continue;
                }
                Some(Err(ApplyError::Transient(error))) => {
                    tracing::warn!(
                        message_id = fields.message_id, event_id = fields.event_id, event_type = fields.event_type.as_str(), channel = fields.channel,
                        outcome = "retry", error = %error
                    );
                    Outcome::Failed
                }
                None => {
                    tracing::warn!(
                        message_id = fields.message_id,
                        outcome = "retry",
                        "not done before the invocation's deadline"
                    );
                    Outcome::Failed
                }
            };
            counted[*i] = Some(Counted {
                outcome,
                event_type,
                reason: None,
            });
        }
        let sent = self
            .reject_all(&records, &rejected_by_handler, deadline)
            .await;
        for ((i, rejection, event_type), outcome) in rejected_by_handler.iter().zip(sent) {
            counted[*i] = Some(Counted {
                outcome,
                event_type: *event_type,
                reason: Some(rejection.reason),
            });
        }

        let mut metrics = crate::metrics::BatchMetrics::default();
        let mut response = SqsBatchResponse::default();
        for (record, counted) in records.iter().zip(counted) {
            // Every record was counted above; one that was not is delivered again.
            let Counted {
                outcome,
                event_type,
                reason,
            } = counted.unwrap_or(Counted::unread(Outcome::Failed, None));
            metrics.record(
                event_type.map(EventType::as_str),
                outcome.metric(),
                reason.map(ReasonCode::as_str),
            );
            if outcome == Outcome::Failed {
                let mut failure = BatchItemFailure::default();
                // Lambda treats an empty identifier as a failure of the whole batch, which is the
                // safe reading for a record we could not even identify.
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        metrics.contention_retries = crate::metrics::contention_retries() - retries_before;
        metrics.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        metrics.emit();
        response
    }

    /// Records the events whose timeline entry is due (applied, found applied, or a decided
    /// rejection) with one write per id and strand; per admitted event, `Err` when its entry
    /// could not be written (the record is then delivered again: applying it again changes
    /// nothing, and recording it again writes the same entry).
    async fn record_timelines(
        &self,
        admitted: &[Admitted<'_, H::Input>],
        applied: &[Option<Result<Applied, ApplyError>>],
        deadline: Deadline,
    ) -> Vec<Result<(), BoxError>> {
        let mut recorded: Vec<Result<(), BoxError>> = admitted.iter().map(|_| Ok(())).collect();
        let Some(table) = &self.timeline else {
            return recorded;
        };
        let mut groups: BTreeMap<(String, Strand), (Vec<usize>, Vec<Entry>)> = BTreeMap::new();
        for (j, (event, result)) in admitted.iter().zip(applied).enumerate() {
            let due = match result {
                Some(Ok(Applied::Changed | Applied::Unchanged)) => true,
                Some(Err(ApplyError::Rejected(rejection))) => rejection.decided,
                _ => false,
            };
            let Some(about) = event.event.about().filter(|_| due) else {
                continue;
            };
            let Some(strand) = Strand::of(about.event_type) else {
                continue;
            };
            let group = groups
                .entry((about.customer_id.to_owned(), strand))
                .or_default();
            group.0.push(j);
            group.1.push(Entry {
                key: about.key.clone(),
                event_type: about.event_type,
                channel: about.channel,
                store_id: about.store_id.map(str::to_owned),
                reference: about.reference.map(str::to_owned),
            });
        }
        let writes = futures::stream::iter(groups)
            .map(|((id, strand), (members, entries))| async move {
                let written = deadline
                    .run(table.record_timeline(&id, strand, &entries))
                    .await;
                (members, written)
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for (members, written) in writes {
            for j in members {
                recorded[j] = match &written {
                    Some(Ok(())) => Ok(()),
                    Some(Err(error)) => Err(format!("timeline not recorded: {error}").into()),
                    None => Err("timeline not recorded before the invocation's deadline".into()),
                };
            }
        }
        recorded
    }

    /// Everything that decides, before any state is touched, whether a record is an event this
    /// function may apply.
    fn admit<'a>(
        &self,
        record: &'a SqsMessage,
        body: &'a str,
    ) -> Result<AdmittedRecord<'a, H::Input>, (Rejection, Option<EventType>)> {
        let sent_at_ms = record
            .attributes
            .get("SentTimestamp")
            .and_then(|t| t.parse::<i64>().ok());
        let sending = record.attributes.get("SenderId").map(String::as_str);
        let attribute = |name: &str| {
            record
                .message_attributes
                .get(name)
                .and_then(|a| a.string_value.as_deref())
        };
        // A message omnisync delivers again carries its original sender and send time; only
        // omnisync's own principals are believed.
        let redelivered = self.senders.is_redelivering(sending);
        let sender = match attribute(ORIGINAL_SENDER_ATTRIBUTE) {
            Some(original) if redelivered => Some(original),
            _ => sending,
        };
        let first_sent_ms = attribute(FIRST_SENT_ATTRIBUTE)
            .filter(|_| redelivered)
            .and_then(|t| t.parse::<i64>().ok())
            .or(sent_at_ms)
            .unwrap_or_else(now_ms);
        let event = parse_event(body, sent_at_ms).map_err(|rejection| (rejection, None))?;
        let event_type = Some(event.event_type());
        let fields = LogFields {
            message_id: record.message_id.as_deref().unwrap_or_default(),
            event_id: event.event_id().to_owned(),
            event_type: event.event_type(),
            channel: event.channel.as_str(),
        };
        let event = H::Input::from_event(event).map_err(|rejection| (rejection, event_type))?;
        if !self.senders.permits(sender, event.channel()) {
            let rejection = Rejection::new(
                ReasonCode::ChannelNotPermitted,
                format!(
                    "sender `{}` may not send events for `channel` `{}`",
                    sender.unwrap_or("<none>"),
                    event.channel()
                ),
            );
            return Err((rejection, event_type));
        }
        let delivery = Delivery {
            message_id: fields.message_id,
            body,
            sender_id: sender,
            first_sent_ms,
        };
        Ok((Admitted { event, delivery }, fields))
    }

    /// Sends the rejections of `refused` (record index, reason) to `rejected-events` in batches,
    /// by the deadline's cutoff: per rejection, [`Outcome::Rejected`] once it is on the queue,
    /// else [`Outcome::Failed`] (the record is delivered again and refused again).
    async fn reject_all(
        &self,
        records: &[SqsMessage],
        refused: &[(usize, Rejection, Option<EventType>)],
        deadline: Deadline,
    ) -> Vec<Outcome> {
        if refused.is_empty() {
            return Vec::new();
        }
        let rejected: Vec<RejectedEvent> = refused
            .iter()
            .map(|(i, rejection, _)| {
                let record = &records[*i];
                let source_queue = record
                    .event_source_arn
                    .as_deref()
                    .and_then(|arn| arn.rsplit(':').next())
                    .unwrap_or_default();
                RejectedEvent::new(
                    rejection,
                    source_queue,
                    record.message_id.as_deref().unwrap_or_default(),
                    record.body.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        let sent = deadline
            .run(self.rejected.send_all(&rejected))
            .await
            .unwrap_or_else(|| vec![false; rejected.len()]);
        rejected
            .iter()
            .zip(sent)
            .map(|(rejected, sent)| {
                if sent {
                    Outcome::Rejected
                } else {
                    tracing::warn!(
                        message_id = rejected.message_id,
                        outcome = "retry",
                        "could not record a rejection"
                    );
                    Outcome::Failed
                }
            })
            .collect()
    }
}

/// The fields every per-event log line carries. Never the payload: it holds customer data.
struct LogFields<'a> {
    message_id: &'a str,
    event_id: String,
    event_type: EventType,
    channel: &'static str,
}

impl LogFields<'_> {
    fn info(&self, outcome: &str) {
        tracing::info!(
            message_id = self.message_id,
            event_id = self.event_id,
            event_type = self.event_type.as_str(),
            channel = self.channel,
            outcome
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{CartEvent, CustomerEvent};
    use crate::queue::Publisher;
    use std::time::Duration;

    /// A handler whose `SLOW` SKU takes far longer than the deadline allows.
    struct Slow;

    impl EventHandler for Slow {
        type Input = CustomerEvent<CartEvent>;

        async fn apply(
            &self,
            event: &Self::Input,
            _delivery: &Delivery<'_>,
        ) -> Result<Applied, ApplyError> {
            if let CartEvent::ItemAdded { sku, .. } = &event.payload
                && sku == "SLOW"
            {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(Applied::Changed)
        }
    }

    fn record(message_id: &str, sku: &str) -> serde_json::Value {
        let body = serde_json::json!({
            "event_id": message_id, "type": "cart.item_added", "schema_version": 1,
            "customer_id": "c-1", "channel": "web", "occurred_at": "2026-11-20T09:00:00Z",
            "payload": {"sku": sku, "quantity": 1}
        });
        serde_json::json!({
            "messageId": message_id, "body": body.to_string(), "attributes": {},
            "messageAttributes": {}, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:1:omnisync-cart-events"
        })
    }

    #[tokio::test]
    async fn records_not_done_by_the_deadline_are_reported_and_the_batch_answers_in_time() {
        // Never called: no record here is rejected.
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .build(),
        );
        let processor = SqsBatchProcessor::new(
            Slow,
            RejectedEvents::new(Publisher::new(sqs), "http://unused"),
            ChannelAuthorization::default(),
        );
        let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
            record("m-1", "A"), record("m-2", "SLOW"), record("m-3", "B"),
        ]}))
        .unwrap();
        let answered = tokio::time::timeout(
            Duration::from_secs(10),
            processor.process(event, Deadline::after(Duration::from_millis(500))),
        )
        .await
        .expect("the batch answers before its deadline, not when the slow record ends");
        let failed: Vec<&str> = answered
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m-2"], "only the record not done");
    }
}
