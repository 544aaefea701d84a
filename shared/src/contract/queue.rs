//! The ingress queues (§3) and the typed input each one hands its function.
//!
//! Every event type belongs to exactly one queue ([`EventType::queue`]), and each SQS-triggered
//! function serves one queue. The batch layer turns a validated [`Event`] into the function's own
//! input type once ([`QueueInput::from_event`]): the payload is matched there, a type sent to the
//! wrong queue is refused there (`unknown_type`, naming the right queue), and on customer queues
//! the envelope's `customer_id` is no longer optional. Handlers never re-match a payload.

use super::event::{
    AvailabilityChanged, CartEvent, Channel, EngagementTouched, Event, EventType, IdentityLinked,
    LoyaltyEvent, OrderEvent, Payload, RefundRequested, WishlistEvent,
};
use super::order::EventKey;
use super::rejection::{ReasonCode, Rejection};
use std::fmt;

/// An ingress queue, by its logical name (§3; deployed as `<prefix>-<logical name>`, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    Cart,
    Wishlist,
    Order,
    Refund,
    Loyalty,
    Inventory,
    Identity,
    Engagement,
}

impl Queue {
    pub const ALL: [Queue; 8] = [
        Queue::Cart,
        Queue::Wishlist,
        Queue::Order,
        Queue::Refund,
        Queue::Loyalty,
        Queue::Inventory,
        Queue::Identity,
        Queue::Engagement,
    ];

    /// The logical name, e.g. `cart-events`.
    pub fn logical_name(self) -> &'static str {
        match self {
            Queue::Cart => "cart-events",
            Queue::Wishlist => "wishlist-events",
            Queue::Order => "order-events",
            Queue::Refund => "refund-events",
            Queue::Loyalty => "loyalty-events",
            Queue::Inventory => "inventory-events",
            Queue::Identity => "identity-events",
            Queue::Engagement => "engagement-events",
        }
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.logical_name())
    }
}

impl EventType {
    /// The ingress queue this type is sent on (§3).
    pub fn queue(self) -> Queue {
        match self {
            EventType::CartItemAdded
            | EventType::CartItemQuantitySet
            | EventType::CartItemRemoved
            | EventType::CartCleared => Queue::Cart,
            EventType::WishlistItemAdded | EventType::WishlistItemRemoved => Queue::Wishlist,
            EventType::OrderPlaced | EventType::OrderStatusChanged => Queue::Order,
            EventType::RefundRequested => Queue::Refund,
            EventType::LoyaltyPointsRedeemed | EventType::LoyaltyPointsAdjusted => Queue::Loyalty,
            EventType::InventoryAvailabilityChanged => Queue::Inventory,
            EventType::IdentityLinked => Queue::Identity,
            EventType::EngagementTouched => Queue::Engagement,
        }
    }
}

/// What an SQS-triggered function receives: one queue's events, typed.
pub trait QueueInput: Sized + Send + Sync {
    /// The queue the function serves.
    const QUEUE: Queue;

    /// The channel the event claims (authorized by the batch layer).
    fn channel(&self) -> Channel;

    /// Takes a validated event apart into this queue's input; an event of another queue's type
    /// is `unknown_type`.
    fn from_event(event: Event) -> Result<Self, Rejection>;

    /// What the customer's timeline records of this event (§4, v1.1); `None` for an event
    /// about no customer (`inventory.*`).
    fn about(&self) -> Option<About<'_>>;
}

/// The facts of a customer event its timeline entry shows (contract §4, `timeline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About<'a> {
    /// The id the event was sent under.
    pub customer_id: &'a str,
    pub key: &'a EventKey,
    pub event_type: EventType,
    pub channel: Channel,
    pub store_id: Option<&'a str>,
    /// What the event is about: a SKU, an order, refund, redemption or adjustment id, a guest
    /// id; `None` for `cart.cleared` and a touch without a SKU.
    pub reference: Option<&'a str>,
}

