//! Touches (`engagement.touched`): one item per id and UTC day (`TOUCH#<YYYY-MM-DD>`), an
//! attribute per touch (`t:<t>:<event id>` = `{c, k, src, st, sku}`), and the stores an id was
//! touched in (`STORES`, a string set).
//!
//! A touch is stored, counted in its day's report counters and its store added to `STORES` in
//! one `TransactWriteItems`, on condition that the touch's attribute is absent: a redelivered
//! touch cancels the transaction and is counted once (contract §2; the report's rule is in
//! [`crate::domain::report`]).
//!
//! **Retention.** A touch matters for the attribution of orders placed within 30 days after it,
//! and orders are attributed when they arrive; a day's item expires (TTL `expires_at`)
//! [`TOUCH_RETENTION_DAYS`] after the day, so an `order.placed` that arrives more than 60 days
//! after it occurred is attributed over the touches still kept. An attribution already counted
//! never loses a touch that expires (the report record keeps it, `domain::attribution`), and
//! the timeline and `STORES` do not expire.

use super::key::{CustomerItem, report_key};
use super::write::{Cancelled, cancellation, is_lost_race};
use super::{Commit, StoreError, Table, WriteOutcome};
use crate::contract::{Channel, EventKey, TouchKind};
use crate::domain::attribution::Touch;
use crate::domain::report::{REPORT_SHARDS, touch_counter, utc_day};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use std::collections::HashMap;

/// How long after its UTC day a day's touches are kept.
pub const TOUCH_RETENTION_DAYS: i64 = 90;
const DAY_SECONDS: i64 = 86_400;
const TOUCH_PREFIX: &str = "t:";

fn touch_attribute(key: &EventKey) -> String {
    format!("{TOUCH_PREFIX}{}:{}", key.at_ms, key.event_id)
}

fn touch_value(touch: &Touch) -> AttributeValue {
    let mut map = HashMap::from([
        (
            "c".to_owned(),
            AttributeValue::S(touch.channel.as_str().to_owned()),
        ),
        (
            "k".to_owned(),
            AttributeValue::S(touch.kind.as_str().to_owned()),
        ),
    ]);
    for (name, value) in [
        ("src", &touch.source),
        ("st", &touch.store_id),
        ("sku", &touch.sku),
    ] {
        if let Some(value) = value {
            map.insert(name.to_owned(), AttributeValue::S(value.clone()));
        }
    }
    AttributeValue::M(map)
}

/// The touches of a stored day item (attributes this reader does not know are skipped).
pub(crate) fn day_touches(item: &HashMap<String, AttributeValue>) -> Vec<Touch> {
    item.iter()
        .filter_map(|(name, value)| {
            let (at, event_id) = name.strip_prefix(TOUCH_PREFIX)?.split_once(':')?;
            let AttributeValue::M(map) = value else {
                return None;
            };
            let text = |field: &str| match map.get(field) {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            };
            let kind = text("k")?;
            Some(Touch {
                key: EventKey::new(at.parse().ok()?, event_id),
                channel: Channel::parse(&text("c")?)?,
                kind: TouchKind::ALL.into_iter().find(|k| k.as_str() == kind)?,
                source: text("src"),
                store_id: text("st"),
                sku: text("sku"),
            })
        })
        .collect()
}

/// The stores of a stored `STORES` item.
pub(crate) fn stores_of(item: &HashMap<String, AttributeValue>) -> Vec<String> {
    match item.get("stores") {
        Some(AttributeValue::Ss(stores)) => stores.clone(),
        _ => Vec::new(),
    }
}

/// Which of a day's counter items an event or order counts in: FNV-1a of its id, so the same id
/// always lands on the same item and ids spread over all of them.
pub fn report_shard(id: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % REPORT_SHARDS
}

