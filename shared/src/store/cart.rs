//! Cart writes: one item per line plus one for the latest cart-wide clear, each written with
//! one conditional `UpdateItem` and no read.
//!
//! A line item keeps its latest reset in the map `reset` (`{t, e, q}`) and every add or purchase
//! after it in an attribute of its own, `o:<t>:<event id>` = the delta (see [`items::line`]).
//! One attribute per op is what lets a write add ops without reading the item: it `SET`s the new
//! attributes (and `reset`, for a later reset), on condition that none of them is there yet and
//! that the stored reset is older than every op written. A failed condition means an op is
//! already there or superseded: for a single op that is the answer (nothing to write); for the
//! ops of several events, the item (returned with the failure, or read once) says which are new,
//! and only those are written.
//!
//! A reset does not delete the deltas before it (the write would have to know them): they stay
//! as stale attributes that every reader ignores, until a write finds more than
//! [`MAX_LINE_DELTAS`] delta attributes in the line and tidies it ([`Table::tidy_cart_line`]).
//! Every write of a line commutes with every other (an attribute is only ever added once, the
//! reset only ever moves later, and only superseded attributes are removed), so no write needs
//! the item's revision.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::items::{self, StoredClear};
use super::key::CustomerItem;
use super::write::{Versioned, written_unless_condition_failed};
use super::{StoreError, Table, WriteOutcome};
use crate::contract::EventKey;
use crate::domain::cart::{Cart, LineState, MAX_LINE_DELTAS, Reset};

/// What merging a batch's ops into a line came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMerge {
    /// The ops the write added (empty: every op was there already, or superseded).
    pub added: LineState,
    /// Set when the line, as written, holds more than [`MAX_LINE_DELTAS`] delta attributes and
    /// should be tidied.
    pub untidy: Option<UntidyLine>,
}

/// A line that holds too many delta attributes: what it holds, to decide how to tidy it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UntidyLine {
    /// The line's state (what readers see).
    pub line: LineState,
    /// The key of every delta attribute in the item, the stale ones included.
    pub attributes: Vec<EventKey>,
}

impl UntidyLine {
    /// The delta attributes at or before `key` (superseded once a reset at `key` is stored).
    pub fn up_to(&self, key: &EventKey) -> Vec<EventKey> {
        self.attributes
            .iter()
            .filter(|attribute| *attribute <= key)
            .cloned()
            .collect()
    }
}

impl Table {
    /// Merges `ops` (one batch's ops on one line, folded) into the customer's line for `sku`.
    pub async fn merge_cart_line(
        &self,
        customer_id: &str,
        sku: &str,
        ops: &LineState,
    ) -> Result<LineMerge, StoreError> {
        let item = self.customer_item(customer_id, &CustomerItem::CartLine(sku.to_owned()));
        let mut pending = ops.clone();
        for attempt in 0..super::MAX_ATTEMPTS {
            if pending.is_empty() {
                return Ok(LineMerge::default());
            }
            let update = LineUpdate::adding(&pending);
            let sent = update
                .request(&item)
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match sent {
                Ok(output) => {
                    let stored = output.attributes.unwrap_or_default();
                    let (line, attributes) =
                        items::line(&stored).map_err(|source| item.corrupt(source))?;
                    let untidy = (attributes.len() > MAX_LINE_DELTAS)
                        .then_some(UntidyLine { line, attributes });
                    return Ok(LineMerge {
                        added: pending,
                        untidy,
                    });
                }
                Err(err) => {
                    let Some(stored) = condition_failed(&err) else {
                        return Err(item.request_error("UpdateItem", err.into()));
                    };
                    if pending.deltas.len() + usize::from(pending.reset.is_some()) == 1 {
                        // The one op is there already, or superseded.
                        return Ok(LineMerge::default());
                    }
                    let stored = match stored {
                        Some(stored) => stored,
                        None => item.read_raw().await?,
                    };
                    let (line, _) = items::line(&stored).map_err(|source| item.corrupt(source))?;
                    let missing = pending.missing_from(&line);
                    if !missing.is_empty() && missing == pending {
                        // The condition failed on nothing this state shows: a writer in between.
                        tracing::debug!(pk = %item.pk, sk = %item.sk, attempt, "lost a write race; retrying");
                        crate::metrics::contention_retry();
                    }
                    pending = missing;
                }
            }
        }
        Err(StoreError::Contention {
            pk: item.pk.clone(),
            sk: item.sk.clone(),
            attempts: super::MAX_ATTEMPTS,
        })
    }

