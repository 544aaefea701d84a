//! Order writes.
//!
//! `order.placed` is two conditional creates, no read: first the claim on the `order_id`
//! (`ORDER#<order_id>` / `CLAIM`, which makes the id unique across customers and records which
//! event won), then the order item in the customer's partition. If the claim exists, it is read:
//! the same `event_id` is a redelivery (the order item is created if an earlier attempt stopped
//! between the two writes), another one is `duplicate_order`. `order.status_changed` folds into
//! the order item with the usual conditional update.

use super::items::{
    ORDER_CLAIM_SK, ORDER_PREFIX, StoredOrder, StoredOrderClaim, StoredOrderLine, order_claim_pk,
};
use super::versioned::Versioned;
use super::{StoreError, WriteOutcome, customer_pk};
use crate::contract::{Channel, EventKey, OrderPlaced, OrderStatus};

/// What placing an order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Created,
    /// This event had already placed the order.
    AlreadyPlaced,
    /// Another event placed this `order_id` first.
    Duplicate {
        claimed_by_event: String,
    },
}

/// What a status change came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusUpdate {
    Applied(WriteOutcome),
    /// No order with that id in the customer's partition (yet).
    OrderNotFound,
    /// The `order_id` belongs to another customer.
    OtherCustomer,
}

#[derive(Debug, Clone)]
pub struct OrderStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl OrderStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        OrderStore {
            client,
            table: table.into(),
        }
    }

    fn claim(&self, order_id: &str) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.table,
            pk: order_claim_pk(order_id),
            sk: ORDER_CLAIM_SK.to_owned(),
        }
    }

    fn order(&self, customer_id: &str, order_id: &str) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.table,
            pk: customer_pk(customer_id),
            sk: format!("{ORDER_PREFIX}{order_id}"),
        }
    }

    /// Creates the order unless its `order_id` was placed by another event.
    pub async fn place(
        &self,
        customer_id: &str,
        key: &EventKey,
        channel: Channel,
        store_id: Option<&str>,
        order: &OrderPlaced,
    ) -> Result<Placement, StoreError> {
        let claim = StoredOrderClaim {
            customer_id: customer_id.to_owned(),
            event_id: key.event_id.clone(),
        };
        let claim_item = self.claim(&order.order_id);
        if !claim_item.create(&claim).await? {
            let (existing, _rev): (Option<StoredOrderClaim>, u64) =
                claim_item.read_existing().await?;
            match existing {
                Some(existing)
                    if existing.event_id == key.event_id && existing.customer_id == customer_id => {
                }
                Some(existing) => {
                    return Ok(Placement::Duplicate {
                        claimed_by_event: existing.event_id,
                    });
                }
                // Claims are never deleted; a vanished one is a fault worth retrying.
                None => {
                    return Err(StoreError::Contention {
                        pk: claim_item.pk.clone(),
                        sk: claim_item.sk.clone(),
                        attempts: 1,
                    });
                }
            }
            let created = self
                .order(customer_id, &order.order_id)
                .create(&stored_order(key, channel, store_id, order))
                .await?;
            return Ok(if created {
                Placement::Created
            } else {
                Placement::AlreadyPlaced
            });
        }
        self.order(customer_id, &order.order_id)
            .create(&stored_order(key, channel, store_id, order))
            .await?;
        Ok(Placement::Created)
    }

    /// Folds a status change into the customer's order.
    pub async fn change_status(
        &self,
        customer_id: &str,
        order_id: &str,
        key: EventKey,
        status: OrderStatus,
    ) -> Result<StatusUpdate, StoreError> {
        let applied = self
            .order(customer_id, order_id)
            .update_existing(|order: &mut StoredOrder| order.status.apply(key.clone(), status))
            .await?;
        if let Some(outcome) = applied {
            return Ok(StatusUpdate::Applied(outcome));
        }
        let (claim, _rev): (Option<StoredOrderClaim>, u64) =
            self.claim(order_id).read_existing().await?;
        Ok(match claim {
            Some(claim) if claim.customer_id != customer_id => StatusUpdate::OtherCustomer,
            _ => StatusUpdate::OrderNotFound,
        })
    }

    /// The claim on `order_id`, if any (for tools and tests).
    pub async fn claim_of(&self, order_id: &str) -> Result<Option<StoredOrderClaim>, StoreError> {
        let (claim, _rev) = self.claim(order_id).read_existing().await?;
        Ok(claim)
    }
}

fn stored_order(
    key: &EventKey,
    channel: Channel,
    store_id: Option<&str>,
    order: &OrderPlaced,
) -> StoredOrder {
    StoredOrder {
        order_id: order.order_id.clone(),
        placed: key.clone(),
        channel,
        store_id: store_id.map(str::to_owned),
        currency: order.currency.clone(),
        fulfillment: order.fulfillment,
        pickup_store_id: order.pickup_store_id.clone(),
        lines: order
            .lines
            .iter()
            .map(|line| StoredOrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price_minor: line.unit_price_minor,
                refunded_quantity: 0,
            })
            .collect(),
        total_minor: order.total_minor(),
        status: Default::default(),
    }
}
