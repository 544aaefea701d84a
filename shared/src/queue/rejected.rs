//! The `rejected-events` queue (§4): where a permanently refused message goes, body unchanged.

use super::publisher::{BatchMessage, batches};
use super::{Attribute, PublishError, Publisher};
use crate::contract::RejectedEvent;

/// Sends rejections to the `rejected-events` queue.
#[derive(Debug, Clone)]
pub struct RejectedEvents {
    publisher: Publisher,
    queue_url: String,
}

impl RejectedEvents {
    pub fn new(publisher: Publisher, queue_url: impl Into<String>) -> Self {
        RejectedEvents {
            publisher,
            queue_url: queue_url.into(),
        }
    }

    /// Sends one rejection; the reason is also a message attribute, so a consumer can filter or
    /// route without parsing the body.
    pub async fn send(&self, rejected: &RejectedEvent) -> Result<(), PublishError> {
        self.publisher
            .publish(
                &self.queue_url,
                rejected,
                &[(
                    "reason_code",
                    Attribute::String(rejected.reason_code.as_str()),
                )],
            )
            .await
    }

    /// Sends rejections with `SendMessageBatch` (ten, or 256 KiB, at a time). Returns, per
    /// rejection, whether it is on the queue: a batch SQS refused as a whole counts as not sent.
    pub async fn send_all(&self, rejected: &[RejectedEvent]) -> Vec<bool> {
        let mut messages = Vec::with_capacity(rejected.len());
        let mut sent = vec![false; rejected.len()];
        let mut encoded = Vec::with_capacity(rejected.len());
        for (i, one) in rejected.iter().enumerate() {
            match serde_json::to_string(one) {
                Ok(body) => {
                    encoded.push(i);
                    messages.push(BatchMessage {
                        body,
                        attributes: vec![(
                            "reason_code",
                            Attribute::String(one.reason_code.as_str()),
                        )],
                        fifo: None,
                    });
                }
                Err(error) => {
                    tracing::warn!(message_id = one.message_id, error = %error, "could not encode a rejection")
                }
            }
        }
        let sizes: Vec<usize> = messages.iter().map(BatchMessage::size).collect();
        let sends = batches(&sizes).into_iter().map(|range| {
            let messages = &messages[range.clone()];
            async move {
                (
                    range,
                    self.publisher.send_batch(&self.queue_url, messages).await,
                )
            }
        });
        for (range, outcome) in futures::future::join_all(sends).await {
            match outcome {
                Ok(refused) => {
                    for i in range.clone() {
                        sent[encoded[i]] = !refused.contains(&(i - range.start));
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "could not record {} rejections", range.len())
                }
            }
        }
        sent
    }
}