    /// Tidies a line: stores `reset` if it is later than the line's (a compaction), and removes
    /// the delta attributes `superseded` (each at or before the line's reset once this is done).
    /// One `UpdateItem`, a second when the reset turns out to be superseded itself.
    pub async fn tidy_cart_line(
        &self,
        customer_id: &str,
        sku: &str,
        reset: Option<&Reset>,
        superseded: &[EventKey],
    ) -> Result<WriteOutcome, StoreError> {
        let item = self.customer_item(customer_id, &CustomerItem::CartLine(sku.to_owned()));
        if let Some(reset) = reset {
            let compaction = LineUpdate::compacting(reset, superseded);
            let sent = compaction.request(&item).send().await;
            if written_unless_condition_failed(sent, |e| item.request_error("UpdateItem", e))? {
                return Ok(WriteOutcome::Written);
            }
            // A later reset is stored: everything up to this one is superseded by it too.
        }
        if superseded.is_empty() {
            return Ok(WriteOutcome::Unchanged);
        }
        LineUpdate::removing(superseded)
            .request(&item)
            .send()
            .await
            .map_err(|e| item.request_error("UpdateItem", e.into()))?;
        Ok(WriteOutcome::Written)
    }

    /// Records a cart-wide clear, if it is the latest one: one conditional `UpdateItem`.
    pub async fn apply_cart_clear(
        &self,
        customer_id: &str,
        key: EventKey,
    ) -> Result<WriteOutcome, StoreError> {
        let item = self.customer_item(customer_id, &CustomerItem::CartClear);
        let clear = StoredClear { key: Some(key) };
        item.put_if_later(&clear, &[]).await
    }
}

/// The latest of several clears of one cart: the only one a write needs.
pub fn latest_clear(keys: impl IntoIterator<Item = EventKey>) -> Option<EventKey> {
    let mut cart = Cart::default();
    for key in keys {
        cart.apply_clear(key);
    }
    cart.cleared
}

/// Whether a failed `UpdateItem` failed its condition, and with which stored item when the
/// failure returned it: `None` for any other error.
fn condition_failed<R>(
    err: &aws_sdk_dynamodb::error::SdkError<UpdateItemError, R>,
) -> Option<Option<HashMap<String, AttributeValue>>> {
    match err.as_service_error()? {
        UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item.clone()),
        _ => None,
    }
}

