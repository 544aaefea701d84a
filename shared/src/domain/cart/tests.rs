use super::*;
use proptest::prelude::*;

/// The contract's rule, written naively: sort every op by key, drop repeats, fold from 0.
fn naive_quantity(ops: &[(EventKey, LineOp)]) -> u32 {
    let mut sorted: Vec<&(EventKey, LineOp)> = ops.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    sorted.into_iter().fold(0, |q, (_, op)| match *op {
        LineOp::Set(n) => n,
        LineOp::Add(n) => (q + n).min(MAX_LINE_QUANTITY),
        LineOp::Purchase(n) => q.saturating_sub(n),
    })
}

fn key(at_ms: i64, id: &str) -> EventKey {
    EventKey::new(at_ms, id)
}

fn arb_op() -> impl Strategy<Value = LineOp> {
    prop_oneof![
        (0u32..=999).prop_map(LineOp::Set),
        (1u32..=999).prop_map(LineOp::Add),
        (1u32..=999).prop_map(LineOp::Purchase),
        (1u32..=5).prop_map(LineOp::Add),
        Just(LineOp::Set(0)),
    ]
}

/// Ops with unique event ids; instants are drawn from a small range so ties (broken by the event
/// id) are common.
fn arb_ops() -> impl Strategy<Value = Vec<(EventKey, LineOp)>> {
    prop::collection::vec((0i64..20, arb_op()), 0..40).prop_map(|ops| {
        ops.into_iter()
            .enumerate()
            .map(|(i, (at, op))| (key(at, &format!("e{}", i * 7919 % 101)), op))
            .collect()
    })
}

