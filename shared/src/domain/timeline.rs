//! The customer timeline (contract §4, v1.1): the 20 latest events of a customer, newest first.
//!
//! **Whose events.** A customer's timeline holds every valid cart, wishlist and engagement event
//! sent under its id or under a guest id linked to it (superseded ones too: it is the history of
//! what the customer did), and the order, refund, loyalty and identity events sent under its own
//! id. A linked guest's own timeline keeps only its order, refund and loyalty events. So each
//! event belongs to one [`Strand`] of the id it was sent under, and a timeline is the latest 20 of
//! a union of strands: the customer's three and its linked guests' [`Strand::Follows`]; a linked
//! guest's [`Strand::Own`] alone.
//!
//! **Why it stays bounded and order-independent.** "The 20 latest of a set" is a join: the 20
//! latest of a union are the 20 latest of the union of each part's 20 latest. So a strand need
//! keep only its 20 latest entries, whatever else arrives later: an entry that 20 later ones
//! outrank is outranked forever (the set only grows), so dropping it never changes a timeline,
//! and an old event that arrives late is dropped the same way. Each strand is one stored item of
//! at most [`KEPT_PER_STRAND`] entries ([`crate::store`], `timeline.rs`), and the result is the
//! same for any arrival order, duplication or batching (property tests below).

use crate::contract::{Channel, EventKey, EventType};

/// How many events a timeline shows.
pub const TIMELINE_LENGTH: usize = 20;
/// How many entries a stored strand may hold before a write trims it back to
/// [`TIMELINE_LENGTH`] (the slack spares a trim on every write once a strand is full).
pub const KEPT_PER_STRAND: usize = 30;

/// Which part of an id's history an event belongs to (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strand {
    /// Cart, wishlist and engagement events: they follow a guest's link to its customer.
    Follows,
    /// Order, refund and loyalty events: they stay with the id they were sent under.
    Own,
    /// Identity events: the id's own, not shown once the id is itself a linked guest.
    Identity,
}

impl Strand {
    pub const ALL: [Strand; 3] = [Strand::Follows, Strand::Own, Strand::Identity];

    /// The strand of an event type; `None` for `inventory.*` (about no customer).
    pub fn of(event_type: EventType) -> Option<Strand> {
        Some(match event_type {
            EventType::CartItemAdded
            | EventType::CartItemQuantitySet
            | EventType::CartItemRemoved
            | EventType::CartCleared
            | EventType::WishlistItemAdded
            | EventType::WishlistItemRemoved
            | EventType::EngagementTouched => Strand::Follows,
            EventType::OrderPlaced
            | EventType::OrderStatusChanged
            | EventType::RefundRequested
            | EventType::LoyaltyPointsRedeemed
            | EventType::LoyaltyPointsAdjusted => Strand::Own,
            EventType::IdentityLinked => Strand::Identity,
            EventType::InventoryAvailabilityChanged => return None,
        })
    }
}

/// One event as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: EventKey,
    pub event_type: EventType,
    pub channel: Channel,
    pub store_id: Option<String>,
    /// What the event is about (contract §4, `ref`).
    pub reference: Option<String>,
}

/// What one id has recorded: its entries per strand (each holding at least its
/// [`TIMELINE_LENGTH`] latest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdTimeline {
    pub follows: Vec<Entry>,
    pub own: Vec<Entry>,
    pub identity: Vec<Entry>,
}

impl IdTimeline {
    pub fn strand_mut(&mut self, strand: Strand) -> &mut Vec<Entry> {
        match strand {
            Strand::Follows => &mut self.follows,
            Strand::Own => &mut self.own,
            Strand::Identity => &mut self.identity,
        }
    }
}

/// The [`TIMELINE_LENGTH`] latest of `entries`, newest first, each event once.
pub fn latest<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<Entry> {
    let mut all: Vec<&Entry> = entries.into_iter().collect();
    all.sort_by(|a, b| b.key.cmp(&a.key));
    all.dedup_by(|a, b| a.key == b.key);
    all.into_iter().take(TIMELINE_LENGTH).cloned().collect()
}

/// The timeline of an id: when it is a linked guest, its own order, refund and loyalty events;
/// otherwise its every strand and the [`Strand::Follows`] of the guests linked to it.
pub fn timeline(own: &IdTimeline, is_linked_guest: bool, guests: &[&IdTimeline]) -> Vec<Entry> {
    if is_linked_guest {
        return latest(&own.own);
    }
    latest(
        own.follows
            .iter()
            .chain(&own.own)
            .chain(&own.identity)
            .chain(guests.iter().flat_map(|guest| &guest.follows)),
    )
}

