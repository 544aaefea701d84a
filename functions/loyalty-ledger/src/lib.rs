//! loyalty-ledger: the points ledger, one function with two triggers.
//!
//! - **DynamoDB Streams** on the state table (the transactional outbox: order-sync and
//!   refund-processor write only their own items; the ledger follows from the stream): an order's
//!   first image earns `earn:<order_id>`, an approved refund decision reverses
//!   `reverse:<refund_id>`, and the first image of an order that shows it cancelled writes
//!   `cancel:<order_id>`. Records are handled in shard order; the first one that fails is
//!   reported by its sequence number, so Lambda retries from there.
//! - **SQS `loyalty-events`**: `loyalty.points_redeemed` and `loyalty.points_adjusted`, decided
//!   once: the rule is `omnisync::domain::loyalty::DebitRequest`, the commit `Table::commit_debit`.
//!
//! - **SQS `loyalty-stream-failures`**, the stream mapping's own on-failure queue: the customers
//!   whose records it gave up on are recovered from state (`recovery.rs`); see
//!   `omnisync::batch::recovery`.
//!
//! One function rather than two because both sides write the same ledger and balance items by
//! the same rules and need the same permissions; each trigger still scales and fails on its own
//! (separate event source mappings, separate retry policies).

mod recovery;
mod stream;

pub use recovery::LedgerRecovery;
pub use stream::{LedgerEffect, effects_of};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use omnisync::aws::Clients;
use omnisync::batch::recovery::{RecoveryProcessor, comes_from};
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, LoyaltyEvent, ReasonCode, Rejection};
use omnisync::domain::loyalty::{DebitDecision, DebitRequest, DecisionStatus};
use omnisync::lambda::{BoxError, Deadline, Function, sqs_function};
use omnisync::queue::Publisher;
use omnisync::store::key::customer_pk;
use omnisync::store::stream_range::StreamReader;
use omnisync::store::{Commit, DebitCommit, StoreError, Table, retry_on_conflict};
use serde_json::Value;

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(clients: &Clients, config: &FunctionConfig) -> Result<LoyaltyLedger, ConfigError> {
    let table = config.state_table(clients);
    Ok(LoyaltyLedger {
        redemptions: sqs_function(
            clients,
            config,
            Redemptions {
                table: table.clone(),
            },
        ),
        recovery: RecoveryProcessor {
            table: table.clone(),
            streams: StreamReader::from_sdk(&clients.sdk),
            publisher: Publisher::new(clients.sqs.clone()),
            queue_url: config.require_recovery_queue()?,
            recover: LedgerRecovery {
                table: table.clone(),
            },
        },
        table,
    })
}

/// The SQS side: redemptions and adjustments, each decided once.
pub struct Redemptions {
    table: Table,
}

impl Redemptions {
    /// The stored decision, or a new one: approved if the balance covers what the request needs
    /// (checked by the commit itself), else rejected. Returns the decision and whether it is new.
    async fn decide(
        &self,
        customer_id: &str,
        request: &DebitRequest,
    ) -> Result<(DebitDecision, bool), StoreError> {
        let sk = request.entry_id();
        retry_on_conflict(&customer_pk(customer_id), &sk, || async {
            if let Some(stored) = self.table.debit_decision(customer_id, request).await? {
                return Ok(Commit::Done((stored, false)));
            }
            let approved = request.decide(true);
            match self
                .table
                .commit_debit(customer_id, request, &approved)
                .await?
            {
                Commit::Done(DebitCommit::Committed) => Ok(Commit::Done((approved, true))),
                Commit::Conflict => Ok(Commit::Conflict),
                Commit::Done(DebitCommit::NotCovered) => {
                    let rejected = request.decide(false);
                    Ok(
                        match self
                            .table
                            .commit_debit(customer_id, request, &rejected)
                            .await?
                        {
                            Commit::Done(_) => Commit::Done((rejected, true)),
                            Commit::Conflict => Commit::Conflict,
                        },
                    )
                }
            }
        })
        .await
    }
}

impl EventHandler for Redemptions {
    type Input = CustomerEvent<LoyaltyEvent>;

    async fn apply(
        &self,
        event: &Self::Input,
        _delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let request = DebitRequest::of(&event.key, &event.payload);
        let (decision, fresh) = self
            .decide(&event.customer_id, &request)
            .await
            .map_err(ApplyError::transient)?;
        if decision.status == DecisionStatus::Approved {
            return Ok(if fresh {
                Applied::Changed
            } else {
                Applied::Unchanged
            });
        }
        Err(Rejection::decided(
            ReasonCode::InsufficientPoints,
            format!(
                "`{}` for {} points was rejected: the balance did not cover it",
                request.id,
                decision.points.abs()
            ),
        )
        .into())
    }
}

/// The deployed function: all three triggers.
pub struct LoyaltyLedger {
    redemptions: SqsBatchProcessor<Redemptions>,
    recovery: RecoveryProcessor<LedgerRecovery>,
    table: Table,
}

impl Function for LoyaltyLedger {
    type Event = Value;
    type Response = Value;

    /// Handles one invocation from any trigger; every response is `{"batchItemFailures"}`.
    async fn invoke(&self, event: Value, deadline: Deadline) -> Result<Value, BoxError> {
        let source = event["Records"][0]["eventSource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if source == "aws:dynamodb" {
            let batch: DynamoDbEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                stream::process(&self.table, batch, deadline).await,
            )?)
        } else if comes_from(&event, &self.recovery.queue_url) {
            let batch: SqsEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                self.recovery.process(batch, deadline).await,
            )?)
        } else {
            let batch: SqsEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                self.redemptions.process(batch, deadline).await,
            )?)
        }
    }
}