/// Each op delivered 1–3 times, in a shuffled order.
fn deliveries(ops: Vec<(EventKey, LineOp)>) -> impl Strategy<Value = Vec<(EventKey, LineOp)>> {
    let n = ops.len();
    prop::collection::vec(1usize..=3, n)
        .prop_map(move |copies| {
            ops.iter()
                .zip(copies)
                .flat_map(|(op, c)| std::iter::repeat_n(op.clone(), c))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn fold(ops: &[(EventKey, LineOp)]) -> LineState {
    let mut line = LineState::default();
    for (k, op) in ops {
        line.apply(k.clone(), *op);
    }
    line
}

proptest! {
    #[test]
    fn compact_state_equals_the_naive_fold(ops in arb_ops()) {
        prop_assert_eq!(fold(&ops).quantity(), naive_quantity(&ops));
    }

    #[test]
    fn any_order_and_duplication_gives_the_same_state(
        (ops, delivered) in arb_ops().prop_flat_map(|ops| (Just(ops.clone()), deliveries(ops)))
    ) {
        prop_assert_eq!(fold(&delivered), fold(&ops));
    }

    #[test]
    fn any_batching_gives_the_same_state(
        (ops, delivered, cuts) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops.clone()), deliveries(ops), prop::collection::vec(0..=n * 3, 0..6))
        })
    ) {
        // Split the deliveries into batches, fold each batch on its own (as parallel writers
        // would), then merge the batch states in reverse order.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(delivered.len())).collect();
        cuts.push(0);
        cuts.push(delivered.len());
        cuts.sort_unstable();
        let mut merged = LineState::default();
        for window in cuts.windows(2).rev() {
            merged.merge(&fold(&delivered[window[0]..window[1]]));
        }
        prop_assert_eq!(&merged, &fold(&ops));
        prop_assert_eq!(merged.quantity(), naive_quantity(&ops));
    }

    #[test]
    fn merge_is_a_join(
        (ops, picks) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), prop::collection::vec(0u8..8, n))
        })
    ) {
        // Three states over subsets of one set of events (an event id always means one op).
        let subset = |bit: u8| -> Vec<(EventKey, LineOp)> {
            ops.iter().zip(&picks).filter(|(_, p)| *p & bit != 0).map(|(op, _)| op.clone()).collect()
        };
        let (a, b, c) = (fold(&subset(1)), fold(&subset(2)), fold(&subset(4)));
        let join = |x: &LineState, y: &LineState| { let mut z = x.clone(); z.merge(y); z };
        prop_assert_eq!(join(&a, &b), join(&b, &a));
        prop_assert_eq!(join(&join(&a, &b), &c), join(&a, &join(&b, &c)));
        prop_assert_eq!(join(&a, &a), a.clone());
    }

    #[test]
    fn what_a_write_must_add_is_exactly_what_the_merge_would_add(
        (ops, picks) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), prop::collection::vec(0u8..4, n))
        })
    ) {
        // A stored line and a batch's ops on it, over one set of events (some in both).
        let subset = |bit: u8| -> Vec<(EventKey, LineOp)> {
            ops.iter().zip(&picks).filter(|(_, p)| *p & bit != 0).map(|(op, _)| op.clone()).collect()
        };
        let (stored, batch) = (fold(&subset(1)), fold(&subset(2)));
        let missing = batch.missing_from(&stored);
        let join = |x: &LineState, y: &LineState| { let mut z = x.clone(); z.merge(y); z };
        prop_assert_eq!(join(&stored, &missing), join(&stored, &batch));
        prop_assert_eq!(missing.is_empty(), join(&stored, &batch) == stored);
        // Nothing but the batch's own ops, none of them already stored, all after every reset.
        let floor = missing.first_key().cloned();
        if let Some(reset) = &missing.reset {
            prop_assert!(batch.holds(&reset.key) && !stored.holds(&reset.key));
            prop_assert_eq!(Some(&reset.key), floor.as_ref());
        }
        for key in missing.deltas.keys() {
            prop_assert!(batch.holds(key) && !stored.holds(key));
            prop_assert!(stored.reset.as_ref().is_none_or(|r| r.key < *key));
            prop_assert!(floor.as_ref().is_some_and(|floor| floor <= key));
        }
    }

    #[test]
    fn state_keeps_only_the_latest_reset_and_what_follows(ops in arb_ops()) {
        let line = fold(&ops);
        if let Some(reset) = &line.reset {
            prop_assert!(line.deltas.keys().all(|k| *k > reset.key));
        }
    }

    #[test]
    fn a_cart_wide_clear_acts_as_a_set_to_zero_on_every_line(
        ops in arb_ops(), clear_at in 0i64..20, clear_id in "[a-z]{1,3}"
    ) {
        let clear = key(clear_at, &format!("clear-{clear_id}"));
        let mut with_clear = ops.clone();
        with_clear.push((clear.clone(), LineOp::Set(0)));
        prop_assert_eq!(fold(&ops).quantity_after(Some(&clear)), naive_quantity(&with_clear));
    }

    #[test]
    fn cart_lines_follow_the_rule_for_every_sku(
        events in prop::collection::vec((0i64..10, 0usize..3, 0u8..4, 0u32..=999), 0..40)
    ) {
        let skus = ["A", "B", "C"];
        let mut cart = Cart::default();
        let mut reference: Vec<(String, EventKey, LineOp)> = Vec::new();
        for (i, (at, sku, kind, n)) in events.into_iter().enumerate() {
            let k = key(at, &format!("ev{i:02}"));
            let sku = skus[sku];
            let event = match kind {
                0 => CartEvent::ItemAdded { sku: sku.into(), quantity: n.max(1) },
                1 => CartEvent::ItemQuantitySet { sku: sku.into(), quantity: n },
                2 => CartEvent::ItemRemoved { sku: sku.into() },
                _ => CartEvent::Cleared,
            };
            cart.apply(k.clone(), &event);
            match effect(&event) {
                CartEffect::Line { sku, op } => reference.push((sku.to_owned(), k, op)),
                CartEffect::Clear => {
                    for s in skus {
                        reference.push((s.to_owned(), k.clone(), LineOp::Set(0)));
                    }
                }
            }
        }
        let expected: Vec<CartLine> = skus
            .iter()
            .map(|s| {
                let ops: Vec<(EventKey, LineOp)> = reference
                    .iter()
                    .filter(|(sku, _, _)| sku == s)
                    .map(|(_, k, op)| (k.clone(), *op))
                    .collect();
                CartLine { sku: (*s).to_owned(), quantity: naive_quantity(&ops) }
            })
            .filter(|line| line.quantity > 0)
            .collect();
        prop_assert_eq!(cart.lines(), expected);
    }
}

