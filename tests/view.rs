//! End to end for the customer view: the fan-out from the state table's stream to every
//! channel-updates queue, against the operator's view of the same tables.

use crate::support::{customer, event, send_all, stack};
use aws_sdk_dynamodb::types::AttributeValue;
use omnisync::contract::{CustomerView, ViewChanged};
use omnisync::store::Table;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const CHANNEL_QUEUES: [&str; 4] = [
    "channel-updates-web",
    "channel-updates-app",
    "channel-updates-store",
    "channel-updates-call_center",
];

/// Everything the channels received, per channel, in arrival order; read until every customer's
/// newest message on every channel carries the customer's current version.
async fn channel_updates(
    stack: &xtask::local::LocalStack,
    customers: &[&str],
) -> BTreeMap<&'static str, Vec<ViewChanged>> {
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let mut received: BTreeMap<&'static str, Vec<ViewChanged>> = BTreeMap::new();
    // Generous: moto runs a transaction (the report records of a customer with orders) by
    // deep-copying the table, which with large orders takes seconds.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        for queue in CHANNEL_QUEUES {
            for body in stack.drain_views(queue).await.unwrap() {
                received
                    .entry(queue)
                    .or_default()
                    .push(serde_json::from_str(&body).expect("a view_changed message"));
            }
        }
        let mut caught_up = true;
        for customer_id in customers {
            let current = table.current_view(customer_id).await.unwrap().version;
            for queue in CHANNEL_QUEUES {
                let newest = received.get(queue).and_then(|m| {
                    m.iter()
                        .filter(|v| v.customer_id == *customer_id)
                        .map(|v| v.version)
                        .max()
                });
                caught_up &= current > 0 && newest == Some(current);
            }
        }
        if caught_up {
            return received;
        }
        assert!(Instant::now() < deadline, "the channels never caught up");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_channel_ends_on_the_view_the_operator_sees_and_versions_only_grow() {
    let Some(mut stack) = stack("view-mix", &[]).await else {
        return;
    };
    stack.start_runner(2).unwrap();
    let mut phase_one = vec![
        event(
            "c1-add-a",
            1_000,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "A", "quantity": 2}),
        ),
        event(
            "g1-add-b",
            1_100,
            "g-1",
            "app",
            "cart.item_added",
            json!({"sku": "B", "quantity": 1}),
        ),
        event(
            "c1-link",
            1_200,
            "c-1",
            "web",
            "identity.linked",
            json!({"anonymous_id": "g-1"}),
        ),
        event(
            "c1-wish-c",
            1_300,
            "c-1",
            "app",
            "wishlist.item_added",
            json!({"sku": "C", "preferred_size": "M"}),
        ),
        event(
            "c1-order",
            1_400,
            "c-1",
            "web",
            "order.placed",
            json!({"order_id": "o-1", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1000}]}),
        ),
        event(
            "c1-refund",
            1_500,
            "c-1",
            "store",
            "refund.requested",
            json!({"refund_id": "r-1", "order_id": "o-1", "lines": [{"sku": "A", "quantity": 1}]}),
        ),
        event(
            "c2-add",
            1_000,
            "c-2",
            "call_center",
            "cart.item_added",
            json!({"sku": "Z", "quantity": 3}),
        ),
        event("c2-clear", 1_600, "c-2", "store", "cart.cleared", json!({})),
        event(
            "c2-add-y",
            1_700,
            "c-2",
            "store",
            "cart.item_added",
            json!({"sku": "Y", "quantity": 1}),
        ),
    ];
    let copies: Vec<Value> = phase_one.iter().step_by(3).cloned().collect();
    phase_one.extend(copies);
    phase_one.shuffle(&mut rand::rng());
    send_all(&stack, &phase_one).await;
    // The ledger follows the stream: the order's 10 points are earned and reversed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while customer(&stack, "c-1").await.loyalty.entries.len() < 2 {
        assert!(Instant::now() < deadline, "the ledger never settled");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    send_all(
        &stack,
        &[event(
            "c1-redeem",
            2_000,
            "c-1",
            "app",
            "loyalty.points_redeemed",
            json!({"redemption_id": "x-1", "points": 5}),
        )],
    )
    .await;

    let customers = ["c-1", "c-2", "g-1"];
    let received = channel_updates(&stack, &customers).await;
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    for customer_id in customers {
        let operator = table.current_view(customer_id).await.unwrap();
        for queue in CHANNEL_QUEUES {
            let seen: Vec<&ViewChanged> = received[queue]
                .iter()
                .filter(|v| v.customer_id == customer_id)
                .collect();
            let versions: Vec<u64> = seen.iter().map(|v| v.version).collect();
            assert!(
                versions.windows(2).all(|w| w[0] < w[1]),
                "{queue} {customer_id}: versions {versions:?} only grow"
            );
            let newest: &CustomerView = &seen.last().expect("at least one update").view;
            assert_eq!(
                newest, &operator,
                "{queue} {customer_id}: the newest update is the operator's view"
            );
            assert!(
                seen.iter()
                    .all(|v| v.kind == "customer.view_changed" && v.version == v.view.version)
            );
        }
    }

    let c1 = serde_json::to_value(table.current_view("c-1").await.unwrap()).unwrap();
    assert_eq!(
        c1["cart"],
        json!([{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}])
    );
    assert_eq!(c1["wishlist"], json!([{"sku": "C", "preferred_size": "M"}]));
    assert_eq!(c1["loyalty"], json!({"balance": 0}));
    assert_eq!(
        c1["orders"],
        json!([{"order_id": "o-1", "channel": "web", "fulfillment": "ship", "status": "placed", "currency": "EUR",
                "total_minor": 1000, "refunded_minor": 1000,
                "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1000, "refunded_quantity": 1}],
                "attribution": {"first_touch": null, "last_touch": null}}])
    );
    assert_eq!(
        c1["refunds"],
        json!([{"refund_id": "r-1", "order_id": "o-1", "channel": "store", "status": "approved", "amount_minor": 1000, "reason_code": null}])
    );
    assert_eq!(
        c1["redemptions"],
        json!([{"redemption_id": "x-1", "points": 5, "status": "rejected"}])
    );
    let c2 = serde_json::to_value(table.current_view("c-2").await.unwrap()).unwrap();
    assert_eq!(c2["cart"], json!([{"sku": "Y", "quantity": 1}]));
    let g1 = serde_json::to_value(table.current_view("g-1").await.unwrap()).unwrap();
    assert_eq!(g1["cart"], json!([]), "a linked guest's own cart is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_requests_per_view_change() {
    let Some(mut stack) = stack("view-cost", &[]).await else {
        return;
    };
    let counter = crate::support::faults::RequestCounter::default();
    stack
        .start_runner_for(&stack.clients(), 1, &["CartSyncFunction"])
        .unwrap();
    let _fanout = stack
        .extra_runner_for(
            &crate::support::clients_with(&stack, counter.clone()),
            1,
            &["ViewFanoutFunction"],
        )
        .unwrap();
    send_all(
        &stack,
        &[event(
            "c-1",
            1_000,
            "c-1",
            "web",
            "cart.item_added",
            json!({"sku": "A", "quantity": 1}),
        )],
    )
    .await;
    let updates = channel_updates(&stack, &["c-1"]).await;
    // The cart line and the timeline entry are two stream records: one publication if they come
    // in one stream batch, two if not; each is one update per channel.
    let publications = updates["channel-updates-web"].len();
    assert!(
        (1..=2).contains(&publications),
        "{publications} publications"
    );
    assert!(
        updates.values().all(|u| u.len() == publications),
        "one update per channel and publication"
    );
    let used = counter.snapshot();
    eprintln!("{publications} publication(s): {used:?}");
    // Per publication: the version bump and the partition (a customer without orders has no
    // report records to read).
    assert_eq!(
        used,
        BTreeMap::from([
            ("Query".to_owned(), publications),
            ("UpdateItem".to_owned(), publications)
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_whose_guest_link_loses_to_an_earlier_one_is_published_without_the_guest() {
    let Some(mut stack) = stack("view-relink", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let link = |event_id: &str, at_ms: i64, customer_id: &str| {
        event(
            event_id,
            at_ms,
            customer_id,
            "web",
            "identity.linked",
            json!({"anonymous_id": "g-5"}),
        )
    };
    let guest_line = json!([{"sku": "G", "quantity": 1}]);
    // The later link arrives first: c-y shows the guest's cart on every channel.
    send_all(
        &stack,
        &[
            event(
                "g5-add",
                1_000,
                "g-5",
                "app",
                "cart.item_added",
                json!({"sku": "G", "quantity": 1}),
            ),
            link("link-late", 3_000, "c-y"),
        ],
    )
    .await;
    let updates = channel_updates(&stack, &["c-y"]).await;
    let newest_cart = |updates: &BTreeMap<&str, Vec<ViewChanged>>, queue: &str, id: &str| {
        let newest = updates[queue]
            .iter()
            .filter(|u| u.customer_id == id)
            .max_by_key(|u| u.version)
            .expect("an update")
            .view
            .clone();
        (serde_json::to_value(&newest.cart).unwrap(), newest)
    };
    assert_eq!(
        newest_cart(&updates, CHANNEL_QUEUES[0], "c-y").0,
        guest_line
    );

    // The earlier link wins when it arrives: the guest's ops move to c-x, and c-y's channels
    // get a new version without them.
    send_all(&stack, &[link("link-early", 2_000, "c-x")]).await;
    let updates = channel_updates(&stack, &["c-x", "c-y"]).await;
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    for queue in CHANNEL_QUEUES {
        let (y_cart, y_view) = newest_cart(&updates, queue, "c-y");
        assert_eq!(
            y_cart,
            json!([]),
            "{queue}: c-y no longer shows the guest's cart"
        );
        assert_eq!(y_view, table.current_view("c-y").await.unwrap(), "{queue}");
        assert_eq!(newest_cart(&updates, queue, "c-x").0, guest_line, "{queue}");
    }
}

/// A SKU of `length` characters, distinct for `(i, j)`.
fn long_sku(length: usize, i: usize, j: usize) -> String {
    let tag = format!("-{i:04}-{j:03}");
    format!("{}{tag}", "X".repeat(length - tag.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_with_sixty_large_orders_is_published_with_the_fifty_latest() {
    let Some(mut stack) = stack("view-history", &[]).await else {
        return;
    };
    stack
        .start_runner_for(
            &stack.clients(),
            2,
            &["OrderSyncFunction", "CartSyncFunction"],
        )
        .unwrap();
    // 60 orders of 100 lines with long SKUs: about 1.2 MB of orders, more than one SQS message.
    let orders: Vec<Value> = (0..60)
        .map(|i| {
            let lines: Vec<Value> = (0..100)
                .map(
                    |j| json!({"sku": long_sku(123, i, j), "quantity": 1, "unit_price_minor": 100}),
                )
                .collect();
            crate::support::placed(
                &format!("o-{i:02}"),
                "c-big",
                1_000 + i64::try_from(i).unwrap(),
                json!(lines),
            )
        })
        .collect();
    send_all(&stack, &orders).await;
    send_all(
        &stack,
        &[event(
            "big-add",
            9_000,
            "c-big",
            "app",
            "cart.item_added",
            json!({"sku": "A", "quantity": 1}),
        )],
    )
    .await;
    // The fan-out reads the whole stream now: the orders and the cart add in one or two batches.
    let _fanout = stack
        .extra_runner_for(&stack.clients(), 1, &["ViewFanoutFunction"])
        .unwrap();
    let updates = channel_updates(&stack, &["c-big"]).await;
    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let operator = table.current_view("c-big").await.unwrap();
    let latest: Vec<String> = (10..60).map(|i| format!("o-{i:02}")).collect();
    let shown: Vec<String> = operator.orders.iter().map(|o| o.order_id.clone()).collect();
    assert_eq!(shown, latest, "the 50 latest orders, sorted by id");
    assert_eq!(operator.counts.orders, 60);
    for queue in CHANNEL_QUEUES {
        let newest = updates[queue]
            .iter()
            .filter(|u| u.customer_id == "c-big")
            .max_by_key(|u| u.version)
            .expect("an update");
        assert_eq!(newest.view, operator, "{queue}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_view_larger_than_an_sqs_message_is_offloaded_and_reaches_every_channel() {
    let Some(stack) = stack("view-offload", &[]).await else {
        return;
    };
    // A cart of 7,500 SKUs of 120 characters: a view of about 1.1 MB. Its lines are written as
    // cart-sync stores them, 25 per request, so that the test does not wait for 7,500 events.
    let skus: Vec<String> = (0..7_500).map(|i| long_sku(120, i, 0)).collect();
    let lines = skus.iter().enumerate().map(|(n, sku)| {
        let add = omnisync::contract::EventKey::new(1_000, format!("add-{sku}-{n}"));
        [
            ("pk".to_owned(), AttributeValue::S("CUSTOMER#c-huge".into())),
            (
                "sk".to_owned(),
                AttributeValue::S(format!("CART#LINE#{sku}")),
            ),
            (
                omnisync::store::items::delta_attribute(&add),
                AttributeValue::N("1".into()),
            ),
        ]
        .into()
    });
    crate::support::put_items(&stack, lines.collect()).await;
    // One stream record of the customer, through the real view fan-out.
    let record = json!({"Records": [{
        "eventID": "e1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"ApproximateCreationDateTime": 1_763_657_120,
                     "Keys": {"pk": {"S": "CUSTOMER#c-huge"}, "sk": {"S": format!("CART#LINE#{}", skus[0])}},
                     "SequenceNumber": "100", "SizeBytes": 300, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
    }]});
    let spec = &stack.manifest.functions["ViewFanoutFunction"];
    let fanout = xtask::functions::build("ViewFanoutFunction", &stack.clients(), spec).unwrap();
    let response = fanout.invoke(record).await.unwrap();
    assert_eq!(response["batchItemFailures"], json!([]));

    let table = Table::new(stack.dynamodb(), stack.table().unwrap());
    let operator = table.current_view("c-huge").await.unwrap();
    assert_eq!(operator.cart.len(), 7_500);
    let inline = serde_json::to_string(&ViewChanged::new(operator.clone())).unwrap();
    assert!(
        inline.len() > view_fanout::MAX_INLINE_BYTES,
        "too large to go inline"
    );
    for queue in CHANNEL_QUEUES {
        let views = stack.drain_views(queue).await.unwrap();
        assert_eq!(views.len(), 1, "{queue}");
        let update: ViewChanged = serde_json::from_str(&views[0]).unwrap();
        assert_eq!(update.view, operator, "{queue}");
    }
}
