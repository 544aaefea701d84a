//! The restock rule (contract §3, Inventory).
//!
//! An availability event is a **restock** when its quantity is above 0 and the event before it in
//! event order, for the same `(sku, size, store_id)`, exists and was 0. A late event changes who
//! its neighbours are: it can make the next event a restock (if it reports 0) or stop it being
//! one (a notification already sent stays sent). So placing one event in the timeline can create
//! at most two restocks: the event itself, and the one right after it.

use crate::contract::EventKey;

/// One availability report in the timeline of its `(sku, size, store_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub key: EventKey,
    pub available_quantity: u32,
}

/// The restocks that placing `current` between `previous` and `next` makes (the event keys of
/// the restock events).
pub fn restocks(
    previous: Option<&Report>,
    current: &Report,
    next: Option<&Report>,
) -> Vec<EventKey> {
    let mut found = Vec::new();
    if current.available_quantity > 0 && previous.is_some_and(|p| p.available_quantity == 0) {
        found.push(current.key.clone());
    }
    if let Some(next) = next
        && current.available_quantity == 0
        && next.available_quantity > 0
    {
        found.push(next.key.clone());
    }
    found
}

/// Whether a wishlist entry's size matches a restock's size: either side without a size, or both
/// equal.
pub fn sizes_match(wished: Option<&str>, restocked: Option<&str>) -> bool {
    match (wished, restocked) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn report(at: i64, quantity: u32) -> Report {
        Report {
            key: EventKey::new(at, format!("e{at}")),
            available_quantity: quantity,
        }
    }

    /// The contract's rule over a whole timeline, naively.
    fn naive(timeline: &[Report]) -> Vec<EventKey> {
        let mut sorted = timeline.to_vec();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        sorted
            .windows(2)
            .filter(|w| w[0].available_quantity == 0 && w[1].available_quantity > 0)
            .map(|w| w[1].key.clone())
            .collect()
    }

    proptest! {
        /// Inserting events one by one in any order and collecting the restocks each insertion
        /// makes finds every restock of the final timeline (and possibly earlier, since
        /// withdrawn, ones: sent notifications are never withdrawn).
        #[test]
        fn every_restock_of_the_final_timeline_is_found_whatever_the_arrival_order(
            quantities in prop::collection::vec(0u32..3, 1..12),
            order in Just(()).prop_flat_map(|_| prop::collection::vec(any::<u16>(), 12)),
        ) {
            let reports: Vec<Report> = quantities.iter().enumerate().map(|(i, q)| report(i as i64, *q)).collect();
            let mut arrival: Vec<usize> = (0..reports.len()).collect();
            arrival.sort_by_key(|i| order[*i]);
            let mut timeline: Vec<Report> = Vec::new();
            let mut found: Vec<EventKey> = Vec::new();
            for i in arrival {
                let current = reports[i].clone();
                let previous = timeline.iter().filter(|r| r.key < current.key).max_by(|a, b| a.key.cmp(&b.key)).cloned();
                let next = timeline.iter().filter(|r| r.key > current.key).min_by(|a, b| a.key.cmp(&b.key)).cloned();
                found.extend(restocks(previous.as_ref(), &current, next.as_ref()));
                timeline.push(current);
            }
            for restock in naive(&reports) {
                prop_assert!(found.contains(&restock), "missed {restock:?}");
            }
        }
    }

    #[test]
    fn a_first_report_is_no_restock() {
        assert!(restocks(None, &report(1, 5), None).is_empty());
    }

    #[test]
    fn a_late_zero_makes_the_next_report_a_restock() {
        assert_eq!(
            restocks(Some(&report(1, 4)), &report(2, 0), Some(&report(3, 5))),
            vec![report(3, 5).key]
        );
    }

    #[test]
    fn sizes_match_when_either_side_has_none() {
        assert!(
            sizes_match(None, Some("M"))
                && sizes_match(Some("M"), None)
                && sizes_match(Some("M"), Some("M"))
        );
        assert!(!sizes_match(Some("L"), Some("M")));
    }
}
