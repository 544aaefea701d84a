//! The library every omnisync function stands on.
//!
//! The folders say where a rule lives, and one event goes through them in this order:
//! - [`contract`]: the public event contract (`CONTRACT.md`) as typed Rust values: the one
//!   validation entry point ([`contract::parse_event`]), each queue's typed input, and every
//!   message omnisync sends.
//! - [`batch`]: SQS batch handling (validate, type, authorize, apply, route) and the stream
//!   batch helper.
//! - [`domain`]: the pure folds, merge rules and decisions (no I/O), tested exhaustively.
//! - [`store`]: DynamoDB adapters: every key in one module, narrow reads and conditional writes.
//! - [`queue`]: SQS adapters: one publisher, the `rejected-events` outbox.
//! - [`lambda`], [`config`], [`aws`], [`telemetry`], [`clock`]: function set-up.

pub mod aws;
pub mod batch;
pub mod clock;
pub mod config;
pub mod contract;
pub mod domain;
pub mod lambda;
pub mod metrics;
pub mod queue;
pub mod store;
pub mod telemetry;
