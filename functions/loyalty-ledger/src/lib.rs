//! loyalty-ledger: the points ledger, one function with two triggers.
//!
//! - **DynamoDB Streams** on the state table (the transactional outbox: order-sync and
//!   refund-processor write only their own items; the ledger follows from the stream): an order's
//!   first image earns `earn:<order_id>`, an approved refund decision reverses
//!   `reverse:<refund_id>`, and the first image of an order that shows it cancelled writes
//!   `cancel:<order_id>`. Records are handled in shard order; the first one that fails is
//!   reported by its sequence number, so Lambda retries from there.
//! - **SQS `loyalty-events`**: `loyalty.points_redeemed` and `loyalty.points_adjusted`, decided
//!   once (see `omnisync::store::loyalty`).
//!
//! One function rather than two because both sides write the same ledger and balance items by
//! the same rules and need the same permissions; each trigger still scales and fails on its own
//! (separate event source mappings, separate retry policies).

mod stream;

pub use stream::{LedgerEffect, effects_of};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler, SqsBatchProcessor};
use omnisync::config::FunctionConfig;
use omnisync::contract::{Event, EventType, LoyaltyEvent, Payload, ReasonCode, Rejection};
use omnisync::lambda::sqs_processor;
use omnisync::store::loyalty::{DebitKind, Decided, LoyaltyStore};
use serde_json::Value;

/// The SQS side: redemptions and adjustments.
pub struct Redemptions {
    loyalty: LoyaltyStore,
}

impl EventHandler for Redemptions {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "loyalty-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let (Payload::Loyalty(loyalty_event), Some(customer_id)) =
            (&event.payload, event.customer_id.as_deref())
        else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not a loyalty event").into());
        };
        let (kind, id, change, reason) = match loyalty_event {
            LoyaltyEvent::PointsRedeemed {
                redemption_id,
                points,
            } => (
                DebitKind::Redemption,
                redemption_id,
                -i64::from(*points),
                None,
            ),
            LoyaltyEvent::PointsAdjusted {
                adjustment_id,
                points,
                reason,
            } => (
                DebitKind::Adjustment,
                adjustment_id,
                i64::from(*points),
                Some(reason.as_str()),
            ),
        };
        let decided = self
            .loyalty
            .decide(customer_id, kind, id, change, reason)
            .await
            .map_err(ApplyError::transient)?;
        let (decision, fresh) = match decided {
            Decided::Now(decision) => (decision, true),
            Decided::Before(decision) => (decision, false),
        };
        if decision.status == "approved" {
            return Ok(if fresh {
                Applied::Changed
            } else {
                Applied::Unchanged
            });
        }
        Err(Rejection::new(
            ReasonCode::InsufficientPoints,
            format!(
                "`{id}` for {} points was rejected: the balance did not cover it",
                decision.points.abs()
            ),
        )
        .into())
    }
}

/// The deployed function: both triggers.
pub struct LoyaltyLedger {
    redemptions: SqsBatchProcessor<Redemptions>,
    loyalty: LoyaltyStore,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the event is neither an SQS nor a DynamoDB Streams batch: {0}")]
    UnknownEvent(#[from] serde_json::Error),
}

impl LoyaltyLedger {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Self {
        LoyaltyLedger {
            redemptions: sqs_processor(clients, config, |clients, config| Redemptions {
                loyalty: LoyaltyStore::new(clients.dynamodb.clone(), &config.table),
            }),
            loyalty: LoyaltyStore::new(clients.dynamodb.clone(), &config.table),
        }
    }

    /// Handles one invocation from either trigger; both responses are `{"batchItemFailures"}`.
    pub async fn handle(&self, event: Value) -> Result<Value, InvokeError> {
        let source = event["Records"][0]["eventSource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if source == "aws:dynamodb" {
            let batch: DynamoDbEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                stream::process(&self.loyalty, batch).await,
            )?)
        } else {
            let batch: SqsEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(self.redemptions.process(batch).await)?)
        }
    }
}
