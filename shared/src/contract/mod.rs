//! The v1 event contract in code.
//!
//! [`parse_event`] is the single entry point: every function hands it the raw SQS body and gets
//! back either a fully validated [`Event`] or a [`Rejection`] carrying the contract's
//! `reason_code` and a `detail` that names the offending field.

mod event;
mod json;
mod order;
mod rejection;
mod validate;

pub use event::{
    AvailabilityChanged, CartEvent, Channel, Event, EventType, Fulfillment, IdentityLinked,
    LoyaltyEvent, OrderEvent, OrderLine, OrderPlaced, OrderStatus, Payload, RefundLine,
    RefundRequested, WishlistEvent,
};
pub use order::EventKey;
pub use rejection::{ReasonCode, Rejection};
pub use validate::{MAX_BODY_BYTES, parse_event};
