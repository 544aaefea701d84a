//! End to end for back-in-stock notifications: restock detection per `(sku, size, store_id)`,
//! late and repeated reports, size matching, and exactly one notification per customer per
//! restock.

use crate::support::{DRAIN_LIMIT, bodies, event, stack};
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
    let mut ids = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for body in stack.drain("notifications").await.unwrap() {
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
    stack
        .send("wishlist-events", &bodies(&wishes[..5]))
        .await
        .unwrap();
    stack
        .send("identity-events", &bodies(&wishes[5..]))
        .await
        .unwrap();
    stack
        .wait_drained(&["wishlist-events", "identity-events"], DRAIN_LIMIT)
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
    //    restock and everyone wishing SKU-X hears of it (no size on the stock side matches all).
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
