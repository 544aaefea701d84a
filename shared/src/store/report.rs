//! The channel report's state: each order's record of what it contributes (`VIEW#<id>` /
//! `REPORTED#<order_id>`, beside the customer's view version) and each UTC day's counters
//! (`REPORT#<day>` / `SHARD#<n>`, attributes named by [`crate::domain::report`]).
//!
//! A record changes only in a transaction with the counters it moves and a check that the
//! customer's view version is still the one whose state it was computed from (the rule and why
//! it keeps the report exact are in `domain::report`). A report reads each day's shards with
//! `BatchGetItem` (100 keys a request): its cost grows with the days in the range, never with
//! customers or events.

use super::key::{VIEW_VERSION_SK, report_key, reported_prefix, reported_sk, view_version_pk};
use super::touches::report_shard;
use super::write::{Cancelled, cancellation, decode, is_lost_race};
use super::{StoreError, Table};
use crate::domain::report::{
    ChannelReport, Contribution, REPORT_SHARDS, RangeError, Reported, days, order_deltas, report,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, TransactWriteItem, Update,
};
use std::collections::{BTreeMap, HashMap};

/// Orders per transaction: each takes its record and at most one counter item, and a
/// transaction holds 100 items, the version check included.
const ORDERS_PER_COMMIT: usize = 45;
/// Keys per `BatchGetItem`.
const KEYS_PER_READ: usize = 100;

/// A stored record and its revision.
#[derive(Debug, Clone)]
pub struct StoredReported {
    pub record: Reported,
    pub rev: u64,
}

/// One order whose record is to change.
#[derive(Debug, Clone)]
pub struct ReportChange {
    pub order_id: String,
    /// The record as read (`None`: none yet).
    pub stored: Option<StoredReported>,
    pub now: Reported,
}

/// What committing a customer's record changes came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportCommit {
    Committed,
    /// The view version moved on: a newer computation reconciles the records.
    Superseded,
}