impl Table {
    /// Stores one touch under the id it was sent under, counts it in its day's report counters
    /// and records its store, at once; [`WriteOutcome::Unchanged`] when it is already stored.
    pub async fn record_touch(
        &self,
        id: &str,
        touch: &Touch,
    ) -> Result<Commit<WriteOutcome>, StoreError> {
        let day = utc_day(touch.key.at_ms);
        let day_item = self.customer_item(id, &CustomerItem::TouchDay(day.clone()));
        let expires_at = touch.key.at_ms.div_euclid(1000).div_euclid(DAY_SECONDS) * DAY_SECONDS
            + (TOUCH_RETENTION_DAYS + 1) * DAY_SECONDS;
        let build = |update: aws_sdk_dynamodb::types::builders::UpdateBuilder| {
            update
                .build()
                .map_err(|e| day_item.request_error("TransactWriteItems", e.into()))
        };
        let store_touch = build(
            Update::builder()
                .table_name(&self.name)
                .key("pk", AttributeValue::S(day_item.pk.clone()))
                .key("sk", AttributeValue::S(day_item.sk.clone()))
                .update_expression("SET #touch = :touch, expires_at = :expires_at")
                .condition_expression("attribute_not_exists(#touch)")
                .expression_attribute_names("#touch", touch_attribute(&touch.key))
                .expression_attribute_values(":touch", touch_value(touch))
                .expression_attribute_values(
                    ":expires_at",
                    AttributeValue::N(expires_at.to_string()),
                ),
        )?;
        let (report_pk, report_sk) = report_key(&day, report_shard(&touch.key.event_id));
        let count = build(
            Update::builder()
                .table_name(&self.name)
                .key("pk", AttributeValue::S(report_pk))
                .key("sk", AttributeValue::S(report_sk))
                .update_expression("ADD #counter :one")
                .expression_attribute_names("#counter", touch_counter(touch.channel, touch.kind))
                .expression_attribute_values(":one", AttributeValue::N("1".into())),
        )?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(store_touch).build())
            .transact_items(TransactWriteItem::builder().update(count).build());
        if let Some(store_id) = &touch.store_id {
            let stores = self.customer_item(id, &CustomerItem::Stores);
            let add_store = build(
                Update::builder()
                    .table_name(&self.name)
                    .key("pk", AttributeValue::S(stores.pk.clone()))
                    .key("sk", AttributeValue::S(stores.sk.clone()))
                    .update_expression("ADD stores :store")
                    .expression_attribute_values(
                        ":store",
                        AttributeValue::Ss(vec![store_id.clone()]),
                    ),
            )?;
            transaction =
                transaction.transact_items(TransactWriteItem::builder().update(add_store).build());
        }
        let Err(err) = transaction.send().await else {
            return Ok(Commit::Done(WriteOutcome::Written));
        };
        match cancellation(&err) {
            Some(reasons) if reasons.first() == Some(&Cancelled::ConditionFailed) => {
                Ok(Commit::Done(WriteOutcome::Unchanged))
            }
            Some(reasons) if is_lost_race(&reasons) => Ok(Commit::Conflict),
            _ => Err(day_item.request_error("TransactWriteItems", err.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_reads_back_as_it_was_written() {
        let touch = Touch {
            key: EventKey::new(1_790_000_000_123, "t-1"),
            channel: Channel::Store,
            kind: TouchKind::Contact,
            source: Some("email.spring".into()),
            store_id: Some("s-1".into()),
            sku: None,
        };
        let item = HashMap::from([
            (touch_attribute(&touch.key), touch_value(&touch)),
            ("expires_at".to_owned(), AttributeValue::N("1".into())),
        ]);
        assert_eq!(day_touches(&item), vec![touch]);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(report_shard("o-1"), report_shard("o-1"));
        let used: std::collections::BTreeSet<u32> =
            (0..200).map(|i| report_shard(&format!("o-{i}"))).collect();
        assert_eq!(used.len(), REPORT_SHARDS as usize);
    }
}
