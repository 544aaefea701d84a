//! The channel report (contract §4, v1.1): per channel and UTC day, the touches it had and the
//! orders placed on it or attributed to it; kept as counters per day, so a report reads a few
//! items per day and never scans.
//!
//! **What is counted, once.** A touch adds 1 to `sessions` or `contacts` of its channel on its
//! day, in the same transaction that stores it, on condition that it is new: so once, whoever
//! sent it. An order adds its [`Contribution`] to the day of its `order.placed`: 1 order and its
//! total per currency under its own channel (`placed_on`) and under the channels of its first
//! and last touch (or `unattributed`), unless it is cancelled.
//!
//! **Why the counters stay a pure function of the event set.** An order's contribution changes
//! after it is first counted (a late touch moves it to another channel, a late cancellation
//! takes it out). Each order therefore has one record of what it contributed, and a change is
//! one transaction: the record goes from the old contribution to the new, on condition that it
//! still holds the old one, and the day's counters get the difference ([`order_deltas`]). So at
//! every moment the counters are the sum of the records, whatever interleaving of writers,
//! because the record and the counters only change together. The record is rewritten only by
//! the computation of the customer's latest view version (the transaction checks the version;
//! `store/report.rs`), which read the state after every change, so the last record is the
//! contribution of the final state. `ADD` is commutative, so two writers on one day's counters
//! (two customers' views, a touch and an order) lose nothing; the transaction makes each
//! record's change and its counters' change one. A redelivery changes no state, so no record.
//! The counters of one day are split over [`REPORT_SHARDS`] items, so one busy day is not one
//! hot item; a report sums them.

use super::attribution::Attribution;
use super::order::Order;
use crate::contract::{Channel, TouchKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many items one day's counters are split over.
pub const REPORT_SHARDS: u32 = 8;

/// What one order adds to its day's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// The UTC day of its `order.placed`, `YYYY-MM-DD`.
    pub day: String,
    pub currency: String,
    pub total_minor: u64,
    pub placed_on: Channel,
    /// `None` is `unattributed`.
    pub first_touch: Option<Channel>,
    pub last_touch: Option<Channel>,
}

/// The contribution of an order with its attribution; `None` for a cancelled order.
pub fn contribution(order: &Order, attribution: &Attribution) -> Option<Contribution> {
    if order.is_cancelled() {
        return None;
    }
    Some(Contribution {
        day: utc_day(order.placed.at_ms),
        currency: order.currency.clone(),
        total_minor: order.total_minor,
        placed_on: order.channel,
        first_touch: attribution.first.as_ref().map(|t| t.channel),
        last_touch: attribution.last.as_ref().map(|t| t.channel),
    })
}

/// The UTC day of an instant, `YYYY-MM-DD`.
pub fn utc_day(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|instant| instant.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Which count of a day a counter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dimension {
    PlacedOn,
    FirstTouch,
    LastTouch,
}

impl Dimension {
    const ALL: [Dimension; 3] = [
        Dimension::PlacedOn,
        Dimension::FirstTouch,
        Dimension::LastTouch,
    ];

    fn code(self) -> &'static str {
        match self {
            Dimension::PlacedOn => "po",
            Dimension::FirstTouch => "ft",
            Dimension::LastTouch => "lt",
        }
    }
}

const UNATTRIBUTED: &str = "unattributed";

fn bucket(channel: Option<Channel>) -> &'static str {
    channel.map_or(UNATTRIBUTED, Channel::as_str)
}

/// The counter a touch adds 1 to.
pub fn touch_counter(channel: Channel, kind: TouchKind) -> String {
    match kind {
        TouchKind::Session => format!("s:{channel}"),
        TouchKind::Contact => format!("c:{channel}"),
    }
}

fn orders_counter(dimension: Dimension, bucket: &str) -> String {
    format!("n:{}:{bucket}", dimension.code())
}

fn sales_counter(dimension: Dimension, bucket: &str, currency: &str) -> String {
    format!("m:{}:{bucket}:{currency}", dimension.code())
}

/// Counter changes, per day and counter name.
pub type Deltas = BTreeMap<String, BTreeMap<String, i64>>;

