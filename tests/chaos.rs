//! The chaos suite (issue 9): a seeded, realistic multi-customer mix pushed through the queues
//! while faults are injected from outside the functions' release code, then every customer
//! checked against an independent reference fold written here.
//!
//! The mix: every event type, guests linked to customers, racing refunds, redemptions that may
//! not be covered, ~5% invalid bodies, ~15% duplicates, shuffled, and store events sent last
//! although they happened early (a store uploading late). The faults, on the functions' own
//! SDK clients (an interceptor, `support::faults::Chaos`) and around their invocations:
//! throttling and 5xx on a fraction of DynamoDB and SQS requests (the request never reaches
//! the service), responses lost after the service applied the request, invocations that crash
//! mid-batch (the handler's future is dropped at a random point: what it wrote stays, nothing
//! is acknowledged), a 3-second visibility timeout (a redelivery storm: slow batches are
//! delivered again while they run; much shorter, and a recovery that republishes views, which
//! takes longer than that on moto under load every time, is delivered again forever: its
//! delete comes with a receipt handle SQS has replaced), and stream consumers that fail until their mapping gives
//! up (two retries), so what they gave up on must come back through the failure queues.
//!
//! Parameters (environment): `OMNISYNC_CHAOS_SEED` (default 1), `OMNISYNC_CHAOS_CUSTOMERS`
//! (8), `OMNISYNC_CHAOS_EVENTS` (valid events before duplicates and invalid ones, 240),
//! `OMNISYNC_CHAOS_FAULT_RATE` (per request and fault kind, 0.04), `OMNISYNC_CHAOS_CRASH_RATE`
//! (per invocation, 0.1), `OMNISYNC_CHAOS_VISIBILITY_SECONDS` (3). CI runs the defaults; the
//! README gives a long run. With `RUST_LOG` set, the functions' logs are printed too.

use crate::support::faults::Chaos;
use crate::support::{customer, event, queue_of};
use omnisync::domain::customer::CustomerState;
use omnisync::store::Table;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xtask::functions::{InvokeResult, JsonFunction};

fn param<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Params {
    seed: u64,
    customers: usize,
    events: usize,
    fault_rate: f64,
    crash_rate: f64,
    visibility_seconds: u32,
}

impl Params {
    fn from_env() -> Self {
        Params {
            seed: param("OMNISYNC_CHAOS_SEED", 1),
            customers: param("OMNISYNC_CHAOS_CUSTOMERS", 8),
            events: param("OMNISYNC_CHAOS_EVENTS", 240),
            fault_rate: param("OMNISYNC_CHAOS_FAULT_RATE", 0.04),
            crash_rate: param("OMNISYNC_CHAOS_CRASH_RATE", 0.1),
            visibility_seconds: param("OMNISYNC_CHAOS_VISIBILITY_SECONDS", 3),
        }
    }
}

const SKUS: [&str; 5] = ["SNK-42", "SOCK-3PK", "CAP-RED", "JKT-L", "BAG-01"];
const CHANNELS: [&str; 4] = ["web", "app", "store", "call_center"];
const BASE_MS: i64 = 1_790_000_000_000;

/// One order as the generator knows it: for refunds and status changes.
#[derive(Debug, Clone)]
struct PlacedOrder {
    order_id: String,
    customer_id: String,
    lines: Vec<(String, u32, u64)>,
}