/// The keys of a stored strand that a write may drop: all but its [`TIMELINE_LENGTH`] latest,
/// once it holds more than [`KEPT_PER_STRAND`] (empty otherwise).
pub fn to_trim(keys: &[EventKey]) -> Vec<EventKey> {
    if keys.len() <= KEPT_PER_STRAND {
        return Vec::new();
    }
    let mut sorted: Vec<&EventKey> = keys.iter().collect();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    sorted.into_iter().skip(TIMELINE_LENGTH).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// One generated event: under which id (0 = the customer, 1 and 2 = guests), its strand and
    /// its instant.
    #[derive(Debug, Clone)]
    struct Sent {
        id: usize,
        strand: Strand,
        entry: Entry,
    }

    fn sent() -> impl Strategy<Value = Sent> {
        (0usize..3, 0usize..3, 0i64..60, 0u32..400).prop_map(|(id, strand, at, n)| {
            let strand = Strand::ALL[strand];
            let event_type = match strand {
                Strand::Follows => EventType::EngagementTouched,
                Strand::Own => EventType::OrderPlaced,
                Strand::Identity => EventType::IdentityLinked,
            };
            Sent {
                id,
                strand,
                entry: Entry {
                    key: EventKey::new(at, format!("e-{id}-{n}")),
                    event_type,
                    channel: Channel::Web,
                    store_id: None,
                    reference: None,
                },
            }
        })
    }

    /// The store's side, simulated: each id's strands as items; a batch adds its entries to
    /// the strand's item and the write trims what [`to_trim`] names.
    fn stored(deliveries: &[Vec<Sent>]) -> Vec<IdTimeline> {
        let mut items: Vec<BTreeMap<Strand, BTreeMap<EventKey, Entry>>> = vec![BTreeMap::new(); 3];
        for batch in deliveries {
            for sent in batch {
                let item = items[sent.id].entry(sent.strand).or_default();
                item.insert(sent.entry.key.clone(), sent.entry.clone());
                let keys: Vec<EventKey> = item.keys().cloned().collect();
                for key in to_trim(&keys) {
                    item.remove(&key);
                }
            }
        }
        items
            .into_iter()
            .map(|strands| {
                let mut id = IdTimeline::default();
                for (strand, entries) in strands {
                    *id.strand_mut(strand) = entries.into_values().collect();
                }
                id
            })
            .collect()
    }

    /// The contract's rule over the whole set, naively: the customer's every event and its
    /// linked guests' cart, wishlist and engagement events, sorted, newest 20.
    fn naive_customer(events: &[Sent], guests_linked: [bool; 3]) -> Vec<EventKey> {
        let mut keys: Vec<EventKey> = events
            .iter()
            .filter(|s| s.id == 0 || (guests_linked[s.id] && s.strand == Strand::Follows))
            .map(|s| s.entry.key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter().rev().take(20).collect()
    }

    fn naive_linked_guest(events: &[Sent], id: usize) -> Vec<EventKey> {
        let mut keys: Vec<EventKey> = events
            .iter()
            .filter(|s| s.id == id && s.strand == Strand::Own)
            .map(|s| s.entry.key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter().rev().take(20).collect()
    }

    fn keys(entries: &[Entry]) -> Vec<EventKey> {
        entries.iter().map(|e| e.key.clone()).collect()
    }

    proptest! {
        /// Any arrival order, duplication and batching of a set of events gives the timelines
        /// the naive rule gives, though each strand keeps at most 30 entries.
        #[test]
        fn timelines_equal_the_naive_rule_whatever_the_arrival(
            events in proptest::collection::vec(sent(), 0..120),
            duplicates in proptest::collection::vec(any::<prop::sample::Index>(), 0..30),
            order in any::<u64>(),
            batch_size in 1usize..12,
            linked in any::<[bool; 3]>(),
        ) {
            let mut arrivals = events.clone();
            for index in &duplicates {
                if !events.is_empty() {
                    arrivals.push(index.get(&events).clone());
                }
            }
            // A seeded shuffle: the arrival order.
            let mut rng = order;
            for i in (1..arrivals.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                arrivals.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let deliveries: Vec<Vec<Sent>> = arrivals.chunks(batch_size).map(<[Sent]>::to_vec).collect();
            let items = stored(&deliveries);
            for item in &items {
                for strand in [&item.follows, &item.own, &item.identity] {
                    prop_assert!(strand.len() <= KEPT_PER_STRAND);
                }
            }
            let guests: Vec<&IdTimeline> = (1..3).filter(|g| linked[*g]).map(|g| &items[g]).collect();
            prop_assert_eq!(keys(&timeline(&items[0], false, &guests)), naive_customer(&events, linked));
            for (guest, item) in items.iter().enumerate().skip(1) {
                prop_assert_eq!(keys(&timeline(item, true, &[])), naive_linked_guest(&events, guest));
            }
        }
    }

    #[test]
    fn a_strand_is_trimmed_only_past_its_slack_and_back_to_the_timeline_length() {
        let keys: Vec<EventKey> = (0..KEPT_PER_STRAND as i64)
            .map(|t| EventKey::new(t, "e"))
            .collect();
        assert!(to_trim(&keys).is_empty());
        let mut more = keys.clone();
        more.push(EventKey::new(100, "e"));
        let trimmed = to_trim(&more);
        assert_eq!(trimmed.len(), KEPT_PER_STRAND + 1 - TIMELINE_LENGTH);
        assert!(trimmed.iter().all(|k| k.at_ms < 11), "{trimmed:?}");
    }

    #[test]
    fn every_customer_event_type_has_a_strand() {
        for event_type in EventType::ALL {
            assert_eq!(
                Strand::of(event_type).is_none(),
                !event_type.has_customer(),
                "{event_type}"
            );
        }
    }
}
