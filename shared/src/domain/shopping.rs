//! A customer's shopping state: the cart and the wishlist every channel shows.
//!
//! Both are folds over the union of several op sets (contract §3, Cart, Wishlist, Identity):
//! - the customer id's own cart and wishlist ops,
//! - the ops of every guest id linked to it (whenever they occurred or arrived, a guest's
//!   `cart.cleared` included),
//! - the purchases of every `order.placed` under those ids: each line subtracts its quantity from
//!   the cart line and takes the SKU off the wishlist, at the order's place in event order.
//!
//! Purchases are not written into cart and wishlist items: the order item itself is the op, and
//! it lives in the same partition, so the read that builds the view folds it in. That makes the
//! effect of a late `order.placed` land in the right place in event order with no extra write and
//! no second write that could fail on its own.

use super::cart::{Cart, CartLine, LineOp};
use super::wishlist::{WishOp, Wishlist, WishlistItem};
use crate::contract::EventKey;

/// An `order.placed` as a cart and wishlist op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub key: EventKey,
    /// `(sku, quantity)` per order line.
    pub lines: Vec<(String, u32)>,
}

/// What one id (a customer's or a guest's) contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdOps {
    pub cart: Cart,
    pub wishlist: Wishlist,
    pub purchases: Vec<Purchase>,
}

/// The cart and wishlist as channels show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shopping {
    pub cart: Vec<CartLine>,
    pub wishlist: Vec<WishlistItem>,
}

/// Folds a customer's own ops and those of its linked guests into one cart and one wishlist.
pub fn shopping(own: &IdOps, linked_guests: &[&IdOps]) -> Shopping {
    let mut cart = own.cart.clone();
    let mut wishlist = own.wishlist.clone();
    for guest in linked_guests {
        cart.merge(&guest.cart);
        wishlist.merge(&guest.wishlist);
    }
    let purchases = own
        .purchases
        .iter()
        .chain(linked_guests.iter().flat_map(|g| g.purchases.iter()));
    for purchase in purchases {
        for (sku, quantity) in &purchase.lines {
            cart.apply_line(sku, purchase.key.clone(), LineOp::Purchase(*quantity));
            wishlist.apply(sku, purchase.key.clone(), WishOp::Remove);
        }
    }
    Shopping {
        cart: cart.lines(),
        wishlist: wishlist.items(),
    }
}

/// The quantity of `sku` in the cart `own` and `linked_guests` fold to, counting only the ops
/// up to `at` (inclusive): what a compaction of that line writes as its reset at `at` (see
/// [`crate::domain::cart::LineState::compaction_point`]).
pub fn line_quantity_at(own: &IdOps, linked_guests: &[&IdOps], sku: &str, at: &EventKey) -> u32 {
    let upto = |ops: &IdOps| -> IdOps {
        let mut cart = Cart {
            cleared: ops.cart.cleared.clone().filter(|key| key <= at),
            ..Cart::default()
        };
        if let Some(line) = ops.cart.lines.get(sku) {
            cart.lines.insert(
                sku.to_owned(),
                super::cart::LineState {
                    reset: line.reset.clone().filter(|reset| &reset.key <= at),
                    deltas: line
                        .deltas
                        .range(..=at.clone())
                        .map(|(key, delta)| (key.clone(), *delta))
                        .collect(),
                },
            );
        }
        IdOps {
            cart,
            wishlist: Wishlist::default(),
            purchases: ops
                .purchases
                .iter()
                .filter(|purchase| &purchase.key <= at)
                .cloned()
                .collect(),
        }
    };
    let own = upto(own);
    let guests: Vec<IdOps> = linked_guests.iter().map(|guest| upto(guest)).collect();
    let guests: Vec<&IdOps> = guests.iter().collect();
    shopping(&own, &guests)
        .cart
        .iter()
        .find(|line| line.sku == sku)
        .map_or(0, |line| line.quantity)
}

#[cfg(test)]
mod tests;