/// The generated mix.
struct Mix {
    /// Valid events, each once.
    valid: Vec<Value>,
    /// Everything to send, in sending order (valid, duplicates, invalid), with its queue.
    sends: Vec<(&'static str, String)>,
    /// Event ids of the invalid bodies that carry a readable one, and how many carry none.
    invalid_ids: BTreeSet<String>,
    unreadable: usize,
}

fn generate(p: &Params) -> Mix {
    let mut rng = StdRng::seed_from_u64(p.seed);
    let customers: Vec<String> = (0..p.customers).map(|i| format!("c-{i}")).collect();
    let guests: BTreeMap<String, String> = customers
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, c)| (c.clone(), format!("g-{i}")))
        .collect();
    let mut orders: Vec<PlacedOrder> = Vec::new();
    let mut valid: Vec<Value> = Vec::new();
    let mut n = 0usize;
    let mut next_id = |kind: &str| {
        n += 1;
        format!("{kind}-{n:05}")
    };
    while valid.len() < p.events {
        let customer = customers[rng.random_range(0..customers.len())].clone();
        let channel = CHANNELS[rng.random_range(0..4)];
        let at = BASE_MS + rng.random_range(0..600_000);
        let sku = SKUS[rng.random_range(0..SKUS.len())];
        // Cart and wishlist ops come from the guest id half the time, where there is one.
        let shopper = match guests.get(&customer) {
            Some(guest) if rng.random_bool(0.5) => guest.clone(),
            _ => customer.clone(),
        };
        let roll = rng.random_range(0..100);
        let (kind, id, event_type, payload) = match roll {
            0..=29 => {
                let (event_type, payload) = match rng.random_range(0..10) {
                    0..=5 => (
                        "cart.item_added",
                        json!({"sku": sku, "quantity": rng.random_range(1..=4)}),
                    ),
                    6..=7 => (
                        "cart.item_quantity_set",
                        json!({"sku": sku, "quantity": rng.random_range(0..=5)}),
                    ),
                    8 => ("cart.item_removed", json!({"sku": sku})),
                    _ => ("cart.cleared", json!({})),
                };
                ("cart", shopper, event_type, payload)
            }
            30..=44 => {
                let payload = if rng.random_bool(0.7) {
                    match rng.random_range(0..3) {
                        0 => json!({"sku": sku}),
                        1 => json!({"sku": sku, "preferred_size": "M"}),
                        _ => json!({"sku": sku, "preferred_size": "L"}),
                    }
                } else {
                    json!({"sku": sku})
                };
                let event_type = if payload.get("preferred_size").is_some() || rng.random_bool(0.5)
                {
                    "wishlist.item_added"
                } else {
                    "wishlist.item_removed"
                };
                ("wish", shopper, event_type, payload)
            }
            45..=59 => {
                let order_id = format!("o-{}", orders.len());
                let mut skus: Vec<&str> = SKUS.to_vec();
                skus.shuffle(&mut rng);
                let lines: Vec<(String, u32, u64)> = skus[..rng.random_range(1..=2)]
                    .iter()
                    .map(|s| {
                        (
                            (*s).to_owned(),
                            rng.random_range(1..=2),
                            rng.random_range(5..=60) * 100 + rng.random_range(0..100),
                        )
                    })
                    .collect();
                orders.push(PlacedOrder {
                    order_id: order_id.clone(),
                    customer_id: customer.clone(),
                    lines: lines.clone(),
                });
                let payload = json!({
                    "order_id": order_id, "currency": "EUR", "fulfillment": "ship",
                    "lines": lines.iter().map(|(s, q, u)| json!({"sku": s, "quantity": q, "unit_price_minor": u})).collect::<Vec<_>>()
                });
                ("order", customer.clone(), "order.placed", payload)
            }
            60..=67 if !orders.is_empty() => {
                let order = &orders[rng.random_range(0..orders.len())];
                let status =
                    ["shipped", "delivered", "cancelled", "cancelled"][rng.random_range(0..4)];
                (
                    "status",
                    order.customer_id.clone(),
                    "order.status_changed",
                    json!({"order_id": order.order_id, "status": status}),
                )
            }
            68..=79 if !orders.is_empty() => {
                let order = orders[rng.random_range(0..orders.len())].clone();
                let (sku, bought, _) = &order.lines[rng.random_range(0..order.lines.len())];
                let refund = |refund_id: String, quantity: u32| json!({"refund_id": refund_id, "order_id": order.order_id, "lines": [{"sku": sku, "quantity": quantity}]});
                // Half the time two channels race to refund the same line in full.
                if rng.random_bool(0.5) {
                    let first = next_id("rf");
                    valid.push(event(
                        &format!("ev-{first}"),
                        at,
                        &order.customer_id,
                        "store",
                        "refund.requested",
                        refund(first.clone(), *bought),
                    ));
                }
                let refund_id = next_id("rf");
                (
                    "refund",
                    order.customer_id.clone(),
                    "refund.requested",
                    refund(refund_id, rng.random_range(1..=*bought)),
                )
            }
            80..=87 => {
                let payload = if rng.random_bool(0.6) {
                    json!({"redemption_id": next_id("x"), "points": rng.random_range(10..=200)})
                } else {
                    let points: i64 =
                        rng.random_range(1..=100) * if rng.random_bool(0.5) { 1 } else { -1 };
                    json!({"adjustment_id": next_id("adj"), "points": points, "reason": "goodwill"})
                };
                let event_type = if payload.get("redemption_id").is_some() {
                    "loyalty.points_redeemed"
                } else {
                    "loyalty.points_adjusted"
                };
                ("loyalty", customer.clone(), event_type, payload)
            }
            88..=93 if guests.contains_key(&customer) => (
                "link",
                customer.clone(),
                "identity.linked",
                json!({"anonymous_id": guests[&customer]}),
            ),
            94..=99 => {
                let quantity = if rng.random_bool(0.5) {
                    0
                } else {
                    rng.random_range(1..=5)
                };
                let mut body = event(
                    &next_id("inv"),
                    at,
                    "-",
                    "web",
                    "inventory.availability_changed",
                    json!({"sku": sku, "available_quantity": quantity}),
                );
                if let Some(map) = body.as_object_mut() {
                    map.remove("customer_id");
                }
                valid.push(body);
                continue;
            }
            _ => continue,
        };
        let event_id = format!("{kind}-{}", next_id("e"));
        valid.push(event(&event_id, at, &id, channel, event_type, payload));
    }

    // Duplicates (~15%), then invalid bodies (~5%), all shuffled in; store events last.
    let mut sends: Vec<(&'static str, String)> =
        valid.iter().map(|e| (queue_of(e), e.to_string())).collect();
    let duplicates = valid.len() * 15 / 100;
    for _ in 0..duplicates {
        let e = &valid[rng.random_range(0..valid.len())];
        sends.push((queue_of(e), e.to_string()));
    }
    let mut invalid_ids = BTreeSet::new();
    let mut unreadable = 0;
    for i in 0..(valid.len() * 5 / 100).max(3) {
        let id = format!("bad-{i:03}");
        let body = match i % 4 {
            0 => {
                unreadable += 1;
                (
                    "cart-events",
                    format!("{{\"event_id\": \"{id}\", \"type\": "),
                )
            }
            1 => {
                let mut e = event(
                    &id,
                    BASE_MS,
                    "c-0",
                    "web",
                    "cart.item_added",
                    json!({"sku": "A", "quantity": 0}),
                );
                e["payload"]["quantity"] = json!(0);
                invalid_ids.insert(id);
                ("cart-events", e.to_string())
            }
            2 => {
                let mut e = event(
                    &id,
                    BASE_MS,
                    "c-0",
                    "web",
                    "order.placed",
                    json!({"order_id": "o-bad", "currency": "EUR", "fulfillment": "ship", "lines": []}),
                );
                e["payload"]["lines"] = json!([]);
                invalid_ids.insert(id);
                ("order-events", e.to_string())
            }
            _ => {
                let mut e = event(
                    &id,
                    BASE_MS,
                    "c-0",
                    "web",
                    "wishlist.item_added",
                    json!({"sku": "A"}),
                );
                if let Some(map) = e.as_object_mut() {
                    map.remove("customer_id");
                }
                invalid_ids.insert(id);
                ("wishlist-events", e.to_string())
            }
        };
        sends.push(body);
    }
    sends.shuffle(&mut rng);
    // A store uploads late: its events go out last, whenever they happened.
    sends.sort_by_key(|(_, body)| body.contains("\"channel\":\"store\""));
    Mix {
        valid,
        sends,
        invalid_ids,
        unreadable,
    }
}

