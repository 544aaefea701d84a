//! Wishlist writes: one item per SKU holding its latest op (a register, tombstones included, so a
//! late older add cannot resurrect a removed SKU).

use super::items::StoredWish;
use super::key::{CustomerItem, customer_pk};
use super::{StoreError, Table, WriteOutcome};
use crate::contract::EventKey;
use crate::domain::wishlist::{WishEntry, WishOp};

impl Table {
    /// Applies one op to the customer's entry for `sku` if it is the latest.
    pub async fn apply_wish(
        &self,
        customer_id: &str,
        sku: &str,
        key: EventKey,
        op: WishOp,
    ) -> Result<WriteOutcome, StoreError> {
        let candidate = WishEntry { key, op };
        let pk = customer_pk(customer_id);
        self.customer_item(customer_id, &CustomerItem::Wish(sku.to_owned()))
            .update(|stored: &mut StoredWish| match stored.to_entry() {
                Some(mut entry) => {
                    let changed = entry.merge(&candidate);
                    *stored = StoredWish::from_entry(&entry).indexed(sku, &pk);
                    changed
                }
                None => {
                    *stored = StoredWish::from_entry(&candidate).indexed(sku, &pk);
                    true
                }
            })
            .await
    }
}