/// One line `UpdateItem`: its expressions and their names and values. Built apart from the
/// request so that what a write says can be read and tested without sending it.
#[derive(Debug, Clone, Default, PartialEq)]
struct LineUpdate {
    update: String,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl LineUpdate {
    /// Adds `ops` (a non-empty state) to a line on condition that none of its deltas is there
    /// and the stored reset is older than all of its ops.
    fn adding(ops: &LineState) -> Self {
        let mut update = LineUpdate::default();
        let mut sets = Vec::new();
        let mut absent = Vec::new();
        if let Some(reset) = &ops.reset {
            update.name("#reset", "reset");
            update
                .values
                .insert(":reset".into(), items::reset_value(reset));
            sets.push("#reset = :reset".to_owned());
        }
        for (i, (key, delta)) in ops.deltas.iter().enumerate() {
            let name = format!("#d{i}");
            update.name(&name, &items::delta_attribute(key));
            update
                .values
                .insert(format!(":d{i}"), items::delta_value(*delta));
            sets.push(format!("{name} = :d{i}"));
            absent.push(format!("attribute_not_exists({name})"));
        }
        update.update = format!("SET {}", sets.join(", "));
        let mut condition = Vec::new();
        if let Some(first) = ops.first_key() {
            condition.push(update.older_reset(first));
        }
        condition.extend(absent);
        update.condition = Some(condition.join(" AND "));
        update
    }

    /// Stores `reset` if the line's is older, and removes the attributes `superseded`.
    fn compacting(reset: &Reset, superseded: &[EventKey]) -> Self {
        let mut update = LineUpdate::removing(superseded);
        update.name("#reset", "reset");
        update
            .values
            .insert(":reset".into(), items::reset_value(reset));
        let remove = std::mem::take(&mut update.update);
        update.update = format!("SET #reset = :reset {remove}")
            .trim_end()
            .to_owned();
        update.condition = Some(update.older_reset(&reset.key));
        update
    }

    /// Removes the delta attributes `superseded`, unconditionally: each is at or before a reset
    /// that is stored, and a stored reset only ever moves later.
    fn removing(superseded: &[EventKey]) -> Self {
        let mut update = LineUpdate::default();
        let names: Vec<String> = superseded
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let name = format!("#x{i}");
                update.name(&name, &items::delta_attribute(key));
                name
            })
            .collect();
        if !names.is_empty() {
            update.update = format!("REMOVE {}", names.join(", "));
        }
        update
    }

    /// The condition that the stored reset, if any, is older than `key`.
    fn older_reset(&mut self, key: &EventKey) -> String {
        self.name("#reset", "reset");
        self.name("#t", "t");
        self.name("#e", "e");
        self.values
            .insert(":t".into(), AttributeValue::N(key.at_ms.to_string()));
        self.values
            .insert(":e".into(), AttributeValue::S(key.event_id.clone()));
        "(attribute_not_exists(#reset) OR #reset.#t < :t OR (#reset.#t = :t AND #reset.#e < :e))"
            .to_owned()
    }

    fn name(&mut self, placeholder: &str, attribute: &str) {
        self.names
            .insert(placeholder.to_owned(), attribute.to_owned());
    }

    fn request(
        &self,
        item: &Versioned<'_>,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        item.client
            .update_item()
            .table_name(item.table)
            .key("pk", AttributeValue::S(item.pk.clone()))
            .key("sk", AttributeValue::S(item.sk.clone()))
            .update_expression(&self.update)
            .set_condition_expression(self.condition.clone())
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_expression_attribute_values((!self.values.is_empty()).then(|| self.values.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cart::LineOp;

    fn line(ops: &[(i64, &str, LineOp)]) -> LineState {
        let mut line = LineState::default();
        for (at, id, op) in ops {
            line.apply(EventKey::new(*at, *id), *op);
        }
        line
    }

    #[test]
    fn an_add_is_set_on_condition_that_it_is_new_and_after_the_reset() {
        let update = LineUpdate::adding(&line(&[(5, "a", LineOp::Add(2))]));
        assert_eq!(update.update, "SET #d0 = :d0");
        assert_eq!(
            update.condition.as_deref(),
            Some(
                "(attribute_not_exists(#reset) OR #reset.#t < :t OR (#reset.#t = :t AND #reset.#e < :e)) \
                 AND attribute_not_exists(#d0)"
            )
        );
        assert_eq!(update.names["#d0"], "o:5:a");
        assert_eq!(update.values[":d0"], AttributeValue::N("2".into()));
        assert_eq!(update.values[":t"], AttributeValue::N("5".into()));
        assert_eq!(update.values[":e"], AttributeValue::S("a".into()));
    }

    #[test]
    fn a_batch_s_reset_and_later_adds_go_in_one_write_conditioned_on_the_reset() {
        let ops = line(&[
            (1, "early", LineOp::Add(9)),
            (2, "set", LineOp::Set(3)),
            (3, "late", LineOp::Add(1)),
            (4, "later", LineOp::Add(1)),
        ]);
        let update = LineUpdate::adding(&ops);
        assert_eq!(update.update, "SET #reset = :reset, #d0 = :d0, #d1 = :d1");
        assert_eq!(update.names["#d0"], "o:3:late");
        assert_eq!(update.names["#d1"], "o:4:later");
        assert_eq!(update.values[":e"], AttributeValue::S("set".into()));
        assert!(update.condition.as_deref().is_some_and(|c| {
            c.ends_with("AND attribute_not_exists(#d0) AND attribute_not_exists(#d1)")
        }));
    }

    #[test]
    fn a_compaction_sets_its_reset_if_later_and_removes_what_it_supersedes() {
        let reset = Reset {
            key: EventKey::new(7, "p"),
            quantity: 4,
        };
        let update =
            LineUpdate::compacting(&reset, &[EventKey::new(6, "x"), EventKey::new(7, "p")]);
        assert_eq!(update.update, "SET #reset = :reset REMOVE #x0, #x1");
        assert_eq!(update.names["#x1"], "o:7:p");
        assert_eq!(update.values[":e"], AttributeValue::S("p".into()));
        let prune = LineUpdate::removing(&[EventKey::new(6, "x")]);
        assert_eq!(
            (prune.update.as_str(), prune.condition),
            ("REMOVE #x0", None)
        );
        assert!(prune.values.is_empty());
    }

    #[test]
    fn the_latest_clear_is_the_one_written() {
        let keys = [
            EventKey::new(3, "b"),
            EventKey::new(9, "a"),
            EventKey::new(9, "0"),
        ];
        assert_eq!(latest_clear(keys), Some(EventKey::new(9, "a")));
        assert_eq!(latest_clear([]), None);
    }
}
