//! End to end for refunds: decided once per `refund_id`, atomically with the order, whichever
//! channel and however many at once.

use crate::support::faults::counts;
use crate::support::{
    DRAIN_LIMIT, bodies, customer, event, placed, rejected, rejected_reasons, stack,
};
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn refund(
    refund_id: &str,
    order_id: &str,
    customer_id: &str,
    channel: &str,
    at: i64,
    lines: Value,
) -> Value {
    event(
        &format!("ev-{refund_id}"),
        at,
        customer_id,
        channel,
        "refund.requested",
        json!({"refund_id": refund_id, "order_id": order_id, "lines": lines}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_refunds_from_store_and_mail_never_exceed_what_was_bought() {
    let Some(mut stack) = stack("refund-race", &[]).await else {
        return;
    };
    stack.start_runner(3).unwrap();
    let _second_fleet = stack.extra_runner(&stack.clients(), 3).unwrap();
    let rounds = 8;
    let orders: Vec<Value> = (0..rounds)
        .map(|r| placed(&format!("o-{r}"), "c-1", 1_000, json!([{"sku": "A", "quantity": 2, "unit_price_minor": 6000}, {"sku": "B", "quantity": 1, "unit_price_minor": 999}])))
        .collect();
    stack.send("order-events", &bodies(&orders)).await.unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    // Per order: five one-unit refunds of A, from the store and by mail (call centre), all at once.
    let mut requests = Vec::new();
    for r in 0..rounds {
        for k in 0..5 {
            let channel = if k % 2 == 0 { "store" } else { "call_center" };
            requests.push(refund(
                &format!("r-{r}-{k}"),
                &format!("o-{r}"),
                "c-1",
                channel,
                2_000 + k,
                json!([{"sku": "A", "quantity": 1}]),
            ));
        }
    }
    requests.shuffle(&mut rand::rng());
    stack
        .send("refund-events", &bodies(&requests))
        .await
        .unwrap();
    stack
        .wait_drained(&["refund-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    let state = customer(&stack, "c-1").await;
    assert_eq!(
        stack.drain("refund-events-dlq").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        state.refunds.len(),
        requests.len(),
        "exactly one stored decision per refund_id"
    );
    for r in 0..rounds {
        let order_id = format!("o-{r}");
        let decisions: Vec<_> = state
            .refunds
            .iter()
            .filter(|d| d.order_id == order_id)
            .collect();
        let approved: Vec<_> = decisions
            .iter()
            .filter(|d| d.status == "approved")
            .collect();
        assert_eq!(approved.len(), 2, "{order_id}: two units of A were bought");
        assert!(approved.iter().all(|d| d.amount_minor == 6000));
        assert!(
            decisions
                .iter()
                .filter(|d| d.status == "rejected")
                .all(
                    |d| d.reason_code.map(|c| c.as_str()) == Some("exceeds_refundable_quantity")
                        && d.amount_minor == 0
                )
        );
        let order = state
            .orders
            .iter()
            .find(|o| o.order_id == order_id)
            .unwrap();
        assert_eq!(order.lines[0].refunded_quantity, 2);
        assert_eq!(order.refunded_minor(), 12_000);
    }
    // Every rejected refund reached rejected-events (at least once: a message redelivered while
    // its first delivery was still being handled is routed again), and no approved one did.
    let rejections = rejected(&stack).await;
    assert!(
        rejections
            .iter()
            .all(|r| r["reason_code"] == "exceeds_refundable_quantity")
    );
    let routed: std::collections::BTreeSet<String> = rejections
        .iter()
        .map(|r| {
            r["event_id"]
                .as_str()
                .unwrap()
                .trim_start_matches("ev-")
                .to_owned()
        })
        .collect();
    let decided_rejected: std::collections::BTreeSet<String> = state
        .refunds
        .iter()
        .filter(|d| d.status == "rejected")
        .map(|d| d.refund_id.clone())
        .collect();
    assert_eq!(routed, decided_rejected);
    assert_eq!(decided_rejected.len(), rounds * 3);

    // Redelivering every request changes no decision.
    let before: BTreeMap<String, String> = state
        .refunds
        .iter()
        .map(|d| (d.refund_id.clone(), d.status.as_str().to_owned()))
        .collect();
    stack
        .send("refund-events", &bodies(&requests))
        .await
        .unwrap();
    stack
        .wait_drained(&["refund-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    let after = customer(&stack, "c-1").await;
    let after_map: BTreeMap<String, String> = after
        .refunds
        .iter()
        .map(|d| (d.refund_id.clone(), d.status.as_str().to_owned()))
        .collect();
    assert_eq!(after_map, before);
    assert!(
        after
            .orders
            .iter()
            .all(|o| o.lines[0].refunded_quantity == 2)
    );
    let again = rejected(&stack).await;
    assert!(
        again
            .iter()
            .all(|r| r["reason_code"] == "exceeds_refundable_quantity"),
        "the stored decisions, repeated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rejection_reason_is_decided_in_the_contract_order_and_recorded() {
    let Some(mut stack) = stack("refund-reasons", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let lines = json!([{"sku": "A", "quantity": 1, "unit_price_minor": 1000}]);
    let mut setup = vec![
        placed("o-open", "c-1", 1_000, lines.clone()),
        placed("o-gone", "c-1", 1_000, lines.clone()),
    ];
    setup.push(event(
        "cancel-1",
        1_500,
        "c-1",
        "call_center",
        "order.status_changed",
        json!({"order_id": "o-gone", "status": "cancelled"}),
    ));
    stack
        .send("order-events", &bodies(&setup[..2]))
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    stack
        .send("order-events", &bodies(&setup[2..]))
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    let requests = vec![
        (
            refund(
                "r-wrong",
                "o-open",
                "c-2",
                "store",
                2_000,
                json!([{"sku": "Z", "quantity": 9}]),
            ),
            "wrong_customer",
            "c-2",
        ),
        (
            refund(
                "r-gone",
                "o-gone",
                "c-1",
                "store",
                2_000,
                json!([{"sku": "Z", "quantity": 9}]),
            ),
            "order_cancelled",
            "c-1",
        ),
        (
            refund(
                "r-sku",
                "o-open",
                "c-1",
                "web",
                2_000,
                json!([{"sku": "A", "quantity": 9}, {"sku": "Z", "quantity": 1}]),
            ),
            "unknown_sku",
            "c-1",
        ),
        (
            refund(
                "r-many",
                "o-open",
                "c-1",
                "app",
                2_000,
                json!([{"sku": "A", "quantity": 2}]),
            ),
            "exceeds_refundable_quantity",
            "c-1",
        ),
    ];
    let bodies_only: Vec<Value> = requests.iter().map(|(b, _, _)| b.clone()).collect();
    stack
        .send("refund-events", &bodies(&bodies_only))
        .await
        .unwrap();
    stack
        .wait_drained(&["refund-events"], DRAIN_LIMIT)
        .await
        .unwrap();

    let got: BTreeMap<String, String> = rejected_reasons(&stack).await.into_iter().collect();
    let expected: BTreeMap<String, String> = requests
        .iter()
        .map(|(b, reason, _)| {
            (
                b["event_id"].as_str().unwrap().to_owned(),
                (*reason).to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    for (body, reason, requester) in &requests {
        let state = customer(&stack, requester).await;
        let decision = state
            .refunds
            .iter()
            .find(|d| d.refund_id == body["payload"]["refund_id"])
            .expect("recorded in the requester's view");
        assert_eq!(
            (
                decision.status.as_str(),
                decision.reason_code.map(|c| c.as_str()),
                decision.amount_minor
            ),
            ("rejected", Some(*reason), 0)
        );
    }
    let open = customer(&stack, "c-1")
        .await
        .orders
        .into_iter()
        .find(|o| o.order_id == "o-open")
        .unwrap();
    assert_eq!(open.lines[0].refunded_quantity, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_for_an_order_not_yet_seen_waits_for_it() {
    let Some(mut stack) = stack("refund-early", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let request = refund(
        "r-1",
        "o-1",
        "c-1",
        "store",
        5_000,
        json!([{"sku": "A", "quantity": 1}]),
    );
    stack
        .send("refund-events", &bodies(std::slice::from_ref(&request)))
        .await
        .unwrap();
    stack
        .wait_taken("refund-events", std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(customer(&stack, "c-1").await.refunds.is_empty());
    stack
        .send(
            "order-events",
            &bodies(&[placed(
                "o-1",
                "c-1",
                1_000,
                json!([{"sku": "A", "quantity": 1, "unit_price_minor": 4200}]),
            )]),
        )
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events", "refund-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    let state = customer(&stack, "c-1").await;
    assert_eq!(state.refunds.len(), 1);
    assert_eq!(
        (
            state.refunds[0].status.as_str(),
            state.refunds[0].amount_minor
        ),
        ("approved", 4200)
    );
    assert_eq!(rejected(&stack).await, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_requests_per_refund_decision() {
    let Some(mut stack) = stack("refund-cost", &[]).await else {
        return;
    };
    let counter = crate::support::faults::RequestCounter::default();
    let functions = ["OrderSyncFunction", "RefundProcessorFunction"];
    stack
        .start_runner_for(
            &crate::support::clients_with(&stack, counter.clone()),
            1,
            &functions,
        )
        .unwrap();
    stack
        .send(
            "order-events",
            &bodies(&[placed(
                "o-1",
                "c-1",
                1_000,
                json!([{"sku": "A", "quantity": 1, "unit_price_minor": 100}]),
            )]),
        )
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    let cases = [
        (
            refund(
                "r-ok",
                "o-1",
                "c-1",
                "store",
                2_000,
                json!([{"sku": "A", "quantity": 1}]),
            ),
            counts(&[
                ("GetItem", 3),
                ("TransactWriteItems", 1),
                ("UpdateItem timeline", 1),
            ]),
        ),
        (
            refund(
                "r-no",
                "o-1",
                "c-1",
                "web",
                3_000,
                json!([{"sku": "A", "quantity": 1}]),
            ),
            counts(&[("GetItem", 3), ("PutItem", 1), ("UpdateItem timeline", 1)]),
        ),
        (
            refund(
                "r-ok",
                "o-1",
                "c-1",
                "store",
                2_000,
                json!([{"sku": "A", "quantity": 1}]),
            ),
            counts(&[("GetItem", 1), ("UpdateItem timeline", 1)]),
        ),
    ];
    // Each refund decided (approved, rejected, or found decided) is also one timeline write of
    // the batch layer's (`UpdateItem timeline`).
    for (body, expected) in cases {
        let before = counter.snapshot();
        stack
            .send("refund-events", &bodies(std::slice::from_ref(&body)))
            .await
            .unwrap();
        stack
            .wait_drained(&["refund-events"], DRAIN_LIMIT)
            .await
            .unwrap();
        let used = counter.since(&before);
        eprintln!("{}: {used:?}", body["event_id"]);
        assert_eq!(used, expected, "{}", body["event_id"]);
    }
}
