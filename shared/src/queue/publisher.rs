//! Sending one JSON message to one queue. Every outbound message goes through here, so encoding
//! and error context are the same for rejections, view updates and notifications.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not encode a message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not send to {queue_url}: {}", aws_sdk_sqs::error::DisplayErrorContext(.source))]
    Send {
        queue_url: String,
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },
}

/// A message attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    String(&'a str),
    Number(u64),
}

/// Sends messages to SQS queues. Cheap to clone (the client is shared).
#[derive(Debug, Clone)]
pub struct Publisher {
    sqs: aws_sdk_sqs::Client,
}

impl Publisher {
    pub fn new(sqs: aws_sdk_sqs::Client) -> Self {
        Publisher { sqs }
    }

    /// Encodes `message` as JSON and sends it, with `attributes` as string message attributes.
    pub async fn publish<T: Serialize>(
        &self,
        queue_url: &str,
        message: &T,
        attributes: &[(&str, Attribute<'_>)],
    ) -> Result<(), PublishError> {
        self.send_body(queue_url, &serde_json::to_string(message)?, attributes)
            .await
    }

    /// Encodes `message` and sends it to a FIFO queue in `group_id`, with an explicit
    /// deduplication id: SQS drops any copy with the same id sent within its 5-minute
    /// deduplication window, so a send retried after a lost response reaches consumers once.
    pub async fn publish_fifo<T: Serialize>(
        &self,
        queue_url: &str,
        message: &T,
        group_id: &str,
        deduplication_id: &str,
    ) -> Result<(), PublishError> {
        let body = serde_json::to_string(message)?;
        self.send(queue_url, &body, &[], Some((group_id, deduplication_id)))
            .await
    }

    /// Sends up to 10 messages to a FIFO queue in one `SendMessageBatch`, each `(message, group
    /// id, deduplication id)`. Returns the indexes of the entries SQS did not accept (the others
    /// are on the queue); an `Err` means none may have been.
    pub async fn publish_fifo_batch<T: Serialize>(
        &self,
        queue_url: &str,
        messages: &[(T, String, String)],
    ) -> Result<Vec<usize>, PublishError> {
        let failed = |source: aws_sdk_sqs::Error| PublishError::Send {
            queue_url: queue_url.to_owned(),
            source: Box::new(source),
        };
        let mut entries = Vec::with_capacity(messages.len());
        for (index, (message, group_id, deduplication_id)) in messages.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(serde_json::to_string(message)?)
                    .message_group_id(group_id)
                    .message_deduplication_id(deduplication_id)
                    .build()
                    .map_err(|e| failed(e.into()))?,
            );
        }
        let output = self
            .sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| failed(e.into()))?;
        Ok(output
            .failed
            .iter()
            .filter_map(|entry| entry.id.parse::<usize>().ok())
            .collect())
    }

    /// Sends an already encoded body (one message encoded once, sent to several queues).
    pub async fn send_body(
        &self,
        queue_url: &str,
        body: &str,
        attributes: &[(&str, Attribute<'_>)],
    ) -> Result<(), PublishError> {
        self.send(queue_url, body, attributes, None).await
    }

    async fn send(
        &self,
        queue_url: &str,
        body: &str,
        attributes: &[(&str, Attribute<'_>)],
        fifo: Option<(&str, &str)>,
    ) -> Result<(), PublishError> {
        let failed = |source: aws_sdk_sqs::Error| PublishError::Send {
            queue_url: queue_url.to_owned(),
            source: Box::new(source),
        };
        let mut send = self
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body);
        for (name, value) in attributes {
            let (data_type, text) = match value {
                Attribute::String(text) => ("String", (*text).to_owned()),
                Attribute::Number(n) => ("Number", n.to_string()),
            };
            let attribute = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(text)
                .build()
                .map_err(|e| failed(e.into()))?;
            send = send.message_attributes(*name, attribute);
        }
        if let Some((group_id, deduplication_id)) = fifo {
            send = send
                .message_group_id(group_id)
                .message_deduplication_id(deduplication_id);
        }
        send.send().await.map_err(|e| failed(e.into()))?;
        Ok(())
    }
}
