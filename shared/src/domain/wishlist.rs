//! The wishlist rule (contract §3, Wishlist).
//!
//! Per SKU, the latest op in event order wins: `item_added` puts the SKU in with its
//! `preferred_size`, `item_removed` takes it out, and an `order.placed` line with the SKU takes
//! it out. Each SKU is a last-writer-wins register keyed by the event key, so merging is taking
//! the later entry: commutative, associative, idempotent.

use crate::contract::{EventKey, WishlistEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the latest op did to one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WishOp {
    Add { preferred_size: Option<String> },
    Remove,
}

/// The register of one SKU: its latest op and that op's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishEntry {
    pub key: EventKey,
    pub op: WishOp,
}

impl WishEntry {
    /// Keeps the later of `self` and `candidate`. Returns whether `self` changed.
    pub fn merge(&mut self, candidate: &WishEntry) -> bool {
        if candidate.key > self.key {
            *self = candidate.clone();
            true
        } else {
            false
        }
    }
}

/// One wishlist line as every channel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishlistItem {
    pub sku: String,
    pub preferred_size: Option<String>,
}

/// A whole wishlist: one register per SKU ever touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wishlist {
    pub entries: BTreeMap<String, WishEntry>,
}

/// The op a wishlist event stands for, and its SKU.
pub fn op_of(event: &WishlistEvent) -> (&str, WishOp) {
    match event {
        WishlistEvent::ItemAdded {
            sku,
            preferred_size,
        } => (
            sku,
            WishOp::Add {
                preferred_size: preferred_size.clone(),
            },
        ),
        WishlistEvent::ItemRemoved { sku } => (sku, WishOp::Remove),
    }
}

impl Wishlist {
    /// Applies one op to one SKU. Returns whether the wishlist changed.
    pub fn apply(&mut self, sku: &str, key: EventKey, op: WishOp) -> bool {
        let candidate = WishEntry { key, op };
        match self.entries.get_mut(sku) {
            Some(entry) => entry.merge(&candidate),
            None => {
                self.entries.insert(sku.to_owned(), candidate);
                true
            }
        }
    }

    pub fn apply_event(&mut self, key: EventKey, event: &WishlistEvent) -> bool {
        let (sku, op) = op_of(event);
        self.apply(sku, key, op)
    }

    /// Folds another wishlist in (e.g. a linked guest's).
    pub fn merge(&mut self, other: &Wishlist) -> bool {
        let mut changed = false;
        for (sku, entry) in &other.entries {
            changed |= self.apply(sku, entry.key.clone(), entry.op.clone());
        }
        changed
    }

    /// The SKUs in the wishlist, sorted.
    pub fn items(&self) -> Vec<WishlistItem> {
        self.entries
            .iter()
            .filter_map(|(sku, entry)| match &entry.op {
                WishOp::Add { preferred_size } => Some(WishlistItem {
                    sku: sku.clone(),
                    preferred_size: preferred_size.clone(),
                }),
                WishOp::Remove => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
