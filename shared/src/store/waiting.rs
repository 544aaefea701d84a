//! Events waiting for their order (contract §3, v1.1): an `order.status_changed` or a
//! `refund.requested` whose order has not arrived is set aside, not retried until its queue
//! gives up.
//!
//! The message is kept as it came (body, sender, first send time) in its order id's claim
//! partition (`ORDER#<order_id>` / `WAITING#<event order>`), and its message is acknowledged. When
//! the order is placed, order-sync sends every waiting message back to its queue, where its own
//! function applies it as if it had just arrived. An item's wait ends `OMNISYNC_ORDER_WAIT_SECONDS`
//! after the event was first sent; a sweep (order-sync on a schedule) finds those through the
//! sparse `waiting-by-deadline` index and moves each to its queue's DLQ, unless the order has
//! arrived meanwhile.
//!
//! Both sides write, then check: the waiting side re-reads the order after setting the event
//! aside, and the order side reads the waiting events after creating the order, so an event and
//! its order arriving at the same moment are never both missed (at worst both apply it, which
//! is idempotent).

use super::key::{
    ORDER_CLAIM_SK, WAITING_INDEX, WAITING_INDEX_PK, order_claim_pk, waiting_index_sk,
    waiting_prefix, waiting_sk,
};
use super::write::decode;
use super::{StoreError, Table};
use crate::contract::{EventKey, Queue};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// How long after its wait a waiting item is kept before DynamoDB's TTL removes it (the sweep
/// runs long before).
const TTL_MARGIN_MS: i64 = 7 * 24 * 3_600_000;

/// One event waiting for its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingEvent {
    /// The logical name of the queue it came from and goes back to.
    pub queue: String,
    pub order_id: String,
    pub key: EventKey,
    /// The message body, unchanged.
    pub body: String,
    /// The sender it was authorized as.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// When it was first sent (ms since the epoch).
    pub first_sent_ms: i64,
    /// When its wait ends (ms since the epoch).
    pub wait_until_ms: i64,
    gsi2pk: String,
    gsi2sk: String,
    /// DynamoDB TTL (seconds since the epoch).
    expires_at: i64,
}

impl WaitingEvent {
    pub fn new(
        queue: Queue,
        order_id: &str,
        key: &EventKey,
        body: &str,
        sender_id: Option<&str>,
        first_sent_ms: i64,
        wait: std::time::Duration,
    ) -> Self {
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        let wait_until_ms = first_sent_ms.saturating_add(wait_ms);
        WaitingEvent {
            queue: queue.logical_name().to_owned(),
            order_id: order_id.to_owned(),
            key: key.clone(),
            body: body.to_owned(),
            sender_id: sender_id.map(str::to_owned),
            first_sent_ms,
            wait_until_ms,
            gsi2pk: WAITING_INDEX_PK.to_owned(),
            gsi2sk: waiting_index_sk(wait_until_ms, order_id, key),
            expires_at: wait_until_ms.saturating_add(TTL_MARGIN_MS) / 1000,
        }
    }

    /// The queue it goes back to.
    pub fn queue(&self) -> Option<Queue> {
        Queue::ALL
            .into_iter()
            .find(|q| q.logical_name() == self.queue)
    }
}

impl Table {
    /// Sets an event aside until its order arrives (a no-op if it already waits).
    pub async fn wait_for_order(&self, waiting: &WaitingEvent) -> Result<(), StoreError> {
        self.item(order_claim_pk(&waiting.order_id), waiting_sk(&waiting.key))
            .create(waiting)
            .await?;
        Ok(())
    }

    /// Every event waiting for `order_id`, in event order.
    pub async fn waiting_for(&self, order_id: &str) -> Result<Vec<WaitingEvent>, StoreError> {
        let pk = order_claim_pk(order_id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :waiting)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":waiting", AttributeValue::S(waiting_prefix().into()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut waiting = Vec::new();
        while let Some(item) = pages.next().await {
            let item =
                item.map_err(|e| self.request_error("Query", &pk, waiting_prefix(), e.into()))?;
            let sk = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => String::new(),
            };
            let (event, _rev): (WaitingEvent, u64) = decode(&pk, &sk, item)?;
            waiting.push(event);
        }
        Ok(waiting)
    }

    /// Ends an event's wait (it was delivered again, or moved to its DLQ).
    pub async fn stop_waiting(&self, waiting: &WaitingEvent) -> Result<(), StoreError> {
        let pk = order_claim_pk(&waiting.order_id);
        let sk = waiting_sk(&waiting.key);
        self.client
            .delete_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .send()
            .await
            .map_err(|e| self.request_error("DeleteItem", &pk, &sk, e.into()))?;
        Ok(())
    }

    /// The order ids with an event whose wait ended before `now_ms` (at most `limit`, oldest
    /// first), from the sparse index.
    pub async fn orders_with_waits_over(
        &self,
        now_ms: i64,
        limit: i32,
    ) -> Result<Vec<String>, StoreError> {
        let before = waiting_index_sk(now_ms, "", &EventKey::new(0, ""));
        let output = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(WAITING_INDEX)
            .key_condition_expression("gsi2pk = :waiting AND gsi2sk < :before")
            .expression_attribute_values(":waiting", AttributeValue::S(WAITING_INDEX_PK.into()))
            .expression_attribute_values(":before", AttributeValue::S(before))
            .limit(limit)
            .send()
            .await
            .map_err(|e| self.request_error("Query", WAITING_INDEX_PK, WAITING_INDEX, e.into()))?;
        let mut orders: Vec<String> = Vec::new();
        for item in output.items.unwrap_or_default() {
            if let Some(AttributeValue::S(pk)) = item.get("pk")
                && let Some(super::key::Partition::OrderClaim(order_id)) =
                    super::key::Partition::parse(pk)
                && !orders.contains(&order_id)
            {
                orders.push(order_id);
            }
        }
        Ok(orders)
    }

    /// Whether `order_id` has arrived: its claim and its order item exist.
    pub async fn order_arrived(&self, order_id: &str) -> Result<bool, StoreError> {
        let (claim, _) = self
            .item(order_claim_pk(order_id), ORDER_CLAIM_SK.to_owned())
            .read_existing::<super::items::StoredOrderClaim>()
            .await?;
        let Some(claim) = claim else {
            return Ok(false);
        };
        let (order, _) = self
            .customer_item(
                &claim.customer_id,
                &super::key::CustomerItem::Order(order_id.to_owned()),
            )
            .read_existing::<crate::domain::order::Order>()
            .await?;
        Ok(order.is_some())
    }
}