fn add(deltas: &mut Deltas, contribution: &Contribution, sign: i64) {
    let day = deltas.entry(contribution.day.clone()).or_default();
    let total = i64::try_from(contribution.total_minor).unwrap_or(i64::MAX);
    for dimension in Dimension::ALL {
        let to = match dimension {
            Dimension::PlacedOn => Some(contribution.placed_on),
            Dimension::FirstTouch => contribution.first_touch,
            Dimension::LastTouch => contribution.last_touch,
        };
        let to = bucket(to);
        *day.entry(orders_counter(dimension, to)).or_default() += sign;
        *day.entry(sales_counter(dimension, to, &contribution.currency))
            .or_default() += sign * total;
    }
}

/// What the day counters change by when an order's contribution goes from `old` to `new`
/// (counters that do not change are left out).
pub fn order_deltas(old: Option<&Contribution>, new: Option<&Contribution>) -> Deltas {
    let mut deltas = Deltas::new();
    if let Some(old) = old {
        add(&mut deltas, old, -1);
    }
    if let Some(new) = new {
        add(&mut deltas, new, 1);
    }
    for counters in deltas.values_mut() {
        counters.retain(|_, delta| *delta != 0);
    }
    deltas.retain(|_, counters| !counters.is_empty());
    deltas
}

/// Orders and their sales per currency (contract §4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sales {
    pub orders: i64,
    pub sales_minor: BTreeMap<String, i64>,
}

/// One channel's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelFigures {
    pub sessions: i64,
    pub contacts: i64,
    pub placed_on: Sales,
    pub first_touch: Sales,
    pub last_touch: Sales,
}

/// Every channel, each key present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub web: ChannelFigures,
    pub app: ChannelFigures,
    pub store: ChannelFigures,
    pub call_center: ChannelFigures,
}

impl Channels {
    fn get_mut(&mut self, channel: Channel) -> &mut ChannelFigures {
        match channel {
            Channel::Web => &mut self.web,
            Channel::App => &mut self.app,
            Channel::Store => &mut self.store,
            Channel::CallCenter => &mut self.call_center,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unattributed {
    pub first_touch: Sales,
    pub last_touch: Sales,
}

/// The report document (contract §4, Channel report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelReport {
    pub from: String,
    pub to: String,
    pub channels: Channels,
    pub unattributed: Unattributed,
}

/// The report of a range from its days' counters, summed (counter names this version does not
/// know are ignored).
pub fn report(from: &str, to: &str, counters: &BTreeMap<String, i64>) -> ChannelReport {
    let mut report = ChannelReport {
        from: from.to_owned(),
        to: to.to_owned(),
        ..ChannelReport::default()
    };
    for (name, value) in counters {
        let parts: Vec<&str> = name.split(':').collect();
        match parts.as_slice() {
            ["s", channel] => {
                if let Some(c) = Channel::parse(channel) {
                    report.channels.get_mut(c).sessions += value;
                }
            }
            ["c", channel] => {
                if let Some(c) = Channel::parse(channel) {
                    report.channels.get_mut(c).contacts += value;
                }
            }
            ["n", dimension, bucket] => {
                if let Some(sales) = sales_mut(&mut report, dimension, bucket) {
                    sales.orders += value;
                }
            }
            ["m", dimension, bucket, currency] => {
                if let Some(sales) = sales_mut(&mut report, dimension, bucket)
                    && *value != 0
                {
                    *sales.sales_minor.entry((*currency).to_owned()).or_default() += value;
                }
            }
            _ => {}
        }
    }
    // A currency whose orders all moved away or were cancelled leaves a counter at 0.
    let channels = &mut report.channels;
    for figures in [
        &mut channels.web,
        &mut channels.app,
        &mut channels.store,
        &mut channels.call_center,
    ] {
        for sales in [
            &mut figures.placed_on,
            &mut figures.first_touch,
            &mut figures.last_touch,
        ] {
            sales.sales_minor.retain(|_, v| *v != 0);
        }
    }
    for sales in [
        &mut report.unattributed.first_touch,
        &mut report.unattributed.last_touch,
    ] {
        sales.sales_minor.retain(|_, v| *v != 0);
    }
    report
}

/// The figures a counter of `dimension` and `bucket` adds to.
fn sales_mut<'a>(
    report: &'a mut ChannelReport,
    dimension: &str,
    bucket: &str,
) -> Option<&'a mut Sales> {
    let channel = Channel::parse(bucket);
    Some(match (dimension, channel) {
        ("po", Some(c)) => &mut report.channels.get_mut(c).placed_on,
        ("ft", Some(c)) => &mut report.channels.get_mut(c).first_touch,
        ("lt", Some(c)) => &mut report.channels.get_mut(c).last_touch,
        ("ft", None) if bucket == UNATTRIBUTED => &mut report.unattributed.first_touch,
        ("lt", None) if bucket == UNATTRIBUTED => &mut report.unattributed.last_touch,
        _ => return None,
    })
}

