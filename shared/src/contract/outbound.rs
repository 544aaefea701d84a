//! Everything omnisync sends (contract §4): the `rejected-events` body, the
//! `customer.view_changed` message on every `channel-updates-<channel>` queue, and the
//! `wishlist.back_in_stock` notification. One place, so the outputs can be read side by side with
//! the contract; [`crate::queue::Publisher`] sends them.

use super::rejection::{ReasonCode, Rejection};
use super::view::CustomerView;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// The message on every `channel-updates-<channel>` queue after a change of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChanged {
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_id: String,
    pub version: u64,
    pub view: CustomerView,
}

impl ViewChanged {
    pub const TYPE: &'static str = "customer.view_changed";

    pub fn new(view: CustomerView) -> Self {
        ViewChanged {
            kind: Self::TYPE.to_owned(),
            customer_id: view.customer_id.clone(),
            version: view.version,
            view,
        }
    }
}

/// The namespace of `notification_id`s (UUID v5 of customer and restock event).
const NOTIFICATION_NAMESPACE: Uuid = Uuid::from_u128(0x6f6d_6e69_7379_6e63_0000_6e6f_7469_6679);

/// The message on `notifications` (contract §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackInStock {
    pub notification_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_id: String,
    pub sku: String,
    pub size: Option<String>,
    pub store_id: Option<String>,
}

impl BackInStock {
    pub const TYPE: &'static str = "wishlist.back_in_stock";

    /// A customer's notification of the restock `restock_event_id` of `sku` (in `size`, at
    /// `store_id`).
    pub fn new(
        customer_id: &str,
        restock_event_id: &str,
        sku: &str,
        size: Option<&str>,
        store_id: Option<&str>,
    ) -> Self {
        BackInStock {
            notification_id: notification_id(customer_id, restock_event_id),
            kind: Self::TYPE.to_owned(),
            customer_id: customer_id.to_owned(),
            sku: sku.to_owned(),
            size: size.map(str::to_owned),
            store_id: store_id.map(str::to_owned),
        }
    }
}

/// The `notification_id` of a customer's notification for a restock: the same for every
/// delivery of the restock, so a consumer recognises a copy.
pub fn notification_id(customer_id: &str, restock_event_id: &str) -> String {
    let name = format!("{customer_id}\n{restock_event_id}");
    Uuid::new_v5(&NOTIFICATION_NAMESPACE, name.as_bytes()).to_string()
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

    #[test]
    fn notification_ids_are_stable_and_distinct() {
        assert_eq!(
            notification_id("c-1", "inv-9"),
            notification_id("c-1", "inv-9")
        );
        assert_ne!(
            notification_id("c-1", "inv-9"),
            notification_id("c-2", "inv-9")
        );
        assert_ne!(
            notification_id("c-1", "inv-9"),
            notification_id("c-1", "inv-10")
        );
    }

    #[test]
    fn absent_size_and_store_are_null() {
        let mut message = BackInStock::new("c-1", "inv-9", "A", None, None);
        message.notification_id = "n".into();
        assert_eq!(
            serde_json::to_value(message).unwrap(),
            serde_json::json!({"notification_id": "n", "type": "wishlist.back_in_stock", "customer_id": "c-1", "sku": "A", "size": null, "store_id": null})
        );
    }
}
