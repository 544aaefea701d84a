//! The order rules (contract §3, Orders).
//!
//! An order is created once, by the first `order.placed` processed for its `order_id` (a second
//! one with another `event_id` is `duplicate_order`: an order-dependent decision, made by the
//! store with a conditional write). Its status is `cancelled` if any `cancelled` event exists
//! (cancellation is final), else the latest, in event order, of `placed` (at its `occurred_at`)
//! and its `status_changed` events. [`OrderStatusState`] keeps just enough for that: the latest
//! status change and the earliest cancellation, both mergeable in any order.

use crate::contract::{Channel, EventKey, Fulfillment, OrderPlaced, OrderStatus};
use serde::{Deserialize, Serialize};

/// One order, as placed, with its status and refunded quantities (stored as is in its
/// customer's partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    /// The `order.placed` event's key.
    pub placed: EventKey,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    pub currency: String,
    pub fulfillment: Fulfillment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_store_id: Option<String>,
    pub lines: Vec<PurchasedLine>,
    pub total_minor: u64,
    #[serde(default)]
    pub status: OrderStatusState,
}

impl Order {
    /// The order an `order.placed` creates: nothing refunded, no status change yet.
    pub fn placed(
        key: &EventKey,
        channel: Channel,
        store_id: Option<&str>,
        order: &OrderPlaced,
    ) -> Self {
        Order {
            order_id: order.order_id.clone(),
            placed: key.clone(),
            channel,
            store_id: store_id.map(str::to_owned),
            currency: order.currency.clone(),
            fulfillment: order.fulfillment,
            pickup_store_id: order.pickup_store_id.clone(),
            lines: order
                .lines
                .iter()
                .map(|line| PurchasedLine {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                    unit_price_minor: line.unit_price_minor,
                    refunded_quantity: 0,
                })
                .collect(),
            total_minor: order.total_minor(),
            status: OrderStatusState::default(),
        }
    }

    /// The total minus approved refunds.
    pub fn remaining_minor(&self) -> u64 {
        self.total_minor.saturating_sub(self.refunded_minor())
    }

    /// What approved refunds gave back.
    pub fn refunded_minor(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| u64::from(l.refunded_quantity) * l.unit_price_minor)
            .sum()
    }

    pub fn is_cancelled(&self) -> bool {
        self.status.cancelled.is_some()
    }
}

/// One line of a placed order, with how much of it was refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchasedLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_minor: u64,
    #[serde(default)]
    pub refunded_quantity: u32,
}

/// The status part of an order, folded from its `status_changed` events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusState {
    /// The latest non-cancelling status change.
    pub latest: Option<(EventKey, OrderStatus)>,
    /// The earliest cancellation (any one makes the order cancelled).
    pub cancelled: Option<EventKey>,
}

impl OrderStatusState {
    /// Folds one `status_changed` in. Returns whether the state changed.
    pub fn apply(&mut self, key: EventKey, status: OrderStatus) -> bool {
        if status == OrderStatus::Cancelled {
            if self.cancelled.as_ref().is_some_and(|known| *known <= key) {
                return false;
            }
            self.cancelled = Some(key);
            return true;
        }
        if self.latest.as_ref().is_some_and(|(known, _)| *known >= key) {
            return false;
        }
        self.latest = Some((key, status));
        true
    }

    /// The order's status, given the key of its `order.placed`.
    pub fn status(&self, placed: &EventKey) -> OrderStatus {
        if self.cancelled.is_some() {
            return OrderStatus::Cancelled;
        }
        match &self.latest {
            Some((key, status)) if key > placed => *status,
            _ => OrderStatus::Placed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_status() -> impl Strategy<Value = OrderStatus> {
        prop::sample::select(OrderStatus::CHANGEABLE.to_vec())
    }

    /// The contract's rule, naively.
    fn naive(placed: &EventKey, changes: &[(EventKey, OrderStatus)]) -> OrderStatus {
        if changes.iter().any(|(_, s)| *s == OrderStatus::Cancelled) {
            return OrderStatus::Cancelled;
        }
        changes
            .iter()
            .filter(|(k, _)| k > placed)
            .max_by(|a, b| a.0.cmp(&b.0))
            .map_or(OrderStatus::Placed, |(_, s)| *s)
    }

    fn arb_changes() -> impl Strategy<Value = Vec<(EventKey, OrderStatus)>> {
        prop::collection::vec((0i64..10, arb_status()), 0..12).prop_map(|changes| {
            changes
                .into_iter()
                .enumerate()
                .map(|(i, (at, s))| (EventKey::new(at, format!("s{i:02}")), s))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn status_follows_the_rule_in_any_order_with_duplicates(
            placed_at in 0i64..10,
            (changes, delivered) in arb_changes().prop_flat_map(|changes| {
                let mut with_repeats = changes.clone();
                with_repeats.extend(changes.iter().step_by(2).cloned());
                (Just(changes), Just(with_repeats).prop_shuffle())
            }),
        ) {
            let placed = EventKey::new(placed_at, "placed");
            let mut state = OrderStatusState::default();
            for (key, status) in &delivered {
                state.apply(key.clone(), *status);
            }
            prop_assert_eq!(state.status(&placed), naive(&placed, &changes));
        }
    }

    #[test]
    fn cancellation_is_final() {
        let placed = EventKey::new(1, "p");
        let mut state = OrderStatusState::default();
        state.apply(EventKey::new(2, "c"), OrderStatus::Cancelled);
        state.apply(EventKey::new(3, "d"), OrderStatus::Delivered);
        assert_eq!(state.status(&placed), OrderStatus::Cancelled);
    }

    #[test]
    fn a_status_older_than_the_placement_does_not_win() {
        let placed = EventKey::new(5, "p");
        let mut state = OrderStatusState::default();
        state.apply(EventKey::new(4, "s"), OrderStatus::Shipped);
        assert_eq!(state.status(&placed), OrderStatus::Placed);
        state.apply(EventKey::new(6, "t"), OrderStatus::PickedUp);
        assert_eq!(state.status(&placed), OrderStatus::PickedUp);
    }
}