/// The refusal of an event sent to a queue that does not carry its type.
fn wrong_queue(event_type: EventType) -> Rejection {
    Rejection::new(
        ReasonCode::UnknownType,
        format!(
            "`type` `{event_type}` is not accepted here; send it to {}",
            event_type.queue()
        ),
    )
}

/// An event about one customer (every queue but `inventory-events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerEvent<P> {
    pub key: EventKey,
    pub customer_id: String,
    pub channel: Channel,
    /// The reporting store; always present when `channel` is `store`.
    pub store_id: Option<String>,
    pub payload: P,
}

impl<P> CustomerEvent<P> {
    pub fn event_id(&self) -> &str {
        &self.key.event_id
    }
}

/// The payload of one customer queue.
pub trait CustomerPayload: Sized + Send + Sync {
    const QUEUE: Queue;
    /// The payload, if it is this queue's.
    fn take(payload: Payload) -> Option<Self>;
    fn event_type(&self) -> EventType;
    /// The timeline's `ref` (§4): what the event is about.
    fn reference(&self) -> Option<&str>;
}

impl CartEvent {
    pub(super) fn type_of(&self) -> EventType {
        match self {
            CartEvent::ItemAdded { .. } => EventType::CartItemAdded,
            CartEvent::ItemQuantitySet { .. } => EventType::CartItemQuantitySet,
            CartEvent::ItemRemoved { .. } => EventType::CartItemRemoved,
            CartEvent::Cleared => EventType::CartCleared,
        }
    }

    fn reference(&self) -> Option<&str> {
        match self {
            CartEvent::ItemAdded { sku, .. }
            | CartEvent::ItemQuantitySet { sku, .. }
            | CartEvent::ItemRemoved { sku } => Some(sku),
            CartEvent::Cleared => None,
        }
    }
}

impl WishlistEvent {
    pub(super) fn type_of(&self) -> EventType {
        match self {
            WishlistEvent::ItemAdded { .. } => EventType::WishlistItemAdded,
            WishlistEvent::ItemRemoved { .. } => EventType::WishlistItemRemoved,
        }
    }

    fn reference(&self) -> Option<&str> {
        match self {
            WishlistEvent::ItemAdded { sku, .. } | WishlistEvent::ItemRemoved { sku } => Some(sku),
        }
    }
}

impl OrderEvent {
    pub(super) fn type_of(&self) -> EventType {
        match self {
            OrderEvent::Placed(_) => EventType::OrderPlaced,
            OrderEvent::StatusChanged { .. } => EventType::OrderStatusChanged,
        }
    }

    fn reference(&self) -> Option<&str> {
        match self {
            OrderEvent::Placed(placed) => Some(&placed.order_id),
            OrderEvent::StatusChanged { order_id, .. } => Some(order_id),
        }
    }
}

impl RefundRequested {
    pub(super) fn type_of(&self) -> EventType {
        EventType::RefundRequested
    }

    fn reference(&self) -> Option<&str> {
        Some(&self.refund_id)
    }
}

impl LoyaltyEvent {
    pub(super) fn type_of(&self) -> EventType {
        match self {
            LoyaltyEvent::PointsRedeemed { .. } => EventType::LoyaltyPointsRedeemed,
            LoyaltyEvent::PointsAdjusted { .. } => EventType::LoyaltyPointsAdjusted,
        }
    }

    fn reference(&self) -> Option<&str> {
        match self {
            LoyaltyEvent::PointsRedeemed { redemption_id, .. } => Some(redemption_id),
            LoyaltyEvent::PointsAdjusted { adjustment_id, .. } => Some(adjustment_id),
        }
    }
}

impl IdentityLinked {
    pub(super) fn type_of(&self) -> EventType {
        EventType::IdentityLinked
    }

    fn reference(&self) -> Option<&str> {
        Some(&self.anonymous_id)
    }
}

impl EngagementTouched {
    pub(super) fn type_of(&self) -> EventType {
        EventType::EngagementTouched
    }

    fn reference(&self) -> Option<&str> {
        self.sku.as_deref()
    }
}

