use super::*;
use proptest::prelude::*;

fn arb_op() -> impl Strategy<Value = (usize, WishOp)> {
    (
        0usize..4,
        prop_oneof![
            Just(WishOp::Remove),
            Just(WishOp::Add {
                preferred_size: None
            }),
            "[SMLX]{1,3}".prop_map(|s| WishOp::Add {
                preferred_size: Some(s)
            }),
        ],
    )
}

/// Ops with unique event ids and clustered instants.
fn arb_ops() -> impl Strategy<Value = Vec<(String, EventKey, WishOp)>> {
    prop::collection::vec((0i64..15, arb_op()), 0..30).prop_map(|ops| {
        let skus = ["A", "B", "C", "D"];
        ops.into_iter()
            .enumerate()
            .map(|(i, (at, (sku, op)))| {
                (
                    skus[sku].to_owned(),
                    EventKey::new(at, format!("w{}", i * 37 % 53)),
                    op,
                )
            })
            .collect()
    })
}

/// The contract's rule, naively: per SKU, the op with the greatest key.
fn naive(ops: &[(String, EventKey, WishOp)]) -> Vec<WishlistItem> {
    let mut latest: BTreeMap<&str, (&EventKey, &WishOp)> = BTreeMap::new();
    for (sku, key, op) in ops {
        if latest.get(sku.as_str()).is_none_or(|(k, _)| key > *k) {
            latest.insert(sku, (key, op));
        }
    }
    latest
        .into_iter()
        .filter_map(|(sku, (_, op))| match op {
            WishOp::Add { preferred_size } => Some(WishlistItem {
                sku: sku.to_owned(),
                preferred_size: preferred_size.clone(),
            }),
            WishOp::Remove => None,
        })
        .collect()
}

fn fold(ops: &[(String, EventKey, WishOp)]) -> Wishlist {
    let mut wishlist = Wishlist::default();
    for (sku, key, op) in ops {
        wishlist.apply(sku, key.clone(), op.clone());
    }
    wishlist
}

proptest! {
    #[test]
    fn fold_equals_the_naive_rule(ops in arb_ops()) {
        prop_assert_eq!(fold(&ops).items(), naive(&ops));
    }

    #[test]
    fn any_order_and_duplication_gives_the_same_wishlist(
        (ops, order) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), prop::collection::vec(0..n.max(1), n..n * 3 + 1))
        })
    ) {
        // Every op at least once (in a shuffled position), plus random repeats.
        let mut delivered: Vec<_> = order.iter().filter_map(|i| ops.get(*i).cloned()).collect();
        delivered.extend(ops.iter().cloned());
        delivered.reverse();
        prop_assert_eq!(fold(&delivered), fold(&ops));
    }

    #[test]
    fn merging_split_sets_equals_folding_the_union(
        (ops, sides) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), prop::collection::vec(any::<bool>(), n))
        })
    ) {
        let (left, right): (Vec<_>, Vec<_>) = ops.iter().cloned().zip(sides).partition(|(_, side)| *side);
        let left: Vec<_> = left.into_iter().map(|(op, _)| op).collect();
        let right: Vec<_> = right.into_iter().map(|(op, _)| op).collect();
        let mut merged = fold(&right);
        merged.merge(&fold(&left));
        prop_assert_eq!(merged, fold(&ops));
    }
}

#[test]
fn a_late_older_add_does_not_resurrect_a_removed_sku() {
    let mut wishlist = Wishlist::default();
    assert!(wishlist.apply("A", EventKey::new(5, "r"), WishOp::Remove));
    assert!(!wishlist.apply(
        "A",
        EventKey::new(3, "a"),
        WishOp::Add {
            preferred_size: Some("M".into())
        }
    ));
    assert!(wishlist.items().is_empty());
    assert!(wishlist.apply(
        "A",
        EventKey::new(6, "b"),
        WishOp::Add {
            preferred_size: None
        }
    ));
    assert_eq!(
        wishlist.items(),
        vec![WishlistItem {
            sku: "A".into(),
            preferred_size: None
        }]
    );
}
