//! The local event-source runner: what Lambda's SQS event source mapping does, done against the
//! local endpoint, because moto never runs Lambda code.
//!
//! For every mapping in the deployed template it runs pollers that
//! 1. long-poll the queue for up to `BatchSize` (at most 10) messages, asking for every system
//!    and message attribute, as Lambda does;
//! 2. build the SQS event JSON Lambda sends (`Records[].messageId`, `receiptHandle`, `body`,
//!    `attributes`, `messageAttributes`, `md5OfBody`, `eventSource`, `eventSourceARN`,
//!    `awsRegion`) and deserialize it into the same `SqsEvent` the deployed handler receives;
//! 3. invoke the function's handler in-process;
//! 4. delete what succeeded; with `ReportBatchItemFailures`, the listed failures stay on the
//!    queue and reappear after the visibility timeout (so the redrive policy counts them); if the
//!    invocation fails, or the response names an identifier that is not in the batch, nothing is
//!    deleted, as in Lambda.
//!
//! Differences from real Lambda, on purpose: no batching window across several receives (one
//! receive is one batch), a fixed number of concurrent pollers per mapping instead of Lambda's
//! scaling, the handler runs in this process instead of a `provided.al2023` sandbox, and the
//! function timeout is not enforced.

use crate::functions::{self, SqsFunction};
use crate::stack::{EventSource, Manifest};
use anyhow::{Context, Result};
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use omnisync::aws::Clients;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Running pollers; dropping the runner stops them.
pub struct Runner {
    tasks: Vec<JoinHandle<()>>,
}

impl Runner {
    /// Starts `pollers` concurrent pollers for every event source mapping of the manifest.
    /// The functions are built from `clients`; the pollers use `clients.sqs` too.
    pub fn start(manifest: &Manifest, clients: &Clients, pollers: usize) -> Result<Runner> {
        let sqs = clients.sqs.clone();
        let mut tasks = Vec::new();
        for source in &manifest.event_sources {
            let spec = manifest.functions.get(&source.function).with_context(|| {
                format!(
                    "mapping {} names unknown function {}",
                    source.mapping, source.function
                )
            })?;
            let function = functions::build(&source.function, clients, &spec.environment)?;
            for _ in 0..pollers.max(1) {
                let poller = Poller {
                    sqs: sqs.clone(),
                    source: source.clone(),
                    region: manifest.region.clone(),
                    function: Arc::clone(&function),
                };
                tasks.push(tokio::spawn(poller.run()));
            }
        }
        Ok(Runner { tasks })
    }

    pub fn stop(self) {}
}

impl Drop for Runner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Poller {
    sqs: aws_sdk_sqs::Client,
    source: EventSource,
    region: String,
    function: Arc<dyn SqsFunction>,
}

impl Poller {
    async fn run(self) {
        loop {
            if let Err(error) = self.poll_once().await {
                tracing::warn!(mapping = %self.source.mapping, error = format!("{error:#}"), "poll failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    async fn poll_once(&self) -> Result<()> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.source.queue_url)
            .max_number_of_messages(self.source.batch_size.clamp(1, 10) as i32)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .context("ReceiveMessage")?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(());
        }
        let event: SqsEvent = serde_json::from_value(self.lambda_event(&messages))
            .context("building the SQS event")?;
        let batch_ids: HashSet<&str> = messages
            .iter()
            .filter_map(|m| m.message_id.as_deref())
            .collect();
        let failed: HashSet<String> = match self.function.invoke(event).await {
            Err(error) => {
                tracing::warn!(mapping = %self.source.mapping, %error, "invocation failed; the whole batch will be redelivered");
                return Ok(());
            }
            Ok(_) if !self.source.report_batch_item_failures => HashSet::new(),
            Ok(response) => {
                let failed: HashSet<String> = response
                    .batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier)
                    .collect();
                if failed.iter().any(|id| !batch_ids.contains(id.as_str())) {
                    tracing::warn!(mapping = %self.source.mapping, "response names an unknown item; the whole batch will be redelivered");
                    return Ok(());
                }
                failed
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| {
                m.message_id
                    .as_deref()
                    .is_some_and(|id| !failed.contains(id))
            })
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty() {
            let deleted = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.source.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("DeleteMessageBatch")?;
            if !deleted.failed.is_empty() {
                tracing::warn!(mapping = %self.source.mapping, failed = deleted.failed.len(), "some deletes failed; those messages will be redelivered");
            }
        }
        Ok(())
    }

    /// The JSON Lambda sends for an SQS batch.
    fn lambda_event(&self, messages: &[Message]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
                    .collect();
                let message_attributes: serde_json::Map<String, Value> = m
                    .message_attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| {
                        (
                            name.clone(),
                            json!({
                                "stringValue": value.string_value,
                                "stringListValues": [],
                                "binaryListValues": [],
                                "dataType": value.data_type,
                            }),
                        )
                    })
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "messageAttributes": message_attributes,
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.source.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        json!({ "Records": records })
    }
}
