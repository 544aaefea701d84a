//! The SQS side of the runner (see the module docs of `runner`).

use crate::functions::JsonFunction;
use crate::stack::SqsSource;
use anyhow::{Context, Result};
use aws_lambda_events::event::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Poller {
    pub sqs: aws_sdk_sqs::Client,
    pub source: SqsSource,
    pub region: String,
    pub function: Arc<dyn JsonFunction>,
}

impl Poller {
    pub async fn run(self) {
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
        let event = self.lambda_event(&messages);
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
                let response: SqsBatchResponse =
                    serde_json::from_value(response).context("reading the batch response")?;
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
