//! A customer's state: everything every channel shows about one customer, assembled from what is
//! stored under its id and under the guest ids linked to it.
//!
//! The rule (contract §3, Identity): a customer's cart and wishlist are the folds over its own ops
//! and those of every guest id whose link to it won (the earliest link in event order, checked
//! on the guest's side); a guest id that is linked shows an empty cart and wishlist; orders,
//! refunds and loyalty stay with the id they were sent under. The store reads the partitions;
//! [`CustomerState::assemble`] applies the rule, with no I/O.

use super::attribution::Touch;
use super::cart::Cart;
use super::loyalty::{DebitDecision, LedgerEntry};
use super::order::Order;
use super::refund::RefundDecision;
use super::report::{Reported, reported_now};
use super::shopping::{IdOps, Purchase, Shopping, shopping};
use super::timeline::{Entry, IdTimeline, timeline};
use super::wishlist::Wishlist;
use crate::contract::EventKey;

/// Everything stored under one id (a customer's or a guest's).
#[derive(Debug, Clone, Default)]
pub struct IdState {
    pub ops: IdOps,
    pub orders: Vec<Order>,
    pub refunds: Vec<RefundDecision>,
    pub loyalty: Loyalty,
    /// When this id is a guest id that was linked: the customer and the link's key.
    pub linked_to: Option<(String, EventKey)>,
    /// Guest ids this id was linked with (not yet verified on the guest side).
    pub guests: Vec<String>,
    /// The events recorded for its timeline, per strand.
    pub timeline: IdTimeline,
    /// Its touches (those still kept, see `store/touches.rs`).
    pub touches: Vec<Touch>,
    /// The stores it was touched in.
    pub stores: Vec<String>,
}

impl IdState {
    /// The stores that count as this id's own (contract §3, Inventory, nearby stores): where it
    /// picked up an order, bought in store, or was touched.
    pub fn own_stores(&self) -> impl Iterator<Item = &str> {
        self.orders
            .iter()
            .flat_map(|order| {
                let bought_in = (order.fulfillment == crate::contract::Fulfillment::InStore)
                    .then_some(order.store_id.as_deref())
                    .flatten();
                order
                    .pickup_store_id
                    .as_deref()
                    .into_iter()
                    .chain(bought_in)
            })
            .chain(self.stores.iter().map(String::as_str))
    }

    /// Adds an order: it is also a purchase op on the cart and the wishlist.
    pub fn add_order(&mut self, order: Order) {
        self.ops.purchases.push(Purchase {
            key: order.placed.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect(),
        });
        self.orders.push(order);
    }

    pub fn cart_mut(&mut self) -> &mut Cart {
        &mut self.ops.cart
    }

    pub fn wishlist_mut(&mut self) -> &mut Wishlist {
        &mut self.ops.wishlist
    }

    /// Whether this id's link to `customer_id` is the one that won.
    pub fn is_linked_to(&self, customer_id: &str) -> bool {
        self.linked_to
            .as_ref()
            .is_some_and(|(to, _)| to == customer_id)
    }
}

/// An id's loyalty points: the balance item and what it is made of.
#[derive(Debug, Clone, Default)]
pub struct Loyalty {
    /// The balance item (0 when none was written yet).
    pub balance: i64,
    /// Every ledger entry, sorted by id.
    pub entries: Vec<LedgerEntry>,
    /// Redemption decisions, sorted by id.
    pub redemptions: Vec<DebitDecision>,
    /// Adjustment decisions, sorted by id.
    pub adjustments: Vec<DebitDecision>,
}

/// A customer's state as channels show it.
#[derive(Debug, Clone, Default)]
pub struct CustomerState {
    pub customer_id: String,
    pub shopping: Shopping,
    /// Sorted by `order_id`.
    pub orders: Vec<Order>,
    /// Refund decisions on this id's requests, sorted by `refund_id`.
    pub refunds: Vec<RefundDecision>,
    pub loyalty: Loyalty,
    pub linked_to: Option<String>,
    /// The guest ids whose ops are folded into this customer's cart and wishlist.
    pub linked_guests: Vec<String>,
    /// Its timeline: the 20 latest events, newest first (`domain::timeline`).
    pub timeline: Vec<Entry>,
    /// The touches that count for its orders' attribution: its own and its linked guests'.
    pub touches: Vec<Touch>,
    /// Its stores and its linked guests' (contract §3, nearby stores), sorted.
    pub stores: std::collections::BTreeSet<String>,
    /// The report records of its orders, by order id, as read (empty when not read: the
    /// attribution is then computed from the touches alone).
    pub reported: std::collections::BTreeMap<String, Reported>,
}

