//! SQS adapters.

pub mod rejected;
