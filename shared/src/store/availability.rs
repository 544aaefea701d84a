//! Availability timelines and back-in-stock bookkeeping.
//!
//! Every report is its own item in the partition of its `(sku, size, store_id)`
//! (`STOCK#<json of the triple>`), sorted by event order, so a late report finds its neighbours
//! with two one-item queries; the item itself is the dedupe record. Wishers are found through
//! the sparse `wishlist-by-sku` index, a page at a time, never by a scan. Who is notified of a
//! restock, and whether they were, is in [`super::notifications`].
//!
//! A timeline keeps its latest report for good (the next report is compared with it) and lets
//! the superseded ones expire: a report that gets a later one is given an `expires_at`
//! [`SUPERSEDED_REPORT_RETENTION_SECONDS`] from then (the table's TTL), long enough for any late
//! report to still find its neighbours. A report that arrives later than that, between two
//! expired ones, is placed against what is left.

use super::key::{WISH_INDEX, customer_of_pk, report_sk, stock_pk};
use super::write::{decode, written_unless_condition_failed};
use super::{StoreError, Table};
use crate::contract::{AvailabilityChanged, EventKey};
use crate::domain::availability::Report;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// How long a superseded report is kept (DynamoDB TTL on `expires_at`): 30 days.
pub const SUPERSEDED_REPORT_RETENTION_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredReport {
    #[serde(flatten)]
    key: EventKey,
    available_quantity: u32,
}

impl From<StoredReport> for Report {
    fn from(stored: StoredReport) -> Report {
        Report {
            key: stored.key,
            available_quantity: stored.available_quantity,
        }
    }
}

/// A report placed in its timeline: the report before it, itself, and the one after it, in
/// event order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePlace {
    pub previous: Option<Report>,
    pub current: Report,
    pub next: Option<Report>,
}

impl Table {
    /// Records a report (once) and returns it with its neighbours in event order.
    pub async fn record_report(
        &self,
        event: &AvailabilityChanged,
        key: &EventKey,
    ) -> Result<TimelinePlace, StoreError> {
        let pk = stock_pk(event);
        let sk = report_sk(key);
        let current = StoredReport {
            key: key.clone(),
            available_quantity: event.available_quantity,
        };
        self.item(pk.clone(), sk.clone()).create(&current).await?;
        let previous = self.neighbour(&pk, &sk, false).await?;
        let next = self.neighbour(&pk, &sk, true).await?;
        // Whatever has a later report is superseded. A crash before these writes leaves a
        // report kept for good, never one expired too early.
        if let Some(previous) = &previous {
            self.expire_report(&pk, &report_sk(&previous.key)).await?;
        }
        if next.is_some() {
            self.expire_report(&pk, &sk).await?;
        }
        Ok(TimelinePlace {
            previous: previous.map(Report::from),
            current: current.into(),
            next: next.map(Report::from),
        })
    }

    /// Lets a superseded report expire (once: a later call keeps the first `expires_at`).
    async fn expire_report(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        let expires_at = crate::clock::now_ms() / 1000 + SUPERSEDED_REPORT_RETENTION_SECONDS;
        let sent = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression("SET expires_at = :at")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(expires_at)")
            .expression_attribute_values(":at", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        // A failed condition: it expires already (or is gone).
        written_unless_condition_failed(sent, |e| self.request_error("UpdateItem", pk, sk, e))
            .map(|_| ())
    }

    async fn neighbour(
        &self,
        pk: &str,
        sk: &str,
        after: bool,
    ) -> Result<Option<StoredReport>, StoreError> {
        let condition = if after {
            "pk = :pk AND sk > :sk"
        } else {
            "pk = :pk AND sk < :sk"
        };
        let output = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_values(":sk", AttributeValue::S(sk.to_owned()))
            .scan_index_forward(after)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("Query", pk, sk, e.into()))?;
        match output.items.unwrap_or_default().into_iter().next() {
            None => Ok(None),
            Some(item) => {
                let (report, _rev): (StoredReport, u64) = decode(pk, sk, item)?;
                Ok(Some(report))
            }
        }
    }

    /// One page (at most `limit`) of the ids (customer or guest) whose wishlist item for `sku` is
    /// added, from the sparse index, in index order, each with the position a read resumes from
    /// after it; and where the next page starts (`None` after the last).
    pub async fn wishers_page(
        &self,
        sku: &str,
        from: Option<&WishersCursor>,
        limit: i32,
    ) -> Result<(Vec<Wisher>, Option<WishersCursor>), StoreError> {
        let index_pk = super::key::wish_index_pk(sku);
        let output = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(WISH_INDEX)
            .key_condition_expression("gsi1pk = :sku")
            .expression_attribute_values(":sku", AttributeValue::S(index_pk.clone()))
            .set_exclusive_start_key(from.map(WishersCursor::to_key))
            .limit(limit)
            .send()
            .await
            .map_err(|e| self.request_error("Query", &index_pk, WISH_INDEX, e.into()))?;
        let wishers = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| {
                let id = match item.get("gsi1sk") {
                    Some(AttributeValue::S(owner)) => customer_of_pk(owner)?.to_owned(),
                    _ => return None,
                };
                Some(Wisher {
                    id,
                    after: WishersCursor::of_item(&item),
                })
            })
            .collect();
        Ok((
            wishers,
            output.last_evaluated_key.map(WishersCursor::of_key),
        ))
    }
}

/// One entry of the wishlist index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wisher {
    /// The customer or guest id whose wishlist item it is.
    pub id: String,
    /// Where a read of the index resumes after this entry.
    pub after: WishersCursor,
}

/// Where a page of the wishlist index starts: its last key, as DynamoDB returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishersCursor(std::collections::BTreeMap<String, String>);

impl WishersCursor {
    fn of_key(key: std::collections::HashMap<String, AttributeValue>) -> Self {
        WishersCursor(
            key.into_iter()
                .filter_map(|(name, value)| match value {
                    AttributeValue::S(text) => Some((name, text)),
                    _ => None,
                })
                .collect(),
        )
    }

    /// The position just after an index item: its index keys and its table keys, the key
    /// DynamoDB itself would return as `LastEvaluatedKey` had the page ended there.
    fn of_item(item: &std::collections::HashMap<String, AttributeValue>) -> Self {
        WishersCursor(
            ["pk", "sk", "gsi1pk", "gsi1sk"]
                .into_iter()
                .filter_map(|name| match item.get(name) {
                    Some(AttributeValue::S(text)) => Some((name.to_owned(), text.clone())),
                    _ => None,
                })
                .collect(),
        )
    }

    fn to_key(&self) -> std::collections::HashMap<String, AttributeValue> {
        self.0
            .iter()
            .map(|(name, text)| (name.clone(), AttributeValue::S(text.clone())))
            .collect()
    }
}
