//! The stream side: which ledger entries a change of the state table causes.

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use omnisync::batch::{Deadline, in_shard_order};
use omnisync::domain::loyalty::{self, LedgerEntry};
use omnisync::domain::order::Order;
use omnisync::domain::refund::RefundDecision;
use omnisync::store::key::{CustomerItem, customer_pk};
use omnisync::store::stream::{Change, Image, ImageError};
use omnisync::store::{StoreError, Table, retry_on_conflict};

/// One ledger entry a record calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEffect {
    pub customer_id: String,
    pub entry_id: String,
    pub points: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Decode(#[from] ImageError),
    #[error("record {sequence}: {source}")]
    Store {
        sequence: String,
        #[source]
        source: StoreError,
    },
}

/// The ledger entries one stream record calls for (pure: no I/O).
pub fn effects_of(record: &EventRecord) -> Result<Vec<LedgerEffect>, RecordError> {
    let change = Change::of(record);
    let Some((customer_id, item)) = change.customer_item() else {
        return Ok(vec![]);
    };
    let mut effects = Vec::new();
    match item {
        CustomerItem::Order(_) => {
            let old: Option<Order> = change.image(Image::Old)?;
            let Some(new) = change.image::<Order>(Image::New)? else {
                return Ok(effects);
            };
            let of = |entry: LedgerEntry| LedgerEffect {
                customer_id: customer_id.to_owned(),
                entry_id: entry.entry_id,
                points: entry.points,
            };
            if old.is_none() {
                effects.push(of(loyalty::order_earn(&new)));
            }
            let was_cancelled = old.as_ref().is_some_and(Order::is_cancelled);
            if !was_cancelled && let Some(cancel) = loyalty::order_cancel(&new) {
                effects.push(of(cancel));
            }
        }
        CustomerItem::Refund(_) => {
            let old: Option<RefundDecision> = change.image(Image::Old)?;
            if let (None, Some(refund)) = (old, change.image::<RefundDecision>(Image::New)?)
                && let Some(reversal) = loyalty::refund_reversal(&refund)
            {
                effects.push(LedgerEffect {
                    customer_id: refund.order_customer_id.clone(),
                    entry_id: reversal.entry_id,
                    points: reversal.points,
                });
            }
        }
        _ => {}
    }
    Ok(effects)
}

/// Applies a batch in shard order; stops at the first record that fails and reports it, so Lambda
/// retries from there (the records before it are done, and re-applying one is a no-op).
pub async fn process(
    table: &Table,
    batch: DynamoDbEvent,
    deadline: Deadline,
) -> DynamoDbEventResponse {
    let mut units = Vec::with_capacity(batch.records.len());
    for record in &batch.records {
        units.push((Change::of(record).sequence(), record));
    }
    in_shard_order(units, deadline, |record| apply(table, record)).await
}

