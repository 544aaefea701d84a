//! End to end for the loyalty ledger: DynamoDB Streams from the state table and SQS
//! `loyalty-events`, through the local runner's stream reader, on the local endpoint.

use crate::support::faults::LoseWriteResponses;
use crate::support::{
    clients_with, customer, event, invoke_sample, invoke_sample_json, ledger_entries as entries,
    placed, rejected, sample_len, send_all, stack,
};
use omnisync::domain::customer::CustomerState;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Polls the customer until `done` holds (the stream is asynchronous), or fails after a minute.
async fn wait_for(
    stack: &xtask::local::LocalStack,
    customer_id: &str,
    done: impl Fn(&CustomerState) -> bool,
) -> CustomerState {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = customer(stack, customer_id).await;
        if done(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting; ledger is {:?}; refunds {:?}; orders {:?}",
            entries(&state),
            state
                .refunds
                .iter()
                .map(|r| (&r.refund_id, &r.status, r.points_reversed))
                .collect::<Vec<_>>(),
            state
                .orders
                .iter()
                .map(|o| (
                    &o.order_id,
                    o.status.cancelled.is_some(),
                    o.lines
                        .iter()
                        .map(|l| l.refunded_quantity)
                        .collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_balance_is_the_sum_of_the_ledger_after_a_shuffled_duplicated_mix() {
    let Some(mut stack) = stack("loyalty-mix", &[]).await else {
        return;
    };
    stack.start_runner(2).unwrap();
    let refund = |id: &str, order_id: &str, sku: &str, quantity: u32| {
        event(
            &format!("ev-{id}"),
            2_000,
            "c-1",
            "store",
            "refund.requested",
            json!({"refund_id": id, "order_id": order_id, "lines": [{"sku": sku, "quantity": quantity}]}),
        )
    };
    let mut mix = vec![
        placed(
            "o-1",
            "c-1",
            1_000,
            json!([{"sku": "A", "quantity": 2, "unit_price_minor": 6000}]),
        ),
        placed(
            "o-2",
            "c-1",
            1_000,
            json!([{"sku": "B", "quantity": 1, "unit_price_minor": 5050}]),
        ),
        placed(
            "o-3",
            "c-1",
            1_000,
            json!([{"sku": "C", "quantity": 3, "unit_price_minor": 333}]),
        ),
        refund("r-1", "o-1", "A", 1),
        refund("r-3", "o-3", "C", 1),
        refund("r-3b", "o-3", "C", 2),
        event(
            "cancel-o-2",
            3_000,
            "c-1",
            "call_center",
            "order.status_changed",
            json!({"order_id": "o-2", "status": "cancelled"}),
        ),
        event(
            "adj-1",
            4_000,
            "c-1",
            "call_center",
            "loyalty.points_adjusted",
            json!({"adjustment_id": "a-1", "points": 25, "reason": "goodwill"}),
        ),
    ];
    let copies: Vec<Value> = mix.iter().step_by(2).cloned().collect();
    mix.extend(copies);
    mix.shuffle(&mut rand::rng());
    send_all(&stack, &mix).await;

    let expected = BTreeMap::from([
        ("earn:o-1".to_owned(), 120),
        ("reverse:r-1".to_owned(), -60),
        ("earn:o-2".to_owned(), 50),
        ("cancel:o-2".to_owned(), -50),
        ("earn:o-3".to_owned(), 9),
        ("reverse:r-3".to_owned(), -3),
        ("reverse:r-3b".to_owned(), -6),
        ("adjust:a-1".to_owned(), 25),
    ]);
    let state = wait_for(&stack, "c-1", |s| entries(s).len() >= expected.len()).await;
    assert_eq!(
        entries(&state),
        expected,
        "every entry written once, with the contract's amount"
    );
    assert_eq!(state.loyalty.balance, 85);
    assert_eq!(
        state.loyalty.balance,
        state.loyalty.entries.iter().map(|e| e.points).sum::<i64>()
    );

    // Order-dependent decisions, one after the other: 85 covers 80; then 5 does not cover 10.
    for debit in [
        event(
            "x-1",
            5_000,
            "c-1",
            "app",
            "loyalty.points_redeemed",
            json!({"redemption_id": "x-1", "points": 80}),
        ),
        event(
            "adj-2",
            5_100,
            "c-1",
            "call_center",
            "loyalty.points_adjusted",
            json!({"adjustment_id": "a-2", "points": -10, "reason": "correction"}),
        ),
        event(
            "x-2",
            5_200,
            "c-1",
            "web",
            "loyalty.points_redeemed",
            json!({"redemption_id": "x-2", "points": 5}),
        ),
    ] {
        send_all(&stack, &[debit.clone(), debit]).await;
    }
    let state = customer(&stack, "c-1").await;
    assert_eq!(state.loyalty.balance, 0);
    assert_eq!(
        state.loyalty.balance,
        state.loyalty.entries.iter().map(|e| e.points).sum::<i64>()
    );
    let decisions: Vec<(String, i64, String)> = state
        .loyalty
        .redemptions
        .iter()
        .chain(&state.loyalty.adjustments)
        .map(|d| (d.id.clone(), d.points, d.status.as_str().to_owned()))
        .collect();
    assert_eq!(
        decisions,
        vec![
            ("x-1".into(), 80, "approved".into()),
            ("x-2".into(), 5, "approved".into()),
            ("a-1".into(), 25, "approved".into()),
            ("a-2".into(), -10, "rejected".into())
        ]
    );
    let refused: Vec<Value> = rejected(&stack).await;
    assert!(
        !refused.is_empty()
            && refused
                .iter()
                .all(|r| r["event_id"] == "adj-2" && r["reason_code"] == "insufficient_points")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_redemptions_never_take_the_balance_below_zero() {
    let Some(mut stack) = stack("loyalty-race", &[]).await else {
        return;
    };
    stack.start_runner(3).unwrap();
    let _second_fleet = stack.extra_runner(&stack.clients(), 3).unwrap();
    send_all(
        &stack,
        &[placed(
            "o-1",
            "c-1",
            1_000,
            json!([{"sku": "A", "quantity": 1, "unit_price_minor": 10_000}]),
        )],
    )
    .await;
    wait_for(&stack, "c-1", |s| s.loyalty.balance == 100).await;

    let redemptions: Vec<Value> = (0..6)
        .map(|i| {
            event(
                &format!("x-{i}"),
                2_000 + i,
                "c-1",
                ["app", "web", "store"][i as usize % 3],
                "loyalty.points_redeemed",
                json!({"redemption_id": format!("x-{i}"), "points": 30}),
            )
        })
        .collect();
    send_all(&stack, &redemptions).await;
    let state = customer(&stack, "c-1").await;
    let approved = state
        .loyalty
        .redemptions
        .iter()
        .filter(|d| d.status == "approved")
        .count();
    assert_eq!(approved, 3, "100 points cover three redemptions of 30");
    assert_eq!(
        state.loyalty.redemptions.len(),
        6,
        "each redemption decided once"
    );
    assert_eq!(state.loyalty.balance, 10);
    assert_eq!(
        state.loyalty.balance,
        state.loyalty.entries.iter().map(|e| e.points).sum::<i64>()
    );

    send_all(&stack, &redemptions).await;
    let again = customer(&stack, "c-1").await;
    assert_eq!(
        again.loyalty.balance, 10,
        "redeliveries decide nothing again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_record_whose_processing_failed_is_retried_and_applied_once() {
    let Some(mut stack) = stack("loyalty-retry", &[]).await else {
        return;
    };
    let fault = LoseWriteResponses::on("TransactWriteItems", "earn:o-flaky", 1);
    stack
        .start_runner_with(&clients_with(&stack, fault.clone()), 1)
        .unwrap();
    send_all(
        &stack,
        &[placed(
            "o-flaky",
            "c-1",
            1_000,
            json!([{"sku": "A", "quantity": 1, "unit_price_minor": 4_200}]),
        )],
    )
    .await;
    let state = wait_for(&stack, "c-1", |s| {
        fault.fired() == 1 && !s.loyalty.entries.is_empty()
    })
    .await;
    // Give a wrong second application the time to happen.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let state = if state.loyalty.balance == 42 {
        customer(&stack, "c-1").await
    } else {
        state
    };
    assert_eq!(
        entries(&state),
        BTreeMap::from([("earn:o-flaky".to_owned(), 42)])
    );
    assert_eq!(
        state.loyalty.balance, 42,
        "the retried record found its entry written and added nothing"
    );
}

/// The samples in events/refund-processor and events/loyalty-ledger, through the real handlers:
/// a web order returned in a store, then points redeemed and adjusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_trigger_events_do_what_their_names_say() {
    let Some(mut stack) = stack("loyalty-samples", &[]).await else {
        return;
    };
    stack
        .start_runner_for(&stack.clients(), 1, &["OrderSyncFunction"])
        .unwrap();
    send_all(
        &stack,
        &[placed(
            "o-2001",
            "c-ava",
            1_000,
            json!([{"sku": "JKT-RAIN-S", "quantity": 2, "unit_price_minor": 8999}]),
        )],
    )
    .await;
    stack.stop_runner();

    for sample in [
        "refund-processor/sqs-valid.json",
        "refund-processor/sqs-duplicate.json",
    ] {
        assert!(
            invoke_sample(&stack, "RefundProcessorFunction", sample)
                .await
                .batch_item_failures
                .is_empty(),
            "{sample}"
        );
    }
    let invalid = "refund-processor/sqs-invalid.json";
    assert!(
        invoke_sample(&stack, "RefundProcessorFunction", invalid)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(rejected(&stack).await.len(), sample_len(invalid));
    let state = customer(&stack, "c-ava").await;
    let decisions: Vec<(&str, &str)> = state
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        decisions,
        vec![("rf-501", "approved"), ("rf-502", "rejected")]
    );

    let response = invoke_sample_json(
        &stack,
        "LoyaltyLedgerFunction",
        "loyalty-ledger/dynamodb-stream.json",
    )
    .await;
    assert_eq!(response["batchItemFailures"], json!([]));
    assert_eq!(customer(&stack, "c-ava").await.loyalty.balance, 179 - 90);
    for sample in [
        "loyalty-ledger/sqs-valid.json",
        "loyalty-ledger/sqs-duplicate.json",
    ] {
        assert!(
            invoke_sample(&stack, "LoyaltyLedgerFunction", sample)
                .await
                .batch_item_failures
                .is_empty(),
            "{sample}"
        );
    }
    let invalid = "loyalty-ledger/sqs-invalid.json";
    assert!(
        invoke_sample(&stack, "LoyaltyLedgerFunction", invalid)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(rejected(&stack).await.len(), sample_len(invalid));
    let state = customer(&stack, "c-ava").await;
    assert_eq!(state.loyalty.balance, 89 - 50 + 20);
    assert_eq!(
        state.loyalty.balance,
        state.loyalty.entries.iter().map(|e| e.points).sum::<i64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_requests_per_ledger_entry_and_decision() {
    let Some(mut stack) = stack("loyalty-cost", &[]).await else {
        return;
    };
    let counter = crate::support::faults::RequestCounter::default();
    stack
        .start_runner_for(&stack.clients(), 1, &["OrderSyncFunction"])
        .unwrap();
    let _ledger = stack
        .extra_runner_for(
            &clients_with(&stack, counter.clone()),
            1,
            &["LoyaltyLedgerFunction"],
        )
        .unwrap();
    send_all(
        &stack,
        &[placed(
            "o-1",
            "c-1",
            1_000,
            json!([{"sku": "A", "quantity": 1, "unit_price_minor": 10_000}]),
        )],
    )
    .await;
    wait_for(&stack, "c-1", |s| s.loyalty.balance == 100).await;
    assert_eq!(
        counter.snapshot(),
        BTreeMap::from([("TransactWriteItems".to_owned(), 1)]),
        "one earn entry"
    );

    let before = counter.snapshot();
    send_all(
        &stack,
        &[event(
            "x-1",
            2_000,
            "c-1",
            "app",
            "loyalty.points_redeemed",
            json!({"redemption_id": "x-1", "points": 30}),
        )],
    )
    .await;
    let used = counter.since(&before);
    eprintln!("approved redemption: {used:?}");
    // The decision, entry and balance in one transaction; the timeline entry (the batch
    // layer's write).
    assert_eq!(
        used,
        BTreeMap::from([
            ("GetItem".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1),
            ("UpdateItem timeline".to_owned(), 1)
        ])
    );
}
