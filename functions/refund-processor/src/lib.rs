//! refund-processor: SQS `refund-events` → refund decisions.
//!
//! Each `refund_id` is decided once, at first processing, and stored; a redelivery finds the
//! stored decision and returns it (an approval is done; a rejection goes to `rejected-events`
//! again). An approval and the order's refunded quantities are written in one transaction,
//! conditional on the order being unchanged since it was read (`omnisync::store::refunds`). A
//! refund for an order not seen yet is transient.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler};
use omnisync::config::FunctionConfig;
use omnisync::contract::{Event, EventType, Payload, ReasonCode, Rejection};
use omnisync::store::items::StoredRefund;
use omnisync::store::refunds::{RefundOutcome, RefundStore};

pub struct RefundProcessor {
    refunds: RefundStore,
}

impl RefundProcessor {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Self {
        RefundProcessor {
            refunds: RefundStore::new(clients.dynamodb.clone(), &config.table),
        }
    }
}

/// A refund for an order that has not arrived yet.
#[derive(Debug, thiserror::Error)]
#[error("order {order_id} of refund {refund_id} has not arrived yet")]
pub struct OrderNotYetSeen {
    pub order_id: String,
    pub refund_id: String,
}

fn outcome_of(decision: &StoredRefund, fresh: bool) -> Result<Applied, ApplyError> {
    match decision.reason_code {
        None => Ok(if fresh {
            Applied::Changed
        } else {
            Applied::Unchanged
        }),
        Some(reason) => Err(Rejection::new(
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

impl EventHandler for RefundProcessor {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "refund-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let (Payload::Refund(request), Some(customer_id)) =
            (&event.payload, event.customer_id.as_deref())
        else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not a refund event").into());
        };
        let outcome = self
            .refunds
            .process(customer_id, &event.key, event.channel, request)
            .await
            .map_err(ApplyError::transient)?;
        match outcome {
            RefundOutcome::Decided(decision) => outcome_of(&decision, true),
            RefundOutcome::AlreadyDecided(decision) => outcome_of(&decision, false),
            RefundOutcome::OrderNotYetSeen => Err(ApplyError::transient(OrderNotYetSeen {
                order_id: request.order_id.clone(),
                refund_id: request.refund_id.clone(),
            })),
        }
    }
}
