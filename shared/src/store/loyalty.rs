//! The loyalty ledger and balance.
//!
//! Each ledger entry is its own item (`LOYALTY#LEDGER#<entry_id>`, created at most once) and the
//! balance is one item (`LOYALTY#BALANCE`) that is only ever changed in the same transaction as
//! an entry, by that entry's points: so the balance is the sum of the entries, always.
//! - An earn, reversal or cancellation is `TransactWriteItems` [create the entry, `ADD` its points
//!   to the balance]. If the entry exists the transaction is cancelled and nothing changes.
//! - A redemption or adjustment decision is committed once: an approval is [create the decision,
//!   create the entry, change the balance], the balance change conditional on the balance the
//!   domain says it needs ([`DebitRequest::required_balance`]); a rejection is the decision
//!   alone. A redelivery finds the stored decision.

use super::key::CustomerItem;
use super::write::{Cancelled, cancellation, is_lost_race};
use super::{Commit, StoreError, Table};
use crate::domain::loyalty::{DebitDecision, DebitKind, DebitRequest, DecisionStatus, LedgerEntry};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

/// What committing an approval came to, when nobody raced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebitCommit {
    Committed,
    /// The balance did not cover the debit: nothing was written; the request is to be rejected.
    NotCovered,
}

fn decision_item(request: &DebitRequest) -> CustomerItem {
    match request.kind {
        DebitKind::Redemption => CustomerItem::Redemption(request.id.clone()),
        DebitKind::Adjustment => CustomerItem::Adjustment(request.id.clone()),
    }
}

impl Table {
    fn entry_put(&self, customer_id: &str, entry: &LedgerEntry) -> Result<Put, StoreError> {
        self.customer_item(
            customer_id,
            &CustomerItem::LedgerEntry(entry.entry_id.clone()),
        )
        .create_put(entry)
    }

    fn balance_update(
        &self,
        customer_id: &str,
        points: i64,
        required: Option<i64>,
    ) -> Result<Update, StoreError> {
        let item = self.customer_item(customer_id, &CustomerItem::Balance);
        let update = Update::builder()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(item.pk.clone()))
            .key("sk", AttributeValue::S(item.sk.clone()))
            .update_expression("ADD balance :points")
            .expression_attribute_values(":points", AttributeValue::N(points.to_string()));
        let update = match required {
            Some(required) => update
                .condition_expression("balance >= :required")
                .expression_attribute_values(":required", AttributeValue::N(required.to_string())),
            None => update,
        };
        update
            .build()
            .map_err(|e| item.request_error("TransactWriteItems", e.into()))
    }

    /// Writes a ledger entry and adds it to the balance, unless the entry exists (`false`).
    pub async fn credit_ledger(
        &self,
        customer_id: &str,
        entry: &LedgerEntry,
    ) -> Result<Commit<bool>, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.entry_put(customer_id, entry)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.balance_update(customer_id, entry.points, None)?)
                    .build(),
            )
            .send()
            .await;
        let Err(err) = sent else {
            return Ok(Commit::Done(true));
        };
        match cancellation(&err) {
            Some(reasons) if reasons.first() == Some(&Cancelled::ConditionFailed) => {
                Ok(Commit::Done(false))
            }
            Some(reasons) if is_lost_race(&reasons) => Ok(Commit::Conflict),
            _ => Err(self
                .customer_item(
                    customer_id,
                    &CustomerItem::LedgerEntry(entry.entry_id.clone()),
                )
                .request_error("TransactWriteItems", err.into())),
        }
    }

    /// The stored decision on a redemption or adjustment, if any.
    pub async fn debit_decision(
        &self,
        customer_id: &str,
        request: &DebitRequest,
    ) -> Result<Option<DebitDecision>, StoreError> {
        let (stored, _rev) = self
            .customer_item(customer_id, &decision_item(request))
            .read_existing::<DebitDecision>()
            .await?;
        Ok(stored)
    }

    /// Commits `decision` on `request`. An approval writes the decision, the ledger entry and
    /// the balance change at once, on condition that the balance covers what the request needs
    /// ([`DebitCommit::NotCovered`] otherwise); a rejection writes the decision alone.
    /// [`Commit::Conflict`] when another delivery decided first or raced the balance.
    pub async fn commit_debit(
        &self,
        customer_id: &str,
        request: &DebitRequest,
        decision: &DebitDecision,
    ) -> Result<Commit<DebitCommit>, StoreError> {
        let item = self.customer_item(customer_id, &decision_item(request));
        if decision.status == DecisionStatus::Rejected {
            return Ok(if item.create(decision).await? {
                Commit::Done(DebitCommit::Committed)
            } else {
                Commit::Conflict
            });
        }
        let entry = LedgerEntry {
            entry_id: request.entry_id(),
            points: request.change,
        };
        let sent = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(item.create_put(decision)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.entry_put(customer_id, &entry)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.balance_update(
                        customer_id,
                        request.change,
                        request.required_balance(),
                    )?)
                    .build(),
            )
            .send()
            .await;
        let Err(err) = sent else {
            return Ok(Commit::Done(DebitCommit::Committed));
        };
        match cancellation(&err) {
            Some(reasons)
                if reasons == [Cancelled::None, Cancelled::None, Cancelled::ConditionFailed] =>
            {
                Ok(Commit::Done(DebitCommit::NotCovered))
            }
            Some(reasons) if is_lost_race(&reasons) => Ok(Commit::Conflict),
            _ => Err(item.request_error("TransactWriteItems", err.into())),
        }
    }
}
