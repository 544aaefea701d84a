//! End to end for events that wait for their order (contract §3, v1.1): a status change or a
//! refund whose order is late is set aside, not retried into the DLQ, and takes effect when the
//! order arrives; one whose order never comes ends in its queue's DLQ when its wait is over.

use crate::support::{DRAIN_LIMIT, bodies, customer, event, placed, send_all, stack};
use omnisync::domain::order::Order;
use serde_json::{Value, json};
use std::time::Duration;

fn status_change(event_id: &str, order_id: &str, at_ms: i64, status: &str) -> Value {
    event(
        event_id,
        at_ms,
        "c-1",
        "store",
        "order.status_changed",
        json!({"order_id": order_id, "status": status}),
    )
}

fn refund(refund_id: &str, order_id: &str, at_ms: i64) -> Value {
    event(
        &format!("ev-{refund_id}"),
        at_ms,
        "c-1",
        "store",
        "refund.requested",
        json!({"refund_id": refund_id, "order_id": order_id, "lines": [{"sku": "A", "quantity": 1}]}),
    )
}

/// Runs order-sync's scheduled sweep once, as the EventBridge schedule would.
async fn sweep(stack: &xtask::local::LocalStack) -> Value {
    let spec = &stack.manifest.functions["OrderSyncFunction"];
    let function = xtask::functions::build("OrderSyncFunction", &stack.clients(), spec).unwrap();
    let scheduled = json!({
        "version": "0", "id": "sweep-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    });
    function.invoke(scheduled).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancellation_and_two_refunds_wait_for_an_order_later_than_their_queues_retries() {
    // Visibility 2 s and 5 receives: a retried message would be in its DLQ after about 10 s.
    let Some(mut stack) = stack("wait-late", &[]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    send_all(
        &stack,
        &[
            status_change("st-cancel", "o-late", 3_000, "cancelled"),
            refund("r-1", "o-late", 2_000),
            refund("r-2", "o-late", 2_500),
        ],
    )
    .await;
    // Longer than the queues' whole retry window.
    tokio::time::sleep(Duration::from_secs(14)).await;
    let lines = json!([{"sku": "A", "quantity": 2, "unit_price_minor": 5000}]);
    send_all(&stack, &[placed("o-late", "c-1", 1_000, lines)]).await;
    // The waiting events come back to their queues and are applied.
    let queues = ["order-events", "refund-events"];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let state = loop {
        stack.wait_drained(&queues, DRAIN_LIMIT).await.unwrap();
        let state = customer(&stack, "c-1").await;
        if state.refunds.len() == 2 && state.orders.iter().all(Order::is_cancelled) {
            break state;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the waiting events were not applied: {:?}",
            state.refunds
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(state.orders.len(), 1);
    assert!(
        state.orders[0].is_cancelled(),
        "the cancellation is applied"
    );
    let decided: Vec<&str> = state.refunds.iter().map(|r| r.refund_id.as_str()).collect();
    assert_eq!(decided, ["r-1", "r-2"], "both refunds are decided");
    for dlq in ["order-events-dlq", "refund-events-dlq"] {
        assert_eq!(
            stack.drain(dlq).await.unwrap(),
            Vec::<String>::new(),
            "{dlq}"
        );
    }
    assert_eq!(
        sweep(&stack).await,
        json!({"redelivered": 0, "dead_lettered": 0}),
        "nothing is left waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_whose_order_never_comes_ends_in_its_dlq_when_its_wait_is_over() {
    let Some(mut stack) = stack("wait-orphan", &[("OrderWaitSeconds", "3")]).await else {
        return;
    };
    stack.start_runner(1).unwrap();
    let orphan = status_change("st-orphan", "o-never", 1_000, "shipped");
    let orphan_refund = refund("r-orphan", "o-never", 1_500);
    stack
        .send("order-events", &bodies(std::slice::from_ref(&orphan)))
        .await
        .unwrap();
    stack
        .send(
            "refund-events",
            &bodies(std::slice::from_ref(&orphan_refund)),
        )
        .await
        .unwrap();
    stack
        .wait_drained(&["order-events", "refund-events"], DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(
        sweep(&stack).await,
        json!({"redelivered": 0, "dead_lettered": 0}),
        "still within their wait"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        sweep(&stack).await,
        json!({"redelivered": 0, "dead_lettered": 2})
    );
    assert_eq!(
        stack.drain("order-events-dlq").await.unwrap(),
        vec![orphan.to_string()],
        "the original body, unchanged"
    );
    assert_eq!(
        stack.drain("refund-events-dlq").await.unwrap(),
        vec![orphan_refund.to_string()]
    );
    assert!(customer(&stack, "c-1").await.refunds.is_empty());
}
