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

    /// Records, before the first send, that a customer's notification of a restock is being
    /// sent, and says whether to send it now. See [`Claim`] for the rule.
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
            return Ok(Claim::Send);
        }
        let (marker, _rev) = item.read_existing::<NotificationMarker>().await?;
        Ok(match marker {
            Some(marker) if marker.state == NotificationState::Sent => Claim::AlreadySent,
            Some(marker) if now_ms - marker.claimed_at_ms < RESEND_HORIZON_MS => Claim::Send,
            Some(_) => Claim::PastWindow,
            // Markers are never deleted while their restock can be redelivered.
            None => {
                return Err(StoreError::Contention {
                    pk: item.pk.clone(),
                    sk: item.sk.clone(),
                    attempts: 1,
                });
            }
        })
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

/// SQS FIFO's deduplication window: a message with the same deduplication id sent within it is
/// accepted but never delivered.
pub const FIFO_DEDUPLICATION_WINDOW_MS: i64 = 300_000;

/// How long after its claim a notification may still be sent (again). Every send of one
/// notification happens within this horizon of the claim, so any two sends are less than the
/// deduplication window apart and SQS delivers one; the minute to spare covers a send that is
/// slow to reach SQS.
pub const RESEND_HORIZON_MS: i64 = FIFO_DEDUPLICATION_WINDOW_MS - 60_000;

/// What to do about one customer's notification of one restock.
///
/// The claim is written before the first send, so whoever sends knows when sending began:
/// - [`Claim::Send`]: no claim yet (this delivery wrote it), or a claim younger than
///   [`RESEND_HORIZON_MS`] that was not marked sent (an earlier delivery died or lost the send's
///   response, or is sending right now). Send; a copy inside the window is dropped by SQS.
/// - [`Claim::AlreadySent`]: marked sent; nothing to do.
/// - [`Claim::PastWindow`]: claimed longer ago than the horizon and never marked sent. A send
///   now could reach a consumer a second time, so it is taken as sent and not sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Send,
    AlreadySent,
    PastWindow,
}

/// Where sending one notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum NotificationState {
    /// Claimed: a send may have happened.
    Sending,
    Sent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NotificationMarker {
    state: NotificationState,
    claimed_at_ms: i64,
}