// ---------------------------------------------------------------------------------------------
// The reference: the contract's rules, written out here over the valid events, independent of
// `omnisync::domain`.

/// An event's place in event order: `(occurred_at ms, event_id)`.
type EventOrder = (i64, String);

fn key(e: &Value) -> EventOrder {
    let at = chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    (at, e["event_id"].as_str().unwrap().to_owned())
}

fn of_type<'a>(events: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["type"] == t)
}

/// guest → the customer whose link to it is the earliest in event order.
fn links(events: &[Value]) -> BTreeMap<String, String> {
    let mut linked: BTreeMap<String, ((i64, String), String)> = BTreeMap::new();
    for e in of_type(events, "identity.linked") {
        let guest = e["payload"]["anonymous_id"].as_str().unwrap().to_owned();
        let candidate = (key(e), e["customer_id"].as_str().unwrap().to_owned());
        let earlier = linked.get(&guest).is_none_or(|known| candidate.0 < known.0);
        if earlier {
            linked.insert(guest, candidate);
        }
    }
    linked.into_iter().map(|(g, (_, c))| (g, c)).collect()
}

/// The ids whose cart and wishlist ops fold into `id`'s: none when `id` is a linked guest.
fn folded_ids(id: &str, links: &BTreeMap<String, String>) -> Vec<String> {
    if links.contains_key(id) {
        return vec![];
    }
    std::iter::once(id.to_owned())
        .chain(
            links
                .iter()
                .filter(|(_, c)| *c == id)
                .map(|(g, _)| g.clone()),
        )
        .collect()
}

