//! Order writes.
//!
//! `order.placed` is two conditional creates, no read: first the claim on the `order_id`
//! (`ORDER#<order_id>` / `CLAIM`, which makes the id unique across customers and records which
//! event won), then the order item in the customer's partition. If the claim exists, it is read:
//! the same `event_id` is a redelivery (the order item is created if an earlier attempt stopped
//! between the two writes), another one is `duplicate_order`. `order.status_changed` folds into
//! the order item with the usual conditional update.

use super::items::StoredOrderClaim;
use super::key::{CustomerItem, ORDER_CLAIM_SK, order_claim_pk};
use super::write::Versioned;
use super::{StoreError, Table, WriteOutcome};
use crate::contract::{EventKey, OrderStatus};
use crate::domain::order::Order;

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

impl Table {
    fn order_claim(&self, order_id: &str) -> Versioned<'_> {
        self.item(order_claim_pk(order_id), ORDER_CLAIM_SK.to_owned())
    }

    fn order_item(&self, customer_id: &str, order_id: &str) -> Versioned<'_> {
        self.customer_item(customer_id, &CustomerItem::Order(order_id.to_owned()))
    }

    /// Creates `order` (placed by `customer_id`) unless its `order_id` was placed by another
    /// event.
    pub async fn place_order(
        &self,
        customer_id: &str,
        order: &Order,
    ) -> Result<Placement, StoreError> {
        let key = &order.placed;
        let claim = StoredOrderClaim {
            customer_id: customer_id.to_owned(),
            event_id: key.event_id.clone(),
        };
        let claim_item = self.order_claim(&order.order_id);
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
                .order_item(customer_id, &order.order_id)
                .create(order)
                .await?;
            return Ok(if created {
                Placement::Created
            } else {
                Placement::AlreadyPlaced
            });
        }
        self.order_item(customer_id, &order.order_id)
            .create(order)
            .await?;
        Ok(Placement::Created)
    }

    /// Folds a status change into the customer's order.
    pub async fn change_order_status(
        &self,
        customer_id: &str,
        order_id: &str,
        key: EventKey,
        status: OrderStatus,
    ) -> Result<StatusUpdate, StoreError> {
        let applied = self
            .order_item(customer_id, order_id)
            .update_existing(|order: &mut Order| order.status.apply(key.clone(), status))
            .await?;
        if let Some(outcome) = applied {
            return Ok(StatusUpdate::Applied(outcome));
        }
        let (claim, _rev): (Option<StoredOrderClaim>, u64) =
            self.order_claim(order_id).read_existing().await?;
        Ok(match claim {
            Some(claim) if claim.customer_id != customer_id => StatusUpdate::OtherCustomer,
            _ => StatusUpdate::OrderNotFound,
        })
    }
}
