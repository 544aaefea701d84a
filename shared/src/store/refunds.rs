//! Refund decisions: what a decision needs loaded, and committing one atomically with the order's
//! refunded quantities.
//!
//! The decision lives in the requester's partition (`REFUND#<refund_id>`); the order is found
//! through its `order_id` claim. An approval is one `TransactWriteItems`: put the decision on
//! condition that none exists, and put the order with its grown refunded quantities on condition
//! that its revision is the one the decision was made against. Two refunds racing on one order
//! cannot both pass that condition; the loser gets [`Commit::Conflict`], loads again and is
//! decided again, so together they never refund more than was bought. A rejection never depends
//! on a later order state (refunded quantities only grow, cancellation is final), so it is one
//! conditional put.

use super::items::StoredOrderClaim;
use super::key::{CustomerItem, ORDER_CLAIM_SK, order_claim_pk};
use super::write::{Versioned, cancellation, is_lost_race};
use super::{Commit, StoreError, Table};
use crate::contract::RefundRequested;
use crate::domain::order::Order;
use crate::domain::refund::{OrderFound, RefundDecision, RefundOutcome};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// What deciding a refund request needs, as loaded now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundContext {
    /// Decided before (a redelivery): the stored decision.
    Decided(RefundDecision),
    /// Not decided yet: the order as found, and the revision a decision is committed against.
    Open { found: OrderFound, order_rev: u64 },
}

impl Table {
    fn refund_item(&self, requester_id: &str, refund_id: &str) -> Versioned<'_> {
        self.customer_item(requester_id, &CustomerItem::Refund(refund_id.to_owned()))
    }

    /// Loads the stored decision or, if there is none, the order the request names (through its
    /// claim, from whichever customer placed it). Up to three strongly consistent reads.
    pub async fn refund_context(
        &self,
        requester_id: &str,
        request: &RefundRequested,
    ) -> Result<RefundContext, StoreError> {
        let decision_item = self.refund_item(requester_id, &request.refund_id);
        if let (Some(stored), _) = decision_item.read_existing::<RefundDecision>().await? {
            return Ok(RefundContext::Decided(stored));
        }
        let claim_item = self.item(order_claim_pk(&request.order_id), ORDER_CLAIM_SK.to_owned());
        let not_yet = RefundContext::Open {
            found: OrderFound::NotYet,
            order_rev: 0,
        };
        let (Some(claim), _) = claim_item.read_existing::<StoredOrderClaim>().await? else {
            return Ok(not_yet);
        };
        let order_item = self.customer_item(
            &claim.customer_id,
            &CustomerItem::Order(request.order_id.clone()),
        );
        let (Some(order), order_rev) = order_item.read_existing::<Order>().await? else {
            return Ok(not_yet);
        };
        Ok(RefundContext::Open {
            found: OrderFound::Of {
                customer_id: claim.customer_id,
                order: Box::new(order),
            },
            order_rev,
        })
    }

    /// Commits a decision made on an order read at `order_rev`: a rejection on its own, an
    /// approval together with the order after it. [`Commit::Conflict`] when the decision was
    /// made meanwhile or the order changed: load and decide again. `WaitForOrder` writes nothing.
    pub async fn commit_refund(
        &self,
        requester_id: &str,
        outcome: &RefundOutcome,
        order_rev: u64,
    ) -> Result<Commit<()>, StoreError> {
        match outcome {
            RefundOutcome::WaitForOrder => Ok(Commit::Done(())),
            RefundOutcome::Rejected(decision) => {
                let created = self
                    .refund_item(requester_id, &decision.refund_id)
                    .create(decision)
                    .await?;
                Ok(if created {
                    Commit::Done(())
                } else {
                    Commit::Conflict
                })
            }
            RefundOutcome::Approved {
                decision,
                order_after,
            } => {
                let decision_put = self
                    .refund_item(requester_id, &decision.refund_id)
                    .create_put(decision)?;
                let order_item = self.customer_item(
                    &decision.order_customer_id,
                    &CustomerItem::Order(order_after.order_id.clone()),
                );
                let order_put = order_item.replace_put(order_after.as_ref(), order_rev)?;
                let sent = self
                    .client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(decision_put).build())
                    .transact_items(TransactWriteItem::builder().put(order_put).build())
                    .send()
                    .await;
                match sent {
                    Ok(_) => Ok(Commit::Done(())),
                    Err(err) if cancellation(&err).is_some_and(|r| is_lost_race(&r)) => {
                        Ok(Commit::Conflict)
                    }
                    Err(err) => Err(order_item.request_error("TransactWriteItems", err.into())),
                }
            }
        }
    }
}
