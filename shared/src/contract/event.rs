//! The typed events of contract v1 (§1 envelope, §3 payloads).
//!
//! Values of these types only come out of [`super::parse_event`], so every field already obeys
//! the contract's rules (character sets, lengths, ranges, cross-field rules).

use super::order::EventKey;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The channel an event was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    App,
    Store,
    CallCenter,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Web,
        Channel::App,
        Channel::Store,
        Channel::CallCenter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Store => "store",
            Channel::CallCenter => "call_center",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every event `type` of v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    CartItemAdded,
    CartItemQuantitySet,
    CartItemRemoved,
    CartCleared,
    WishlistItemAdded,
    WishlistItemRemoved,
    OrderPlaced,
    OrderStatusChanged,
    RefundRequested,
    LoyaltyPointsRedeemed,
    LoyaltyPointsAdjusted,
    InventoryAvailabilityChanged,
    IdentityLinked,
    EngagementTouched,
}

impl EventType {
    pub const ALL: [EventType; 14] = [
        EventType::CartItemAdded,
        EventType::CartItemQuantitySet,
        EventType::CartItemRemoved,
        EventType::CartCleared,
        EventType::WishlistItemAdded,
        EventType::WishlistItemRemoved,
        EventType::OrderPlaced,
        EventType::OrderStatusChanged,
        EventType::RefundRequested,
        EventType::LoyaltyPointsRedeemed,
        EventType::LoyaltyPointsAdjusted,
        EventType::InventoryAvailabilityChanged,
        EventType::IdentityLinked,
        EventType::EngagementTouched,
    ];

    /// The wire name, e.g. `cart.item_added`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CartItemAdded => "cart.item_added",
            EventType::CartItemQuantitySet => "cart.item_quantity_set",
            EventType::CartItemRemoved => "cart.item_removed",
            EventType::CartCleared => "cart.cleared",
            EventType::WishlistItemAdded => "wishlist.item_added",
            EventType::WishlistItemRemoved => "wishlist.item_removed",
            EventType::OrderPlaced => "order.placed",
            EventType::OrderStatusChanged => "order.status_changed",
            EventType::RefundRequested => "refund.requested",
            EventType::LoyaltyPointsRedeemed => "loyalty.points_redeemed",
            EventType::LoyaltyPointsAdjusted => "loyalty.points_adjusted",
            EventType::InventoryAvailabilityChanged => "inventory.availability_changed",
            EventType::IdentityLinked => "identity.linked",
            EventType::EngagementTouched => "engagement.touched",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// `inventory.*` events are about stock, not about a customer: they must not carry
    /// `customer_id`; every other type requires it.
    pub fn has_customer(self) -> bool {
        self != EventType::InventoryAvailabilityChanged
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated event: the envelope's fields plus the typed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `(occurred_at, event_id)`: the contract's order key, which also carries the event id.
    pub key: EventKey,
    /// `None` only for `inventory.*`.
    pub customer_id: Option<String>,
    pub channel: Channel,
    /// The reporting store; always present when `channel` is `store`.
    pub store_id: Option<String>,
    pub payload: Payload,
}

impl Event {
    pub fn event_id(&self) -> &str {
        &self.key.event_id
    }

    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }
}

/// The per-type payload, grouped by the queue (and so the function) it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Cart(CartEvent),
    Wishlist(WishlistEvent),
    Order(OrderEvent),
    Refund(RefundRequested),
    Loyalty(LoyaltyEvent),
    Inventory(AvailabilityChanged),
    Identity(IdentityLinked),
    Engagement(EngagementTouched),
}

impl Payload {
    /// Each payload type names its own variants' types (`queue.rs`, `type_of`).
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::Cart(event) => event.type_of(),
            Payload::Wishlist(event) => event.type_of(),
            Payload::Order(event) => event.type_of(),
            Payload::Refund(event) => event.type_of(),
            Payload::Loyalty(event) => event.type_of(),
            Payload::Inventory(_) => EventType::InventoryAvailabilityChanged,
            Payload::Identity(event) => event.type_of(),
            Payload::Engagement(event) => event.type_of(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartEvent {
    /// Add this many (1–999); the line is capped at 999.
    ItemAdded {
        sku: String,
        quantity: u32,
    },
    /// The line now holds exactly this many (0–999).
    ItemQuantitySet {
        sku: String,
        quantity: u32,
    },
    ItemRemoved {
        sku: String,
    },
    Cleared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WishlistEvent {
    ItemAdded {
        sku: String,
        preferred_size: Option<String>,
    },
    ItemRemoved {
        sku: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfillment {
    Ship,
    Pickup,
    InStore,
}

impl Fulfillment {
    pub const ALL: [Fulfillment; 3] =
        [Fulfillment::Ship, Fulfillment::Pickup, Fulfillment::InStore];

    pub fn as_str(self) -> &'static str {
        match self {
            Fulfillment::Ship => "ship",
            Fulfillment::Pickup => "pickup",
            Fulfillment::InStore => "in_store",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    ReadyForPickup,
    PickedUp,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    /// The statuses an `order.status_changed` may carry (`placed` only comes from `order.placed`).
    pub const CHANGEABLE: [OrderStatus; 5] = [
        OrderStatus::ReadyForPickup,
        OrderStatus::PickedUp,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::PickedUp => "picked_up",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_minor: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlaced {
    pub order_id: String,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub fulfillment: Fulfillment,
    pub pickup_store_id: Option<String>,
    /// 1–100 lines with distinct SKUs.
    pub lines: Vec<OrderLine>,
}

impl OrderPlaced {
    /// `total_minor` = Σ quantity × unit price. Cannot overflow: at most 100 × 999 × 10^9.
    pub fn total_minor(&self) -> u64 {
        self.lines
            .iter()
            .map(|line| u64::from(line.quantity) * line.unit_price_minor)
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    Placed(OrderPlaced),
    StatusChanged {
        order_id: String,
        status: OrderStatus,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequested {
    pub refund_id: String,
    pub order_id: String,
    pub lines: Vec<RefundLine>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoyaltyEvent {
    PointsRedeemed {
        redemption_id: String,
        points: u32,
    },
    PointsAdjusted {
        adjustment_id: String,
        /// Non-zero, |points| ≤ 1,000,000.
        points: i32,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityChanged {
    pub sku: String,
    pub size: Option<String>,
    /// Where the stock is; `None` is online stock.
    pub store_id: Option<String>,
    pub available_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLinked {
    pub anonymous_id: String,
}

/// What kind of touch an `engagement.touched` is (contract §3, Engagement, v1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    /// A visit: a web or app session, a walk into a store, a call.
    Session,
    /// A conversation: a chat, a call handled by an agent, an associate's consultation.
    Contact,
}

impl TouchKind {
    pub const ALL: [TouchKind; 2] = [TouchKind::Session, TouchKind::Contact];

    pub fn as_str(self) -> &'static str {
        match self {
            TouchKind::Session => "session",
            TouchKind::Contact => "contact",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementTouched {
    pub kind: TouchKind,
    /// The campaign or referrer (1–64 characters of the id alphabet).
    pub source: Option<String>,
    /// The product looked at or asked about.
    pub sku: Option<String>,
}
