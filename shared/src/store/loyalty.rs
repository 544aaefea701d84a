//! The loyalty ledger and balance.
//!
//! Each ledger entry is its own item (`LOYALTY#LEDGER#<entry_id>`, created at most once) and the
//! balance is one item (`LOYALTY#BALANCE`) that is only ever changed in the same transaction as
//! an entry, by that entry's points: so the balance is the sum of the entries, always.
//! - An earn, reversal or cancellation is `TransactWriteItems` [create the entry, `ADD` its points
//!   to the balance]. If the entry exists the transaction is cancelled and nothing changes.
//! - A redemption or adjustment is decided once: [create the decision, create the entry, change
//!   the balance], the balance change conditional on covering a debit. If only the balance
//!   condition fails, the decision is stored as rejected (`insufficient_points`) on its own. A
//!   redelivery finds the stored decision.

use super::versioned::Versioned;
use super::{StoreError, customer_pk};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

pub const LEDGER_PREFIX: &str = "LOYALTY#LEDGER#";
pub const BALANCE_SK: &str = "LOYALTY#BALANCE";
pub const REDEMPTION_PREFIX: &str = "LOYALTY#REDEMPTION#";
pub const ADJUSTMENT_PREFIX: &str = "LOYALTY#ADJUSTMENT#";

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEntry {
    pub entry_id: String,
    pub points: i64,
}

/// A redemption's or adjustment's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDebitDecision {
    pub id: String,
    /// As sent: positive for a redemption, signed for an adjustment.
    pub points: i64,
    /// `approved` or `rejected`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a decided operation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    Now(StoredDebitDecision),
    Before(StoredDebitDecision),
}

/// A redemption (`redeem:`) or an adjustment (`adjust:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebitKind {
    Redemption,
    Adjustment,
}

#[derive(Debug, Clone)]
pub struct LoyaltyStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl LoyaltyStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        LoyaltyStore {
            client,
            table: table.into(),
        }
    }

    fn item(&self, customer_id: &str, sk: String) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.table,
            pk: customer_pk(customer_id),
            sk,
        }
    }

    fn entry_put(&self, customer_id: &str, entry_id: &str, points: i64) -> Result<Put, StoreError> {
        self.item(customer_id, format!("{LEDGER_PREFIX}{entry_id}"))
            .create_put(&StoredEntry {
                entry_id: entry_id.to_owned(),
                points,
            })
    }

    fn balance_update(
        &self,
        customer_id: &str,
        points: i64,
        require_cover: bool,
    ) -> Result<Update, StoreError> {
        let item = self.item(customer_id, BALANCE_SK.to_owned());
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(item.pk.clone()))
            .key("sk", AttributeValue::S(item.sk.clone()))
            .update_expression("ADD balance :points")
            .expression_attribute_values(":points", AttributeValue::N(points.to_string()));
        let update = if require_cover {
            update
                .condition_expression("balance >= :debit")
                .expression_attribute_values(":debit", AttributeValue::N((-points).to_string()))
        } else {
            update
        };
        update
            .build()
            .map_err(|e| item.request_error("TransactWriteItems", e.into()))
    }

    /// Writes `entry_id` with `points` unless it exists. Returns whether it was written.
    pub async fn credit(
        &self,
        customer_id: &str,
        entry_id: &str,
        points: i64,
    ) -> Result<bool, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.entry_put(customer_id, entry_id, points)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.balance_update(customer_id, points, false)?)
                    .build(),
            )
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(err) => match failed_conditions(&err) {
                Some(failed) if failed == [true, false] => Ok(false),
                _ => Err(self
                    .item(customer_id, format!("{LEDGER_PREFIX}{entry_id}"))
                    .request_error("TransactWriteItems", err.into())),
            },
        }
    }

    /// Decides a redemption or adjustment once. `points` is the change to the balance
    /// (negative for a redemption); a negative change must be covered by the balance.
    pub async fn decide(
        &self,
        customer_id: &str,
        kind: DebitKind,
        id: &str,
        change: i64,
        reason: Option<&str>,
    ) -> Result<Decided, StoreError> {
        let (prefix, entry_id, shown_points) = match kind {
            DebitKind::Redemption => (
                REDEMPTION_PREFIX,
                crate::domain::loyalty::entry_id::redeem(id),
                -change,
            ),
            DebitKind::Adjustment => (
                ADJUSTMENT_PREFIX,
                crate::domain::loyalty::entry_id::adjust(id),
                change,
            ),
        };
        let decision_item = self.item(customer_id, format!("{prefix}{id}"));
        if let (Some(stored), _) = decision_item.read_existing::<StoredDebitDecision>().await? {
            return Ok(Decided::Before(stored));
        }
        let decision = |status: &str| StoredDebitDecision {
            id: id.to_owned(),
            points: shown_points,
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
        };
        let approved = decision("approved");
        let decision_put = decision_item.create_put(&approved)?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(decision_put).build())
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.entry_put(customer_id, &entry_id, change)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.balance_update(customer_id, change, change < 0)?)
                    .build(),
            )
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Decided::Now(approved)),
            Err(err) => match failed_conditions(&err) {
                Some(failed) if failed == [false, false, true] => {
                    let rejected = decision("rejected");
                    if decision_item.create(&rejected).await? {
                        Ok(Decided::Now(rejected))
                    } else {
                        self.stored(&decision_item).await
                    }
                }
                Some(failed) if failed[0] => self.stored(&decision_item).await,
                _ => Err(decision_item.request_error("TransactWriteItems", err.into())),
            },
        }
    }

    async fn stored(&self, item: &Versioned<'_>) -> Result<Decided, StoreError> {
        match item.read_existing::<StoredDebitDecision>().await? {
            (Some(stored), _) => Ok(Decided::Before(stored)),
            (None, _) => Err(StoreError::Contention {
                pk: item.pk.clone(),
                sk: item.sk.clone(),
                attempts: 1,
            }),
        }
    }
}

/// For a transaction cancelled by conditions only: which of its items failed theirs.
fn failed_conditions<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<bool>> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) =
        err.as_service_error()?
    else {
        return None;
    };
    cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| match reason.code() {
            None | Some("None") => Some(false),
            Some("ConditionalCheckFailed") => Some(true),
            Some(_) => None,
        })
        .collect()
}
