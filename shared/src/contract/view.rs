//! The customer view (contract §4): the one JSON document every channel shows. Arrays are sorted
//! by their id or SKU, and no field is omitted (`preferred_size` and `reason_code` are `null` when
//! absent). [`crate::domain::projection`] computes it from a customer's state.

use super::event::{Channel, Fulfillment, OrderStatus};
use super::rejection::ReasonCode;
use crate::domain::cart::CartLine;
use crate::domain::wishlist::WishlistItem;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerView {
    pub customer_id: String,
    pub version: u64,
    pub cart: Vec<CartLine>,
    pub wishlist: Vec<WishlistItem>,
    pub loyalty: LoyaltyView,
    /// The 50 latest orders (event order of their `order.placed`), sorted by `order_id`.
    pub orders: Vec<OrderView>,
    /// The 50 latest refund decisions (event order of their request), sorted by `refund_id`.
    pub refunds: Vec<RefundView>,
    /// The 50 latest redemptions (event order of their request), sorted by `redemption_id`.
    pub redemptions: Vec<RedemptionView>,
    /// How many of each there are in all.
    pub counts: Counts,
    /// The 20 latest events of the customer, newest first (v1.1).
    pub timeline: Vec<TimelineEvent>,
}

/// One event of the timeline (contract §4, v1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub channel: Channel,
    pub store_id: Option<String>,
    /// The UTC instant, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub occurred_at: String,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
}

/// An order's first and last touch (contract §4, v1.1); `null` when no touch counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributionView {
    pub first_touch: Option<TouchView>,
    pub last_touch: Option<TouchView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchView {
    pub channel: Channel,
    pub source: Option<String>,
}

/// The totals behind the bounded histories of the view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub orders: u64,
    pub refunds: u64,
    pub redemptions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyView {
    pub balance: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub channel: Channel,
    pub fulfillment: Fulfillment,
    pub status: OrderStatus,
    pub currency: String,
    pub total_minor: u64,
    pub refunded_minor: u64,
    pub lines: Vec<OrderLineView>,
    pub attribution: AttributionView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_minor: u64,
    pub refunded_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    pub refund_id: String,
    pub order_id: String,
    pub channel: Channel,
    pub status: DecisionStatus,
    pub amount_minor: u64,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionView {
    pub redemption_id: String,
    pub points: i64,
    pub status: DecisionStatus,
}

/// The status of an order-dependent decision (a refund, a redemption or adjustment): approved or
/// rejected, as the customer view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    Approved,
    Rejected,
}

impl DecisionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionStatus::Approved => "approved",
            DecisionStatus::Rejected => "rejected",
        }
    }
}

impl PartialEq<&str> for DecisionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
