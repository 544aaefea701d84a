//! Wishlist writes: one item per SKU holding its latest op (a register, tombstones included, so a
//! late older add cannot resurrect a removed SKU).

use super::items::{StoredWish, WISH_PREFIX};
use super::versioned::Versioned;
use super::{StoreError, WriteOutcome, customer_pk};
use crate::contract::EventKey;
use crate::domain::wishlist::{WishEntry, WishOp};

#[derive(Debug, Clone)]
pub struct WishlistStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl WishlistStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        WishlistStore {
            client,
            table: table.into(),
        }
    }

    /// Applies one op to the customer's entry for `sku` if it is the latest.
    pub async fn apply(
        &self,
        customer_id: &str,
        sku: &str,
        key: EventKey,
        op: WishOp,
    ) -> Result<WriteOutcome, StoreError> {
        let candidate = WishEntry { key, op };
        let pk = customer_pk(customer_id);
        let item = Versioned {
            client: &self.client,
            table: &self.table,
            pk: pk.clone(),
            sk: format!("{WISH_PREFIX}{sku}"),
        };
        item.update(|stored: &mut StoredWish| match stored.to_entry() {
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