#[test]
fn adds_are_capped_and_purchases_floored_in_event_order() {
    let mut line = LineState::default();
    line.apply(key(1, "a"), LineOp::Add(998));
    line.apply(key(3, "c"), LineOp::Purchase(5));
    line.apply(key(2, "b"), LineOp::Add(10));
    // 998 + 10 → 999 (cap), then − 5.
    assert_eq!(line.quantity(), 994);
    line.apply(key(4, "d"), LineOp::Purchase(2000));
    assert_eq!(line.quantity(), 0);
}

#[test]
fn a_late_set_discards_earlier_deltas_and_a_stale_one_is_ignored() {
    let mut line = LineState::default();
    assert!(line.apply(key(1, "a"), LineOp::Add(2)));
    assert!(line.apply(key(5, "e"), LineOp::Add(3)));
    assert!(line.apply(key(3, "c"), LineOp::Set(7)));
    assert_eq!(line.deltas.len(), 1);
    assert_eq!(line.quantity(), 10);
    assert!(
        !line.apply(key(2, "b"), LineOp::Set(1)),
        "older than the known reset"
    );
    assert!(
        !line.apply(key(1, "a"), LineOp::Add(2)),
        "redelivery of a superseded add"
    );
    assert!(!line.apply(key(5, "e"), LineOp::Add(3)), "redelivery");
    assert_eq!(line.quantity(), 10);
}

#[test]
fn removed_and_cleared_lines_leave_the_cart() {
    let mut cart = Cart::default();
    cart.apply(
        key(1, "a"),
        &CartEvent::ItemAdded {
            sku: "A".into(),
            quantity: 2,
        },
    );
    cart.apply(
        key(2, "b"),
        &CartEvent::ItemAdded {
            sku: "B".into(),
            quantity: 1,
        },
    );
    cart.apply(key(3, "c"), &CartEvent::ItemRemoved { sku: "B".into() });
    assert_eq!(
        cart.lines(),
        vec![CartLine {
            sku: "A".into(),
            quantity: 2
        }]
    );
    cart.apply(key(4, "d"), &CartEvent::Cleared);
    cart.apply(
        key(5, "e"),
        &CartEvent::ItemAdded {
            sku: "B".into(),
            quantity: 4,
        },
    );
    assert_eq!(
        cart.lines(),
        vec![CartLine {
            sku: "B".into(),
            quantity: 4
        }]
    );
}

/// 10,000 adds to one line (then a set, then more adds), compacted whenever the line passes
/// its bound, as cart-sync does: the line never keeps more than the bound, and its quantity is
/// the contract's fold at every step.
#[test]
fn ten_thousand_adds_stay_bounded_and_fold_as_the_contract_says() {
    let mut line = LineState::default();
    let mut naive: u32 = 0;
    let mut most_kept = 0;
    let mut compactions = 0;
    let ops = (0..10_000)
        .map(|i| (i, LineOp::Add(1 + (i as u32 % 3))))
        .chain(std::iter::once((10_000, LineOp::Set(4))))
        .chain((10_001..12_500).map(|i| (i, LineOp::Add(1))));
    for (i, op) in ops {
        let key = EventKey::new(i64::from(i), format!("e-{i}"));
        assert!(line.apply(key, op));
        naive = match op {
            LineOp::Add(n) => (naive + n).min(MAX_LINE_QUANTITY),
            LineOp::Set(n) => n,
            LineOp::Purchase(n) => naive.saturating_sub(n),
        };
        if let Some(point) = line.compaction_point() {
            let mut upto = line.clone();
            upto.deltas = upto
                .deltas
                .range(..=point.clone())
                .map(|(k, d)| (k.clone(), *d))
                .collect();
            assert!(line.apply(point, LineOp::Set(upto.quantity())));
            compactions += 1;
        }
        most_kept = most_kept.max(line.deltas.len());
        assert_eq!(line.quantity(), naive, "after op {i}");
    }
    assert_eq!(most_kept, MAX_LINE_DELTAS);
    assert!(compactions > 10, "{compactions}");
    assert_eq!(
        line.quantity(),
        MAX_LINE_QUANTITY,
        "4 set, then 2,499 adds of 1, capped"
    );
}
