//! cart-sync: SQS `cart-events` → customers' carts.
//!
//! The events of a batch are grouped by the item they touch (a line, or the cart's clear
//! marker) and each item gets one conditional `UpdateItem` with all of its events folded in, no
//! read (see `omnisync::store` for the layout, `omnisync::domain::cart` for the rule,
//! `omnisync::batch::coalesce` for why grouping is safe). A line whose item holds more than 100
//! delta attributes is tidied by the write that finds it so: the deltas a reset supersedes are
//! removed, and a line with more than 100 live adds is compacted, its oldest folded into a reset
//! whose quantity is the customer's line at that point (`LineState::compaction_point`,
//! `shopping::line_quantity_at`), at the cost of one read of the customer's partitions and one
//! more write, once per 50 adds of a line at most.

use omnisync::aws::Clients;
use omnisync::batch::coalesce;
use omnisync::batch::{
    Admitted, Applied, ApplyError, Deadline, Delivery, EventHandler, SqsBatchProcessor,
};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CartEvent, CustomerEvent, EventKey};
use omnisync::domain::cart::{CartEffect, LineState, Reset, effect};
use omnisync::domain::shopping::line_quantity_at;
use omnisync::lambda::sqs_function;
use omnisync::store::{StoreError, Table, UntidyLine, WriteOutcome, latest_clear};
use std::collections::BTreeSet;
use std::future::Future;

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<CartSync>, ConfigError> {
    let table = config.state_table(clients);
    Ok(sqs_function(clients, config, CartSync { table }))
}

pub struct CartSync {
    table: Table,
}

type Event = CustomerEvent<CartEvent>;

/// The item of a customer's cart an event touches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum CartItem<'a> {
    Line(&'a str),
    Clear,
}

fn item_of(event: &Event) -> (&str, CartItem<'_>) {
    let item = match effect(&event.payload) {
        CartEffect::Line { sku, .. } => CartItem::Line(sku),
        CartEffect::Clear => CartItem::Clear,
    };
    (&event.customer_id, item)
}

impl EventHandler for CartSync {
    type Input = Event;

    async fn apply(&self, event: &Event, _delivery: &Delivery<'_>) -> Result<Applied, ApplyError> {
        self.write(vec![event])
            .await
            .pop()
            .unwrap_or(Ok(Applied::Unchanged))
    }

    fn apply_batch<'a>(
        &'a self,
        events: &'a [Admitted<'a, Event>],
        deadline: Deadline,
    ) -> impl Future<Output = Vec<Option<Result<Applied, ApplyError>>>> + Send + 'a {
        coalesce::by_item(
            events,
            deadline,
            |event| item_of(event),
            move |group| self.write(group),
        )
    }
}

impl CartSync {
    /// Writes the events of one item (one line, or one cart's clears) with one request, and
    /// answers for each: changed if its op is one the write added.
    async fn write(&self, group: Vec<&Event>) -> Vec<Result<Applied, ApplyError>> {
        let Some(first) = group.first() else {
            return Vec::new();
        };
        let customer_id = first.customer_id.as_str();
        let written: Result<BTreeSet<EventKey>, StoreError> = match item_of(first).1 {
            CartItem::Clear => match latest_clear(group.iter().map(|event| event.key.clone())) {
                None => Ok(BTreeSet::new()),
                Some(latest) => self
                    .table
                    .apply_cart_clear(customer_id, latest.clone())
                    .await
                    .map(|outcome| {
                        BTreeSet::from_iter((outcome == WriteOutcome::Written).then_some(latest))
                    }),
            },
            CartItem::Line(sku) => self
                .write_line(customer_id, sku, &group)
                .await
                .map(|added| {
                    added
                        .reset
                        .map(|r| r.key)
                        .into_iter()
                        .chain(added.deltas.into_keys())
                        .collect()
                }),
        };
        let mut added = match written {
            Ok(added) => added,
            Err(error) => return coalesce::for_each(ApplyError::transient(error), group.len()),
        };
        group
            .iter()
            .map(|event| {
                // A key twice in one batch (a duplicate delivery) is changed once.
                Ok(if added.remove(&event.key) {
                    Applied::Changed
                } else {
                    Applied::Unchanged
                })
            })
            .collect()
    }

    /// Folds the group's ops on one line and merges them into the stored line; tidies the line
    /// when the write finds it holding too much. Returns the ops the write added.
    async fn write_line(
        &self,
        customer_id: &str,
        sku: &str,
        group: &[&Event],
    ) -> Result<LineState, StoreError> {
        let mut ops = LineState::default();
        for event in group {
            if let CartEffect::Line { op, .. } = effect(&event.payload) {
                ops.apply(event.key.clone(), op);
            }
        }
        let merge = self.table.merge_cart_line(customer_id, sku, &ops).await?;
        if let Some(untidy) = merge.untidy
            && let Err(error) = self.tidy(customer_id, sku, &untidy).await
        {
            // The events are written; the next write that finds the line untidy tidies it.
            tracing::warn!(customer_id, sku, error = %error, "could not tidy a cart line");
        }
        Ok(merge.added)
    }

    /// Removes what a line's reset supersedes, and compacts a line of too many live adds: folds
    /// its adds up to the compaction point into a reset there.
    async fn tidy(&self, id: &str, sku: &str, untidy: &UntidyLine) -> Result<(), StoreError> {
        let Some(point) = untidy.line.compaction_point() else {
            let superseded = untidy
                .line
                .reset
                .as_ref()
                .map(|reset| untidy.up_to(&reset.key))
                .unwrap_or_default();
            self.table
                .tidy_cart_line(id, sku, None, &superseded)
                .await?;
            return Ok(());
        };
        let (own, guests) = self.table.shopping_ops(id).await?;
        let guests: Vec<_> = guests.iter().collect();
        let quantity = line_quantity_at(&own, &guests, sku, &point);
        let reset = Reset {
            key: point.clone(),
            quantity,
        };
        let written = self
            .table
            .tidy_cart_line(id, sku, Some(&reset), &untidy.up_to(&point))
            .await?;
        tracing::info!(customer_id = id, sku, at = %point.event_id, quantity, outcome = if written == WriteOutcome::Written { "compacted" } else { "unchanged" });
        Ok(())
    }
}
