//! End to end for wishlists, orders and guest sign-in: every ingress queue, the local runner, the
//! real functions and the customer reader on the local endpoint.

use crate::support::faults::RequestCounter;
use crate::support::faults::counts;
use crate::support::{
    DRAIN_LIMIT, bodies, clients_with, customer, event, invoke_sample, queue_of, rejected,
    rejected_reasons, sample_len, send_all, stack,
};
use omnisync::domain::customer::CustomerState;
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const CHANNELS: [&str; 4] = ["web", "app", "store", "call_center"];
const SKUS: [&str; 4] = ["SNK-42", "SOCK-3PK", "CAP-RED", "JKT-M"];

/// `(occurred_at ms, event_id)` of a body.
fn key(e: &Value) -> (i64, String) {
    let at = chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    (at, e["event_id"].as_str().unwrap().to_owned())
}

/// The contract's rules for carts, wishlists, orders and identity, written out independently of
/// `omnisync::domain`: who owns which ops, then one sorted fold per customer.
struct Reference<'a> {
    events: &'a [Value],
}

impl Reference<'_> {
    /// The customer each linked guest belongs to: its earliest link in event order.
    fn links(&self) -> BTreeMap<String, String> {
        let mut links: Vec<&Value> = self
            .events
            .iter()
            .filter(|e| e["type"] == "identity.linked")
            .collect();
        links.sort_by_key(|e| key(e));
        let mut owner = BTreeMap::new();
        for link in links {
            let guest = link["payload"]["anonymous_id"].as_str().unwrap().to_owned();
            owner
                .entry(guest)
                .or_insert_with(|| link["customer_id"].as_str().unwrap().to_owned());
        }
        owner
    }

    fn shopping(&self, id: &str) -> (Vec<Value>, Vec<Value>) {
        let links = self.links();
        if links.contains_key(id) {
            return (vec![], vec![]);
        }
        let owns = |e: &&Value| {
            let sender = e["customer_id"].as_str().unwrap_or_default();
            sender == id || links.get(sender).is_some_and(|owner| owner == id)
        };
        let mut ops: Vec<&Value> = self.events.iter().filter(owns).collect();
        ops.sort_by_key(|e| key(e));
        ops.dedup_by_key(|e| key(e));
        let mut cart: BTreeMap<String, i64> = BTreeMap::new();
        let mut wish: BTreeMap<String, Option<Value>> = BTreeMap::new();
        for e in ops {
            let p = &e["payload"];
            let sku = p["sku"].as_str().map(str::to_owned);
            match (e["type"].as_str().unwrap(), sku) {
                ("cart.item_added", Some(sku)) => {
                    let q = cart.entry(sku).or_default();
                    *q = (*q + p["quantity"].as_i64().unwrap()).min(999);
                }
                ("cart.item_quantity_set", Some(sku)) => {
                    cart.insert(sku, p["quantity"].as_i64().unwrap());
                }
                ("cart.item_removed", Some(sku)) => {
                    cart.insert(sku, 0);
                }
                ("cart.cleared", _) => cart.values_mut().for_each(|q| *q = 0),
                ("wishlist.item_added", Some(sku)) => {
                    wish.insert(
                        sku.clone(),
                        Some(json!({"sku": sku, "preferred_size": p["preferred_size"]})),
                    );
                }
                ("wishlist.item_removed", Some(sku)) => {
                    wish.insert(sku, None);
                }
                ("order.placed", _) => {
                    for line in p["lines"].as_array().unwrap() {
                        let sku = line["sku"].as_str().unwrap().to_owned();
                        let q = cart.entry(sku.clone()).or_default();
                        *q = (*q - line["quantity"].as_i64().unwrap()).max(0);
                        wish.insert(sku, None);
                    }
                }
                _ => {}
            }
        }
        (
            cart.into_iter()
                .filter(|(_, q)| *q > 0)
                .map(|(sku, q)| json!({"sku": sku, "quantity": q}))
                .collect(),
            wish.into_values().flatten().collect(),
        )
    }

    /// `(order_id, status, total_minor)` of the orders placed under `id`.
    fn orders(&self, id: &str) -> Vec<(String, String, u64)> {
        let mut orders: Vec<(String, String, u64)> = self
            .events
            .iter()
            .filter(|e| e["type"] == "order.placed" && e["customer_id"] == id)
            .map(|placed| {
                let order_id = placed["payload"]["order_id"].as_str().unwrap();
                let total = placed["payload"]["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| {
                        l["quantity"].as_u64().unwrap() * l["unit_price_minor"].as_u64().unwrap()
                    })
                    .sum();
                let changes: Vec<&Value> = self
                    .events
                    .iter()
                    .filter(|e| {
                        e["type"] == "order.status_changed" && e["payload"]["order_id"] == order_id
                    })
                    .collect();
                let status = if changes
                    .iter()
                    .any(|c| c["payload"]["status"] == "cancelled")
                {
                    "cancelled".to_owned()
                } else {
                    changes
                        .iter()
                        .filter(|c| key(c) > key(placed))
                        .max_by_key(|c| key(c))
                        .map_or("placed".to_owned(), |c| {
                            c["payload"]["status"].as_str().unwrap().to_owned()
                        })
                };
                (order_id.to_owned(), status, total)
            })
            .collect();
        orders.sort();
        orders
    }
}