impl CustomerState {
    /// Assembles a customer's state from its own id's state and the states of the guest ids it
    /// lists (`guests`, as `(guest_id, state)`); a guest whose winning link is to someone else is
    /// left out.
    pub fn assemble(customer_id: &str, own: IdState, guests: Vec<(String, IdState)>) -> Self {
        let (linked_guests, guests): (Vec<String>, Vec<IdState>) = if own.linked_to.is_none() {
            guests
                .into_iter()
                .filter(|(_, guest)| guest.is_linked_to(customer_id))
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let shopping = match own.linked_to {
            Some(_) => Shopping::default(),
            None => shopping(&own.ops, &guests.iter().map(|g| &g.ops).collect::<Vec<_>>()),
        };
        let timeline = timeline(
            &own.timeline,
            own.linked_to.is_some(),
            &guests.iter().map(|g| &g.timeline).collect::<Vec<_>>(),
        );
        let stores = own
            .own_stores()
            .chain(guests.iter().flat_map(IdState::own_stores))
            .map(str::to_owned)
            .collect();
        let mut touches = own.touches;
        touches.extend(guests.into_iter().flat_map(|g| g.touches));
        let mut orders = own.orders;
        orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
        let mut refunds = own.refunds;
        refunds.sort_by(|a, b| a.refund_id.cmp(&b.refund_id));
        CustomerState {
            customer_id: customer_id.to_owned(),
            shopping,
            orders,
            refunds,
            loyalty: own.loyalty,
            linked_to: own.linked_to.map(|(to, _)| to),
            linked_guests,
            timeline,
            touches,
            stores,
            reported: Default::default(),
        }
    }

    /// Each order's report record as it is now: the stored one (if read) joined with what the
    /// touches give (`domain::report::reported_now`), by order id.
    pub fn reported_now(&self) -> std::collections::BTreeMap<String, Reported> {
        self.orders
            .iter()
            .map(|order| {
                let stored = self.reported.get(&order.order_id);
                (
                    order.order_id.clone(),
                    reported_now(order, stored, &self.touches),
                )
            })
            .collect()
    }

    /// Whether a store is one of this customer's stores.
    pub fn is_their_store(&self, store_id: &str) -> bool {
        self.stores.contains(store_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cart::LineOp;

    fn with_line(sku: &str, quantity: u32) -> IdState {
        let mut state = IdState::default();
        state.cart_mut().apply_line(
            sku,
            EventKey::new(1, format!("add-{sku}")),
            LineOp::Add(quantity),
        );
        state
    }

    #[test]
    fn only_guests_whose_winning_link_is_to_the_customer_are_folded_in() {
        let mut mine = with_line("G", 2);
        mine.linked_to = Some(("c-1".into(), EventKey::new(5, "l-1")));
        let mut theirs = with_line("H", 1);
        theirs.linked_to = Some(("c-2".into(), EventKey::new(4, "l-0")));
        let own = with_line("A", 1);
        let state = CustomerState::assemble(
            "c-1",
            own,
            vec![("g-1".into(), mine), ("g-2".into(), theirs)],
        );
        assert_eq!(state.linked_guests, vec!["g-1".to_owned()]);
        let skus: Vec<&str> = state.shopping.cart.iter().map(|l| l.sku.as_str()).collect();
        assert_eq!(skus, ["A", "G"]);
    }

    #[test]
    fn a_linked_guest_shows_an_empty_cart() {
        let mut guest = with_line("G", 2);
        guest.linked_to = Some(("c-1".into(), EventKey::new(5, "l-1")));
        let state = CustomerState::assemble("g-1", guest, Vec::new());
        assert!(state.shopping.cart.is_empty());
        assert_eq!(state.linked_to.as_deref(), Some("c-1"));
    }
}
