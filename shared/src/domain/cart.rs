//! The cart line rule (contract §3, Cart).
//!
//! A line's quantity is the fold, in event order, of every op on that SKU, from 0: `item_added`
//! adds (capped at 999), `item_quantity_set` sets, `item_removed` and `cart.cleared` set 0, and a
//! purchase in `order.placed` subtracts (floored at 0).
//!
//! Because a set (or remove, or clear) wipes out everything before it, a line keeps only its
//! latest *reset* and the adds and purchases after it ([`LineState`]). That state is a
//! join-semilattice: [`LineState::merge`] is commutative, associative and idempotent, so any
//! order, duplication, batching or concurrency of deliveries ends in the same state, and two
//! states (for example a guest's and a customer's, or two racing writers') combine without loss.
//! The event key inside each entry is the dedupe record: a redelivered event finds itself already
//! there (or superseded) and changes nothing.

use crate::contract::{CartEvent, EventKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most a cart line can hold.
pub const MAX_LINE_QUANTITY: u32 = 999;

/// The most adds a line keeps after its latest reset. Past it, the oldest are folded into a
/// reset ([`LineState::compaction_point`]), so a line item stays small whatever comes: at most
/// 100 entries of at most ~150 bytes (15 KB, where DynamoDB's limit is 400 KB), and a write of
/// it costs at most 15 write units.
pub const MAX_LINE_DELTAS: usize = 100;

/// How many of the newest adds a compaction keeps.
pub const DELTAS_KEPT: usize = MAX_LINE_DELTAS / 2;

/// One op on one SKU line, as the fold sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineOp {
    /// The line now holds exactly this many (`item_quantity_set`; `item_removed` and
    /// `cart.cleared` are `Set(0)`).
    Set(u32),
    /// `item_added`: add, capped at 999.
    Add(u32),
    /// A purchase in `order.placed`: subtract, floored at 0.
    Purchase(u32),
}

/// An op that does not wipe the line: kept in order after the latest reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delta {
    Add(u32),
    Purchase(u32),
}

impl Delta {
    fn apply(self, quantity: u32) -> u32 {
        match self {
            Delta::Add(n) => quantity.saturating_add(n).min(MAX_LINE_QUANTITY),
            Delta::Purchase(n) => quantity.saturating_sub(n),
        }
    }
}

/// The latest reset of a line: its key and the quantity it set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reset {
    pub key: EventKey,
    pub quantity: u32,
}

/// The compact state of one cart line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineState {
    /// The latest set/remove/clear seen for this line, if any.
    pub reset: Option<Reset>,
    /// Adds and purchases after `reset`, by event key.
    pub deltas: BTreeMap<EventKey, Delta>,
}

impl LineState {
    /// Applies one op. Returns whether the state changed (false for a duplicate or an op that an
    /// already known later reset supersedes).
    pub fn apply(&mut self, key: EventKey, op: LineOp) -> bool {
        match op {
            LineOp::Set(quantity) => self.apply_reset(Reset { key, quantity }),
            LineOp::Add(n) => self.apply_delta(key, Delta::Add(n)),
            LineOp::Purchase(n) => self.apply_delta(key, Delta::Purchase(n)),
        }
    }

    fn apply_reset(&mut self, reset: Reset) -> bool {
        if self
            .reset
            .as_ref()
            .is_some_and(|known| known.key >= reset.key)
        {
            return false;
        }
        self.deltas = self.deltas.split_off(&reset.key);
        self.reset = Some(reset);
        true
    }

    fn apply_delta(&mut self, key: EventKey, delta: Delta) -> bool {
        if self.reset.as_ref().is_some_and(|known| known.key >= key)
            || self.deltas.contains_key(&key)
        {
            return false;
        }
        self.deltas.insert(key, delta);
        true
    }

    /// Folds `other` in (the semilattice join). Returns whether `self` changed.
    pub fn merge(&mut self, other: &LineState) -> bool {
        let mut changed = false;
        if let Some(reset) = &other.reset {
            changed |= self.apply_reset(reset.clone());
        }
        for (key, delta) in &other.deltas {
            changed |= self.apply_delta(key.clone(), *delta);
        }
        changed
    }

    /// The part of `self` that `stored` lacks: the ops of `self` that merging it into `stored`
    /// would add (a reset later than `stored`'s, and the deltas after both resets that `stored`
    /// does not hold). `stored.merge(self)` and `stored.merge(&self.missing_from(stored))` end
    /// in the same state, and the result is empty exactly when the merge would change nothing:
    /// it is what one write must add to a stored line, and nothing more.
    pub fn missing_from(&self, stored: &LineState) -> LineState {
        let reset = self
            .reset
            .as_ref()
            .filter(|reset| {
                stored
                    .reset
                    .as_ref()
                    .is_none_or(|known| known.key < reset.key)
            })
            .cloned();
        let floor = match (&reset, &stored.reset) {
            (Some(new), _) => Some(&new.key),
            (None, known) => known.as_ref().map(|r| &r.key),
        };
        let deltas = self
            .deltas
            .iter()
            .filter(|(key, _)| floor.is_none_or(|floor| *key > floor))
            .filter(|(key, _)| !stored.deltas.contains_key(*key))
            .map(|(key, delta)| (key.clone(), *delta))
            .collect();
        LineState { reset, deltas }
    }

