//! Folding the events of one batch that touch the same item into one write.
//!
//! SQS hands a function up to ten events at once, and a customer editing a cart sends several
//! for one line within a second. Each write to DynamoDB costs a request and a write unit
//! whatever it carries, so a handler whose rule is a merge (a cart line, a wishlist register)
//! groups the batch's events by the item they touch and writes each item once. The grouping is
//! safe because the rules are joins: folding events together first and merging the result
//! gives the same item as merging them one by one, in any order (`domain::cart`,
//! `domain::wishlist`).

use super::Deadline;
use super::sqs::{Admitted, Applied, ApplyError, CONCURRENCY};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;

/// The most events one write carries. Each op folded into a write adds its placeholders to the
/// update and condition expressions (about 45 bytes), and DynamoDB refuses an expression over
/// 4 KB with a `ValidationException`, which would reject every event of the group. The
/// template's batch size (10) stays under it; a larger `BatchSize` splits an item's events
/// into writes of at most this many, which merge like separate batches.
pub const MAX_EVENTS_PER_WRITE: usize = 25;

/// What one item's write answers for its events, in order.
type Answers = Vec<Result<Applied, ApplyError>>;

/// Applies `events` grouped by the item `item_of` names: `write` gets each group's events (in
/// batch order, at most [`MAX_EVENTS_PER_WRITE`], an item with more gets several groups) and
/// answers for each of them, in the same order; the groups are written
/// [`CONCURRENCY`] at a time, each by the deadline's cutoff. Returns one result per event, in
/// batch order: `None` for the events of a group not written by the cutoff.
pub async fn by_item<'a, I, K, W, Fut>(
    events: &'a [Admitted<'a, I>],
    deadline: Deadline,
    item_of: impl Fn(&'a I) -> K,
    write: W,
) -> Vec<Option<Result<Applied, ApplyError>>>
where
    K: Ord,
    W: Fn(Vec<&'a I>) -> Fut,
    Fut: Future<Output = Answers>,
{
    let mut groups: BTreeMap<K, Vec<Vec<usize>>> = BTreeMap::new();
    for (i, admitted) in events.iter().enumerate() {
        let chunks = groups.entry(item_of(&admitted.event)).or_default();
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < MAX_EVENTS_PER_WRITE => chunk.push(i),
            _ => chunks.push(vec![i]),
        }
    }
    let written: Vec<(Vec<usize>, Option<Answers>)> =
        futures::stream::iter(groups.into_values().flatten())
            .map(|indexes| {
                let group = indexes.iter().map(|i| &events[*i].event).collect();
                let written = deadline.run(write(group));
                async move { (indexes, written.await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut results: Vec<Option<Result<Applied, ApplyError>>> =
        events.iter().map(|_| None).collect();
    for (indexes, outcomes) in written {
        for (i, outcome) in indexes.into_iter().zip(outcomes.into_iter().flatten()) {
            results[i] = Some(outcome);
        }
    }
    results
}

/// The same failure for each of `count` events written together: a rejection is repeated as
/// it is; a transient error goes to the first as it is and to the others as its message (one
/// error cannot be shared, and each event's log line needs the cause).
pub fn for_each(error: ApplyError, count: usize) -> Vec<Result<Applied, ApplyError>> {
    let error = error.classified();
    let mut out = Vec::with_capacity(count);
    let copy = match &error {
        ApplyError::Rejected(rejection) => Copy::Rejected(rejection.clone()),
        ApplyError::Transient(source) => Copy::Transient(source.to_string()),
    };
    if count == 0 {
        return out;
    }
    out.push(Err(error));
    for _ in 1..count {
        out.push(Err(match &copy {
            Copy::Rejected(rejection) => ApplyError::Rejected(rejection.clone()),
            Copy::Transient(message) => ApplyError::transient(message.clone()),
        }));
    }
    out
}

enum Copy {
    Rejected(crate::contract::Rejection),
    Transient(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Delivery;

    fn delivery() -> Delivery<'static> {
        Delivery {
            message_id: "m",
            body: "{}",
            sender_id: None,
            first_sent_ms: 0,
        }
    }

    /// `events` as admitted from one batch.
    fn admitted<I>(events: impl IntoIterator<Item = I>) -> Vec<Admitted<'static, I>> {
        events
            .into_iter()
            .map(|event| Admitted {
                event,
                delivery: delivery(),
            })
            .collect()
    }

    #[tokio::test]
    async fn each_item_is_written_once_with_its_events_and_answers_reach_them_in_batch_order() {
        let events = admitted([('a', 1), ('b', 2), ('a', 3), ('c', 4), ('b', 5)]);
        let writes = std::sync::Mutex::new(Vec::new());
        let results = by_item(
            &events,
            Deadline::none(),
            |(item, _)| *item,
            |group| {
                let values: Vec<u32> = group.iter().map(|(_, n)| *n).collect();
                writes.lock().map(|mut w| w.push(values.clone())).ok();
                async move {
                    values
                        .iter()
                        .map(|n| {
                            if *n == 4 {
                                Err(ApplyError::transient("item c is unavailable"))
                            } else if n % 2 == 1 {
                                Ok(Applied::Changed)
                            } else {
                                Ok(Applied::Unchanged)
                            }
                        })
                        .collect()
                }
            },
        )
        .await;
        let mut writes = writes.into_inner().unwrap_or_default();
        writes.sort();
        assert_eq!(writes, [vec![1, 3], vec![2, 5], vec![4]]);
        let summary: Vec<&str> = results
            .iter()
            .map(|r| match r {
                Some(Ok(Applied::Changed)) => "changed",
                Some(Ok(_)) => "unchanged",
                Some(Err(_)) => "failed",
                None => "not done",
            })
            .collect();
        assert_eq!(
            summary,
            ["changed", "unchanged", "changed", "failed", "changed"]
        );
    }

    #[tokio::test]
    async fn an_item_with_more_events_than_one_write_carries_gets_several_writes() {
        let count = 2 * MAX_EVENTS_PER_WRITE + 3;
        let events = admitted(0..count);
        let writes = std::sync::Mutex::new(Vec::new());
        let results = by_item(
            &events,
            Deadline::none(),
            |_| 'a',
            |group| {
                let values: Vec<usize> = group.iter().map(|n| **n).collect();
                writes.lock().map(|mut w| w.push(values.clone())).ok();
                async move { values.iter().map(|_| Ok(Applied::Changed)).collect() }
            },
        )
        .await;
        let mut writes = writes.into_inner().unwrap_or_default();
        writes.sort();
        let sizes: Vec<usize> = writes.iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_EVENTS_PER_WRITE, MAX_EVENTS_PER_WRITE, 3]);
        assert_eq!(writes.concat(), (0..count).collect::<Vec<_>>());
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Some(Ok(Applied::Changed))))
        );
    }

    #[tokio::test]
    async fn a_group_not_written_by_the_cutoff_is_not_done_and_the_others_are() {
        let events = admitted([1u32, 2]);
        let results = by_item(
            &events,
            Deadline::after(std::time::Duration::from_millis(200)),
            |n| *n,
            |group| {
                let slow = group.iter().any(|n| **n == 2);
                let count = group.len();
                async move {
                    if slow {
                        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    }
                    (0..count).map(|_| Ok(Applied::Changed)).collect()
                }
            },
        )
        .await;
        assert!(matches!(results[0], Some(Ok(Applied::Changed))));
        assert!(results[1].is_none());
    }

    #[test]
    fn a_group_s_failure_reaches_each_of_its_events() {
        let copies = for_each(ApplyError::transient("throttled"), 3);
        let messages: Vec<String> = copies
            .iter()
            .map(|r| match r {
                Err(e) => e.to_string(),
                Ok(_) => String::new(),
            })
            .collect();
        assert_eq!(messages, ["transient failure: throttled"; 3]);
        let rejection =
            crate::contract::Rejection::new(crate::contract::ReasonCode::TooLarge, "item");
        assert!(
            for_each(ApplyError::Rejected(rejection), 2)
                .iter()
                .all(|r| matches!(r, Err(ApplyError::Rejected(_))))
        );
    }
}
