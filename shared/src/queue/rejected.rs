//! The `rejected-events` queue (§4): where a permanently refused message goes, body unchanged.

use crate::contract::{ReasonCode, Rejection};
use aws_sdk_sqs::types::MessageAttributeValue;
use serde::{Deserialize, Serialize};

/// The body of one message on `rejected-events`, exactly the contract's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEvent {
    pub reason_code: ReasonCode,
    pub detail: String,
    pub source_queue: String,
    pub message_id: String,
    pub event_id: Option<String>,
    /// RFC 3339, UTC, milliseconds.
    pub rejected_at: String,
    pub original_body: String,
}

impl RejectedEvent {
    pub fn new(
        rejection: &Rejection,
        source_queue: &str,
        message_id: &str,
        original_body: &str,
    ) -> Self {
        RejectedEvent {
            reason_code: rejection.reason,
            detail: rejection.detail.clone(),
            source_queue: source_queue.to_owned(),
            message_id: message_id.to_owned(),
            event_id: readable_event_id(original_body),
            rejected_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            original_body: original_body.to_owned(),
        }
    }
}

/// The body's `event_id` when it is a well-formed id, so the rejection can be correlated even if
/// something else in the body is wrong.
fn readable_event_id(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let id = value.get("event_id")?.as_str()?;
    let well_formed = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    well_formed.then(|| id.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum RejectError {
    #[error("could not encode the rejection: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not send to rejected-events: {}", aws_sdk_sqs::error::DisplayErrorContext(.0))]
    Send(#[from] aws_sdk_sqs::Error),
}

/// Sends rejections to the `rejected-events` queue.
#[derive(Debug, Clone)]
pub struct RejectedEvents {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl RejectedEvents {
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        RejectedEvents {
            sqs,
            queue_url: queue_url.into(),
        }
    }

    /// Sends one rejection; the reason is also a message attribute, so a consumer can filter or
    /// route without parsing the body.
    pub async fn send(&self, rejected: &RejectedEvent) -> Result<(), RejectError> {
        let reason = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(rejected.reason_code.as_str())
            .build()
            .map_err(aws_sdk_sqs::Error::from)?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(rejected)?)
            .message_attributes("reason_code", reason)
            .send()
            .await
            .map_err(aws_sdk_sqs::Error::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_is_kept_only_when_readable() {
        assert_eq!(readable_event_id(r#"{"event_id":"ev-1","x":}"#), None);
        assert_eq!(
            readable_event_id(r#"{"event_id":"ev-1","type":"nope"}"#),
            Some("ev-1".into())
        );
        assert_eq!(readable_event_id(r#"{"event_id":"not ok"}"#), None);
        assert_eq!(readable_event_id(r#"["ev-1"]"#), None);
    }

    #[test]
    fn body_has_exactly_the_contract_fields() {
        let rejection = Rejection::new(
            ReasonCode::UnknownField,
            "`x` is not a field of this object",
        );
        let body = serde_json::to_value(RejectedEvent::new(
            &rejection,
            "omnisync-cart-events",
            "m-1",
            "{\"x\":1}",
        ))
        .unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "detail",
                "event_id",
                "message_id",
                "original_body",
                "reason_code",
                "rejected_at",
                "source_queue"
            ]
        );
        assert_eq!(body["reason_code"], "unknown_field");
        assert_eq!(body["original_body"], "{\"x\":1}");
        assert!(body["event_id"].is_null());
    }
}
