//! The one scan: which customers the table holds, a page at a time, for the recoveries that
//! cannot know whom a lost change touched (its stream records are gone) and so go through all
//! of them. Nothing on a live path scans.
//!
//! A page is one `Scan` request ([`SWEEP_PAGE_ITEMS`] items read), projected to the keys and filtered to
//! customer partitions (and, for the ledger, to order items). Where it stopped is a
//! [`ScanPosition`] that can be written into a message and resumed from by another invocation.

use super::key::{CUSTOMER_PREFIX, customer_of_pk};
use super::{StoreError, Table};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How many items a page reads (before the filter).
pub const SWEEP_PAGE_ITEMS: i32 = 100;

/// Where a scan goes on from: the last key of the page before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPosition {
    pub pk: String,
    pub sk: String,
}

/// One page of customers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomersPage {
    /// The customer (and guest) id of each matching item on this page, in scan order, with the
    /// item's key: a scan resumed from that key goes on after the item.
    pub items: Vec<(String, ScanPosition)>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<ScanPosition>,
}

impl Table {
    /// One page of the ids that have an item whose sort key starts with `sk_prefix` (any item
    /// when it is empty), from `after`.
    pub async fn customers_page(
        &self,
        sk_prefix: &str,
        after: Option<&ScanPosition>,
    ) -> Result<CustomersPage, StoreError> {
        let request = self
            .client
            .scan()
            .table_name(&self.name)
            .limit(SWEEP_PAGE_ITEMS)
            .projection_expression("pk, sk")
            .filter_expression("begins_with(pk, :customer) AND begins_with(sk, :sk)")
            .expression_attribute_values(":customer", AttributeValue::S(CUSTOMER_PREFIX.into()))
            .expression_attribute_values(":sk", AttributeValue::S(sk_prefix.into()));
        let request = match after {
            Some(position) => request.set_exclusive_start_key(Some(HashMap::from([
                ("pk".to_owned(), AttributeValue::S(position.pk.clone())),
                ("sk".to_owned(), AttributeValue::S(position.sk.clone())),
            ]))),
            None => request,
        };
        let (from_pk, from_sk) = after
            .map(|p| (p.pk.as_str(), p.sk.as_str()))
            .unwrap_or_default();
        let page = request
            .send()
            .await
            .map_err(|e| self.request_error("Scan", from_pk, from_sk, e.into()))?;
        let key = |item: &HashMap<String, AttributeValue>, name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        let items = page
            .items()
            .iter()
            .filter_map(|item| {
                let position = ScanPosition {
                    pk: key(item, "pk")?,
                    sk: key(item, "sk")?,
                };
                let id = customer_of_pk(&position.pk)?.to_owned();
                Some((id, position))
            })
            .collect();
        let next = page.last_evaluated_key().and_then(|last| {
            Some(ScanPosition {
                pk: key(last, "pk")?,
                sk: key(last, "sk")?,
            })
        });
        Ok(CustomersPage { items, next })
    }
}
