//! The event contract (`CONTRACT.md`) in code.
//!
//! [`parse_event`] is the single entry point: every function hands it the raw SQS body and gets
//! back either a fully validated [`Event`] or a [`Rejection`] carrying the contract's
//! `reason_code` and a `detail` that names the offending field. [`QueueInput`] then gives each
//! function its queue's events as its own type. What comes out (§4) is in [`outbound`] and
//! [`view`].

mod event;
mod json;
mod order;
pub mod outbound;
mod queue;
mod rejection;
mod validate;
pub mod view;

pub use event::{
    AvailabilityChanged, CartEvent, Channel, EngagementTouched, Event, EventType, Fulfillment,
    IdentityLinked, LoyaltyEvent, OrderEvent, OrderLine, OrderPlaced, OrderStatus, Payload,
    RefundLine, RefundRequested, TouchKind, WishlistEvent,
};
pub use order::EventKey;
pub use outbound::{BackInStock, RejectedEvent, ViewChanged, notification_id};
pub use queue::{About, CustomerEvent, CustomerPayload, Queue, QueueInput, StockEvent};
pub use rejection::{ReasonCode, Rejection};
pub use validate::{MAX_BODY_BYTES, MAX_CLOCK_AHEAD_MS, parse_event};
pub use view::CustomerView;
