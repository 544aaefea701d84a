//! SQS adapters: one publisher for everything omnisync sends (the messages themselves are in
//! [`crate::contract::outbound`]), and the `rejected-events` outbox on top of it.

mod publisher;
mod rejected;

pub use publisher::{Attribute, PublishError, Publisher};
pub use rejected::RejectedEvents;