fn shown_orders(state: &CustomerState) -> Vec<(String, String, u64)> {
    state
        .orders
        .iter()
        .map(|o| {
            (
                o.order_id.clone(),
                o.status.status(&o.placed).as_str().to_owned(),
                o.total_minor,
            )
        })
        .collect()
}

/// A random day for three customers and three guests on every channel: cart and wishlist ops
/// (some sent under guest ids), guest sign-ins (one guest linked twice), orders with status
/// changes (some before their order, in event time too).
fn random_day() -> Vec<Value> {
    let mut rng = rand::rng();
    let ids = ["c-ava", "c-ben", "c-cem", "g-1", "g-2", "g-3"];
    let base = 1_790_000_000_000i64;
    let mut events = Vec::new();
    for i in 0..70 {
        let id = ids[rng.random_range(0..ids.len())];
        let sku = SKUS[rng.random_range(0..SKUS.len())];
        let (t, p) = match rng.random_range(0..12) {
            0..=3 => (
                "cart.item_added",
                json!({"sku": sku, "quantity": rng.random_range(1..=3)}),
            ),
            4 => (
                "cart.item_quantity_set",
                json!({"sku": sku, "quantity": rng.random_range(0..=4)}),
            ),
            5 => ("cart.item_removed", json!({"sku": sku})),
            6 => ("cart.cleared", json!({})),
            7..=9 => {
                let size = ["S", "M", "L"][rng.random_range(0..3)];
                (
                    "wishlist.item_added",
                    json!({"sku": sku, "preferred_size": if rng.random_bool(0.3) { Value::Null } else { json!(size) }}),
                )
            }
            _ => ("wishlist.item_removed", json!({"sku": sku})),
        };
        let channel = CHANNELS[rng.random_range(0..4)];
        events.push(event(
            &format!("mix-{i:03}"),
            base + rng.random_range(0..60_000),
            id,
            channel,
            t,
            p,
        ));
    }
    // g-1 → c-ava; g-2 → c-ben, then (later in event time) also claimed by c-cem; g-3 stays a guest.
    events.push(event(
        "link-1",
        base + 20_000,
        "c-ava",
        "web",
        "identity.linked",
        json!({"anonymous_id": "g-1"}),
    ));
    events.push(event(
        "link-2",
        base + 25_000,
        "c-ben",
        "app",
        "identity.linked",
        json!({"anonymous_id": "g-2"}),
    ));
    events.push(event(
        "link-3",
        base + 40_000,
        "c-cem",
        "web",
        "identity.linked",
        json!({"anonymous_id": "g-2"}),
    ));
    for (n, id) in ["c-ava", "c-ben", "c-cem", "g-3"].iter().enumerate() {
        let order_id = format!("o-{n}");
        let at = base + rng.random_range(10_000..50_000);
        let mut lines: Vec<Value> = Vec::new();
        for sku in SKUS {
            if rng.random_bool(0.5) {
                lines.push(json!({"sku": sku, "quantity": rng.random_range(1..=2), "unit_price_minor": rng.random_range(100..5000)}));
            }
        }
        let lines = if lines.is_empty() {
            vec![json!({"sku": SKUS[0], "quantity": 1, "unit_price_minor": 999})]
        } else {
            lines
        };
        let fulfillment = if n % 2 == 0 {
            json!({"fulfillment": "pickup", "pickup_store_id": "store-berlin-01"})
        } else {
            json!({"fulfillment": "ship"})
        };
        let mut payload = json!({"order_id": order_id, "currency": "EUR", "lines": lines});
        payload
            .as_object_mut()
            .unwrap()
            .extend(fulfillment.as_object().unwrap().clone());
        events.push(event(
            &format!("place-{n}"),
            at,
            id,
            CHANNELS[n],
            "order.placed",
            payload,
        ));
        for (k, status) in [
            "ready_for_pickup",
            "shipped",
            "picked_up",
            "delivered",
            "cancelled",
        ]
        .iter()
        .enumerate()
        {
            if rng.random_bool(0.4) {
                let when = at + rng.random_range(-5_000..20_000);
                events.push(event(
                    &format!("status-{n}-{k}"),
                    when,
                    id,
                    "store",
                    "order.status_changed",
                    json!({"order_id": order_id, "status": status}),
                ));
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shuffled_duplicated_day_on_every_channel_ends_in_the_contract_state() {
    let Some(mut stack) = stack("shop-mix", &[]).await else {
        return;
    };
    stack.start_runner(2).unwrap();
    let events = random_day();
    let mut deliveries = events.clone();
    deliveries.extend(events.iter().step_by(4).cloned());
    deliveries.shuffle(&mut rand::rng());
    for queue in [
        "cart-events",
        "wishlist-events",
        "order-events",
        "identity-events",
    ] {
        let mine: Vec<Value> = deliveries
            .iter()
            .filter(|e| queue_of(e) == queue)
            .cloned()
            .collect();
        stack.send(queue, &bodies(&mine)).await.unwrap();
    }
    let queues = stack.ingress_queues();
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    stack.wait_drained(&queues, DRAIN_LIMIT).await.unwrap();

    let reference = Reference { events: &events };
    for id in ["c-ava", "c-ben", "c-cem", "g-1", "g-2", "g-3"] {
        let state = customer(&stack, id).await;
        let (cart, wishlist) = reference.shopping(id);
        let got_cart: Vec<Value> = state
            .shopping
            .cart
            .iter()
            .map(|l| serde_json::to_value(l).unwrap())
            .collect();
        let got_wish: Vec<Value> = state
            .shopping
            .wishlist
            .iter()
            .map(|w| serde_json::to_value(w).unwrap())
            .collect();
        assert_eq!(got_cart, cart, "cart of {id}");
        assert_eq!(got_wish, wishlist, "wishlist of {id}");
        assert_eq!(shown_orders(&state), reference.orders(id), "orders of {id}");
    }
    assert_eq!(
        customer(&stack, "c-cem").await.linked_guests,
        Vec::<String>::new(),
        "g-2's earlier link to c-ben wins"
    );
    assert_eq!(rejected(&stack).await, Vec::<Value>::new());
    for dlq in [
        "cart-events-dlq",
        "wishlist-events-dlq",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_status_change_sent_before_its_order_is_applied_once_the_order_arrives() {
    let Some(mut stack) = stack("shop-early", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let placed = event(
        "place-1",
        1_000,
        "c-1",
        "web",
        "order.placed",
        json!({"order_id": "o-1", "currency": "EUR", "fulfillment": "pickup", "pickup_store_id": "store-berlin-01",
               "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 500}]}),
    );
    let ready = event(
        "ready-1",
        5_000,
        "c-1",
        "store",
        "order.status_changed",
        json!({"order_id": "o-1", "status": "ready_for_pickup"}),
    );
    stack
        .send("order-events", &bodies(std::slice::from_ref(&ready)))
        .await
        .unwrap();
    // Wait until the runner has taken it (it fails, and stays invisible until redelivery).
    stack
        .wait_taken("order-events", std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(customer(&stack, "c-1").await.orders.is_empty());
    stack
        .send("order-events", &bodies(&[placed]))
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    let state = customer(&stack, "c-1").await;
    assert_eq!(
        shown_orders(&state),
        vec![("o-1".to_owned(), "ready_for_pickup".to_owned(), 500)]
    );
    assert_eq!(
        rejected(&stack).await,
        Vec::<Value>::new(),
        "a status before its order is not an error"
    );
    assert_eq!(
        stack.drain("order-events-dlq").await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_placement_of_an_order_id_is_rejected_as_duplicate_order() {
    let Some(mut stack) = stack("shop-dup", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let order = |event_id: &str, customer_id: &str, price: u64| {
        event(
            event_id,
            1_000,
            customer_id,
            "web",
            "order.placed",
            json!({"order_id": "o-7", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": price}]}),
        )
    };
    let first = order("place-a", "c-1", 100);
    stack
        .send("order-events", &bodies(std::slice::from_ref(&first)))
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    // A redelivery of the first, a double-submit, and the same id from another customer.
    let second = order("place-b", "c-1", 200);
    let other = order("place-c", "c-2", 300);
    stack
        .send("order-events", &bodies(&[first, second, other]))
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    let refused = rejected_reasons(&stack).await;
    assert_eq!(
        refused,
        vec![
            ("place-b".into(), "duplicate_order".into()),
            ("place-c".into(), "duplicate_order".into())
        ]
    );
    assert_eq!(
        shown_orders(&customer(&stack, "c-1").await),
        vec![("o-7".to_owned(), "placed".to_owned(), 100)]
    );
    assert!(customer(&stack, "c-2").await.orders.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_invalid_wishlist_order_and_identity_payload_is_rejected_with_its_reason() {
    let Some(mut stack) = stack("shop-invalid", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "wishlist-events",
            "wishlist.item_added",
            json!({"sku": "A", "preferred_size": ""}),
            "invalid_field",
        ),
        (
            "wishlist-events",
            "wishlist.item_added",
            json!({"sku": "A", "size": "M"}),
            "unknown_field",
        ),
        (
            "wishlist-events",
            "wishlist.item_removed",
            json!({}),
            "missing_field",
        ),
        ("wishlist-events", "cart.cleared", json!({}), "unknown_type"),
        (
            "order-events",
            "order.placed",
            json!({"order_id": "o", "currency": "EURO", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}]}),
            "invalid_field",
        ),
        (
            "order-events",
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "pickup", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}]}),
            "missing_field",
        ),
        (
            "order-events",
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": []}),
            "invalid_field",
        ),
        (
            "order-events",
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}, {"sku": "A", "quantity": 1, "unit_price_minor": 1}]}),
            "invalid_field",
        ),
        (
            "order-events",
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "price": 1}]}),
            "unknown_field",
        ),
        (
            "order-events",
            "order.status_changed",
            json!({"order_id": "o", "status": "lost"}),
            "invalid_field",
        ),
        (
            "order-events",
            "order.status_changed",
            json!({"status": "shipped"}),
            "missing_field",
        ),
        (
            "identity-events",
            "identity.linked",
            json!({"anonymous_id": "c-1"}),
            "invalid_field",
        ),
        (
            "identity-events",
            "identity.linked",
            json!({"anonymous_id": "g 1"}),
            "invalid_field",
        ),
        (
            "identity-events",
            "identity.linked",
            json!({"guest_id": "g-1"}),
            "unknown_field",
        ),
        (
            "identity-events",
            "identity.linked",
            json!({"anonymous_id": null}),
            "invalid_field",
        ),
    ];
    let mut expected = BTreeMap::new();
    for (i, (queue, event_type, payload, reason)) in cases.iter().enumerate() {
        let id = format!("bad-{i:02}");
        let body = event(&id, 1_000, "c-1", "web", event_type, payload.clone());
        stack.send(queue, &bodies(&[body])).await.unwrap();
        expected.insert(id, (*reason).to_owned());
    }
    let queues = stack.ingress_queues();
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    stack.wait_drained(&queues, DRAIN_LIMIT).await.unwrap();
    let got: BTreeMap<String, String> = rejected_reasons(&stack).await.into_iter().collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_requests_per_applied_event_of_each_new_type() {
    let Some(mut stack) = stack("shop-cost", &[]).await else {
        return;
    };
    let counter = RequestCounter::default();
    // The functions under test only (the loyalty ledger would add its own requests from the stream).
    let functions = [
        "WishlistSyncFunction",
        "OrderSyncFunction",
        "IdentitySyncFunction",
    ];
    stack
        .start_runner_for(&clients_with(&stack, counter.clone()), 1, &functions)
        .unwrap();
    // Every applied event is also one timeline write of the batch layer's (`UpdateItem
    // timeline`): one per customer and batch.
    let cases: Vec<(&str, Value, BTreeMap<String, usize>)> = vec![
        (
            "wishlist-events",
            event(
                "w-1",
                1_000,
                "c-1",
                "app",
                "wishlist.item_added",
                json!({"sku": "A", "preferred_size": "M"}),
            ),
            counts(&[("UpdateItem", 1), ("UpdateItem timeline", 1)]),
        ),
        (
            "wishlist-events",
            event(
                "w-2",
                2_000,
                "c-1",
                "web",
                "wishlist.item_removed",
                json!({"sku": "A"}),
            ),
            counts(&[("UpdateItem", 1), ("UpdateItem timeline", 1)]),
        ),
        (
            "order-events",
            event(
                "o-1",
                3_000,
                "c-1",
                "web",
                "order.placed",
                json!({"order_id": "o-1", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 100}]}),
            ),
            // The claim, the order, and the one query for events waiting for it.
            counts(&[("PutItem", 2), ("Query", 1), ("UpdateItem timeline", 1)]),
        ),
        (
            "order-events",
            event(
                "o-2",
                4_000,
                "c-1",
                "store",
                "order.status_changed",
                json!({"order_id": "o-1", "status": "shipped"}),
            ),
            counts(&[("GetItem", 1), ("PutItem", 1), ("UpdateItem timeline", 1)]),
        ),
        (
            "identity-events",
            event(
                "l-1",
                5_000,
                "c-1",
                "web",
                "identity.linked",
                json!({"anonymous_id": "g-1"}),
            ),
            counts(&[("GetItem", 1), ("PutItem", 2), ("UpdateItem timeline", 1)]),
        ),
    ];
    for (queue, body, expected) in cases {
        let before = counter.snapshot();
        stack
            .send(queue, &bodies(std::slice::from_ref(&body)))
            .await
            .unwrap();
        stack.wait_drained(&[queue], DRAIN_LIMIT).await.unwrap();
        let used = counter.since(&before);
        eprintln!("{}: {used:?}", body["type"]);
        assert_eq!(used, expected, "{}", body["type"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_trigger_events_do_what_their_names_say() {
    let Some(stack) = stack("shop-samples", &[]).await else {
        return;
    };
    // The guest wishlists on the phone and orders for pickup; then signs in as c-dan.
    let runs = [
        (
            "WishlistSyncFunction",
            "wishlist-sync",
            &["sqs-valid.json", "sqs-duplicate.json"][..],
        ),
        (
            "OrderSyncFunction",
            "order-sync",
            &["sqs-valid.json", "sqs-status.json", "sqs-duplicate.json"][..],
        ),
        (
            "IdentitySyncFunction",
            "identity-sync",
            &["sqs-valid.json", "sqs-duplicate.json"][..],
        ),
    ];
    for (logical, folder, samples) in runs {
        for sample in samples {
            let response = invoke_sample(&stack, logical, &format!("{folder}/{sample}")).await;
            assert!(response.batch_item_failures.is_empty(), "{folder}/{sample}");
        }
        let invalid = format!("{folder}/sqs-invalid.json");
        let response = invoke_sample(&stack, logical, &invalid).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            rejected(&stack).await.len(),
            sample_len(&invalid),
            "{invalid}"
        );
    }
    let guest = customer(&stack, "g-7f3a").await;
    assert_eq!(
        shown_orders(&guest),
        vec![("o-1001".to_owned(), "picked_up".to_owned(), 15597)],
        "orders stay with the id they were sent under"
    );
    assert!(
        guest.shopping.wishlist.is_empty(),
        "a linked guest's own wishlist is empty"
    );
    let state = customer(&stack, "c-dan").await;
    assert_eq!(state.linked_guests, vec!["g-7f3a".to_owned()]);
    assert!(state.orders.is_empty());
    assert_eq!(
        state
            .shopping
            .wishlist
            .iter()
            .map(|w| serde_json::to_value(w).unwrap())
            .collect::<Vec<_>>(),
        vec![json!({"sku": "JKT-RAIN", "preferred_size": "M"})]
    );
}

/// The guest's cart ops show in exactly one place: the guest's own cart, or its customer's.
async fn guest_cart_is_visible_once(stack: &xtask::local::LocalStack, when: &str) {
    let guest = customer(stack, "g-half").await;
    let owner = customer(stack, "c-half").await;
    let seen = |state: &CustomerState| state.shopping.cart.iter().any(|l| l.sku == "G-SKU");
    assert!(
        seen(&guest) ^ seen(&owner),
        "{when}: the guest's line is in the guest's cart ({}) xor the customer's ({})",
        seen(&guest),
        seen(&owner)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guest_link_interrupted_between_its_two_writes_leaves_the_guest_s_ops_visible() {
    for refused in ["IDENTITY#LINKED_TO", "IDENTITY#GUEST#"] {
        let Some(mut stack) = stack("link-half", &[]).await else {
            return;
        };
        stack
            .start_runner_for(&stack.clients(), 1, &["CartSyncFunction"])
            .unwrap();
        send_all(
            &stack,
            &[event(
                "g-add",
                1_000,
                "g-half",
                "app",
                "cart.item_added",
                json!({"sku": "G-SKU", "quantity": 1}),
            )],
        )
        .await;
        // One of the link's two writes is refused: the link fails part-way, however often it is
        // delivered.
        let refuse = crate::support::faults::RefuseWrites::new("PutItem", refused);
        let _interrupted = stack
            .extra_runner_for(
                &clients_with(&stack, refuse.clone()),
                1,
                &["IdentitySyncFunction"],
            )
            .unwrap();
        stack
            .send(
                "identity-events",
                &bodies(&[event(
                    "link-half",
                    2_000,
                    "c-half",
                    "web",
                    "identity.linked",
                    json!({"anonymous_id": "g-half"}),
                )]),
            )
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while refuse.refused() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the write was never tried"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        guest_cart_is_visible_once(&stack, &format!("{refused} refused")).await;
        drop(_interrupted);
        // The fault clears: a redelivery completes the link.
        stack
            .start_runner_for(&stack.clients(), 1, &["IdentitySyncFunction"])
            .unwrap();
        stack
            .wait_drained(&["identity-events"], DRAIN_LIMIT)
            .await
            .unwrap();
        guest_cart_is_visible_once(&stack, "after the link").await;
        assert!(
            customer(&stack, "c-half")
                .await
                .shopping
                .cart
                .iter()
                .any(|l| l.sku == "G-SKU"),
            "{refused}: linked in the end"
        );
        stack.shutdown();
    }
}
