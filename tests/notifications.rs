//! End to end for back-in-stock notifications: restock detection per `(sku, size, store_id)`,
//! late and repeated reports, size matching, and exactly one notification per customer per
//! restock.

use crate::support::faults::{LoseWriteResponses, RefuseWrites, RequestCounter, counts};
use crate::support::{
    DRAIN_LIMIT, bodies, clients_with, clients_with_sqs, event, invoke_sample_with, stack,
};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn availability(
    event_id: &str,
    at_ms: i64,
    sku: &str,
    size: Option<&str>,
    store_id: Option<&str>,
    quantity: u32,
) -> Value {
    let mut body = event(
        event_id,
        at_ms,
        "ignored",
        "store",
        "inventory.availability_changed",
        json!({"sku": sku, "available_quantity": quantity}),
    );
    let object = body.as_object_mut().unwrap();
    object.remove("customer_id");
    if let Some(size) = size {
        body["payload"]["size"] = json!(size);
    }
    if let Some(store_id) = store_id {
        body["payload"]["store_id"] = json!(store_id);
    }
    body
}

fn wish(event_id: &str, customer_id: &str, sku: &str, size: Option<&str>) -> Value {
    event(
        event_id,
        1_000,
        customer_id,
        "app",
        "wishlist.item_added",
        json!({"sku": sku, "preferred_size": size}),
    )
}

/// `(customer_id, sku, size, store_id)` of a notification.
type Sent = (String, String, Option<String>, Option<String>);

/// Every notification sent since the last call, failing on a repeated id.
async fn notifications(stack: &xtask::local::LocalStack) -> BTreeSet<Sent> {
    distinct(stack.drain("notifications.fifo").await.unwrap())
}

/// What notification bodies say, failing on a repeated id.
fn distinct(bodies: Vec<String>) -> BTreeSet<Sent> {
    let mut ids = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for body in bodies {
        let n: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(n["type"], "wishlist.back_in_stock");
        assert!(
            ids.insert(n["notification_id"].as_str().unwrap().to_owned()),
            "a duplicate notification: {n}"
        );
        seen.insert((
            n["customer_id"].as_str().unwrap().to_owned(),
            n["sku"].as_str().unwrap().to_owned(),
            n["size"].as_str().map(str::to_owned),
            n["store_id"].as_str().map(str::to_owned),
        ));
    }
    seen
}