fn reference_cart(events: &[Value], id: &str, links: &BTreeMap<String, String>) -> Vec<Value> {
    let ids = folded_ids(id, links);
    let mut ops: Vec<&Value> = events
        .iter()
        .filter(|e| ids.iter().any(|i| e["customer_id"] == i.as_str()))
        .filter(|e| e["type"].as_str().unwrap().starts_with("cart.") || e["type"] == "order.placed")
        .collect();
    ops.sort_by_key(|e| key(e));
    let mut lines: BTreeMap<String, i64> = BTreeMap::new();
    for e in ops {
        let p = &e["payload"];
        match e["type"].as_str().unwrap() {
            "cart.item_added" => {
                let q = lines.entry(p["sku"].as_str().unwrap().into()).or_insert(0);
                *q = (*q + p["quantity"].as_i64().unwrap()).min(999);
            }
            "cart.item_quantity_set" => {
                lines.insert(
                    p["sku"].as_str().unwrap().into(),
                    p["quantity"].as_i64().unwrap(),
                );
            }
            "cart.item_removed" => {
                lines.insert(p["sku"].as_str().unwrap().into(), 0);
            }
            "cart.cleared" => lines.values_mut().for_each(|q| *q = 0),
            _ => {
                for line in p["lines"].as_array().unwrap() {
                    let q = lines
                        .entry(line["sku"].as_str().unwrap().into())
                        .or_insert(0);
                    *q = (*q - line["quantity"].as_i64().unwrap()).max(0);
                }
            }
        }
    }
    lines
        .into_iter()
        .filter(|(_, q)| *q > 0)
        .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
        .collect()
}

