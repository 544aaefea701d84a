//! Availability timelines and back-in-stock bookkeeping.
//!
//! Every report is its own item in the partition of its `(sku, size, store_id)`
//! (`STOCK#<json of the triple>`), sorted by event order, so a late report finds its neighbours
//! with two one-item queries; the item itself is the dedupe record. `NOTIFIED#<restock event>` /
//! `CUSTOMER#<id>` records that a customer was notified of a restock. Wishers are found through
//! the sparse `wishlist-by-sku` index, never by a scan.

use super::items::{WISH_INDEX, wish_index_pk};
use super::versioned::Versioned;
use super::{StoreError, customer_pk};
use crate::contract::{AvailabilityChanged, EventKey};
use crate::domain::availability::Report;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredReport {
    #[serde(flatten)]
    key: EventKey,
    available_quantity: u32,
}

/// Event order as a sort key: the instant, offset to stay positive and zero-padded, then the id.
fn report_sk(key: &EventKey) -> String {
    let shifted = i128::from(key.at_ms) + i128::from(i64::MAX) + 1;
    format!("{shifted:020}#{}", key.event_id)
}

pub fn stock_pk(event: &AvailabilityChanged) -> String {
    let triple = (&event.sku, &event.size, &event.store_id);
    format!(
        "STOCK#{}",
        serde_json::to_string(&triple).unwrap_or_default()
    )
}

#[derive(Debug, Clone)]
pub struct AvailabilityStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl AvailabilityStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        AvailabilityStore {
            client,
            table: table.into(),
        }
    }

    fn error(
        &self,
        operation: &'static str,
        pk: &str,
        sk: &str,
        source: aws_sdk_dynamodb::Error,
    ) -> StoreError {
        StoreError::Request {
            operation,
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            source: Box::new(source),
        }
    }

    /// Records a report (once) and returns it with its neighbours in event order.
    pub async fn record(
        &self,
        event: &AvailabilityChanged,
        key: &EventKey,
    ) -> Result<(Option<Report>, Report, Option<Report>), StoreError> {
        let pk = stock_pk(event);
        let sk = report_sk(key);
        let current = StoredReport {
            key: key.clone(),
            available_quantity: event.available_quantity,
        };
        Versioned {
            client: &self.client,
            table: &self.table,
            pk: pk.clone(),
            sk: sk.clone(),
        }
        .create(&current)
        .await?;
        let previous = self.neighbour(&pk, &sk, false).await?;
        let next = self.neighbour(&pk, &sk, true).await?;
        let as_report = |r: StoredReport| Report {
            key: r.key,
            available_quantity: r.available_quantity,
        };
        Ok((
            previous.map(as_report),
            as_report(current),
            next.map(as_report),
        ))
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
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_values(":sk", AttributeValue::S(sk.to_owned()))
            .scan_index_forward(after)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("Query", pk, sk, e.into()))?;
        match output.items.unwrap_or_default().into_iter().next() {
            None => Ok(None),
            Some(item) => {
                let (report, _rev): (StoredReport, u64) = super::versioned::decode(pk, sk, item)?;
                Ok(Some(report))
            }
        }
    }

    /// The ids (customer or guest) whose wishlist item for `sku` is added, from the sparse index.
    pub async fn wishers(&self, sku: &str) -> Result<Vec<String>, StoreError> {
        let index_pk = wish_index_pk(sku);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(WISH_INDEX)
            .key_condition_expression("gsi1pk = :sku")
            .expression_attribute_values(":sku", AttributeValue::S(index_pk.clone()))
            .into_paginator()
            .items()
            .send();
        let mut ids = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.error("Query", &index_pk, WISH_INDEX, e.into()))?;
            if let Some(AttributeValue::S(owner)) = item.get("gsi1sk")
                && let Some(id) = owner.strip_prefix("CUSTOMER#")
                && !ids.iter().any(|known| known == id)
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    fn notified_item(&self, restock_event_id: &str, customer_id: &str) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.table,
            pk: format!("NOTIFIED#{restock_event_id}"),
            sk: customer_pk(customer_id),
        }
    }

    /// Claims the right to send a customer's notification for a restock. Whoever claims it sends
    /// and then calls [`Self::mark_sent`]; a claim older than [`CLAIM_LEASE_MS`] (its holder
    /// died between claiming and marking) may be taken over, so nothing is lost (at worst a copy
    /// with the same `notification_id` is sent).
    pub async fn claim_notification(
        &self,
        restock_event_id: &str,
        customer_id: &str,
        now_ms: i64,
    ) -> Result<Claim, StoreError> {
        let item = self.notified_item(restock_event_id, customer_id);
        let fresh = NotificationMarker {
            state: "sending".into(),
            claimed_at_ms: now_ms,
        };
        if item.create(&fresh).await? {
            return Ok(Claim::Won);
        }
        let mut outcome = Claim::InProgress;
        item.update_existing(|marker: &mut NotificationMarker| {
            if marker.state == "sent" {
                outcome = Claim::AlreadySent;
                false
            } else if now_ms - marker.claimed_at_ms >= CLAIM_LEASE_MS {
                outcome = Claim::Won;
                marker.claimed_at_ms = now_ms;
                true
            } else {
                outcome = Claim::InProgress;
                false
            }
        })
        .await?;
        Ok(outcome)
    }

    pub async fn mark_sent(
        &self,
        restock_event_id: &str,
        customer_id: &str,
    ) -> Result<(), StoreError> {
        self.notified_item(restock_event_id, customer_id)
            .update_existing(|marker: &mut NotificationMarker| {
                let changed = marker.state != "sent";
                marker.state = "sent".into();
                changed
            })
            .await?;
        Ok(())
    }
}

/// How long a claim to send a notification holds before another delivery may take it over.
pub const CLAIM_LEASE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Send it, then mark it sent.
    Won,
    AlreadySent,
    /// Another delivery is sending it right now: try again later.
    InProgress,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct NotificationMarker {
    state: String,
    claimed_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sort_keys_follow_event_order() {
        let keys = [
            EventKey::new(-5, "z"),
            EventKey::new(0, "a"),
            EventKey::new(7, "B"),
            EventKey::new(7, "a"),
            EventKey::new(1_790_000_000_000, "a"),
        ];
        let sks: Vec<String> = keys.iter().map(report_sk).collect();
        let mut sorted = sks.clone();
        sorted.sort();
        assert_eq!(sks, sorted);
    }
}
