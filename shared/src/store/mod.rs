//! DynamoDB adapters.
//!
//! # Table layout
//!
//! One table (`<prefix>-state`), keys `pk` (partition) and `sk` (sort), both strings. Everything
//! about one customer shares the partition `CUSTOMER#<customer_id>`, so the whole read model of a
//! customer is one `Query`, and a stream record's key says whose view changed. `#` cannot occur
//! in any id of the contract, so it is a safe separator.
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | cart line | `CUSTOMER#<customer_id>` | `CART#LINE#<sku>` | `rev`, `reset` `{t, e, q}`, `ops` `[{t, e, d}]` |
//! | cart clear | `CUSTOMER#<customer_id>` | `CART#CLEAR` | `rev`, `t`, `e` |
//!
//! (`t` = `occurred_at` in UTC ms, `e` = event id, `q` = quantity set, `d` = +added / −purchased.)
//!
//! Why per-line items and not one cart item: writers on different SKUs of one cart never contend,
//! an item stays far below 1 KB (one write unit), and a line keeps only its latest reset and the
//! ops after it. Why a separate clear item: a `cart.cleared` is one write however many lines the
//! cart has, and a late op older than the clear is still superseded when it arrives.
//!
//! # Writes
//!
//! Every write is optimistic concurrency on `rev`: read (strongly consistent), fold the event in
//! with the pure rules of [`crate::domain`], put with `rev = :read_rev` (or
//! `attribute_not_exists(pk)` for a new item), and on a conditional-check failure read again and
//! retry. Nothing is ever last-write-wins on a whole item. The entries themselves are the dedupe
//! record: a redelivered event is found in (or superseded by) the item, and nothing is written.

pub mod cart;
mod versioned;

pub use versioned::{StoreError, WriteOutcome};

/// The partition key of everything about one customer.
pub fn customer_pk(customer_id: &str) -> String {
    format!("CUSTOMER#{customer_id}")
}