fn reference_wishlist(events: &[Value], id: &str, links: &BTreeMap<String, String>) -> Vec<Value> {
    let ids = folded_ids(id, links);
    // SKU → (the latest op's key, `Some(preferred size)` when it was an add, `None` otherwise).
    let mut latest: BTreeMap<String, (EventOrder, Option<Option<String>>)> = BTreeMap::new();
    let mut put = |sku: &str, k: EventOrder, value: Option<Option<String>>| {
        if latest.get(sku).is_none_or(|(known, _)| k > *known) {
            latest.insert(sku.to_owned(), (k, value));
        }
    };
    for e in events
        .iter()
        .filter(|e| ids.iter().any(|i| e["customer_id"] == i.as_str()))
    {
        let p = &e["payload"];
        match e["type"].as_str().unwrap() {
            "wishlist.item_added" => put(
                p["sku"].as_str().unwrap(),
                key(e),
                Some(p["preferred_size"].as_str().map(str::to_owned)),
            ),
            "wishlist.item_removed" => put(p["sku"].as_str().unwrap(), key(e), None),
            "order.placed" => {
                for line in p["lines"].as_array().unwrap() {
                    put(line["sku"].as_str().unwrap(), key(e), None);
                }
            }
            _ => {}
        }
    }
    latest
        .into_iter()
        .filter_map(|(sku, (_, v))| v.map(|size| json!({"sku": sku, "preferred_size": size})))
        .collect()
}

/// order_id → status, for the orders placed under `id`.
fn reference_statuses(events: &[Value], id: &str) -> BTreeMap<String, String> {
    let mut statuses = BTreeMap::new();
    for placed in of_type(events, "order.placed").filter(|e| e["customer_id"] == id) {
        let order_id = placed["payload"]["order_id"].as_str().unwrap();
        let changes: Vec<&Value> = of_type(events, "order.status_changed")
            .filter(|e| e["payload"]["order_id"] == order_id && e["customer_id"] == id)
            .collect();
        let status = if changes
            .iter()
            .any(|e| e["payload"]["status"] == "cancelled")
        {
            "cancelled".to_owned()
        } else {
            changes
                .iter()
                .map(|e| (key(e), e["payload"]["status"].as_str().unwrap().to_owned()))
                .chain(std::iter::once((key(placed), "placed".to_owned())))
                .max()
                .map(|(_, s)| s)
                .unwrap()
        };
        statuses.insert(order_id.to_owned(), status);
    }
    statuses
}

