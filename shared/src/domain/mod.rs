//! Pure domain rules: folds and merges over events, no I/O.
//!
//! Every function computes state through these, so a rule lives in exactly one place and is
//! tested exhaustively (property tests next to each fold).

pub mod availability;
pub mod cart;
pub mod loyalty;
pub mod order;
pub mod refund;
pub mod shopping;
pub mod wishlist;