async fn send_inventory(stack: &xtask::local::LocalStack, events: &[Value]) {
    stack
        .send("inventory-events", &bodies(events))
        .await
        .unwrap();
    stack
        .wait_drained(&["inventory-events"], DRAIN_LIMIT)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restocks_notify_each_matching_wisher_once_including_late_and_repeated_reports() {
    let Some(mut stack) = stack("notify", &[]).await else {
        return;
    };
    stack.start_runner(2).unwrap();
    let wishes = [
        wish("w-1", "c-m", "SKU-X", Some("M")),
        wish("w-2", "c-any", "SKU-X", None),
        wish("w-3", "c-l", "SKU-X", Some("L")),
        wish("w-4", "c-y", "SKU-Y", None),
        wish("w-5", "g-1", "SKU-Z", None),
        event(
            "link-1",
            1_100,
            "c-linked",
            "web",
            "identity.linked",
            json!({"anonymous_id": "g-1"}),
        ),
    ];
    // Their stores (v1.1): c-m was touched in s-1, c-any picked up an order there, c-l's guest
    // asked in s-1 before signing in; c-far, who wishes for SKU-X too, only ever bought in s-2.
    let store_touch = |id: &str, at: i64, customer: &str, store: &str| {
        let mut touch = event(
            id,
            at,
            customer,
            "store",
            "engagement.touched",
            json!({"kind": "contact"}),
        );
        touch["store_id"] = json!(store);
        touch
    };
    let order = |id: &str, customer: &str, payload: Value| {
        let mut placed = event(id, 1_200, customer, "store", "order.placed", payload);
        placed["store_id"] = json!("s-2");
        placed
    };
    let relations = [
        ("engagement-events", store_touch("t-1", 1_000, "c-m", "s-1")),
        ("engagement-events", store_touch("t-2", 1_000, "g-2", "s-1")),
        (
            "identity-events",
            event(
                "link-2",
                1_100,
                "c-l",
                "web",
                "identity.linked",
                json!({"anonymous_id": "g-2"}),
            ),
        ),
        (
            "order-events",
            order(
                "p-1",
                "c-any",
                json!({"order_id": "o-any", "currency": "EUR", "fulfillment": "pickup",
                "pickup_store_id": "s-1", "lines": [{"sku": "SKU-Q", "quantity": 1, "unit_price_minor": 100}]}),
            ),
        ),
        (
            "order-events",
            order(
                "p-2",
                "c-far",
                json!({"order_id": "o-far", "currency": "EUR", "fulfillment": "in_store",
                "lines": [{"sku": "SKU-Q", "quantity": 1, "unit_price_minor": 100}]}),
            ),
        ),
    ];
    stack
        .send("wishlist-events", &bodies(&wishes[..5]))
        .await
        .unwrap();
    stack
        .send(
            "wishlist-events",
            &bodies(&[wish("w-6", "c-far", "SKU-X", Some("XL"))]),
        )
        .await
        .unwrap();
    stack
        .send("identity-events", &bodies(&wishes[5..]))
        .await
        .unwrap();
    for (queue, body) in &relations {
        stack
            .send(queue, &bodies(std::slice::from_ref(body)))
            .await
            .unwrap();
    }
    stack
        .wait_drained(
            &[
                "wishlist-events",
                "identity-events",
                "engagement-events",
                "order-events",
            ],
            DRAIN_LIMIT,
        )
        .await
        .unwrap();

    // 1. (SKU-X, M, online): 0 then 5, the restock delivered three times.
    let zero = availability("inv-1", 10_000, "SKU-X", Some("M"), None, 0);
    let five = availability("inv-2", 11_000, "SKU-X", Some("M"), None, 5);
    send_inventory(&stack, &[zero, five.clone()]).await;
    send_inventory(&stack, &[five.clone(), five]).await;
    let expected: BTreeSet<Sent> = [
        (
            "c-m".to_owned(),
            "SKU-X".to_owned(),
            Some("M".to_owned()),
            None,
        ),
        (
            "c-any".to_owned(),
            "SKU-X".to_owned(),
            Some("M".to_owned()),
            None,
        ),
    ]
    .into();
    assert_eq!(
        notifications(&stack).await,
        expected,
        "sizes match when equal or absent; one each"
    );

    // 2. (SKU-X, no size, store s-1): a first report of 3, then a late 0 before it: the 3 becomes a
    //    restock and every wisher of SKU-X for whom s-1 is one of their stores hears of it (no
    //    size on the stock side matches all); c-far, whose store is s-2, does not.
    send_inventory(
        &stack,
        &[availability("inv-3", 20_000, "SKU-X", None, Some("s-1"), 3)],
    )
    .await;
    assert_eq!(
        notifications(&stack).await,
        BTreeSet::new(),
        "a first report is no restock"
    );
    send_inventory(
        &stack,
        &[availability("inv-4", 19_000, "SKU-X", None, Some("s-1"), 0)],
    )
    .await;
    let everyone: BTreeSet<Sent> = ["c-m", "c-any", "c-l"]
        .iter()
        .map(|c| {
            (
                (*c).to_owned(),
                "SKU-X".to_owned(),
                None,
                Some("s-1".to_owned()),
            )
        })
        .collect();
    assert_eq!(notifications(&stack).await, everyone);

    // 3. (SKU-Z, online): 0 then 5 notifies the guest's customer; a late 7 between them makes itself
    //    the restock (a new notification) and the sent one stays sent, never repeated.
    send_inventory(
        &stack,
        &[
            availability("inv-5", 30_000, "SKU-Z", None, None, 0),
            availability("inv-6", 32_000, "SKU-Z", None, None, 5),
        ],
    )
    .await;
    let linked: BTreeSet<Sent> = [("c-linked".to_owned(), "SKU-Z".to_owned(), None, None)].into();
    assert_eq!(
        notifications(&stack).await,
        linked,
        "a guest's wish belongs to its customer"
    );
    send_inventory(
        &stack,
        &[availability("inv-7", 31_000, "SKU-Z", None, None, 7)],
    )
    .await;
    assert_eq!(
        notifications(&stack).await,
        linked,
        "the late 7 is a restock of its own"
    );
    send_inventory(
        &stack,
        &[availability("inv-6", 32_000, "SKU-Z", None, None, 5)],
    )
    .await;
    assert_eq!(
        notifications(&stack).await,
        BTreeSet::new(),
        "nothing is sent twice"
    );
}

/// The samples in events/availability-notifier and events/view-fanout, through the real handlers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_trigger_events_do_what_their_names_say() {
    let Some(mut stack) = stack("notify-samples", &[]).await else {
        return;
    };
    stack
        .start_runner_for(
            &stack.clients(),
            1,
            &["WishlistSyncFunction", "CartSyncFunction"],
        )
        .unwrap();
    stack
        .send(
            "wishlist-events",
            &bodies(&[
                wish("w-1", "c-dan", "JKT-RAIN", Some("M")),
                wish("w-2", "c-ava", "JKT-RAIN", Some("S")),
            ]),
        )
        .await
        .unwrap();
    stack
        .send(
            "cart-events",
            &bodies(&[event(
                "c-1",
                1_000,
                "c-ava",
                "app",
                "cart.item_added",
                json!({"sku": "SNK-AIR-42", "quantity": 2}),
            )]),
        )
        .await
        .unwrap();
    stack
        .wait_drained(&["wishlist-events", "cart-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    stack.stop_runner();

    let notifier = "AvailabilityNotifierFunction";
    for sample in [
        "availability-notifier/sqs-valid.json",
        "availability-notifier/sqs-restock.json",
        "availability-notifier/sqs-duplicate.json",
    ] {
        assert!(
            crate::support::invoke_sample(&stack, notifier, sample)
                .await
                .batch_item_failures
                .is_empty(),
            "{sample}"
        );
    }
    let sent: BTreeSet<Sent> = [(
        "c-dan".to_owned(),
        "JKT-RAIN".to_owned(),
        Some("M".to_owned()),
        None,
    )]
    .into();
    assert_eq!(
        notifications(&stack).await,
        sent,
        "the M restock reaches the M wisher once, not the S one"
    );
    let invalid = "availability-notifier/sqs-invalid.json";
    assert!(
        crate::support::invoke_sample(&stack, notifier, invalid)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(
        crate::support::rejected(&stack).await.len(),
        crate::support::sample_len(invalid)
    );

    let response = crate::support::invoke_sample_json(
        &stack,
        "ViewFanoutFunction",
        "view-fanout/dynamodb-stream.json",
    )
    .await;
    assert_eq!(response["batchItemFailures"], json!([]));
    for queue in [
        "channel-updates-web",
        "channel-updates-app",
        "channel-updates-store",
        "channel-updates-call_center",
    ] {
        let updates = stack.drain(queue).await.unwrap();
        assert_eq!(updates.len(), 1, "{queue}");
        let update: Value = serde_json::from_str(&updates[0]).unwrap();
        assert_eq!(
            (update["customer_id"].as_str(), update["version"].as_u64()),
            (Some("c-ava"), Some(1))
        );
        assert_eq!(
            update["view"]["cart"],
            json!([{"sku": "SNK-AIR-42", "quantity": 2}])
        );
    }
}

/// A wisher of `JKT-RAIN` in M (c-dan) and the report before the restock, with the runner
/// stopped: the restock sample is then invoked by hand, with whatever clients a test needs.
async fn before_the_restock(test: &str) -> Option<xtask::local::LocalStack> {
    before_the_restock_of(test, &["c-dan"]).await
}

/// Like [`before_the_restock`], with these wishers of `JKT-RAIN` in M.
async fn before_the_restock_of(test: &str, wishers: &[&str]) -> Option<xtask::local::LocalStack> {
    let mut stack = stack(test, &[]).await?;
    stack
        .start_runner_for(&stack.clients(), 1, &["WishlistSyncFunction"])
        .unwrap();
    let wishes: Vec<Value> = wishers
        .iter()
        .enumerate()
        .map(|(n, id)| wish(&format!("w-{n}"), id, "JKT-RAIN", Some("M")))
        .collect();
    stack
        .send("wishlist-events", &bodies(&wishes))
        .await
        .unwrap();
    stack
        .wait_drained(&["wishlist-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    stack.stop_runner();
    let response =
        crate::support::invoke_sample(&stack, NOTIFIER, "availability-notifier/sqs-valid.json")
            .await;
    assert!(response.batch_item_failures.is_empty());
    Some(stack)
}

const NOTIFIER: &str = "AvailabilityNotifierFunction";
const RESTOCK: &str = "availability-notifier/sqs-restock.json";

fn dan_notified() -> BTreeSet<Sent> {
    [(
        "c-dan".to_owned(),
        "JKT-RAIN".to_owned(),
        Some("M".to_owned()),
        None,
    )]
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_send_whose_response_is_lost_is_retried_and_the_queue_holds_one_notification() {
    let Some(stack) = before_the_restock("notify-lost").await else {
        return;
    };
    let lost = LoseWriteResponses::on("SendMessageBatch", "JKT-RAIN", 1);
    let clients = clients_with_sqs(&stack, lost.clone());
    // The first delivery's send reaches the queue but its response is lost; whether the SDK or
    // SQS (a batch item failure, then a redelivery) retries it, the retry sends the same message.
    invoke_sample_with(&stack, &clients, NOTIFIER, RESTOCK).await;
    let redelivered = invoke_sample_with(&stack, &clients, NOTIFIER, RESTOCK).await;
    assert!(redelivered.batch_item_failures.is_empty());
    assert_eq!(lost.fired(), 1, "the fault was injected");
    assert_eq!(notifications(&stack).await, dan_notified());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notifier_that_dies_after_sending_and_before_recording_sends_one_notification_in_all() {
    let Some(stack) = before_the_restock("notify-crash").await else {
        return;
    };
    // Marking sent always fails: the invocation "dies" after its send, twice (the delivery and
    // a redelivery within the window, which sends again: SQS drops the copy).
    let refuse_mark = RefuseWrites::new("UpdateItem", r#"{"S":"sent"}"#);
    let crashing = clients_with(&stack, refuse_mark.clone());
    for delivery in ["first", "within the window"] {
        let response = invoke_sample_with(&stack, &crashing, NOTIFIER, RESTOCK).await;
        assert_eq!(response.batch_item_failures.len(), 1, "{delivery}");
    }
    assert_eq!(refuse_mark.refused(), 2);

    // A redelivery after the window: the claim is older than the resend horizon, so nothing is
    // sent (a copy now would reach the customer).
    let claimed_long_ago = chrono::Utc::now().timestamp_millis()
        - omnisync::store::FIFO_DEDUPLICATION_WINDOW_MS
        - 60_000;
    stack
        .dynamodb()
        .update_item()
        .table_name(stack.table().unwrap())
        .key("pk", AttributeValue::S("NOTIFIED#inv-jkt-002".into()))
        .key("sk", AttributeValue::S("CUSTOMER#c-dan".into()))
        .update_expression("SET claimed_at_ms = :t")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":t", AttributeValue::N(claimed_long_ago.to_string()))
        .send()
        .await
        .unwrap();
    let counter = RequestCounter::default();
    let late = invoke_sample_with(
        &stack,
        &clients_with_sqs(&stack, counter.clone()),
        NOTIFIER,
        RESTOCK,
    )
    .await;
    assert!(late.batch_item_failures.is_empty());
    assert_eq!(
        counter.get("SendMessage"),
        0,
        "nothing sent after the window"
    );

    assert_eq!(notifications(&stack).await, dan_notified(), "one in all");
}

/// Three wishers of the jacket; one delivery of the restock fails on c-b's wishlist, the next
/// on c-a's. The second delivery gets through, because it resumes after what the first one
/// decided (c-a) instead of looking at the whole page again: a store that fails one request in
/// twenty can no longer keep a restock with many wishers from ever being decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restock_keeps_the_audience_a_failed_delivery_decided_and_resumes_after_it() {
    let Some(stack) = before_the_restock_of("notify-resume", &["c-a", "c-b", "c-c"]).await else {
        return;
    };

    // Every read of one wisher's partition fails: c-b's on the first delivery, c-a's on the
    // next (the index cursor, which names c-a's item too, goes through).
    let refuse_reads_of =
        |wisher: &str| RefuseWrites::new("Query", &format!(r#"":pk":{{"S":"CUSTOMER#{wisher}"}}"#));
    let b_fails = refuse_reads_of("c-b");
    let first = invoke_sample_with(
        &stack,
        &clients_with(&stack, b_fails.clone()),
        NOTIFIER,
        RESTOCK,
    )
    .await;
    assert!(b_fails.refused() > 0, "the fault was injected");
    assert_eq!(
        first.batch_item_failures.len(),
        1,
        "the first delivery fails"
    );

    let a_fails = refuse_reads_of("c-a");
    let second = invoke_sample_with(
        &stack,
        &clients_with(&stack, a_fails.clone()),
        NOTIFIER,
        RESTOCK,
    )
    .await;
    assert_eq!(
        a_fails.refused(),
        0,
        "the second delivery does not look at c-a again"
    );
    assert!(
        second.batch_item_failures.is_empty(),
        "the second delivery gets through"
    );

    let everyone: BTreeSet<Sent> = ["c-a", "c-b", "c-c"]
        .iter()
        .map(|id| {
            (
                (*id).to_owned(),
                "JKT-RAIN".to_owned(),
                Some("M".to_owned()),
                None,
            )
        })
        .collect();
    assert_eq!(notifications(&stack).await, everyone, "each wisher once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_per_restock_and_notification() {
    let Some(stack) = before_the_restock("notify-cost").await else {
        return;
    };
    let (dynamodb, sqs) = (RequestCounter::default(), RequestCounter::default());
    let clients = omnisync::aws::Clients {
        dynamodb: clients_with(&stack, dynamodb.clone()).dynamodb,
        sqs: clients_with_sqs(&stack, sqs.clone()).sqs,
        sdk: stack.sdk.clone(),
    };
    let response = invoke_sample_with(&stack, &clients, NOTIFIER, RESTOCK).await;
    assert!(response.batch_item_failures.is_empty());
    eprintln!(
        "one restock, one wisher: DynamoDB {:?}, SQS {:?}",
        dynamodb.snapshot(),
        sqs.snapshot()
    );
    // The report (1 PutItem, 2 one-item Query for its neighbours); the audience: its progress
    // (1 GetItem, then 1 PutItem to move it on and 1 GetItem to find it decided), 1 index Query,
    // 1 Query of the wisher's partition and 1 PutItem (the member); the notification: the
    // members (1 Query), its claim (1 PutItem), the send (1 SendMessageBatch, for up to ten) and
    // the mark (1 UpdateItem); and the report it supersedes set to expire (1 UpdateItem).
    assert_eq!(
        dynamodb.snapshot(),
        counts(&[
            ("GetItem", 2),
            ("PutItem", 4),
            ("Query", 5),
            ("UpdateItem", 2)
        ])
    );
    assert_eq!(sqs.snapshot(), counts(&[("SendMessageBatch", 1)]));
    assert_eq!(notifications(&stack).await, dan_notified());

    // The restock's bookkeeping expires (TTL) 30 days on.
    let in_30_days =
        chrono::Utc::now().timestamp() + omnisync::store::NOTIFICATION_RETENTION_SECONDS;
    for sk in ["AUDIENCE", "CUSTOMER#c-dan"] {
        let item = stack
            .dynamodb()
            .get_item()
            .table_name(stack.table().unwrap())
            .key("pk", AttributeValue::S("NOTIFIED#inv-jkt-002".into()))
            .key("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap()
            .item
            .expect("the bookkeeping item");
        let Some(AttributeValue::N(expires_at)) = item.get("expires_at") else {
            panic!("{sk} has no expires_at");
        };
        let expires_at: i64 = expires_at.parse().unwrap();
        assert!(
            (in_30_days - 120..=in_30_days).contains(&expires_at),
            "{sk}: {expires_at}"
        );
    }

    // The timeline keeps its latest report for good; the one the restock superseded expires.
    let reports = stack
        .dynamodb()
        .scan()
        .table_name(stack.table().unwrap())
        .filter_expression("begins_with(pk, :stock)")
        .expression_attribute_values(":stock", AttributeValue::S("STOCK#".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let mut expiring: Vec<(String, bool)> = reports
        .iter()
        .map(|item| {
            let Some(AttributeValue::S(sk)) = item.get("sk") else {
                panic!("a report without sk");
            };
            (sk.clone(), item.contains_key("expires_at"))
        })
        .collect();
    expiring.sort();
    assert_eq!(expiring.len(), 2, "{expiring:?}");
    assert_eq!(
        expiring.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        [true, false],
        "the earlier report expires, the latest stays: {expiring:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_thousand_wishers_are_each_notified_once_under_an_enforced_timeout() {
    // Each invocation must answer within 10 s; the restock takes several, resuming each time.
    // How many depends on how busy moto is (the suite's other tests share its one lock, and
    // their transactions deep-copy tables under it): up to 100 deliveries are allowed.
    let Some(mut stack) = stack(
        "notify-3k",
        &[
            ("FunctionTimeout", "10"),
            ("LocalVisibilityTimeout", "12"),
            ("MaxReceiveCount", "100"),
        ],
    )
    .await
    else {
        return;
    };
    // 3,000 wishers, written as wishlist-sync stores them (25 per request); every tenth wants
    // another size.
    let wishers: Vec<(String, Option<&str>)> = (0..3_000)
        .map(|i| {
            (
                format!("w-{i:04}"),
                if i % 10 == 0 { Some("L") } else { None },
            )
        })
        .collect();
    let items = wishers.iter().map(|(id, size)| {
        let mut item: std::collections::HashMap<String, AttributeValue> = [
            ("pk", AttributeValue::S(format!("CUSTOMER#{id}"))),
            ("sk", AttributeValue::S("WISH#SKU-3K".into())),
            ("rev", AttributeValue::N("1".into())),
            ("t", AttributeValue::N("1000".into())),
            ("e", AttributeValue::S(format!("wish-{id}"))),
            ("added", AttributeValue::Bool(true)),
            ("gsi1pk", AttributeValue::S("WISHSKU#SKU-3K".into())),
            ("gsi1sk", AttributeValue::S(format!("CUSTOMER#{id}"))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(size) = size {
            item.insert("size".into(), AttributeValue::S((*size).into()));
        }
        item
    });
    crate::support::put_items(&stack, items.collect()).await;
    stack
        .start_runner_for(&stack.clients(), 1, &["WishlistSyncFunction"])
        .unwrap();
    stack
        .send(
            "wishlist-events",
            &bodies(&[wish("w-solo", "c-solo", "SKU-SOLO", None)]),
        )
        .await
        .unwrap();
    stack
        .wait_drained(&["wishlist-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    stack
        .start_runner_for(&stack.clients(), 1, &["AvailabilityNotifierFunction"])
        .unwrap();
    send_inventory(
        &stack,
        &[
            availability("sold-out", 1_000, "SKU-3K", Some("M"), None, 0),
            availability("solo-out", 1_000, "SKU-SOLO", None, None, 0),
        ],
    )
    .await;
    // The big restock and an innocent one in the same batch.
    stack
        .send(
            "inventory-events",
            &bodies(&[
                availability("back", 2_000, "SKU-3K", Some("M"), None, 5),
                availability("solo-back", 2_000, "SKU-SOLO", None, None, 1),
            ]),
        )
        .await
        .unwrap();
    // The messaging service consumes notifications while they are sent, as it would.
    let done = std::sync::atomic::AtomicBool::new(false);
    let received = std::sync::Mutex::new(Vec::<String>::new());
    let consume = async {
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let bodies = stack.drain("notifications.fifo").await.unwrap();
            received.lock().unwrap().extend(bodies);
            if finished {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    };
    let wait = async {
        let limit = std::time::Duration::from_secs(1_200);
        stack
            .wait_drained(&["inventory-events"], limit)
            .await
            .unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    tokio::join!(consume, wait);
    assert_eq!(
        stack.drain("inventory-events-dlq").await.unwrap(),
        Vec::<String>::new()
    );
    let sent = distinct(received.into_inner().unwrap());
    let expected: BTreeSet<Sent> = wishers
        .iter()
        .filter(|(_, size)| size.is_none())
        .map(|(id, _)| (id.clone(), "SKU-3K".to_owned(), Some("M".to_owned()), None))
        .chain(std::iter::once((
            "c-solo".to_owned(),
            "SKU-SOLO".to_owned(),
            None,
            None,
        )))
        .collect();
    assert_eq!(sent.len(), 2_701);
    assert_eq!(
        sent, expected,
        "every matching wisher once, and the innocent restock"
    );
}
