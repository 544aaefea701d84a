use super::*;
use crate::contract::{CartEvent, WishlistEvent};
use proptest::prelude::*;

/// One op of any kind a customer (or guest) id can carry.
#[derive(Debug, Clone)]
enum Op {
    Cart(CartEvent),
    Wish(WishlistEvent),
    Buy(Vec<(String, u32)>),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let sku = prop::sample::select(vec!["A", "B", "C"]).prop_map(str::to_owned);
    prop_oneof![
        (sku.clone(), 1u32..=5)
            .prop_map(|(sku, quantity)| Op::Cart(CartEvent::ItemAdded { sku, quantity })),
        (sku.clone(), 0u32..=5)
            .prop_map(|(sku, quantity)| Op::Cart(CartEvent::ItemQuantitySet { sku, quantity })),
        sku.clone()
            .prop_map(|sku| Op::Cart(CartEvent::ItemRemoved { sku })),
        Just(Op::Cart(CartEvent::Cleared)),
        (sku.clone(), prop::option::of("[SML]")).prop_map(|(sku, preferred_size)| Op::Wish(
            WishlistEvent::ItemAdded {
                sku,
                preferred_size
            }
        )),
        sku.clone()
            .prop_map(|sku| Op::Wish(WishlistEvent::ItemRemoved { sku })),
        prop::collection::btree_map(sku, 1u32..=3, 1..3)
            .prop_map(|lines| Op::Buy(lines.into_iter().collect())),
    ]
}

fn arb_ops() -> impl Strategy<Value = Vec<(EventKey, Op)>> {
    prop::collection::vec((0i64..12, arb_op()), 0..30).prop_map(|ops| {
        ops.into_iter()
            .enumerate()
            .map(|(i, (at, op))| (EventKey::new(at, format!("x{}", i * 13 % 31)), op))
            .collect()
    })
}

fn collect(ops: &[(EventKey, Op)]) -> IdOps {
    let mut id = IdOps::default();
    for (key, op) in ops {
        match op {
            Op::Cart(event) => {
                id.cart.apply(key.clone(), event);
            }
            Op::Wish(event) => {
                id.wishlist.apply_event(key.clone(), event);
            }
            Op::Buy(lines) => id.purchases.push(Purchase {
                key: key.clone(),
                lines: lines.clone(),
            }),
        }
    }
    id
}

/// The contract's rules, naively: sort everything by key; fold each SKU's cart quantity and
/// wishlist entry from nothing.
fn naive(ops: &[(EventKey, Op)]) -> Shopping {
    let mut sorted: Vec<&(EventKey, Op)> = ops.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut cart: std::collections::BTreeMap<String, u32> = Default::default();
    let mut wish: std::collections::BTreeMap<String, Option<Option<String>>> = Default::default();
    for (_, op) in sorted {
        match op {
            Op::Cart(CartEvent::ItemAdded { sku, quantity }) => {
                let q = cart.entry(sku.clone()).or_default();
                *q = (*q + quantity).min(999);
            }
            Op::Cart(CartEvent::ItemQuantitySet { sku, quantity }) => {
                cart.insert(sku.clone(), *quantity);
            }
            Op::Cart(CartEvent::ItemRemoved { sku }) => {
                cart.insert(sku.clone(), 0);
            }
            Op::Cart(CartEvent::Cleared) => cart.values_mut().for_each(|q| *q = 0),
            Op::Wish(WishlistEvent::ItemAdded {
                sku,
                preferred_size,
            }) => {
                wish.insert(sku.clone(), Some(preferred_size.clone()));
            }
            Op::Wish(WishlistEvent::ItemRemoved { sku }) => {
                wish.insert(sku.clone(), None);
            }
            Op::Buy(lines) => {
                for (sku, n) in lines {
                    let q = cart.entry(sku.clone()).or_default();
                    *q = q.saturating_sub(*n);
                    wish.insert(sku.clone(), None);
                }
            }
        }
    }
    Shopping {
        cart: cart
            .into_iter()
            .filter(|(_, q)| *q > 0)
            .map(|(sku, quantity)| CartLine { sku, quantity })
            .collect(),
        wishlist: wish
            .into_iter()
            .filter_map(|(sku, entry)| {
                entry.map(|preferred_size| WishlistItem {
                    sku,
                    preferred_size,
                })
            })
            .collect(),
    }
}

proptest! {
    #[test]
    fn one_id_follows_the_contract_rules(ops in arb_ops()) {
        prop_assert_eq!(shopping(&collect(&ops), &[]), naive(&ops));
    }

    #[test]
    fn ops_split_across_linked_guests_fold_as_their_union(
        (ops, owners) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), prop::collection::vec(0usize..3, n))
        })
    ) {
        // Owner 0 is the customer, 1 and 2 are guests linked to it.
        let part = |owner: usize| -> Vec<(EventKey, Op)> {
            ops.iter().zip(&owners).filter(|(_, o)| **o == owner).map(|(op, _)| op.clone()).collect()
        };
        let (customer, guest_a, guest_b) = (collect(&part(0)), collect(&part(1)), collect(&part(2)));
        prop_assert_eq!(shopping(&customer, &[&guest_a, &guest_b]), naive(&ops));
        prop_assert_eq!(shopping(&customer, &[&guest_b, &guest_a]), naive(&ops));
    }

    /// A compaction of any line, at any op's key, into the id holding it (the customer's or a
    /// linked guest's) changes nothing anyone sees, once every op has arrived.
    #[test]
    fn a_compaction_at_any_point_changes_no_cart(
        (ops, owners, at, holder, sku) in arb_ops().prop_flat_map(|ops| {
            let n = ops.len();
            (
                Just(ops),
                prop::collection::vec(0usize..3, n),
                0..n.max(1),
                0usize..3,
                prop::sample::select(vec!["A", "B", "C"]),
            )
        })
    ) {
        prop_assume!(!ops.is_empty());
        let part = |owner: usize| -> Vec<(EventKey, Op)> {
            ops.iter().zip(&owners).filter(|(_, o)| **o == owner).map(|(op, _)| op.clone()).collect()
        };
        let mut ids = [collect(&part(0)), collect(&part(1)), collect(&part(2))];
        let before = shopping(&ids[0], &[&ids[1], &ids[2]]);
        let point = ops[at].0.clone();
        let quantity = line_quantity_at(&ids[0], &[&ids[1], &ids[2]], sku, &point);
        ids[holder].cart.apply_line(sku, point, LineOp::Set(quantity));
        prop_assert_eq!(shopping(&ids[0], &[&ids[1], &ids[2]]), before);
    }
}

#[test]
fn a_late_order_still_subtracts_at_its_place_in_event_order() {
    let mut id = IdOps::default();
    id.cart.apply(
        EventKey::new(1, "a"),
        &CartEvent::ItemAdded {
            sku: "A".into(),
            quantity: 3,
        },
    );
    id.cart.apply(
        EventKey::new(5, "c"),
        &CartEvent::ItemAdded {
            sku: "A".into(),
            quantity: 1,
        },
    );
    id.purchases.push(Purchase {
        key: EventKey::new(3, "o"),
        lines: vec![("A".into(), 3)],
    });
    assert_eq!(
        shopping(&id, &[]).cart,
        vec![CartLine {
            sku: "A".into(),
            quantity: 1
        }]
    );
}