async fn apply(table: &Table, record: &EventRecord) -> Result<(), RecordError> {
    let change = Change::of(record);
    let sequence = change.sequence();
    let effects = effects_of(record)?;
    tracing::debug!(sequence, pk = change.pk(), sk = change.sk(), event_name = %record.event_name, effects = effects.len());
    for effect in effects {
        let entry = LedgerEntry {
            entry_id: effect.entry_id.clone(),
            points: effect.points,
        };
        let pk = customer_pk(&effect.customer_id);
        let written = retry_on_conflict(&pk, &effect.entry_id, || {
            table.credit_ledger(&effect.customer_id, &entry)
        })
        .await
        .map_err(|source| RecordError::Store {
            sequence: sequence.clone(),
            source,
        })?;
        tracing::info!(
            sequence,
            entry_id = %effect.entry_id,
            points = effect.points,
            outcome = if written { "applied" } else { "unchanged" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn order_image(cancelled: bool, refunded: u32) -> Value {
        json!({
            "pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": "ORDER#o-1"}, "rev": {"N": "2"},
            "order_id": {"S": "o-1"}, "placed": {"M": {"t": {"N": "1000"}, "e": {"S": "p"}}},
            "channel": {"S": "web"}, "currency": {"S": "EUR"}, "fulfillment": {"S": "ship"},
            "lines": {"L": [{"M": {"sku": {"S": "A"}, "quantity": {"N": "2"}, "unit_price_minor": {"N": "6000"}, "refunded_quantity": {"N": refunded.to_string()}}}]},
            "total_minor": {"N": "12000"},
            "status": {"M": {"latest": {"NULL": true}, "cancelled": if cancelled { json!({"M": {"t": {"N": "3000"}, "e": {"S": "c"}}}) } else { json!({"NULL": true}) }}}
        })
    }

    fn record(sk: &str, old: Option<Value>, new: Option<Value>) -> EventRecord {
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": 1_700_000_000.0,
            "Keys": {"pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": sk}},
            "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"
        });
        if let Some(old) = old {
            dynamodb["OldImage"] = old;
        }
        if let Some(new) = new {
            dynamodb["NewImage"] = new;
        }
        serde_json::from_value(json!({
            "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": dynamodb, "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x"
        }))
        .unwrap()
    }

    fn effect(entry_id: &str, points: i64) -> LedgerEffect {
        LedgerEffect {
            customer_id: "c-1".into(),
            entry_id: entry_id.into(),
            points,
        }
    }

    #[test]
    fn a_new_order_earns() {
        let effects = effects_of(&record("ORDER#o-1", None, Some(order_image(false, 0)))).unwrap();
        assert_eq!(effects, vec![effect("earn:o-1", 120)]);
    }

    #[test]
    fn the_first_cancelled_image_takes_back_what_is_left() {
        let cancelling = record(
            "ORDER#o-1",
            Some(order_image(false, 1)),
            Some(order_image(true, 1)),
        );
        assert_eq!(
            effects_of(&cancelling).unwrap(),
            vec![effect("cancel:o-1", -60)]
        );
        let again = record(
            "ORDER#o-1",
            Some(order_image(true, 1)),
            Some(order_image(true, 1)),
        );
        assert_eq!(
            effects_of(&again).unwrap(),
            vec![],
            "only the first cancelled image"
        );
        let refund_change = record(
            "ORDER#o-1",
            Some(order_image(false, 0)),
            Some(order_image(false, 1)),
        );
        assert_eq!(
            effects_of(&refund_change).unwrap(),
            vec![],
            "a refund's order update earns nothing"
        );
    }

    #[test]
    fn an_approved_refund_reverses_and_a_rejected_one_does_not() {
        let refund = |status: &str, points: i64| {
            json!({
                "pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": "REFUND#r-1"}, "rev": {"N": "1"},
                "refund_id": {"S": "r-1"}, "order_id": {"S": "o-1"}, "order_customer_id": {"S": "c-1"},
                "channel": {"S": "store"}, "decided_by": {"M": {"t": {"N": "2000"}, "e": {"S": "r"}}},
                "status": {"S": status}, "amount_minor": {"N": "6000"}, "reason_code": {"NULL": true},
                "lines": {"L": [{"M": {"sku": {"S": "A"}, "quantity": {"N": "1"}}}]},
                "points_reversed": {"N": points.to_string()}
            })
        };
        assert_eq!(
            effects_of(&record("REFUND#r-1", None, Some(refund("approved", 60)))).unwrap(),
            vec![effect("reverse:r-1", -60)]
        );
        assert_eq!(
            effects_of(&record("REFUND#r-1", None, Some(refund("rejected", 0)))).unwrap(),
            vec![]
        );
    }

    /// The recovery path re-derives entries from the stored state
    /// (`domain::loyalty::implied_entries`); it must come to what the stream path wrote over the
    /// order's whole history: placed, partly refunded, then cancelled.
    #[test]
    fn the_entries_of_a_history_are_the_entries_its_final_state_implies() {
        let refund = json!({
            "pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": "REFUND#r-1"}, "rev": {"N": "1"},
            "refund_id": {"S": "r-1"}, "order_id": {"S": "o-1"}, "order_customer_id": {"S": "c-1"},
            "channel": {"S": "store"}, "decided_by": {"M": {"t": {"N": "2000"}, "e": {"S": "r"}}},
            "status": {"S": "approved"}, "amount_minor": {"N": "6000"}, "reason_code": {"NULL": true},
            "lines": {"L": [{"M": {"sku": {"S": "A"}, "quantity": {"N": "1"}}}]},
            "points_reversed": {"N": "60"}
        });
        let history = [
            record("ORDER#o-1", None, Some(order_image(false, 0))),
            record("REFUND#r-1", None, Some(refund)),
            record(
                "ORDER#o-1",
                Some(order_image(false, 0)),
                Some(order_image(false, 1)),
            ),
            record(
                "ORDER#o-1",
                Some(order_image(false, 1)),
                Some(order_image(true, 1)),
            ),
        ];
        let mut written: Vec<LedgerEntry> = history
            .iter()
            .flat_map(|r| effects_of(r).unwrap())
            .map(|e| LedgerEntry {
                entry_id: e.entry_id,
                points: e.points,
            })
            .collect();
        written.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
        let order: Order = Change::of(&history[3]).image(Image::New).unwrap().unwrap();
        let decision: RefundDecision = Change::of(&history[1]).image(Image::New).unwrap().unwrap();
        assert_eq!(written.len(), 3, "earn, reverse, cancel");
        assert_eq!(loyalty::implied_entries(&[order], &[decision]), written);
    }

    #[test]
    fn other_items_cause_nothing() {
        let line =
            json!({"pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": "CART#LINE#A"}, "rev": {"N": "1"}});
        assert_eq!(
            effects_of(&record("CART#LINE#A", None, Some(line))).unwrap(),
            vec![]
        );
    }

    #[test]
    fn an_image_of_the_wrong_shape_is_an_error_not_a_skip() {
        let broken =
            json!({"pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": "ORDER#o-1"}, "order_id": {"N": "7"}});
        assert!(effects_of(&record("ORDER#o-1", None, Some(broken))).is_err());
    }
}