/// What `state` is missing or has wrong, against the contract's rules; empty when it is right.
fn check_customer(
    events: &[Value],
    id: &str,
    state: &CustomerState,
    links: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let cart: Vec<Value> = state
        .shopping
        .cart
        .iter()
        .map(|l| serde_json::to_value(l).unwrap())
        .collect();
    if cart != reference_cart(events, id, links) {
        wrong.push(format!(
            "cart {cart:?} != {:?}",
            reference_cart(events, id, links)
        ));
    }
    let wishlist: Vec<Value> = state
        .shopping
        .wishlist
        .iter()
        .map(|w| serde_json::to_value(w).unwrap())
        .collect();
    if wishlist != reference_wishlist(events, id, links) {
        wrong.push(format!(
            "wishlist {wishlist:?} != {:?}",
            reference_wishlist(events, id, links)
        ));
    }
    let statuses: BTreeMap<String, String> = state
        .orders
        .iter()
        .map(|o| {
            let status = serde_json::to_value(o.status.status(&o.placed)).unwrap();
            (o.order_id.clone(), status.as_str().unwrap().to_owned())
        })
        .collect();
    if statuses != reference_statuses(events, id) {
        wrong.push(format!(
            "orders {statuses:?} != {:?}",
            reference_statuses(events, id)
        ));
    }

    // Refunds: each request decided once; approved quantities are what the order shows, and
    // never more than was bought.
    let requested: BTreeSet<String> = of_type(events, "refund.requested")
        .filter(|e| e["customer_id"] == id)
        .map(|e| e["payload"]["refund_id"].as_str().unwrap().to_owned())
        .collect();
    let decided: BTreeSet<String> = state.refunds.iter().map(|r| r.refund_id.clone()).collect();
    if decided != requested || decided.len() != state.refunds.len() {
        wrong.push(format!(
            "refund decisions {decided:?} != requests {requested:?}"
        ));
    }
    for order in &state.orders {
        for line in &order.lines {
            let approved: u32 = state
                .refunds
                .iter()
                .filter(|r| {
                    r.order_id == order.order_id
                        && r.status == omnisync::domain::refund::DecisionStatus::Approved
                })
                .flat_map(|r| r.lines.iter())
                .filter(|l| l.sku == line.sku)
                .map(|l| l.quantity)
                .sum();
            if approved != line.refunded_quantity || approved > line.quantity {
                wrong.push(format!(
                    "{} {}: approved {approved}, refunded {}, bought {}",
                    order.order_id, line.sku, line.refunded_quantity, line.quantity
                ));
            }
        }
    }

    // Loyalty: the balance is the sum of the ledger, and the ledger is what the orders, refunds
    // and approved debits imply (amounts computed here from the contract's formulas).
    let entries: BTreeMap<String, i64> = state
        .loyalty
        .entries
        .iter()
        .map(|e| (e.entry_id.clone(), e.points))
        .collect();
    let sum: i64 = entries.values().sum();
    if sum != state.loyalty.balance {
        wrong.push(format!(
            "balance {} != ledger sum {sum}",
            state.loyalty.balance
        ));
    }
    let mut implied: BTreeMap<String, i64> = BTreeMap::new();
    for order in &state.orders {
        let total: u64 = order
            .lines
            .iter()
            .map(|l| u64::from(l.quantity) * l.unit_price_minor)
            .sum();
        implied.insert(format!("earn:{}", order.order_id), (total / 100) as i64);
        if statuses.get(&order.order_id).map(String::as_str) == Some("cancelled") {
            let refunded: u64 = order
                .lines
                .iter()
                .map(|l| u64::from(l.refunded_quantity) * l.unit_price_minor)
                .sum();
            implied.insert(
                format!("cancel:{}", order.order_id),
                -(((total - refunded) / 100) as i64),
            );
        }
    }
    for refund in state
        .refunds
        .iter()
        .filter(|r| r.status == omnisync::domain::refund::DecisionStatus::Approved)
    {
        // Each reversal depends on the refunds approved before it; the sum of an order's
        // reversals is checked below against what is left of the order.
        if refund.points_reversed < 0 {
            wrong.push(format!(
                "{} reverses {}",
                refund.refund_id, refund.points_reversed
            ));
        }
        if refund.points_reversed != 0 {
            implied.insert(
                format!("reverse:{}", refund.refund_id),
                -refund.points_reversed,
            );
        }
    }
    for order in &state.orders {
        let earned = implied[&format!("earn:{}", order.order_id)];
        let reversed: i64 = state
            .refunds
            .iter()
            .filter(|r| {
                r.order_id == order.order_id
                    && r.status == omnisync::domain::refund::DecisionStatus::Approved
            })
            .map(|r| r.points_reversed)
            .sum();
        let total: u64 = order
            .lines
            .iter()
            .map(|l| u64::from(l.quantity) * l.unit_price_minor)
            .sum();
        let refunded: u64 = order
            .lines
            .iter()
            .map(|l| u64::from(l.refunded_quantity) * l.unit_price_minor)
            .sum();
        if earned - reversed != ((total - refunded) / 100) as i64 {
            wrong.push(format!(
                "{}: earned {earned} - reversed {reversed} is not what is left",
                order.order_id
            ));
        }
    }
    for d in state
        .loyalty
        .redemptions
        .iter()
        .filter(|d| d.status == omnisync::domain::loyalty::DecisionStatus::Approved)
    {
        implied.insert(format!("redeem:{}", d.id), -d.points);
    }
    for d in state
        .loyalty
        .adjustments
        .iter()
        .filter(|d| d.status == omnisync::domain::loyalty::DecisionStatus::Approved)
    {
        implied.insert(format!("adjust:{}", d.id), d.points);
    }
    if entries != implied {
        wrong.push(format!("ledger {entries:?} != implied {implied:?}"));
    }
    let debits: usize = of_type(events, "loyalty.points_redeemed")
        .chain(of_type(events, "loyalty.points_adjusted"))
        .filter(|e| e["customer_id"] == id)
        .count();
    if state.loyalty.redemptions.len() + state.loyalty.adjustments.len() != debits {
        wrong.push(format!(
            "{debits} debits sent, {} decided",
            state.loyalty.redemptions.len() + state.loyalty.adjustments.len()
        ));
    }
    wrong
}

