//! Typed rejections: the contract's `reason_code` plus a human-readable `detail`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every `reason_code` the contract defines (§1, §3, §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    MalformedJson,
    TooLarge,
    UnknownType,
    UnsupportedSchemaVersion,
    MissingField,
    InvalidField,
    UnknownField,
    ChannelNotPermitted,
    DuplicateOrder,
    UnknownSku,
    ExceedsRefundableQuantity,
    OrderCancelled,
    WrongCustomer,
    InsufficientPoints,
}

impl ReasonCode {
    /// Every code, in the contract's order.
    pub const ALL: [ReasonCode; 14] = [
        ReasonCode::MalformedJson,
        ReasonCode::TooLarge,
        ReasonCode::UnknownType,
        ReasonCode::UnsupportedSchemaVersion,
        ReasonCode::MissingField,
        ReasonCode::InvalidField,
        ReasonCode::UnknownField,
        ReasonCode::ChannelNotPermitted,
        ReasonCode::DuplicateOrder,
        ReasonCode::UnknownSku,
        ReasonCode::ExceedsRefundableQuantity,
        ReasonCode::OrderCancelled,
        ReasonCode::WrongCustomer,
        ReasonCode::InsufficientPoints,
    ];

    /// The wire name, e.g. `malformed_json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::MalformedJson => "malformed_json",
            ReasonCode::TooLarge => "too_large",
            ReasonCode::UnknownType => "unknown_type",
            ReasonCode::UnsupportedSchemaVersion => "unsupported_schema_version",
            ReasonCode::MissingField => "missing_field",
            ReasonCode::InvalidField => "invalid_field",
            ReasonCode::UnknownField => "unknown_field",
            ReasonCode::ChannelNotPermitted => "channel_not_permitted",
            ReasonCode::DuplicateOrder => "duplicate_order",
            ReasonCode::UnknownSku => "unknown_sku",
            ReasonCode::ExceedsRefundableQuantity => "exceeds_refundable_quantity",
            ReasonCode::OrderCancelled => "order_cancelled",
            ReasonCode::WrongCustomer => "wrong_customer",
            ReasonCode::InsufficientPoints => "insufficient_points",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permanent refusal of one message: it goes to `rejected-events` and is never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: ReasonCode,
    pub detail: String,
    /// Whether the rejection is a decision recorded in the customer's view (a rejected refund,
    /// redemption or adjustment): such an event is in the customer's timeline (contract §4),
    /// unlike one refused for what it is.
    pub decided: bool,
}

impl Rejection {
    pub fn new(reason: ReasonCode, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
            decided: false,
        }
    }

    /// The rejection of an order-dependent decision, recorded in the customer's view.
    pub fn decided(reason: ReasonCode, detail: impl Into<String>) -> Self {
        Rejection {
            decided: true,
            ..Rejection::new(reason, detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        }
    }
}
