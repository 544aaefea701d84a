//! SQS adapters: one publisher for everything omnisync sends (the messages themselves are in
//! [`crate::contract::outbound`]), the `rejected-events` outbox on top of it, and [`redrive`],
//! which sends a DLQ's messages back.

mod publisher;
pub mod redrive;
mod rejected;

pub use publisher::{Attribute, PublishError, Publisher};
pub use rejected::RejectedEvents;
