//! Pure domain rules: folds, merges and decisions over events, no I/O.
//!
//! Every function computes state and makes its decisions through these, so a rule lives in
//! exactly one place and is tested exhaustively (property tests next to each fold). The store
//! reads and writes what these modules compute; it decides nothing.

pub mod attribution;
pub mod availability;
pub mod cart;
pub mod customer;
pub mod loyalty;
pub mod order;
pub mod projection;
pub mod refund;
pub mod report;
pub mod shopping;
pub mod timeline;
pub mod wishlist;
