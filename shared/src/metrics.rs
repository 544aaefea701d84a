//! What each batch did, as CloudWatch metrics in the Embedded Metric Format (EMF).
//!
//! A function counts its batch's records by event type and outcome (`applied`, `unchanged`,
//! `waiting`, `rejected` with its reason code, `retried`), the conditional-write conflicts it
//! retried, and how long the batch took, then writes them as EMF documents: one JSON line per
//! (event type, outcome, reason) with the metric `Events`, and one per batch with `Records`,
//! `ContentionRetries` and `BatchDuration`. CloudWatch turns those log lines into metrics in the
//! `omnisync` namespace, with no API call on the hot path (why EMF and not `PutMetricData`).
//! Stream batches count their units of work (a record, or one customer's records) under the
//! event type `stream`, `applied` or `retried`.
//!
//! The lines go to stdout only when the code runs in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set):
//! the local runner and the tests build the same documents without printing them.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "omnisync";

/// Conditional-write conflicts retried in this process (see [`contention_retry`]).
static CONTENTION_RETRIES: AtomicU64 = AtomicU64::new(0);

/// Counts one conditional-write conflict that is retried (the store's retry loops call it).
pub fn contention_retry() {
    CONTENTION_RETRIES.fetch_add(1, Ordering::Relaxed);
}

/// How many conflicts were retried so far in this process; a batch reports the difference
/// between its end and its start (Lambda runs one invocation at a time per environment).
pub fn contention_retries() -> u64 {
    CONTENTION_RETRIES.load(Ordering::Relaxed)
}

/// How one record of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Applied,
    Unchanged,
    Waiting,
    Rejected,
    Retried,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Waiting => "waiting",
            Outcome::Rejected => "rejected",
            Outcome::Retried => "retried",
        }
    }
}

/// One batch's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMetrics {
    /// (event type or `unknown`, outcome, reason code or `""`) → records.
    counts: BTreeMap<(String, Outcome, String), u64>,
    pub contention_retries: u64,
    pub duration_ms: u64,
}

impl BatchMetrics {
    /// Counts one record: its event type (`None`, counted as `unknown`: the body could not be
    /// read as an event, or the deadline cut the record off before it was), how it ended, and
    /// for a rejection its reason code.
    pub fn record(&mut self, event_type: Option<&str>, outcome: Outcome, reason: Option<&str>) {
        let key = (
            event_type.unwrap_or("unknown").to_owned(),
            outcome,
            reason.unwrap_or_default().to_owned(),
        );
        *self.counts.entry(key).or_default() += 1;
    }

    pub fn records(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The EMF documents of this batch of `function`, stamped `timestamp_ms`.
    pub fn documents(&self, function: &str, timestamp_ms: i64) -> Vec<Value> {
        let metadata = |dimensions: &[&str], metrics: Value| {
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimensions],
                    "Metrics": metrics,
                }],
            })
        };
        let mut documents: Vec<Value> = self
            .counts
            .iter()
            .map(|((event_type, outcome, reason), count)| {
                let mut document = json!({
                    "_aws": metadata(
                        if reason.is_empty() {
                            &["Function", "EventType", "Outcome"]
                        } else {
                            &["Function", "EventType", "Outcome", "Reason"]
                        },
                        json!([{"Name": "Events", "Unit": "Count"}]),
                    ),
                    "Function": function,
                    "EventType": event_type,
                    "Outcome": outcome.as_str(),
                    "Events": count,
                });
                if !reason.is_empty() {
                    document["Reason"] = json!(reason);
                }
                document
            })
            .collect();
        documents.push(json!({
            "_aws": metadata(
                &["Function"],
                json!([
                    {"Name": "Records", "Unit": "Count"},
                    {"Name": "ContentionRetries", "Unit": "Count"},
                    {"Name": "BatchDuration", "Unit": "Milliseconds"},
                ]),
            ),
            "Function": function,
            "Records": self.records(),
            "ContentionRetries": self.contention_retries,
            "BatchDuration": self.duration_ms,
        }));
        documents
    }

    /// Writes the documents to stdout when running in Lambda (see the module docs).
    pub fn emit(&self) {
        let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") else {
            return;
        };
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for document in self.documents(&function, crate::clock::now_ms()) {
            // A metric that cannot be written is not worth failing the batch for.
            let _ = writeln!(out, "{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_event_type_outcome_and_reason_in_emf() {
        let mut batch = BatchMetrics::default();
        batch.record(Some("cart.item_added"), Outcome::Applied, None);
        batch.record(Some("cart.item_added"), Outcome::Applied, None);
        batch.record(Some("cart.cleared"), Outcome::Retried, None);
        batch.record(None, Outcome::Rejected, Some("malformed_json"));
        batch.contention_retries = 3;
        batch.duration_ms = 42;
        let documents = batch.documents("omnisync-cart-sync", 1_000);
        assert_eq!(documents.len(), 4);
        let added = &documents[1];
        assert_eq!(added["EventType"], "cart.item_added");
        assert_eq!(added["Outcome"], "applied");
        assert_eq!(added["Events"], 2);
        let emf = &added["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(emf["Namespace"], "omnisync");
        assert_eq!(
            emf["Dimensions"],
            json!([["Function", "EventType", "Outcome"]])
        );
        assert_eq!(added["_aws"]["Timestamp"], 1_000);
        let rejected = &documents[2];
        assert_eq!(rejected["EventType"], "unknown");
        assert_eq!(rejected["Reason"], "malformed_json");
        assert_eq!(
            rejected["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "EventType", "Outcome", "Reason"]])
        );
        let batch_line = &documents[3];
        assert_eq!(batch_line["Records"], 4);
        assert_eq!(batch_line["ContentionRetries"], 3);
        assert_eq!(batch_line["BatchDuration"], 42);
        // Every metric a document declares is a number at its top level (EMF's rule).
        for document in &documents {
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                let name = metric["Name"].as_str().unwrap();
                assert!(document[name].is_u64(), "{name} in {document}");
            }
        }
    }
}
