//! End to end for contract v1.1's engagement part: touches from every channel, the customer
//! timeline, each order's attribution and the channel report, through the real functions, each
//! checked against a naive model of the contract written here (not `omnisync::domain`).

use crate::support::faults::RequestCounter;
use crate::support::{clients_with, event, send_all, stack};
use omnisync::contract::{CustomerView, ViewChanged};
use omnisync::store::Table;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// 2026-03-10T00:00:00Z.
const BASE: i64 = 1_773_100_800_000;
const DAY: i64 = 86_400_000;
const WINDOW_MS: i64 = 2_592_000_000;
const CHANNELS: [&str; 4] = ["web", "app", "store", "call_center"];

fn touch(
    id: &str,
    at: i64,
    customer: &str,
    channel: &str,
    kind: &str,
    source: Option<&str>,
) -> Value {
    let mut payload = json!({"kind": kind});
    if let Some(source) = source {
        payload["source"] = json!(source);
    }
    event(id, at, customer, channel, "engagement.touched", payload)
}

fn order(
    order_id: &str,
    at: i64,
    customer: &str,
    channel: &str,
    currency: &str,
    price: u64,
) -> Value {
    event(
        &format!("place-{order_id}"),
        at,
        customer,
        channel,
        "order.placed",
        json!({"order_id": order_id, "currency": currency, "fulfillment": "ship",
               "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": price}]}),
    )
}

