//! The ledger's recovery: the entries a customer's stored orders and refund decisions imply
//! (`omnisync::domain::loyalty::implied_entries`) that the ledger lacks are credited, each in
//! the same transaction as its balance change, as the stream side does. Entries are written at
//! most once by id, so this is safe at any time: twice, or racing the stream consumer.

use omnisync::batch::BoxError;
use omnisync::batch::recovery::Recover;
use omnisync::domain::loyalty::implied_entries;
use omnisync::store::key::{ORDER_ITEM_PREFIX, customer_pk};
use omnisync::store::{Table, retry_on_conflict};
use std::collections::BTreeSet;

pub struct LedgerRecovery {
    pub table: Table,
}

impl Recover for LedgerRecovery {
    /// Only customers with an order can lack an entry: earns and cancellations are an order's,
    /// and an approved refund is in the partition of the order's customer.
    fn sweep_prefix(&self) -> &'static str {
        ORDER_ITEM_PREFIX
    }

    async fn recover(&self, customer_id: &str) -> Result<(), BoxError> {
        let state = self.table.id_state(customer_id).await?;
        let present: BTreeSet<&str> = state
            .loyalty
            .entries
            .iter()
            .map(|e| e.entry_id.as_str())
            .collect();
        let pk = customer_pk(customer_id);
        for entry in implied_entries(&state.orders, &state.refunds) {
            if present.contains(entry.entry_id.as_str()) {
                continue;
            }
            let written = retry_on_conflict(&pk, &entry.entry_id, || {
                self.table.credit_ledger(customer_id, &entry)
            })
            .await?;
            tracing::info!(
                customer_id,
                entry_id = %entry.entry_id,
                points = entry.points,
                outcome = if written { "recovered" } else { "unchanged" }
            );
        }
        Ok(())
    }
}
