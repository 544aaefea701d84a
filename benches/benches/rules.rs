//! The pure rules at realistic sizes: a cart line's fold (100 adds after a reset, the most a
//! line keeps), a batch's ops merged into a stored line, a 50-line cart, the ledger implied by a
//! customer's 50 latest orders, and `parse_event` on a cart event and a 100-line order.

use criterion::{Criterion, criterion_group, criterion_main};
use omnisync::contract::{Channel, EventKey, Fulfillment, parse_event};
use omnisync::domain::cart::{Cart, LineOp, LineState};
use omnisync::domain::loyalty::implied_entries;
use omnisync::domain::order::{Order, OrderStatusState, PurchasedLine};
use std::hint::black_box;

fn key(i: i64) -> EventKey {
    EventKey::new(1_764_000_000_000 + i, format!("evt-{i:08}"))
}

/// A line at its bound: a reset and 100 adds after it.
fn full_line() -> Vec<(EventKey, LineOp)> {
    std::iter::once((key(0), LineOp::Set(2)))
        .chain((1..=100).map(|i| (key(i), LineOp::Add(1))))
        .collect()
}

fn cart_folds(c: &mut Criterion) {
    let ops = full_line();
    c.bench_function("cart: fold a line of a reset and 100 adds", |b| {
        b.iter(|| {
            let mut line = LineState::default();
            for (k, op) in &ops {
                line.apply(k.clone(), *op);
            }
            black_box(line.quantity())
        })
    });
    let mut stored = LineState::default();
    for (k, op) in &ops[..90] {
        stored.apply(k.clone(), *op);
    }
    let mut batch = LineState::default();
    for (k, op) in &ops[85..] {
        batch.apply(k.clone(), *op);
    }
    c.bench_function(
        "cart: what a batch of 16 ops adds to a stored line of 90",
        |b| b.iter(|| black_box(batch.missing_from(black_box(&stored)))),
    );
    let mut cart = Cart::default();
    for sku in 0..50 {
        for (k, op) in &ops[..10] {
            cart.apply_line(&format!("SKU-{sku:04}"), k.clone(), *op);
        }
    }
    c.bench_function("cart: the lines of a 50-line cart", |b| {
        b.iter(|| black_box(cart.lines()))
    });
}

fn ledger_fold(c: &mut Criterion) {
    let orders: Vec<Order> = (0..50)
        .map(|i| {
            let lines: Vec<PurchasedLine> = (0..5)
                .map(|l| PurchasedLine {
                    sku: format!("SKU-{l}"),
                    quantity: 2,
                    unit_price_minor: 2_500,
                    refunded_quantity: u32::from(l == 0),
                })
                .collect();
            Order {
                order_id: format!("o-{i:04}"),
                placed: key(i),
                channel: Channel::Web,
                store_id: None,
                currency: "EUR".into(),
                fulfillment: Fulfillment::Ship,
                pickup_store_id: None,
                total_minor: 25_000,
                lines,
                status: OrderStatusState::default(),
            }
        })
        .collect();
    c.bench_function("ledger: the entries 50 orders imply", |b| {
        b.iter(|| black_box(implied_entries(black_box(&orders), &[])))
    });
}

fn parsing(c: &mut Criterion) {
    let cart = serde_json::json!({
        "event_id": "evt-cart-000001", "type": "cart.item_added", "schema_version": 1,
        "customer_id": "c-ava", "channel": "app", "occurred_at": "2026-11-20T09:00:00.123Z",
        "payload": {"sku": "JKT-RAIN-M", "quantity": 1}
    })
    .to_string();
    let lines: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"sku": format!("SKU-{i:05}"), "quantity": 1 + i % 3, "unit_price_minor": 1_999}))
        .collect();
    let order = serde_json::json!({
        "event_id": "evt-order-000001", "type": "order.placed", "schema_version": 1,
        "customer_id": "c-ava", "channel": "web", "occurred_at": "2026-11-20T09:05:00Z",
        "payload": {"order_id": "o-000001", "currency": "EUR", "fulfillment": "ship", "lines": lines}
    })
    .to_string();
    assert!(parse_event(&cart, None).is_ok() && parse_event(&order, None).is_ok());
    c.bench_function(
        &format!("parse_event: a cart event ({} bytes)", cart.len()),
        |b| b.iter(|| black_box(parse_event(black_box(&cart), None))),
    );
    c.bench_function(
        &format!("parse_event: a 100-line order ({} bytes)", order.len()),
        |b| b.iter(|| black_box(parse_event(black_box(&order), None))),
    );
}

criterion_group!(benches, cart_folds, ledger_fold, parsing);
criterion_main!(benches);