impl Table {
    /// The report records of a customer's orders, by order id (one query of its version
    /// partition).
    pub async fn reported(
        &self,
        customer_id: &str,
    ) -> Result<BTreeMap<String, StoredReported>, StoreError> {
        let pk = view_version_pk(customer_id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(reported_prefix().into()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut records = BTreeMap::new();
        while let Some(item) = pages.next().await {
            let item =
                item.map_err(|e| self.request_error("Query", &pk, reported_prefix(), e.into()))?;
            let Some(AttributeValue::S(sk)) = item.get("sk").cloned() else {
                continue;
            };
            let Some(order_id) = sk.strip_prefix(reported_prefix()) else {
                continue;
            };
            let order_id = order_id.to_owned();
            let (record, rev): (Reported, u64) = decode(&pk, &sk, item)?;
            records.insert(order_id, StoredReported { record, rev });
        }
        Ok(records)
    }

    /// Commits record changes computed at `version`, with the counters they move, as long as
    /// `version` is still the customer's view version. A lost race on a record or a counter is
    /// retried by the caller (`Ok(Err(()))`).
    pub async fn commit_reported(
        &self,
        customer_id: &str,
        version: u64,
        changes: &[ReportChange],
    ) -> Result<Result<ReportCommit, ()>, StoreError> {
        let version_pk = view_version_pk(customer_id);
        for chunk in changes.chunks(ORDERS_PER_COMMIT) {
            let check = ConditionCheck::builder()
                .table_name(&self.name)
                .key("pk", AttributeValue::S(version_pk.clone()))
                .key("sk", AttributeValue::S(VIEW_VERSION_SK.into()))
                .condition_expression("version = :version")
                .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
                .build()
                .map_err(|e| {
                    self.request_error("TransactWriteItems", &version_pk, VIEW_VERSION_SK, e.into())
                })?;
            let mut items = vec![TransactWriteItem::builder().condition_check(check).build()];
            // Counter changes merged per counter item: one item may appear once per transaction.
            let mut counters: BTreeMap<(String, u32), BTreeMap<String, i64>> = BTreeMap::new();
            for change in chunk {
                let record = self.item(version_pk.clone(), reported_sk(&change.order_id));
                let put = match &change.stored {
                    Some(stored) => record.replace_put(&change.now, stored.rev)?,
                    None => record.create_put(&change.now)?,
                };
                items.push(TransactWriteItem::builder().put(put).build());
                let old: Option<&Contribution> = change
                    .stored
                    .as_ref()
                    .and_then(|s| s.record.contribution.as_ref());
                let shard = report_shard(&change.order_id);
                for (day, deltas) in order_deltas(old, change.now.contribution.as_ref()) {
                    let merged = counters.entry((day, shard)).or_default();
                    for (name, delta) in deltas {
                        *merged.entry(name).or_default() += delta;
                    }
                }
            }
            for ((day, shard), deltas) in &counters {
                let deltas: Vec<(&String, &i64)> =
                    deltas.iter().filter(|(_, d)| **d != 0).collect();
                if deltas.is_empty() {
                    continue;
                }
                let (pk, sk) = report_key(day, *shard);
                let mut update = Update::builder()
                    .table_name(&self.name)
                    .key("pk", AttributeValue::S(pk.clone()))
                    .key("sk", AttributeValue::S(sk.clone()));
                let mut adds = Vec::with_capacity(deltas.len());
                for (i, (name, delta)) in deltas.iter().enumerate() {
                    adds.push(format!("#c{i} :c{i}"));
                    update = update
                        .expression_attribute_names(format!("#c{i}"), (*name).clone())
                        .expression_attribute_values(
                            format!(":c{i}"),
                            AttributeValue::N(delta.to_string()),
                        );
                }
                let update = update
                    .update_expression(format!("ADD {}", adds.join(", ")))
                    .build()
                    .map_err(|e| self.request_error("TransactWriteItems", &pk, &sk, e.into()))?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let Err(err) = sent else {
                continue;
            };
            match cancellation(&err) {
                Some(reasons) if reasons.first() == Some(&Cancelled::ConditionFailed) => {
                    return Ok(Ok(ReportCommit::Superseded));
                }
                Some(reasons) if is_lost_race(&reasons) => return Ok(Err(())),
                _ => {
                    return Err(self.request_error(
                        "TransactWriteItems",
                        &version_pk,
                        reported_prefix(),
                        err.into(),
                    ));
                }
            }
        }
        Ok(Ok(ReportCommit::Committed))
    }

    /// The channel report of a range of UTC days (contract §4): `BatchGetItem`s of its days'
    /// counter items, ceil(8 × days / 100) requests.
    pub async fn channel_report(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Result<ChannelReport, RangeError>, StoreError> {
        let days = match days(from, to) {
            Ok(days) => days,
            Err(error) => return Ok(Err(error)),
        };
        let counters = self.report_counters(&days).await?;
        Ok(Ok(report(from, to, &counters)))
    }

    /// The counters of `days`, summed over the days and their shards.
    pub async fn report_counters(
        &self,
        days: &[String],
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let keys: Vec<HashMap<String, AttributeValue>> = days
            .iter()
            .flat_map(|day| (0..REPORT_SHARDS).map(move |shard| report_key(day, shard)))
            .map(|(pk, sk)| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(pk)),
                    ("sk".to_owned(), AttributeValue::S(sk)),
                ])
            })
            .collect();
        let mut totals = BTreeMap::new();
        for chunk in keys.chunks(KEYS_PER_READ) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| self.request_error("BatchGetItem", "REPORT#", "", e.into()))?,
            );
            let mut attempt = 0u32;
            while let Some(request) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, request)
                    .send()
                    .await
                    .map_err(|e| self.request_error("BatchGetItem", "REPORT#", "", e.into()))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.name)
                    .unwrap_or_default()
                {
                    for (name, value) in item {
                        if let AttributeValue::N(n) = value
                            && let Ok(n) = n.parse::<i64>()
                            && name.contains(':')
                        {
                            *totals.entry(name).or_insert(0) += n;
                        }
                    }
                }
                // Keys DynamoDB did not get to (throttling) are asked for again, with backoff.
                pending = output
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.name)
                    .filter(|rest| !rest.keys().is_empty());
                if pending.is_some() {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5)))
                        .await;
                }
            }
        }
        Ok(totals)
    }
}
