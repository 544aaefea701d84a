//! The library every omnisync function stands on.
//!
//! The folders say where a rule lives:
//! - [`contract`]: the public event contract (`CONTRACT.md` §1, §3, §4) as typed Rust values, and the
//!   one validation entry point that turns a raw message body into a typed event or a typed rejection.
//! - [`domain`]: the pure folds and merge rules (no I/O), so the same rules are tested exhaustively
//!   and reused by every function.
//! - [`store`]: DynamoDB adapters: item layouts and conditional-write loops.
//! - [`queue`]: SQS adapters: the `rejected-events` outbox.
//! - [`batch`]: SQS batch handling with `ReportBatchItemFailures` semantics.
//! - [`lambda`], [`config`], [`aws`], [`telemetry`]: function set-up.

pub mod aws;
pub mod batch;
pub mod config;
pub mod contract;
pub mod domain;
pub mod lambda;
pub mod queue;
pub mod store;
pub mod telemetry;
pub mod view;
