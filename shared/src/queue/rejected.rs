//! The `rejected-events` queue (§4): where a permanently refused message goes, body unchanged.

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
}