// ---------------------------------------------------------------------------------------------

/// An invocation that, at the crash rate, is cut off at a random point mid-batch: the handler's
/// future is dropped (what it wrote stays written, nothing it did is acknowledged).
struct Crashing {
    inner: Arc<dyn JsonFunction>,
    rate: f64,
    rng: Arc<Mutex<StdRng>>,
    crashes: Arc<std::sync::atomic::AtomicUsize>,
}

impl JsonFunction for Crashing {
    fn invoke(&self, event: Value) -> futures::future::BoxFuture<'_, InvokeResult> {
        let cut = {
            let mut rng = self.rng.lock().unwrap();
            rng.random_bool(self.rate)
                .then(|| Duration::from_millis(rng.random_range(0..400)))
        };
        Box::pin(async move {
            match cut {
                None => self.inner.invoke(event).await,
                Some(after) => match tokio::time::timeout(after, self.inner.invoke(event)).await {
                    Ok(Ok(_)) | Err(_) => {
                        self.crashes
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Err("injected: the function crashed mid-batch".into())
                    }
                    Ok(Err(e)) => Err(e),
                },
            }
        })
    }
}

const INGRESS: [&str; 7] = [
    "cart-events",
    "wishlist-events",
    "order-events",
    "identity-events",
    "refund-events",
    "loyalty-events",
    "inventory-events",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seeded_mix_under_faults_ends_as_the_contract_says_for_every_customer() {
    crate::support::logs_if_asked();
    let p = Params::from_env();
    let visibility = p.visibility_seconds.to_string();
    let Some(mut stack) = crate::support::stack(
        "chaos",
        &[
            ("LocalVisibilityTimeout", visibility.as_str()),
            ("MaxReceiveCount", "1000"),
            ("StreamMaxRetryAttempts", "2"),
        ],
    )
    .await
    else {
        return;
    };
    let mix = generate(&p);
    eprintln!(
        "chaos: seed {}, {} customers, {} valid events, {} messages, fault rate {}, crash rate {}",
        p.seed,
        p.customers,
        mix.valid.len(),
        mix.sends.len(),
        p.fault_rate,
        p.crash_rate
    );
    let dynamodb_faults = Chaos::new(p.seed, p.fault_rate, "DynamoDB_20120810.ListTables");
    let sqs_faults = Chaos::new(p.seed + 1, p.fault_rate, "AmazonSQS.ListQueues");
    let clients = omnisync::aws::Clients {
        dynamodb: crate::support::clients_with(&stack, dynamodb_faults.clone()).dynamodb,
        sqs: crate::support::clients_with_sqs(&stack, sqs_faults.clone()).sqs,
        sdk: stack.sdk.clone(),
    };
    let crashes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seed = p.seed;
    let rate = p.crash_rate;
    let counter = Arc::clone(&crashes);
    let crash_rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed + 2)));
    stack
        .start_runner_wrapped(&clients, 2, move |inner| {
            Arc::new(Crashing {
                inner,
                rate,
                rng: Arc::clone(&crash_rng),
                crashes: Arc::clone(&counter),
            })
        })
        .unwrap();

    let started = Instant::now();
    for (queue, body) in &mix.sends {
        stack.send(queue, std::slice::from_ref(body)).await.unwrap();
    }
    let watched: Vec<&str> = INGRESS
        .iter()
        .copied()
        .chain(["loyalty-stream-failures", "view-fanout-failures"])
        .collect();
    stack
        .wait_drained(&watched, Duration::from_secs(900))
        .await
        .unwrap();

    // The stream consumers and their recoveries run behind the queues: wait for the ledger.
    let links = links(&mix.valid);
    let mut ids: Vec<String> = (0..p.customers).map(|i| format!("c-{i}")).collect();
    ids.extend(links.keys().cloned());
    let deadline = Instant::now() + Duration::from_secs(300);
    let wrong = loop {
        let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in &ids {
            let found = check_customer(&mix.valid, id, &customer(&stack, id).await, &links);
            if !found.is_empty() {
                wrong.insert(id.clone(), found);
            }
        }
        let idle = stack.depth("loyalty-stream-failures").await.unwrap() == 0
            && stack.depth("view-fanout-failures").await.unwrap() == 0;
        if (wrong.is_empty() && idle) || Instant::now() > deadline {
            break wrong;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    eprintln!(
        "chaos: settled in {:?}; DynamoDB faults {:?}, SQS faults {:?}, crashed invocations {}",
        started.elapsed(),
        dynamodb_faults.injected(),
        sqs_faults.injected(),
        crashes.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert!(wrong.is_empty(), "customers off the contract: {wrong:#?}");

    // Nothing lost: no DLQ holds anything; every invalid body was rejected.
    for queue in INGRESS {
        assert_eq!(
            stack.depth(&format!("{queue}-dlq")).await.unwrap(),
            0,
            "{queue}-dlq"
        );
    }
    for queue in ["loyalty-stream-failures-dlq", "view-fanout-failures-dlq"] {
        assert_eq!(stack.depth(queue).await.unwrap(), 0, "{queue}");
    }
    let rejected = crate::support::rejected(&stack).await;
    let rejected_ids: BTreeSet<String> = rejected
        .iter()
        .filter_map(|r| r["event_id"].as_str().map(str::to_owned))
        .collect();
    for id in &mix.invalid_ids {
        assert!(rejected_ids.contains(id), "{id} was not rejected");
    }
    let unreadable = rejected.iter().filter(|r| r["event_id"].is_null()).count();
    assert!(
        unreadable >= mix.unreadable,
        "{unreadable} of {} unreadable bodies rejected",
        mix.unreadable
    );
    let valid_ids: BTreeMap<String, &str> = mix
        .valid
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap(),
            )
        })
        .collect();
    for id in &rejected_ids {
        if let Some(event_type) = valid_ids.get(id) {
            assert!(
                [
                    "refund.requested",
                    "loyalty.points_redeemed",
                    "loyalty.points_adjusted"
                ]
                .contains(event_type),
                "a valid {event_type} ({id}) was rejected"
            );
        }
    }

    // Every channel's newest view of every customer ends as the operator's view (the fan-out
    // runs behind the state: wait until it has caught up).
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let mut newest: BTreeMap<(&str, String), Value> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        for queue in ["channel-updates-web", "channel-updates-call_center"] {
            for body in stack.drain_views(queue).await.unwrap() {
                let view: Value = serde_json::from_str(&body).unwrap();
                let id = view["customer_id"].as_str().unwrap().to_owned();
                let slot = newest.entry((queue, id)).or_insert(Value::Null);
                if slot["version"].as_u64() < view["version"].as_u64() {
                    *slot = view;
                }
            }
        }
        let mut behind = Vec::new();
        for queue in ["channel-updates-web", "channel-updates-call_center"] {
            for id in (0..p.customers).map(|i| format!("c-{i}")) {
                let current = serde_json::to_value(table.current_view(&id).await.unwrap()).unwrap();
                if current["version"].as_u64() == Some(0) {
                    continue;
                }
                if newest.get(&(queue, id.clone())).map(|v| &v["view"]) != Some(&current) {
                    behind.push((queue, id));
                }
            }
        }
        if behind.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "channels never showed the operator's view: {behind:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // No notification twice.
    let notifications: Vec<Value> = stack
        .drain("notifications.fifo")
        .await
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let ids: BTreeSet<&str> = notifications
        .iter()
        .filter_map(|n| n["notification_id"].as_str())
        .collect();
    assert_eq!(
        ids.len(),
        notifications.len(),
        "a notification went out twice"
    );
}
