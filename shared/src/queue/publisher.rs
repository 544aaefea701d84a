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
        let mut batch = Vec::with_capacity(messages.len());
        for (message, group_id, deduplication_id) in messages {
            batch.push(BatchMessage {
                body: serde_json::to_string(message)?,
                attributes: Vec::new(),
                fifo: Some((group_id.clone(), deduplication_id.clone())),
            });
        }
        self.send_batch(queue_url, &batch).await
    }

    /// Sends up to 10 messages in one `SendMessageBatch`. Returns the indexes of the entries SQS
    /// did not accept (the others are on the queue); an `Err` means none may have been.
    pub async fn send_batch(
        &self,
        queue_url: &str,
        messages: &[BatchMessage<'_>],
    ) -> Result<Vec<usize>, PublishError> {
        let failed = |source: aws_sdk_sqs::Error| PublishError::Send {
            queue_url: queue_url.to_owned(),
            source: Box::new(source),
        };
        let mut entries = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(&message.body);
            for (name, value) in &message.attributes {
                entry = entry
                    .message_attributes(*name, attribute(*value).map_err(|e| failed(e.into()))?);
            }
            if let Some((group_id, deduplication_id)) = &message.fifo {
                entry = entry
                    .message_group_id(group_id)
                    .message_deduplication_id(deduplication_id);
            }
            entries.push(entry.build().map_err(|e| failed(e.into()))?);
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
            send = send.message_attributes(*name, attribute(*value).map_err(|e| failed(e.into()))?);
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

/// One message of a [`Publisher::send_batch`]: its encoded body, its message attributes, and
/// for a FIFO queue its group and deduplication ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMessage<'a> {
    pub body: String,
    pub attributes: Vec<(&'a str, Attribute<'a>)>,
    pub fifo: Option<(String, String)>,
}

impl BatchMessage<'_> {
    /// What the message counts towards a batch's size limit: its body, and each attribute's
    /// name, type and value.
    pub fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        Attribute::String(text) => "String".len() + text.len(),
                        Attribute::Number(n) => "Number".len() + n.to_string().len(),
                    }
            })
            .sum();
        self.body.len() + attributes
    }
}

/// The most a `SendMessageBatch` may carry in all (bodies and attributes): 256 KiB, SQS's limit
/// for one message and for one batch.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The most entries a `SendMessageBatch` takes.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Splits messages into the batches `SendMessageBatch` takes: at most [`MAX_BATCH_ENTRIES`]
/// each and at most [`MAX_BATCH_BYTES`] in all, in order. A message over the limit on its own
/// gets a batch of its own (SQS refuses it there, as it would alone).
pub fn batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, size) in sizes.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || (i > start && bytes + size > MAX_BATCH_BYTES);
        if full {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        batches.push(start..sizes.len());
    }
    batches
}

fn attribute(
    value: Attribute<'_>,
) -> Result<MessageAttributeValue, aws_sdk_sqs::error::BuildError> {
    let (data_type, text) = match value {
        Attribute::String(text) => ("String", text.to_owned()),
        Attribute::Number(n) => ("Number", n.to_string()),
    };
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(text)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_entries_and_256_kib_at_most() {
        assert_eq!(batches(&[]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(batches(&[10; 23]), [0..10, 10..20, 20..23]);
        let half = MAX_BATCH_BYTES / 2;
        assert_eq!(batches(&[half, half, 1, 5]), [0..2, 2..4]);
        assert_eq!(batches(&[half, half + 1, 7]), [0..1, 1..3]);
        // Too big on its own: alone in its batch.
        assert_eq!(batches(&[3, MAX_BATCH_BYTES + 1, 3]), [0..1, 1..2, 2..3]);
    }
}
