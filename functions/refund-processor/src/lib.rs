//! refund-processor: SQS `refund-events` → refund decisions, once per `refund_id`, atomic with
//! the order's refunded quantities.
//!
//! One request: load what the decision needs (`Table::refund_context`: the stored decision, or the
//! order through its claim), decide with the pure rule (`omnisync::domain::refund::decide`), and
//! commit the decision against the order's revision (`Table::commit_refund`). A commit that lost
//! a race loads and decides again (`retry_on_conflict`), so two refunds racing on one order never
//! refund more than was bought. A refund whose order has not arrived waits for it (contract §3,
//! v1.1; see order-sync): it is set aside and decided when order-sync sends it back.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, Queue, RefundRequested, Rejection};
use omnisync::domain::refund::{RefundDecision, RefundOutcome, decide};
use omnisync::lambda::sqs_function;
use omnisync::store::key::{CustomerItem, customer_pk};
use omnisync::store::{Commit, RefundContext, Table, WaitingEvent, retry_on_conflict};

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<RefundProcessor>, ConfigError> {
    let table = config.state_table(clients);
    let wait = config.order_wait;
    Ok(sqs_function(
        clients,
        config,
        RefundProcessor { table, wait },
    ))
}

pub struct RefundProcessor {
    table: Table,
    /// How long a refund waits for its order.
    wait: std::time::Duration,
}

/// A refund for an order that has not arrived yet.
#[derive(Debug, thiserror::Error)]
#[error("order {order_id} of refund {refund_id} has not arrived yet")]
pub struct OrderNotYetSeen {
    pub order_id: String,
    pub refund_id: String,
}

/// What one request came to.
enum Processed {
    Decided {
        decision: RefundDecision,
        fresh: bool,
    },
    WaitForOrder,
}

fn outcome_of(decision: &RefundDecision, fresh: bool) -> Result<Applied, ApplyError> {
    match decision.reason_code {
        None => Ok(if fresh {
            Applied::Changed
        } else {
            Applied::Unchanged
        }),
        Some(reason) => Err(Rejection::decided(
            reason,
            format!(
                "refund `{}` of order `{}` was rejected ({reason}){}",
                decision.refund_id,
                decision.order_id,
                if fresh {
                    ""
                } else {
                    "; this is the stored decision"
                }
            ),
        )
        .into()),
    }
}

impl RefundProcessor {
    /// Sets a refund aside until its order arrives (order-sync sends it back then), then checks
    /// again: the order may have been placed while this was being written.
    async fn wait(
        &self,
        request: &CustomerEvent<RefundRequested>,
        delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let not_yet = || {
            ApplyError::transient(OrderNotYetSeen {
                order_id: request.payload.order_id.clone(),
                refund_id: request.payload.refund_id.clone(),
            })
        };
        let waiting = WaitingEvent::new(
            Queue::Refund,
            &request.payload.order_id,
            &request.key,
            delivery.body,
            delivery.sender_id,
            delivery.first_sent_ms,
            self.wait,
        );
        if waiting.wait_until_ms <= omnisync::clock::now_ms() {
            // Sent longer ago than the wait (redriven from a DLQ): the queue's retries decide.
            return Err(not_yet());
        }
        self.table
            .wait_for_order(&waiting)
            .await
            .map_err(ApplyError::transient)?;
        match self.process(request).await.map_err(ApplyError::transient)? {
            Processed::WaitForOrder => Ok(Applied::Waiting),
            Processed::Decided { decision, fresh } => {
                self.table
                    .stop_waiting(&waiting)
                    .await
                    .map_err(ApplyError::transient)?;
                outcome_of(&decision, fresh)
            }
        }
    }

    async fn process(
        &self,
        request: &CustomerEvent<RefundRequested>,
    ) -> Result<Processed, omnisync::store::StoreError> {
        let requester = &request.customer_id;
        let refund = &request.payload;
        let item = CustomerItem::Refund(refund.refund_id.clone());
        retry_on_conflict(&customer_pk(requester), &item.sk(), || async {
            let (found, order_rev) = match self.table.refund_context(requester, refund).await? {
                RefundContext::Decided(decision) => {
                    return Ok(Commit::Done(Processed::Decided {
                        decision,
                        fresh: false,
                    }));
                }
                RefundContext::Open { found, order_rev } => (found, order_rev),
            };
            let outcome = decide(request, found);
            let committed = self
                .table
                .commit_refund(requester, &outcome, order_rev)
                .await?;
            Ok(match (committed, outcome) {
                (Commit::Conflict, _) => Commit::Conflict,
                (Commit::Done(()), RefundOutcome::WaitForOrder) => {
                    Commit::Done(Processed::WaitForOrder)
                }
                (Commit::Done(()), RefundOutcome::Rejected(decision))
                | (Commit::Done(()), RefundOutcome::Approved { decision, .. }) => {
                    Commit::Done(Processed::Decided {
                        decision,
                        fresh: true,
                    })
                }
            })
        })
        .await
    }
}

impl EventHandler for RefundProcessor {
    type Input = CustomerEvent<RefundRequested>;

    async fn apply(
        &self,
        event: &Self::Input,
        delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        match self.process(event).await.map_err(ApplyError::transient)? {
            Processed::Decided { decision, fresh } => outcome_of(&decision, fresh),
            Processed::WaitForOrder => self.wait(event, delivery).await,
        }
    }
}
