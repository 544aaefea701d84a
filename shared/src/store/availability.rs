//! Availability timelines and back-in-stock bookkeeping.
//!
//! Every report is its own item in the partition of its `(sku, size, store_id)`
//! (`STOCK#<json of the triple>`), sorted by event order, so a late report finds its neighbours
//! with two one-item queries; the item itself is the dedupe record. `NOTIFIED#<restock event>` /
//! `CUSTOMER#<id>` records that a customer was notified of a restock. Wishers are found through
//! the sparse `wishlist-by-sku` index, never by a scan.

use super::key::{WISH_INDEX, customer_of_pk, customer_pk, notified_pk, report_sk, stock_pk};
use super::write::{Versioned, decode};
use super::{StoreError, Table};
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
        Ok(TimelinePlace {
            previous: previous.map(Report::from),
            current: current.into(),
            next: next.map(Report::from),
        })
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

    /// The ids (customer or guest) whose wishlist item for `sku` is added, from the sparse index.
    pub async fn wishers(&self, sku: &str) -> Result<Vec<String>, StoreError> {
        let index_pk = super::key::wish_index_pk(sku);
        let mut pages = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(WISH_INDEX)
            .key_condition_expression("gsi1pk = :sku")
            .expression_attribute_values(":sku", AttributeValue::S(index_pk.clone()))
            .into_paginator()
            .items()
            .send();
        let mut ids = Vec::new();
        while let Some(item) = pages.next().await {
            let item =
                item.map_err(|e| self.request_error("Query", &index_pk, WISH_INDEX, e.into()))?;
            if let Some(AttributeValue::S(owner)) = item.get("gsi1sk")
                && let Some(id) = customer_of_pk(owner)
                && !ids.iter().any(|known| known == id)
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    fn notified_item(&self, restock_event_id: &str, customer_id: &str) -> Versioned<'_> {
        self.item(notified_pk(restock_event_id), customer_pk(customer_id))
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
            state: NotificationState::Sending,
            claimed_at_ms: now_ms,
        };
        if item.create(&fresh).await? {
            return Ok(Claim::Won);
        }
        let mut outcome = Claim::InProgress;
        item.update_existing(|marker: &mut NotificationMarker| {
            if marker.state == NotificationState::Sent {
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
                let changed = marker.state != NotificationState::Sent;
                marker.state = NotificationState::Sent;
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

/// Where sending one notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum NotificationState {
    /// Claimed by a delivery that is sending it.
    Sending,
    Sent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NotificationMarker {
    state: NotificationState,
    claimed_at_ms: i64,
}
