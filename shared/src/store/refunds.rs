//! Refund decisions: decided once per `refund_id`, atomically with the order's refunded
//! quantities.
//!
//! The decision lives in the requester's partition (`REFUND#<refund_id>`); the order is found
//! through its `order_id` claim. An approval is one `TransactWriteItems`: put the decision on
//! condition that none exists, and put the order with its grown refunded quantities on condition
//! that its revision is the one the decision was made against. Two refunds racing on one order
//! cannot both pass that condition; the loser re-reads the order and decides again, so together
//! they never refund more than was bought. A rejection never depends on a later order state
//! (refunded quantities only grow, cancellation is final), so it is one conditional put.

use super::items::{ORDER_PREFIX, REFUND_PREFIX, StoredOrder, StoredOrderClaim, StoredRefund};
use super::versioned::{MAX_ATTEMPTS, Versioned, backoff};
use super::{StoreError, customer_pk};
use crate::contract::{Channel, EventKey, ReasonCode, RefundRequested};
use crate::domain::refund::{Decision, OrderForRefund, decide};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// What processing a refund request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Decided now.
    Decided(StoredRefund),
    /// Decided before (a redelivery): the stored decision.
    AlreadyDecided(StoredRefund),
    /// The order has not arrived yet.
    OrderNotYetSeen,
}

#[derive(Debug, Clone)]
pub struct RefundStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl RefundStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        RefundStore {
            client,
            table: table.into(),
        }
    }

    fn item(&self, pk: String, sk: String) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.table,
            pk,
            sk,
        }
    }

    /// Decides `request` (sent by `customer_id`) unless it was decided before.
    pub async fn process(
        &self,
        customer_id: &str,
        key: &EventKey,
        channel: Channel,
        request: &RefundRequested,
    ) -> Result<RefundOutcome, StoreError> {
        let decision_item = self.item(
            customer_pk(customer_id),
            format!("{REFUND_PREFIX}{}", request.refund_id),
        );
        let claim_item = self.item(
            super::items::order_claim_pk(&request.order_id),
            super::items::ORDER_CLAIM_SK.to_owned(),
        );
        for attempt in 0..MAX_ATTEMPTS {
            if let (Some(stored), _) = decision_item.read_existing::<StoredRefund>().await? {
                return Ok(RefundOutcome::AlreadyDecided(stored));
            }
            let (Some(claim), _) = claim_item.read_existing::<StoredOrderClaim>().await? else {
                return Ok(RefundOutcome::OrderNotYetSeen);
            };
            let record = |status: &str,
                          reason: Option<ReasonCode>,
                          amount_minor: u64,
                          points_reversed: i64| StoredRefund {
                refund_id: request.refund_id.clone(),
                order_id: request.order_id.clone(),
                order_customer_id: claim.customer_id.clone(),
                channel,
                decided_by: key.clone(),
                status: status.to_owned(),
                amount_minor,
                reason_code: reason,
                lines: request.lines.clone(),
                points_reversed,
            };
            if claim.customer_id != customer_id {
                let rejected = record("rejected", Some(ReasonCode::WrongCustomer), 0, 0);
                if decision_item.create(&rejected).await? {
                    return Ok(RefundOutcome::Decided(rejected));
                }
                continue;
            }
            let order_item = self.item(
                customer_pk(&claim.customer_id),
                format!("{ORDER_PREFIX}{}", request.order_id),
            );
            let (Some(order), order_rev) = order_item.read_existing::<StoredOrder>().await? else {
                return Ok(RefundOutcome::OrderNotYetSeen);
            };
            let view = OrderForRefund {
                customer_id: &claim.customer_id,
                cancelled: order.status.cancelled.is_some(),
                total_minor: order.total_minor,
                lines: &order.lines,
            };
            match decide(customer_id, view, &request.lines) {
                Decision::Rejected(reason) => {
                    let rejected = record("rejected", Some(reason), 0, 0);
                    if decision_item.create(&rejected).await? {
                        return Ok(RefundOutcome::Decided(rejected));
                    }
                }
                Decision::Approved(approval) => {
                    let approved = record(
                        "approved",
                        None,
                        approval.amount_minor,
                        approval.points_reversed,
                    );
                    let order_after = StoredOrder {
                        lines: approval.lines_after,
                        ..order
                    };
                    let decision_put = decision_item.create_put(&approved)?;
                    let order_put = order_item.replace_put(&order_after, order_rev)?;
                    let sent = self
                        .client
                        .transact_write_items()
                        .transact_items(TransactWriteItem::builder().put(decision_put).build())
                        .transact_items(TransactWriteItem::builder().put(order_put).build())
                        .send()
                        .await;
                    match sent {
                        Ok(_) => return Ok(RefundOutcome::Decided(approved)),
                        Err(err) if is_retryable_cancellation(&err) => {
                            tracing::debug!(refund_id = %request.refund_id, attempt, "refund lost a race; deciding again");
                        }
                        Err(err) => {
                            return Err(order_item.request_error("TransactWriteItems", err.into()));
                        }
                    }
                }
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StoreError::Contention {
            pk: decision_item.pk.clone(),
            sk: decision_item.sk.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }
}

/// A transaction cancelled by a failed condition or a conflicting transaction: read and decide
/// again (the decision may exist by now, or the order may have changed).
fn is_retryable_cancellation<R>(
    err: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    let Some(service) = err.as_service_error() else {
        return false;
    };
    match service {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            cancelled.cancellation_reasons().iter().all(|reason| {
                matches!(reason.code(), None | Some("None") | Some("ConditionalCheckFailed") | Some("TransactionConflict"))
            })
        }
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionInProgressException(_) => true,
        _ => false,
    }
}