macro_rules! customer_payload {
    ($($payload:ty => $variant:ident, $queue:ident;)*) => {$(
        impl CustomerPayload for $payload {
            const QUEUE: Queue = Queue::$queue;
            fn take(payload: Payload) -> Option<Self> {
                match payload {
                    Payload::$variant(inner) => Some(inner),
                    _ => None,
                }
            }
            fn event_type(&self) -> EventType {
                <$payload>::type_of(self)
            }
            fn reference(&self) -> Option<&str> {
                <$payload>::reference(self)
            }
        }
    )*};
}

customer_payload! {
    CartEvent => Cart, Cart;
    WishlistEvent => Wishlist, Wishlist;
    OrderEvent => Order, Order;
    RefundRequested => Refund, Refund;
    LoyaltyEvent => Loyalty, Loyalty;
    IdentityLinked => Identity, Identity;
    EngagementTouched => Engagement, Engagement;
}

impl<P: CustomerPayload> QueueInput for CustomerEvent<P> {
    const QUEUE: Queue = P::QUEUE;

    fn channel(&self) -> Channel {
        self.channel
    }

    fn from_event(event: Event) -> Result<Self, Rejection> {
        let event_type = event.event_type();
        let payload = P::take(event.payload).ok_or_else(|| wrong_queue(event_type))?;
        // `parse_event` requires `customer_id` for every type of a customer queue (§1); this is
        // that rule again, as a type.
        let customer_id = event.customer_id.ok_or_else(|| {
            Rejection::new(
                ReasonCode::MissingField,
                format!("`customer_id` is required for `{event_type}`"),
            )
        })?;
        Ok(CustomerEvent {
            key: event.key,
            customer_id,
            channel: event.channel,
            store_id: event.store_id,
            payload,
        })
    }

    fn about(&self) -> Option<About<'_>> {
        Some(About {
            customer_id: &self.customer_id,
            key: &self.key,
            event_type: self.payload.event_type(),
            channel: self.channel,
            store_id: self.store_id.as_deref(),
            reference: self.payload.reference(),
        })
    }
}

/// An availability report (`inventory-events`: about stock, never about a customer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockEvent {
    pub key: EventKey,
    pub channel: Channel,
    pub store_id: Option<String>,
    pub report: AvailabilityChanged,
}

impl QueueInput for StockEvent {
    const QUEUE: Queue = Queue::Inventory;

    fn channel(&self) -> Channel {
        self.channel
    }

    fn from_event(event: Event) -> Result<Self, Rejection> {
        let event_type = event.event_type();
        match event.payload {
            Payload::Inventory(report) => Ok(StockEvent {
                key: event.key,
                channel: event.channel,
                store_id: event.store_id,
                report,
            }),
            _ => Err(wrong_queue(event_type)),
        }
    }

    fn about(&self) -> Option<About<'_>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_one_queue_and_every_queue_a_type() {
        for queue in Queue::ALL {
            assert!(
                EventType::ALL.iter().any(|t| t.queue() == queue),
                "{queue} carries no type"
            );
        }
    }

    fn cart_event() -> Event {
        Event {
            key: EventKey::new(1, "e-1"),
            customer_id: Some("c-1".into()),
            channel: Channel::Web,
            store_id: None,
            payload: Payload::Cart(CartEvent::Cleared),
        }
    }

    #[test]
    fn an_event_of_the_queue_becomes_its_typed_input() {
        let input = CustomerEvent::<CartEvent>::from_event(cart_event()).unwrap();
        assert_eq!(input.customer_id, "c-1");
        assert_eq!(input.payload, CartEvent::Cleared);
    }

    #[test]
    fn an_event_of_another_queue_is_unknown_type_naming_its_queue() {
        let rejection = CustomerEvent::<OrderEvent>::from_event(cart_event()).unwrap_err();
        assert_eq!(rejection.reason, ReasonCode::UnknownType);
        assert!(
            rejection.detail.contains("cart-events"),
            "{}",
            rejection.detail
        );
        assert!(StockEvent::from_event(cart_event()).is_err());
    }
}