fn at_ms(body: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(body["occurred_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// `(occurred_at ms, event_id)`: the contract's event order.
fn key(body: &Value) -> (i64, String) {
    (at_ms(body), body["event_id"].as_str().unwrap().to_owned())
}

fn is(body: &Value, prefix: &str) -> bool {
    body["type"].as_str().unwrap().starts_with(prefix)
}

/// The contract's rules (§3 Engagement and Identity, §4 timeline, attribution, report) over the
/// set of events sent, naively.
struct Naive<'a> {
    events: Vec<&'a Value>,
    /// Guest → customer.
    links: BTreeMap<String, String>,
}

impl<'a> Naive<'a> {
    fn new(sent: &'a [Value]) -> Self {
        let mut seen = BTreeSet::new();
        let events: Vec<&Value> = sent
            .iter()
            .filter(|e| seen.insert(e["event_id"].as_str().unwrap().to_owned()))
            .collect();
        // One link per guest here, so the first in event order is the only one.
        let links = events
            .iter()
            .filter(|e| e["type"] == "identity.linked")
            .map(|e| {
                (
                    e["payload"]["anonymous_id"].as_str().unwrap().to_owned(),
                    e["customer_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        Naive { events, links }
    }

    fn guests_of(&self, id: &str) -> Vec<&str> {
        self.links
            .iter()
            .filter(|(_, customer)| customer.as_str() == id)
            .map(|(guest, _)| guest.as_str())
            .collect()
    }

    fn timeline(&self, id: &str) -> Vec<Value> {
        let follows = |e: &Value| is(e, "cart.") || is(e, "wishlist.") || is(e, "engagement.");
        let guests = self.guests_of(id);
        let linked = self.links.contains_key(id);
        let mut mine: Vec<&Value> = self
            .events
            .iter()
            .copied()
            .filter(|e| {
                let sender = e["customer_id"].as_str().unwrap();
                if linked {
                    sender == id && (is(e, "order.") || is(e, "refund.") || is(e, "loyalty."))
                } else {
                    sender == id || (guests.contains(&sender) && follows(e))
                }
            })
            .collect();
        mine.sort_by_key(|e| std::cmp::Reverse(key(e)));
        mine.into_iter()
            .take(20)
            .map(|e| {
                let reference = match e["type"].as_str().unwrap() {
                    t if t.starts_with("order.") => e["payload"]["order_id"].clone(),
                    "identity.linked" => e["payload"]["anonymous_id"].clone(),
                    _ => e["payload"].get("sku").cloned().unwrap_or(Value::Null),
                };
                let instant = chrono::DateTime::from_timestamp_millis(at_ms(e))
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string();
                json!({"event_id": e["event_id"], "type": e["type"], "channel": e["channel"],
                       "store_id": e.get("store_id").cloned().unwrap_or(Value::Null),
                       "occurred_at": instant, "ref": reference})
            })
            .collect()
    }

    fn touches_for(&self, id: &str) -> Vec<&Value> {
        let guests = self.guests_of(id);
        self.events
            .iter()
            .copied()
            .filter(|e| e["type"] == "engagement.touched")
            .filter(|e| {
                let sender = e["customer_id"].as_str().unwrap();
                sender == id || guests.contains(&sender)
            })
            .collect()
    }

    fn attribution(&self, placed: &Value) -> Value {
        let order_key = key(placed);
        let mut counted: Vec<&Value> = self
            .touches_for(placed["customer_id"].as_str().unwrap())
            .into_iter()
            .filter(|t| key(t) < order_key && order_key.0 - at_ms(t) <= WINDOW_MS)
            .collect();
        counted.sort_by_key(|t| key(t));
        let shown = |t: Option<&&Value>| match t {
            Some(t) => {
                json!({"channel": t["channel"], "source": t["payload"].get("source").cloned().unwrap_or(Value::Null)})
            }
            None => Value::Null,
        };
        json!({"first_touch": shown(counted.first()), "last_touch": shown(counted.last())})
    }

    fn cancelled(&self, order_id: &str) -> bool {
        self.events.iter().any(|e| {
            e["type"] == "order.status_changed"
                && e["payload"]["order_id"] == order_id
                && e["payload"]["status"] == "cancelled"
        })
    }

    /// The channel report of `from..=to` (days as `YYYY-MM-DD`).
    fn report(&self, from: &str, to: &str) -> Value {
        let day = |e: &Value| {
            chrono::DateTime::from_timestamp_millis(at_ms(e))
                .unwrap()
                .format("%Y-%m-%d")
                .to_string()
        };
        let in_range = |e: &Value| {
            let d = day(e);
            from <= d.as_str() && d.as_str() <= to
        };
        let zero = || json!({"orders": 0, "sales_minor": {}});
        let mut channels = serde_json::Map::new();
        for channel in CHANNELS {
            channels.insert(
                channel.into(),
                json!({"sessions": 0, "contacts": 0, "placed_on": zero(), "first_touch": zero(), "last_touch": zero()}),
            );
        }
        let mut report = json!({"from": from, "to": to, "channels": channels,
                                "unattributed": {"first_touch": zero(), "last_touch": zero()}});
        for t in self
            .events
            .iter()
            .filter(|e| e["type"] == "engagement.touched" && in_range(e))
        {
            let counter = if t["payload"]["kind"] == "session" {
                "sessions"
            } else {
                "contacts"
            };
            let figures = &mut report["channels"][t["channel"].as_str().unwrap()][counter];
            *figures = json!(figures.as_i64().unwrap() + 1);
        }
        for placed in self
            .events
            .iter()
            .filter(|e| e["type"] == "order.placed" && in_range(e))
        {
            let order_id = placed["payload"]["order_id"].as_str().unwrap();
            if self.cancelled(order_id) {
                continue;
            }
            let currency = placed["payload"]["currency"].as_str().unwrap();
            let total = placed["payload"]["lines"][0]["unit_price_minor"]
                .as_i64()
                .unwrap();
            let attribution = self.attribution(placed);
            let count = |sales: &mut Value| {
                sales["orders"] = json!(sales["orders"].as_i64().unwrap() + 1);
                let before = sales["sales_minor"][currency].as_i64().unwrap_or(0);
                sales["sales_minor"][currency] = json!(before + total);
            };
            count(&mut report["channels"][placed["channel"].as_str().unwrap()]["placed_on"]);
            for (touch, field) in [("first_touch", "first_touch"), ("last_touch", "last_touch")] {
                match attribution[touch]["channel"].as_str() {
                    Some(channel) => count(&mut report["channels"][channel][field]),
                    None => count(&mut report["unattributed"][field]),
                }
            }
        }
        report
    }
}

/// What a view shows of the engagement rules: its timeline and each order's attribution.
fn engagement_of(view: &CustomerView) -> Value {
    let value = serde_json::to_value(view).unwrap();
    let attribution: serde_json::Map<String, Value> = value["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["order_id"].as_str().unwrap().to_owned(),
                o["attribution"].clone(),
            )
        })
        .collect();
    json!({"timeline": value["timeline"], "attribution": attribution})
}

fn expected_engagement(naive: &Naive<'_>, id: &str) -> Value {
    let attribution: serde_json::Map<String, Value> = naive
        .events
        .iter()
        .filter(|e| e["type"] == "order.placed" && e["customer_id"] == id)
        .map(|e| {
            (
                e["payload"]["order_id"].as_str().unwrap().to_owned(),
                naive.attribution(e),
            )
        })
        .collect();
    json!({"timeline": naive.timeline(id), "attribution": attribution})
}

/// Waits until every id's operator view, the newest view each id has on `channel-updates-web`
/// and the report of `days` equal the naive model; then asserts it, naming what differs.
async fn assert_converges(
    stack: &xtask::local::LocalStack,
    naive: &Naive<'_>,
    ids: &[&str],
    (from, to): (&str, &str),
) {
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let mut published: BTreeMap<String, ViewChanged> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        for body in stack.drain_views("channel-updates-web").await.unwrap() {
            let update: ViewChanged = serde_json::from_str(&body).unwrap();
            if published
                .get(&update.customer_id)
                .is_none_or(|known| known.version < update.version)
            {
                published.insert(update.customer_id.clone(), update);
            }
        }
        let mut differences = Vec::new();
        for id in ids {
            let expected = expected_engagement(naive, id);
            let operator = engagement_of(&table.current_view(id).await.unwrap());
            if operator != expected {
                differences.push(format!(
                    "{id} (operator's view):\n  got      {operator}\n  expected {expected}"
                ));
            }
            let channel = published.get(*id).map(|u| engagement_of(&u.view));
            if channel.as_ref() != Some(&expected) {
                differences.push(format!(
                    "{id} (channel update):\n  got      {channel:?}\n  expected {expected}"
                ));
            }
        }
        let report =
            serde_json::to_value(table.channel_report(from, to).await.unwrap().unwrap()).unwrap();
        let expected_report = naive.report(from, to);
        if report != expected_report {
            differences.push(format!(
                "report:\n  got      {report}\n  expected {expected_report}"
            ));
        }
        if differences.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the views and the report never matched the contract:\n{}",
            differences.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A shuffled, duplicated mix of touches from every channel, carts and wishlists, orders (one a
/// guest's), guest links and cancellations, part of it sent late (touches dated before orders
/// already counted, cancellations of counted orders, a link after its guest's touches): every
/// timeline and attribution, on the operator's view and on the channels, and the report over
/// the days, end as the contract's rules over the event set say.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_touches_cancellations_and_links_end_in_the_contract_s_timelines_attribution_and_report()
 {
    let Some(mut stack) = stack("engage-mix", &[]).await else {
        return;
    };
    stack.start_runner(2).unwrap();
    let seed: u64 = std::env::var("OMNISYNC_ENGAGEMENT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("engagement mix seed {seed} (OMNISYNC_ENGAGEMENT_SEED)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ids = ["c-0", "c-1", "c-2", "c-3", "g-0", "g-1", "g-2"];
    let sources = [
        None,
        Some("instagram"),
        Some("email.spring"),
        Some("google"),
    ];
    let mut early: Vec<Value> = Vec::new();
    let mut late: Vec<Value> = Vec::new();
    for i in 0..48 {
        let id = ids[rng.random_range(0..ids.len())];
        let body = touch(
            &format!("t-{i:02}"),
            BASE + rng.random_range(0..5 * DAY),
            id,
            CHANNELS[rng.random_range(0..4)],
            ["session", "contact"][rng.random_range(0..2)],
            sources[rng.random_range(0..sources.len())],
        );
        if rng.random_bool(0.3) {
            late.push(body)
        } else {
            early.push(body)
        }
    }
    // More than 20 events for c-0 and its guest, so its timeline is cut.
    for i in 0..24 {
        let id = ["c-0", "g-0"][i % 2];
        let body = event(
            &format!("cart-{i:02}"),
            BASE + rng.random_range(0..5 * DAY),
            id,
            CHANNELS[rng.random_range(0..4)],
            "cart.item_added",
            json!({"sku": format!("S-{}", i % 5), "quantity": 1}),
        );
        if rng.random_bool(0.3) {
            late.push(body)
        } else {
            early.push(body)
        }
    }
    early.push(event(
        "wish-1",
        BASE + DAY,
        "g-1",
        "app",
        "wishlist.item_added",
        json!({"sku": "W"}),
    ));
    let orders = [
        ("o-0", "c-0"),
        ("o-1", "c-0"),
        ("o-2", "c-1"),
        ("o-3", "c-2"),
        ("o-4", "c-3"),
        ("o-5", "g-1"),
        ("o-6", "c-1"),
        ("o-7", "g-2"),
    ];
    for (n, (order_id, customer)) in orders.iter().enumerate() {
        early.push(order(
            order_id,
            BASE + DAY + rng.random_range(0..4 * DAY),
            customer,
            CHANNELS[rng.random_range(0..4)],
            ["EUR", "USD"][n % 2],
            1_000 + 100 * n as u64,
        ));
    }
    early.push(event(
        "link-0",
        BASE + DAY / 2,
        "c-0",
        "web",
        "identity.linked",
        json!({"anonymous_id": "g-0"}),
    ));
    late.push(event(
        "link-1",
        BASE + 2 * DAY,
        "c-1",
        "app",
        "identity.linked",
        json!({"anonymous_id": "g-1"}),
    ));
    early.push(event(
        "ship-2",
        BASE + 5 * DAY,
        "c-1",
        "web",
        "order.status_changed",
        json!({"order_id": "o-2", "status": "shipped"}),
    ));
    for (n, (order_id, customer)) in [("o-1", "c-0"), ("o-4", "c-3")].into_iter().enumerate() {
        late.push(event(
            &format!("cancel-{n}"),
            BASE + 6 * DAY,
            customer,
            "call_center",
            "order.status_changed",
            json!({"order_id": order_id, "status": "cancelled"}),
        ));
    }
    let all: Vec<Value> = early.iter().chain(&late).cloned().collect();

    // Early events shuffled with a fifth duplicated; then the late ones, the same way.
    for phase in [&early, &late] {
        let mut sends: Vec<Value> = phase.to_vec();
        for _ in 0..phase.len() / 5 {
            sends.push(phase[rng.random_range(0..phase.len())].clone());
        }
        sends.shuffle(&mut rng);
        send_all(&stack, &sends).await;
    }
    let naive = Naive::new(&all);
    assert!(
        naive.timeline("c-0").len() == 20,
        "c-0's timeline is cut at 20"
    );
    assert_converges(&stack, &naive, &ids, ("2026-03-10", "2026-03-16")).await;
    // Only the days asked for count.
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let part = serde_json::to_value(
        table
            .channel_report("2026-03-11", "2026-03-12")
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(part, naive.report("2026-03-11", "2026-03-12"));
    assert_eq!(crate::support::rejected(&stack).await, Vec::<Value>::new());
    for dlq in [
        "engagement-events-dlq",
        "cart-events-dlq",
        "order-events-dlq",
        "identity-events-dlq",
    ] {
        assert_eq!(
            stack.drain(dlq).await.unwrap(),
            Vec::<String>::new(),
            "{dlq}"
        );
    }
}

/// Two runner fleets (as two sets of Lambda pollers would be) apply touches of many customers
/// and place their orders on one day: every touch and order updates the same day's counter
/// items, in transactions that race; the report counts each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_fleets_updating_one_day_s_counters_at_once_lose_nothing() {
    let Some(mut stack) = stack("engage-race", &[]).await else {
        return;
    };
    stack.start_runner(3).unwrap();
    let _second = stack.extra_runner(&stack.clients(), 3).unwrap();
    let mut events = Vec::new();
    for c in 0..24 {
        let customer = format!("c-{c}");
        for t in 0..3 {
            events.push(touch(
                &format!("t-{c}-{t}"),
                BASE + 3_600_000 * t,
                &customer,
                CHANNELS[(c + t as usize) % 4],
                ["session", "contact"][t as usize % 2],
                Some("instagram"),
            ));
        }
        events.push(order(
            &format!("o-{c}"),
            BASE + 4 * 3_600_000,
            &customer,
            CHANNELS[c % 4],
            "EUR",
            500,
        ));
    }
    events.shuffle(&mut rand::rng());
    send_all(&stack, &events).await;
    let naive = Naive::new(&events);
    let ids: Vec<String> = (0..24).map(|c| format!("c-{c}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_converges(&stack, &naive, &ids, ("2026-03-10", "2026-03-10")).await;
}

/// DynamoDB requests per touch, per redelivered touch, per report day, and what an order's
/// view change adds for the report, counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_requests_per_touch_per_order_s_report_record_and_per_report_day() {
    let Some(mut stack) = stack("engage-cost", &[]).await else {
        return;
    };
    let (sync, fanout) = (RequestCounter::default(), RequestCounter::default());
    stack
        .start_runner_for(
            &clients_with(&stack, sync.clone()),
            1,
            &["EngagementSyncFunction", "OrderSyncFunction"],
        )
        .unwrap();
    let _fanout = stack
        .extra_runner_for(
            &clients_with(&stack, fanout.clone()),
            1,
            &["ViewFanoutFunction"],
        )
        .unwrap();
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let wait_for_version = |customer: &'static str, at_least: u64| {
        let table = table.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while table.view_version(customer).await.unwrap() < at_least {
                assert!(
                    Instant::now() < deadline,
                    "{customer}'s view was never published"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // The fan-out's last requests (the report records) follow the version bump.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    let counts = |pairs: &[(&str, usize)]| crate::support::faults::counts(pairs);

    let first = touch("t-1", BASE, "c-1", "store", "contact", Some("instagram"));
    send_all(&stack, std::slice::from_ref(&first)).await;
    let one = sync.snapshot();
    eprintln!("a touch: {one:?}");
    // The touch, its counter and its store in one transaction; its timeline entry.
    assert_eq!(
        one,
        counts(&[("TransactWriteItems", 1), ("UpdateItem timeline", 1)])
    );
    send_all(&stack, std::slice::from_ref(&first)).await;
    let again = sync.since(&one);
    eprintln!("the touch again: {again:?}");
    // The transaction, cancelled on the touch's condition; the same timeline entry again.
    assert_eq!(
        again,
        counts(&[("TransactWriteItems", 1), ("UpdateItem timeline", 1)])
    );
    wait_for_version("c-1", 1).await;
    let no_orders = fanout.snapshot();
    eprintln!("the view change of a customer without orders: {no_orders:?}");
    assert_eq!(
        no_orders.get("TransactWriteItems"),
        None,
        "no orders, no report records"
    );

    let before = fanout.snapshot();
    let version = table.view_version("c-1").await.unwrap();
    send_all(
        &stack,
        &[order("o-1", BASE + 1_000, "c-1", "web", "EUR", 2_000)],
    )
    .await;
    wait_for_version("c-1", version + 1).await;
    let placed = fanout.since(&before);
    eprintln!("the view change an order makes: {placed:?}");
    // Per publication (the order's item and its timeline entry may reach the stream in one
    // batch or two): the version bump, the partition and the records' query; and once, the
    // transaction that writes the order's record (version check, record, its day's counters).
    let publications = placed.get("UpdateItem").copied().unwrap_or(0);
    assert!(publications >= 1, "{placed:?}");
    assert_eq!(placed.get("Query"), Some(&(2 * publications)), "{placed:?}");
    assert_eq!(placed.get("TransactWriteItems"), Some(&1), "{placed:?}");

    let reader = RequestCounter::default();
    let counted = Table::new(
        clients_with(&stack, reader.clone()).dynamodb,
        stack.table().unwrap(),
    );
    for (from, to, requests) in [
        ("2026-03-10", "2026-03-10", 1),
        ("2026-03-01", "2026-03-30", 3),
    ] {
        let before = reader.snapshot();
        let report = counted.channel_report(from, to).await.unwrap().unwrap();
        let used = reader.since(&before);
        eprintln!("report {from}..{to}: {used:?}");
        assert_eq!(used, counts(&[("BatchGetItem", requests)]), "{from}..{to}");
        assert_eq!(report.channels.store.contacts, 1);
        assert_eq!(report.channels.web.placed_on.orders, 1);
        assert_eq!(report.channels.store.last_touch.orders, 1);
    }
}