    /// Whether the op of `key` is one of this state's (its reset, or one of its deltas).
    pub fn holds(&self, key: &EventKey) -> bool {
        self.reset.as_ref().is_some_and(|reset| reset.key == *key) || self.deltas.contains_key(key)
    }

    /// The oldest key of the state: the reset's when there is one (every delta is after it),
    /// else the first delta's.
    pub fn first_key(&self) -> Option<&EventKey> {
        self.reset
            .as_ref()
            .map(|reset| &reset.key)
            .or_else(|| self.deltas.keys().next())
    }

    /// The line's quantity.
    pub fn quantity(&self) -> u32 {
        self.quantity_after(None)
    }

    /// The line's quantity when a cart-wide clear at `cleared` is taken into account too.
    pub fn quantity_after(&self, cleared: Option<&EventKey>) -> u32 {
        let own = self.reset.as_ref().map(|r| (&r.key, r.quantity));
        let clear = cleared.map(|key| (key, 0));
        let start = match (own, clear) {
            (Some(own), Some(clear)) => Some(if own.0 >= clear.0 { own } else { clear }),
            (own, clear) => own.or(clear),
        };
        let (from, quantity) = match start {
            Some((key, quantity)) => (Some(key), quantity),
            None => (None, 0),
        };
        self.deltas
            .iter()
            .filter(|(key, _)| from.is_none_or(|from| *key > from))
            .fold(quantity, |q, (_, delta)| delta.apply(q))
    }

    /// Where to compact the line, when it keeps more than [`MAX_LINE_DELTAS`] adds: the key of
    /// the newest add to fold into a reset (all but the [`DELTAS_KEPT`] newest). Applying
    /// `Set(q)` at that key, where `q` is the customer's line quantity counting the ops up to it
    /// ([`crate::domain::shopping::line_quantity_at`]), changes no quantity; what it gives up is
    /// an op that arrives later with a key before that point (behind 50 newer adds of the
    /// same line), which the reset supersedes, and the redelivery of a folded add, which is
    /// superseded too, so it still counts once.
    pub fn compaction_point(&self) -> Option<EventKey> {
        if self.deltas.len() <= MAX_LINE_DELTAS {
            return None;
        }
        self.deltas
            .keys()
            .nth(self.deltas.len() - DELTAS_KEPT - 1)
            .cloned()
    }

    /// Whether the line has never seen an op.
    pub fn is_empty(&self) -> bool {
        self.reset.is_none() && self.deltas.is_empty()
    }
}

/// What one cart event does: to one line, or to the whole cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartEffect<'a> {
    Line { sku: &'a str, op: LineOp },
    Clear,
}

/// Maps a cart event to its effect on the fold.
pub fn effect(event: &CartEvent) -> CartEffect<'_> {
    match event {
        CartEvent::ItemAdded { sku, quantity } => CartEffect::Line {
            sku,
            op: LineOp::Add(*quantity),
        },
        CartEvent::ItemQuantitySet { sku, quantity } => CartEffect::Line {
            sku,
            op: LineOp::Set(*quantity),
        },
        CartEvent::ItemRemoved { sku } => CartEffect::Line {
            sku,
            op: LineOp::Set(0),
        },
        CartEvent::Cleared => CartEffect::Clear,
    }
}

/// A whole cart: the latest clear plus every line's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    pub cleared: Option<EventKey>,
    pub lines: BTreeMap<String, LineState>,
}

/// One line as every channel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub quantity: u32,
}

impl Cart {
    /// Applies one cart event. Returns whether the cart's state changed.
    pub fn apply(&mut self, key: EventKey, event: &CartEvent) -> bool {
        match effect(event) {
            CartEffect::Clear => self.apply_clear(key),
            CartEffect::Line { sku, op } => self.apply_line(sku, key, op),
        }
    }

    pub fn apply_line(&mut self, sku: &str, key: EventKey, op: LineOp) -> bool {
        self.lines.entry(sku.to_owned()).or_default().apply(key, op)
    }

    pub fn apply_clear(&mut self, key: EventKey) -> bool {
        if self.cleared.as_ref().is_some_and(|known| *known >= key) {
            return false;
        }
        self.cleared = Some(key);
        true
    }

    /// Folds another cart in (the union of both op sets): the later clear, and every line merged.
    pub fn merge(&mut self, other: &Cart) -> bool {
        let mut changed = false;
        if let Some(cleared) = &other.cleared {
            changed |= self.apply_clear(cleared.clone());
        }
        for (sku, line) in &other.lines {
            changed |= self.lines.entry(sku.clone()).or_default().merge(line);
        }
        changed
    }

    /// The lines with a quantity above 0, sorted by SKU.
    pub fn lines(&self) -> Vec<CartLine> {
        self.lines
            .iter()
            .map(|(sku, line)| CartLine {
                sku: sku.clone(),
                quantity: line.quantity_after(self.cleared.as_ref()),
            })
            .filter(|line| line.quantity > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests;
