//! Wishlist writes: one item per SKU holding its latest op (a register, tombstones included, so a
//! late older add cannot resurrect a removed SKU).

use super::items::StoredWish;
use super::key::{CustomerItem, customer_pk};
use super::write::written_unless_condition_failed;
use super::{StoreError, Table, WriteOutcome};
use crate::contract::EventKey;
use crate::domain::wishlist::{WishEntry, WishOp};
use aws_sdk_dynamodb::types::AttributeValue;

impl Table {
    /// Applies one op to the customer's entry for `sku` if it is the latest: one conditional
    /// `UpdateItem`, no read (a failed condition means the stored op is the same or later).
    pub async fn apply_wish(
        &self,
        customer_id: &str,
        sku: &str,
        key: EventKey,
        op: WishOp,
    ) -> Result<WriteOutcome, StoreError> {
        let entry = WishEntry { key, op };
        let stored = StoredWish::from_entry(&entry).indexed(sku, &customer_pk(customer_id));
        self.customer_item(customer_id, &CustomerItem::Wish(sku.to_owned()))
            .put_if_later(&stored, StoredWish::OPTIONAL)
            .await
    }

    /// Takes a wish item out of the wishlist index, if it still holds the op `key` (a purchase
    /// took the SKU off the wishlist at read time, so the index no longer needs to offer it; a
    /// later op re-indexes it as usual).
    pub async fn unindex_wish(
        &self,
        owner_id: &str,
        sku: &str,
        key: &EventKey,
    ) -> Result<(), StoreError> {
        let item = self.customer_item(owner_id, &CustomerItem::Wish(sku.to_owned()));
        let updated = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(item.pk.clone()))
            .key("sk", AttributeValue::S(item.sk.clone()))
            .update_expression("REMOVE gsi1pk, gsi1sk ADD #rev :one")
            .condition_expression("#t = :t AND #e = :e")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_names("#t", "t")
            .expression_attribute_names("#e", "e")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":t", AttributeValue::N(key.at_ms.to_string()))
            .expression_attribute_values(":e", AttributeValue::S(key.event_id.clone()))
            .send()
            .await;
        // A failed condition: a newer op changed the item, and it is indexed as that op says.
        written_unless_condition_failed(updated, |e| item.request_error("UpdateItem", e))
            .map(|_| ())
    }
}