/// The longest range a report reads (ten years of days).
pub const MAX_REPORT_DAYS: usize = 3_660;

/// Why a report's range is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`{0}` is not a day of the form YYYY-MM-DD")]
    NotADay(String),
    #[error("`--from` {from} is after `--to` {to}")]
    Backwards { from: String, to: String },
    #[error("the range holds more than {MAX_REPORT_DAYS} days")]
    TooLong,
}

/// Every UTC day from `from` to `to`, inclusive, as `YYYY-MM-DD`.
pub fn days(from: &str, to: &str) -> Result<Vec<String>, RangeError> {
    let parse = |text: &str| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|day| day.format("%Y-%m-%d").to_string() == text)
            .ok_or_else(|| RangeError::NotADay(text.to_owned()))
    };
    let (first, last) = (parse(from)?, parse(to)?);
    if first > last {
        return Err(RangeError::Backwards {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    let count = usize::try_from((last - first).num_days()).unwrap_or(usize::MAX);
    if count >= MAX_REPORT_DAYS {
        return Err(RangeError::TooLong);
    }
    Ok(first
        .iter_days()
        .take(count + 1)
        .map(|day| day.format("%Y-%m-%d").to_string())
        .collect())
}

/// An order's report record: the attribution it was counted with (joined over every touch set
/// seen so far, see [`super::attribution`]) and what it contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    pub attribution: Attribution,
    #[serde(default)]
    pub contribution: Option<Contribution>,
}

/// The record an order has now: the stored attribution joined with what `touches` give, and
/// the contribution of the order as it is with that attribution.
pub fn reported_now<'a>(
    order: &Order,
    stored: Option<&Reported>,
    touches: impl IntoIterator<Item = &'a super::attribution::Touch>,
) -> Reported {
    let computed = super::attribution::attribute(&order.placed, touches);
    let attribution = match stored {
        Some(stored) => stored.attribution.clone().join(computed),
        None => computed,
    };
    Reported {
        contribution: contribution(order, &attribution),
        attribution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{EventKey, Fulfillment, OrderStatus};
    use crate::domain::attribution::{Touch, attribute};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const DAY_MS: i64 = 86_400_000;

    #[derive(Debug, Clone)]
    enum Sent {
        Touch { customer: usize, touch: Touch },
        Order { customer: usize, order: Order },
        Cancel { order_id: String },
    }

    fn sent() -> impl Strategy<Value = Sent> {
        prop_oneof![
            3 => (0usize..3, 0usize..4, any::<bool>(), 0i64..(40 * DAY_MS), 0u32..1000, proptest::option::of(0u32..3)).prop_map(
                |(customer, channel, contact, at, n, source)| Sent::Touch {
                    customer,
                    touch: Touch {
                        // One event id is one event: its id names all it carries.
                        key: EventKey::new(at, format!("t-{n}-{customer}-{channel}-{contact}-{source:?}")),
                        channel: Channel::ALL[channel],
                        kind: if contact { TouchKind::Contact } else { TouchKind::Session },
                        source: source.map(|s| format!("src-{s}")),
                        store_id: None,
                        sku: None,
                    },
                }
            ),
            // An order id is placed once: its fields follow from its number (a second
            // placement of one id with other fields is `duplicate_order`, not in the set).
            2 => (0u32..20).prop_map(|n| Sent::Order {
                customer: n as usize % 3,
                order: Order {
                    order_id: format!("o-{n}"),
                    placed: EventKey::new(i64::from(n) * 7_919_000_123 % (40 * DAY_MS), format!("p-{n}")),
                    channel: Channel::ALL[n as usize % 4],
                    store_id: None,
                    currency: if n % 3 == 0 { "USD".into() } else { "EUR".into() },
                    fulfillment: Fulfillment::Ship,
                    pickup_store_id: None,
                    lines: Vec::new(),
                    total_minor: 100 + u64::from(n) * 37,
                    status: Default::default(),
                },
            }),
            1 => (0u32..20).prop_map(|n| Sent::Cancel { order_id: format!("o-{n}") }),
        ]
    }

    /// The state the functions keep, simulated: touches and orders as stored (an order id is
    /// created once: the first placement to arrive wins, as `duplicate_order` decides), the
    /// records and the day counters, reconciled after every arrival the way view-fanout does.
    #[derive(Default)]
    struct Simulated {
        touches: BTreeMap<EventKey, (usize, Touch)>,
        orders: BTreeMap<String, (usize, Order)>,
        cancelled: BTreeSet<String>,
        records: BTreeMap<String, Reported>,
        counters: BTreeMap<(String, String), i64>,
    }

    impl Simulated {
        fn arrive(&mut self, sent: &Sent) {
            match sent {
                Sent::Touch { customer, touch } => {
                    if self
                        .touches
                        .insert(touch.key.clone(), (*customer, touch.clone()))
                        .is_none()
                    {
                        let counter = touch_counter(touch.channel, touch.kind);
                        *self
                            .counters
                            .entry((utc_day(touch.key.at_ms), counter))
                            .or_default() += 1;
                    }
                }
                Sent::Order { customer, order } => {
                    self.orders
                        .entry(order.order_id.clone())
                        .or_insert((*customer, order.clone()));
                }
                Sent::Cancel { order_id } => {
                    self.cancelled.insert(order_id.clone());
                }
            }
            self.reconcile();
        }

        fn reconcile(&mut self) {
            for (order_id, (customer, order)) in &self.orders {
                let mut order = order.clone();
                if self.cancelled.contains(order_id) {
                    order
                        .status
                        .apply(EventKey::new(0, "cancel"), OrderStatus::Cancelled);
                }
                let touches = self
                    .touches
                    .values()
                    .filter(|(c, _)| c == customer)
                    .map(|(_, t)| t);
                let stored = self.records.get(order_id);
                let now = reported_now(&order, stored, touches);
                if stored.cloned().unwrap_or_default() != now {
                    let deltas = order_deltas(
                        stored.and_then(|r| r.contribution.as_ref()),
                        now.contribution.as_ref(),
                    );
                    for (day, counters) in deltas {
                        for (name, delta) in counters {
                            *self.counters.entry((day.clone(), name)).or_default() += delta;
                        }
                    }
                    self.records.insert(order_id.clone(), now);
                }
            }
        }
    }

    /// The contract's report over the set of events, counted naively: every distinct touch by
    /// its channel and day, every order that is not cancelled by its day, under its channel and
    /// the channels of its first and last touch among its customer's touches.
    fn naive(events: &[Sent], from: &str, to: &str) -> ChannelReport {
        let mut touches: BTreeMap<EventKey, (usize, Touch)> = BTreeMap::new();
        let mut orders: BTreeMap<String, (usize, Order)> = BTreeMap::new();
        let mut cancelled = BTreeSet::new();
        for event in events {
            match event {
                Sent::Touch { customer, touch } => {
                    touches
                        .entry(touch.key.clone())
                        .or_insert((*customer, touch.clone()));
                }
                Sent::Order { customer, order } => {
                    orders
                        .entry(order.order_id.clone())
                        .or_insert((*customer, order.clone()));
                }
                Sent::Cancel { order_id } => {
                    cancelled.insert(order_id.clone());
                }
            }
        }
        let in_range = |day: &str| from <= day && day <= to;
        let mut report = ChannelReport {
            from: from.into(),
            to: to.into(),
            ..Default::default()
        };
        for (_, touch) in touches.values() {
            if !in_range(&utc_day(touch.key.at_ms)) {
                continue;
            }
            let figures = report.channels.get_mut(touch.channel);
            match touch.kind {
                TouchKind::Session => figures.sessions += 1,
                TouchKind::Contact => figures.contacts += 1,
            }
        }
        for (order_id, (customer, order)) in &orders {
            if cancelled.contains(order_id) || !in_range(&utc_day(order.placed.at_ms)) {
                continue;
            }
            let attribution = attribute(
                &order.placed,
                touches
                    .values()
                    .filter(|(c, _)| c == customer)
                    .map(|(_, t)| t),
            );
            let count = |sales: &mut Sales| {
                sales.orders += 1;
                *sales.sales_minor.entry(order.currency.clone()).or_default() +=
                    order.total_minor as i64;
            };
            count(&mut report.channels.get_mut(order.channel).placed_on);
            match &attribution.first {
                Some(t) => count(&mut report.channels.get_mut(t.channel).first_touch),
                None => count(&mut report.unattributed.first_touch),
            }
            match &attribution.last {
                Some(t) => count(&mut report.channels.get_mut(t.channel).last_touch),
                None => count(&mut report.unattributed.last_touch),
            }
        }
        report
    }

    proptest! {
        /// Whatever the arrival order and duplicates (late touches move orders between
        /// channels, late cancellations take them out), the counters kept by reconciling after
        /// every arrival give the report a naive count over the event set gives, for any range.
        #[test]
        fn the_report_equals_a_naive_count_over_the_event_set(
            events in proptest::collection::vec(sent(), 0..80),
            duplicates in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
            arrival in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
            (from, to) in (0i64..45, 0i64..45),
        ) {
            let mut arrivals = events.clone();
            for index in &duplicates {
                if !events.is_empty() {
                    arrivals.push(index.get(&events).clone());
                }
            }
            let mut seed = arrival;
            for i in (1..arrivals.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                arrivals.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let mut simulated = Simulated::default();
            for sent in &arrivals {
                simulated.arrive(sent);
            }
            let (from, to) = (utc_day(from.min(to) * DAY_MS), utc_day(from.max(to) * DAY_MS));
            let mut summed = BTreeMap::new();
            for ((day, name), value) in &simulated.counters {
                if from.as_str() <= day.as_str() && day.as_str() <= to.as_str() {
                    *summed.entry(name.clone()).or_insert(0) += value;
                }
            }
            prop_assert_eq!(report(&from, &to, &summed), naive(&events, &from, &to));
        }
    }

    #[test]
    fn a_moved_order_changes_only_the_counters_it_leaves_and_joins() {
        let contribution = Contribution {
            day: "2026-03-01".into(),
            currency: "EUR".into(),
            total_minor: 500,
            placed_on: Channel::Web,
            first_touch: Some(Channel::App),
            last_touch: None,
        };
        let moved = Contribution {
            last_touch: Some(Channel::Store),
            ..contribution.clone()
        };
        let deltas = order_deltas(Some(&contribution), Some(&moved));
        let day = &deltas["2026-03-01"];
        assert_eq!(
            day.iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            [
                ("m:lt:store:EUR", 500),
                ("m:lt:unattributed:EUR", -500),
                ("n:lt:store", 1),
                ("n:lt:unattributed", -1),
            ]
        );
        assert!(order_deltas(Some(&moved), Some(&moved)).is_empty());
    }

    #[test]
    fn a_range_is_every_day_inclusive_and_refuses_what_is_not_a_range() {
        assert_eq!(
            days("2024-02-28", "2024-03-01").unwrap(),
            ["2024-02-28", "2024-02-29", "2024-03-01"]
        );
        assert_eq!(days("2024-03-01", "2024-03-01").unwrap(), ["2024-03-01"]);
        assert!(matches!(
            days("2024-3-1", "2024-03-02"),
            Err(RangeError::NotADay(_))
        ));
        assert!(matches!(
            days("2024-03-02", "2024-03-01"),
            Err(RangeError::Backwards { .. })
        ));
        assert_eq!(days("2000-01-01", "2030-01-01"), Err(RangeError::TooLong));
    }

    #[test]
    fn an_empty_range_has_every_channel_with_zeros() {
        let json =
            serde_json::to_value(report("2026-03-01", "2026-03-02", &BTreeMap::new())).unwrap();
        let zero = serde_json::json!({"orders": 0, "sales_minor": {}});
        for channel in ["web", "app", "store", "call_center"] {
            assert_eq!(
                json["channels"][channel],
                serde_json::json!({"sessions": 0, "contacts": 0, "placed_on": zero, "first_touch": zero, "last_touch": zero})
            );
        }
        assert_eq!(
            json["unattributed"],
            serde_json::json!({"first_touch": zero, "last_touch": zero})
        );
    }
}
