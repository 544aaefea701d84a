//! End to end: SQS `cart-events` → the local event-source runner → cart-sync → DynamoDB, on the
//! local AWS endpoint, through the real SDK clients.

use crate::support::faults::{ConditionRefusals, LoseWriteResponses, RequestCounter};
use crate::support::{
    DRAIN_LIMIT, bodies, clients_with, event, invoke_sample, reference_cart, rejected,
    rejected_reasons, sample_len, stack, stored_cart,
};
use omnisync::contract::EventKey;
use omnisync::domain::cart::{LineOp, LineState};
use omnisync::store::Table;
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const CHANNELS: [&str; 4] = ["web", "app", "store", "call_center"];
/// moto's fixed `SenderId` for every message it receives.
const MOTO_SENDER: &str = "AIDAIT2UOQQY3AUEKVGXU";

/// Random cart ops for several customers from every channel, with unique event ids and
/// instants drawn from a narrow window so that ties and out-of-order arrival are common.
fn random_cart_story(customers: &[&str], count: usize) -> Vec<Value> {
    let mut rng = rand::rng();
    let skus = ["SNK-42", "SOCK-3PK", "CAP-RED", "JKT-L"];
    (0..count)
        .map(|i| {
            let customer = customers[rng.random_range(0..customers.len())];
            let channel = CHANNELS[rng.random_range(0..4)];
            let sku = skus[rng.random_range(0..skus.len())];
            let at = 1_790_000_000_000 + rng.random_range(0..30_000);
            let (event_type, payload) = match rng.random_range(0..10) {
                0..=4 => (
                    "cart.item_added",
                    json!({"sku": sku, "quantity": rng.random_range(1..=3)}),
                ),
                5..=6 => (
                    "cart.item_quantity_set",
                    json!({"sku": sku, "quantity": rng.random_range(0..=5)}),
                ),
                7..=8 => ("cart.item_removed", json!({"sku": sku})),
                _ => ("cart.cleared", json!({})),
            };
            event(
                &format!("ev-{i:04}"),
                at,
                customer,
                channel,
                event_type,
                payload,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shuffled_duplicated_cross_channel_edits_end_in_the_contract_cart() {
    let Some(mut stack) = stack("cart-mix", &[]).await else {
        return;
    };
    stack.start_runner(2).unwrap();
    let customers = ["c-ava", "c-ben", "c-cem"];
    let events = random_cart_story(&customers, 60);

    // Every event once, a third of them again, all shuffled.
    let mut deliveries = events.clone();
    deliveries.extend(events.iter().step_by(3).cloned());
    deliveries.shuffle(&mut rand::rng());
    stack
        .send("cart-events", &bodies(&deliveries))
        .await
        .unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    for customer in customers {
        assert_eq!(
            stored_cart(&stack, customer).await,
            reference_cart(&events, customer),
            "cart of {customer}"
        );
    }
    assert_eq!(rejected(&stack).await, Vec::<Value>::new());
    assert_eq!(
        stack.drain("cart-events-dlq").await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rejection_reason_lands_in_rejected_events_while_the_batch_applies() {
    let Some(mut stack) = stack("cart-reject", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let valid = [
        event(
            "ok-1",
            1_000,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "A", "quantity": 2}),
        ),
        event(
            "ok-2",
            2_000,
            "c-1",
            "store",
            "cart.item_added",
            json!({"sku": "B", "quantity": 1}),
        ),
    ];
    let base = event(
        "bad",
        3_000,
        "c-1",
        "app",
        "cart.item_added",
        json!({"sku": "A", "quantity": 1}),
    );
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = base.clone();
        edit(&mut body);
        body.to_string()
    };
    let invalid: Vec<(&str, String)> = vec![
        (
            "malformed_json",
            "{\"event_id\": \"bad-syntax\",".to_owned(),
        ),
        (
            "malformed_json",
            base.to_string()
                .replacen("{", "{\"type\":\"cart.cleared\",", 1),
        ),
        ("malformed_json", "[1,2,3]".to_owned()),
        (
            "too_large",
            with(&|b| b["payload"]["sku"] = json!("X".repeat(70_000))),
        ),
        (
            "unknown_type",
            with(&|b| b["type"] = json!("cart.item_teleported")),
        ),
        // A valid event of another queue's type.
        (
            "unknown_type",
            with(&|b| {
                b["type"] = json!("wishlist.item_removed");
                b["payload"] = json!({"sku": "A"});
            }),
        ),
        (
            "unsupported_schema_version",
            with(&|b| b["schema_version"] = json!(2)),
        ),
        (
            "missing_field",
            with(&|b| {
                b.as_object_mut().unwrap().remove("occurred_at");
            }),
        ),
        ("missing_field", with(&|b| b["channel"] = json!("store"))),
        (
            "invalid_field",
            with(&|b| b["payload"]["quantity"] = json!(1000)),
        ),
        ("invalid_field", with(&|b| b["schema_version"] = json!("1"))),
        ("invalid_field", with(&|b| b["customer_id"] = Value::Null)),
        (
            "unknown_field",
            with(&|b| b["payload"]["colour"] = json!("red")),
        ),
        ("unknown_field", with(&|b| b["priority"] = json!("high"))),
    ];
    let mut all: Vec<String> = bodies(&valid);
    all.extend(invalid.iter().map(|(_, body)| body.clone()));
    all.shuffle(&mut rand::rng());
    let ids = stack.send("cart-events", &all).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    // What each rejected message should say, by message id; valid messages must not appear.
    let valid_count = valid.len();
    let expected_reason: BTreeMap<&str, &str> = ids
        .iter()
        .zip(&all)
        .filter_map(|(id, body)| {
            invalid
                .iter()
                .find(|(_, b)| b == body)
                .map(|(reason, _)| (id.as_str(), *reason))
        })
        .collect();
    assert_eq!(expected_reason.len() + valid_count, all.len());
    let body_of: BTreeMap<&str, &str> = ids
        .iter()
        .map(String::as_str)
        .zip(all.iter().map(String::as_str))
        .collect();
    let got: BTreeMap<String, String> = rejected(&stack)
        .await
        .into_iter()
        .map(|r| {
            let message_id = r["message_id"].as_str().unwrap().to_owned();
            assert_eq!(
                r["original_body"].as_str(),
                body_of.get(message_id.as_str()).copied(),
                "original body unchanged"
            );
            assert!(
                r["source_queue"]
                    .as_str()
                    .unwrap()
                    .ends_with("-cart-events")
            );
            assert!(!r["detail"].as_str().unwrap().is_empty());
            assert!(
                chrono::DateTime::parse_from_rfc3339(r["rejected_at"].as_str().unwrap()).is_ok()
            );
            (message_id, r["reason_code"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: BTreeMap<String, String> = expected_reason
        .iter()
        .map(|(id, reason)| ((*id).to_owned(), (*reason).to_owned()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![
            json!({"sku": "A", "quantity": 2}),
            json!({"sku": "B", "quantity": 1})
        ]
    );
    assert_eq!(
        stack.drain("cart-events-dlq").await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_map_rejects_channels_the_sender_may_not_claim() {
    let senders = json!({ MOTO_SENDER: ["web", "app"] }).to_string();
    let Some(mut stack) = stack("cart-senders", &[]).await else {
        return;
    };
    stack.authorize_senders(&senders);
    stack.start_runner(1).unwrap();
    let events = [
        event(
            "web-1",
            1_000,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "A", "quantity": 1}),
        ),
        event(
            "store-1",
            2_000,
            "c-1",
            "store",
            "cart.item_added",
            json!({"sku": "B", "quantity": 1}),
        ),
        event(
            "cc-1",
            3_000,
            "c-1",
            "call_center",
            "cart.cleared",
            json!({}),
        ),
    ];
    stack.send("cart-events", &bodies(&events)).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    let refused = rejected_reasons(&stack).await;
    assert_eq!(
        refused,
        vec![
            ("cc-1".to_owned(), "channel_not_permitted".to_owned()),
            ("store-1".to_owned(), "channel_not_permitted".to_owned())
        ]
    );
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![json!({"sku": "A", "quantity": 1})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_whose_response_was_lost_is_redelivered_and_applied_once() {
    let Some(mut stack) = stack("cart-lost", &[]).await else {
        return;
    };
    let fault = LoseWriteResponses::on("UpdateItem", "FLAKY-SKU", 1);
    stack
        .start_runner_with(&clients_with(&stack, fault.clone()), 1)
        .unwrap();
    let events = [
        event(
            "add-1",
            1_000,
            "c-1",
            "app",
            "cart.item_added",
            json!({"sku": "FLAKY-SKU", "quantity": 2}),
        ),
        event(
            "add-2",
            2_000,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "STEADY", "quantity": 1}),
        ),
    ];
    stack.send("cart-events", &bodies(&events)).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    assert_eq!(fault.fired(), 1, "the first write's response was discarded");
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![
            json!({"sku": "FLAKY-SKU", "quantity": 2}),
            json!({"sku": "STEADY", "quantity": 1})
        ],
        "the redelivery found its write already applied and did not add again"
    );
    assert_eq!(
        stack.drain("cart-events-dlq").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(rejected(&stack).await, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_customer_lose_no_update() {
    let Some(mut stack) = stack("cart-race", &[]).await else {
        return;
    };
    let counter = RequestCounter::default();
    let refusals = ConditionRefusals::default();
    let clients = omnisync::aws::Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
                .interceptor(counter.clone())
                .interceptor(refusals.clone())
                .build(),
        ),
        sqs: aws_sdk_sqs::Client::new(&stack.sdk),
        sdk: stack.sdk.clone(),
    };
    stack.start_runner_with(&clients, 2).unwrap();
    let _second_fleet = stack.extra_runner(&clients, 2).unwrap();

    // Forty single adds to one line and ten to another, all for one customer.
    let events: Vec<Value> = (0..50)
        .map(|i| {
            let sku = if i % 5 == 0 { "B" } else { "A" };
            event(
                &format!("race-{i:03}"),
                1_000 + i,
                "c-1",
                CHANNELS[i as usize % 4],
                "cart.item_added",
                json!({"sku": sku, "quantity": 1}),
            )
        })
        .collect();
    stack.send("cart-events", &bodies(&events)).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![
            json!({"sku": "A", "quantity": 40}),
            json!({"sku": "B", "quantity": 10})
        ]
    );
    let requests = counter.snapshot();
    eprintln!("DynamoDB requests under contention for 50 events: {requests:?}");
    // Adds never contend: each is an attribute of its own, written on condition that it is
    // absent, so no write failed its condition and none needed a read or a retry.
    assert_eq!(refusals.get(), 0, "writes refused: {requests:?}");
    assert_eq!(counter.get("GetItem"), 0, "{requests:?}");
    assert!(counter.get("UpdateItem") <= 50, "{requests:?}");
}

/// The ops of one write of which some are stored already (an earlier delivery of part of the
/// batch applied them): the write's condition fails, the item returned with the failure says
/// which ops are new, and only those are written. A reset older than the stored add is one of
/// the new ops: it goes in under the add, which still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_whose_ops_are_partly_stored_adds_only_the_new_ones_without_a_read() {
    let Some(stack) = stack("cart-overlap", &[]).await else {
        return;
    };
    let counter = RequestCounter::default();
    let refusals = ConditionRefusals::default();
    let table = Table::new(
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
                .interceptor(counter.clone())
                .interceptor(refusals.clone())
                .build(),
        ),
        stack.table().unwrap(),
    );
    let mut stored = LineState::default();
    stored.apply(EventKey::new(2_000, "add-1"), LineOp::Add(2));
    let first = table.merge_cart_line("c-1", "A", &stored).await.unwrap();
    assert_eq!(first.added, stored);

    let mut batch = stored.clone();
    batch.apply(EventKey::new(1_000, "set-0"), LineOp::Set(1));
    batch.apply(EventKey::new(3_000, "add-2"), LineOp::Add(3));
    let second = table.merge_cart_line("c-1", "A", &batch).await.unwrap();
    let mut new_ops = LineState::default();
    new_ops.apply(EventKey::new(1_000, "set-0"), LineOp::Set(1));
    new_ops.apply(EventKey::new(3_000, "add-2"), LineOp::Add(3));
    assert_eq!(second.added, new_ops, "only the ops not stored were added");

    let again = table.merge_cart_line("c-1", "A", &batch).await.unwrap();
    assert!(again.added.is_empty(), "a repeat adds nothing: {again:?}");
    // The first write, the refused one and the rest; then the repeat, refused.
    assert_eq!(
        counter.snapshot(),
        BTreeMap::from([("UpdateItem".to_owned(), 4)])
    );
    assert_eq!(
        refusals.get(),
        2,
        "the second write's first try and the repeat"
    );
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![json!({"sku": "A", "quantity": 6})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_applied_cart_event_costs_one_conditional_write_its_timeline_entry_and_no_read() {
    let Some(mut stack) = stack("cart-cost", &[]).await else {
        return;
    };
    let counter = RequestCounter::default();
    stack
        .start_runner_for(
            &clients_with(&stack, counter.clone()),
            1,
            &["CartSyncFunction"],
        )
        .unwrap();
    // Distinct customers, so no two events share an item.
    let events: Vec<Value> = (0..20)
        .map(|i| {
            let (event_type, payload) = match i % 4 {
                0 => ("cart.item_added", json!({"sku": "A", "quantity": 1})),
                1 => ("cart.item_quantity_set", json!({"sku": "A", "quantity": 3})),
                2 => ("cart.item_removed", json!({"sku": "A"})),
                _ => ("cart.cleared", json!({})),
            };
            event(
                &format!("cost-{i}"),
                1_000 + i,
                &format!("c-{i}"),
                "web",
                event_type,
                payload,
            )
        })
        .collect();
    stack.send("cart-events", &bodies(&events)).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    // And, per customer and batch, the timeline entry (the batch layer's write).
    assert_eq!(
        counter.snapshot(),
        BTreeMap::from([
            ("UpdateItem".to_owned(), 20),
            ("UpdateItem timeline".to_owned(), 20)
        ])
    );

    // A redelivery is one write whose condition fails: no read, nothing written.
    stack.send("cart-events", &bodies(&events)).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    // (The timeline entry is written again: the same value.)
    assert_eq!(
        counter.snapshot(),
        BTreeMap::from([
            ("UpdateItem".to_owned(), 40),
            ("UpdateItem timeline".to_owned(), 40)
        ])
    );
    assert_eq!(
        stored_cart(&stack, "c-0").await,
        vec![json!({"sku": "A", "quantity": 1})]
    );
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![json!({"sku": "A", "quantity": 3})]
    );
}

/// The events of one batch that touch one line cost one write together; a batch's rejections
/// go out in one `SendMessageBatch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_s_events_on_one_line_cost_one_write_and_its_rejections_one_send() {
    let Some(stack) = stack("cart-coalesce", &[]).await else {
        return;
    };
    let (dynamodb, sqs) = (RequestCounter::default(), RequestCounter::default());
    let clients = omnisync::aws::Clients {
        dynamodb: clients_with(&stack, dynamodb.clone()).dynamodb,
        sqs: crate::support::clients_with_sqs(&stack, sqs.clone()).sqs,
        sdk: stack.sdk.clone(),
    };
    let add = |id: &str, at: i64, sku: &str, quantity: u32| {
        event(
            id,
            at,
            "c-1",
            "app",
            "cart.item_added",
            json!({"sku": sku, "quantity": quantity}),
        )
    };
    let invoke = |bodies: Vec<String>| {
        let clients = clients.clone();
        let stack = &stack;
        async move {
            crate::support::invoke_batch_with(
                stack,
                &clients,
                "CartSyncFunction",
                "cart-events",
                &bodies,
            )
            .await
        }
    };

    // Ten events on ten lines: ten writes (1.0 an event).
    let ten_lines: Vec<Value> = (0..10)
        .map(|i| add(&format!("ten-{i}"), 1_000 + i, &format!("L{i}"), 1))
        .collect();
    assert!(
        invoke(bodies(&ten_lines))
            .await
            .batch_item_failures
            .is_empty()
    );
    // And one timeline write for the batch's one customer.
    assert_eq!(
        dynamodb.snapshot(),
        BTreeMap::from([
            ("UpdateItem".to_owned(), 10),
            ("UpdateItem timeline".to_owned(), 1)
        ])
    );

    // Ten events on three lines, a set and a remove among them: three writes (0.3 an event).
    let before = dynamodb.snapshot();
    let mut three_lines: Vec<Value> = (0..8)
        .map(|i| {
            let sku = ["A", "B", "C"][i as usize % 3];
            add(&format!("three-{i}"), 2_000 + i, sku, 2)
        })
        .collect();
    three_lines.push(event(
        "set-a",
        2_100,
        "c-1",
        "web",
        "cart.item_quantity_set",
        json!({"sku": "A", "quantity": 5}),
    ));
    three_lines.push(event(
        "remove-b",
        1_900,
        "c-1",
        "store",
        "cart.item_removed",
        json!({"sku": "B"}),
    ));
    assert!(
        invoke(bodies(&three_lines))
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(
        dynamodb.since(&before),
        BTreeMap::from([
            ("UpdateItem".to_owned(), 3),
            ("UpdateItem timeline".to_owned(), 1)
        ])
    );
    let everything: Vec<Value> = ten_lines.iter().chain(&three_lines).cloned().collect();
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        reference_cart(&everything, "c-1")
    );

    // The same batch again: each line's write fails its condition, the line (returned with the
    // failure, or read once) holds every op, and nothing more is written.
    let before = dynamodb.snapshot();
    assert!(
        invoke(bodies(&three_lines))
            .await
            .batch_item_failures
            .is_empty()
    );
    let again = dynamodb.since(&before);
    eprintln!("a redelivered batch on three lines: {again:?}");
    assert_eq!(again.get("UpdateItem"), Some(&3), "{again:?}");
    assert!(again.get("GetItem").copied().unwrap_or(0) <= 3, "{again:?}");
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        reference_cart(&everything, "c-1")
    );

    // Three bad bodies among seven good ones: one send for the three rejections.
    let before = sqs.snapshot();
    let mut mixed = bodies(
        &(0..7)
            .map(|i| add(&format!("mixed-{i}"), 3_000 + i, "A", 1))
            .collect::<Vec<_>>(),
    );
    mixed.extend(["not json", "{}", r#"{"event_id":"x"}"#].map(str::to_owned));
    assert!(invoke(mixed).await.batch_item_failures.is_empty());
    assert_eq!(
        sqs.since(&before),
        BTreeMap::from([("SendMessageBatch".to_owned(), 1)])
    );
    assert_eq!(rejected(&stack).await.len(), 3);
}

/// The samples in events/cart-sync are what `sam local invoke -e` or `cargo lambda invoke
/// --data-file` would send; run each through the real handler against the local stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_trigger_events_do_what_their_names_say() {
    let Some(stack) = stack("cart-samples", &[]).await else {
        return;
    };
    let response = invoke_sample(&stack, "CartSyncFunction", "cart-sync/sqs-valid.json").await;
    assert!(response.batch_item_failures.is_empty());
    let cart = stored_cart(&stack, "c-ava").await;
    assert_eq!(
        cart,
        vec![
            json!({"sku": "SNK-AIR-42", "quantity": 2}),
            json!({"sku": "SOCK-3PK", "quantity": 1})
        ]
    );

    let response = invoke_sample(&stack, "CartSyncFunction", "cart-sync/sqs-duplicate.json").await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        stored_cart(&stack, "c-ava").await,
        cart,
        "redelivered events change nothing"
    );

    let response = invoke_sample(&stack, "CartSyncFunction", "cart-sync/sqs-invalid.json").await;
    assert!(
        response.batch_item_failures.is_empty(),
        "rejections are handled, not retried"
    );
    let rejections = rejected(&stack).await;
    assert_eq!(rejections.len(), sample_len("cart-sync/sqs-invalid.json"));
    let clock_ahead = rejections
        .iter()
        .find(|r| r["event_id"] == "ev-clock-ahead")
        .expect("the event dated an hour after it was sent is rejected");
    assert_eq!(clock_ahead["reason_code"], "invalid_field");
    assert_eq!(stored_cart(&stack, "c-ava").await, cart);
}

/// A line already at its bound of adds (the state a long run of adds leaves), then more adds, a
/// set and more adds through the queue: the line is compacted instead of growing towards
/// DynamoDB's 400 KB item limit, and the cart is the contract's fold over every op.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_line_at_its_bound_of_adds_is_compacted_and_still_folds_as_the_contract_says() {
    let Some(mut stack) = stack("cart-compaction", &[]).await else {
        return;
    };
    const SEEDED: usize = omnisync::domain::cart::MAX_LINE_DELTAS;
    let seeded: Vec<Value> = (0..SEEDED)
        .map(|i| {
            event(
                &format!("seed-{i:05}"),
                1_000 + i as i64,
                "c-1",
                "web",
                "cart.item_added",
                json!({"sku": "A", "quantity": 1 + i % 2}),
            )
        })
        .collect();
    // The line as cart-sync stores it: one attribute per add (see `omnisync::store::items`).
    let mut item = serde_json::Map::new();
    item.insert("pk".into(), json!("CUSTOMER#c-1"));
    item.insert("sk".into(), json!("CART#LINE#A"));
    for e in &seeded {
        let at = chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        let key = omnisync::contract::EventKey::new(at, e["event_id"].as_str().unwrap());
        item.insert(
            omnisync::store::items::delta_attribute(&key),
            e["payload"]["quantity"].clone(),
        );
    }
    crate::support::put_items(
        &stack,
        vec![serde_dynamo::to_item(Value::Object(item)).unwrap()],
    )
    .await;
    stack.start_runner(1).unwrap();

    let add = |i: i64, quantity: u32| {
        event(
            &format!("later-{i:05}"),
            10_000 + i,
            "c-1",
            "app",
            "cart.item_added",
            json!({"sku": "A", "quantity": quantity}),
        )
    };
    let mut sent: Vec<Value> = (0..30).map(|i| add(i, 1)).collect();
    sent.push(event(
        "set-1",
        20_000,
        "c-1",
        "store",
        "cart.item_quantity_set",
        json!({"sku": "A", "quantity": 7}),
    ));
    sent.extend((100..120).map(|i| add(i + 20_000, 2)));
    crate::support::send_all(&stack, &sent[..30]).await;
    let stored = stack
        .dynamodb()
        .get_item()
        .table_name(stack.table().unwrap())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("CUSTOMER#c-1".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CART#LINE#A".into()),
        )
        .send()
        .await
        .unwrap();
    let (line, attributes) =
        omnisync::store::items::line(&stored.item.unwrap_or_default()).unwrap();
    assert!(
        line.reset.is_some() && attributes.len() <= SEEDED,
        "compacted: a reset and {} delta attributes",
        attributes.len()
    );
    let everything: Vec<Value> = seeded.iter().chain(&sent[..30]).cloned().collect();
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        reference_cart(&everything, "c-1")
    );

    crate::support::send_all(&stack, &sent[30..]).await;
    let everything: Vec<Value> = seeded.iter().chain(&sent).cloned().collect();
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        reference_cart(&everything, "c-1")
    );
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![json!({"sku": "A", "quantity": 47})]
    );
    assert_eq!(rejected(&stack).await, Vec::<Value>::new());
    assert_eq!(stack.depth("cart-events-dlq").await.unwrap(), 0);
}

/// DynamoDB refusing a write as invalid (an item over 400 KB) fails the same way on every
/// delivery: the event is rejected with `too_large` at once, not retried into the DLQ, and the
/// other events of its batch are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_dynamodb_refuses_as_invalid_is_rejected_not_retried() {
    let Some(mut stack) = stack("cart-invalid-write", &[]).await else {
        return;
    };
    let refusal =
        crate::support::faults::AnswerWithError::item_too_large("UpdateItem", "CART#LINE#HUGE");
    stack
        .start_runner_with(&clients_with(&stack, refusal.clone()), 1)
        .unwrap();
    let events = vec![
        event(
            "ok-1",
            1_000,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "A", "quantity": 1}),
        ),
        event(
            "huge-1",
            1_100,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "HUGE", "quantity": 1}),
        ),
        event(
            "ok-2",
            1_200,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "B", "quantity": 1}),
        ),
    ];
    stack.send("cart-events", &bodies(&events)).await.unwrap();
    stack
        .wait_drained(&["cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(
        rejected_reasons(&stack).await,
        vec![("huge-1".to_owned(), "too_large".to_owned())]
    );
    assert_eq!(refusal.answered(), 1, "refused once, not retried");
    assert_eq!(stack.depth("cart-events-dlq").await.unwrap(), 0);
    assert_eq!(
        stored_cart(&stack, "c-1").await,
        vec![
            json!({"sku": "A", "quantity": 1}),
            json!({"sku": "B", "quantity": 1})
        ]
    );
}
