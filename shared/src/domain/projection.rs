//! The projection of a customer's state into the customer view (contract §4): a pure function,
//! so every channel, the operator's command and the tests see the same document for the same
//! state.

use super::attribution::Touched;
use super::customer::CustomerState;
use super::timeline::Entry;
use crate::contract::EventKey;
use crate::contract::view::{
    AttributionView, Counts, CustomerView, LoyaltyView, OrderLineView, OrderView, RedemptionView,
    RefundView, TimelineEvent, TouchView,
};

/// How many orders, refunds and redemptions a view shows (the latest ones; `counts` has the
/// totals).
pub const HISTORY_LIMIT: usize = 50;

/// The [`HISTORY_LIMIT`] latest of `items` by the event order of `key` (ties and unknown keys,
/// which count as oldest, are broken by `id`, so the choice is a pure function of the set).
fn latest<T>(
    items: &[T],
    key: impl Fn(&T) -> Option<&EventKey>,
    id: impl Fn(&T) -> &str,
) -> Vec<&T> {
    let mut chosen: Vec<&T> = items.iter().collect();
    chosen.sort_by(|a, b| (key(b), id(b)).cmp(&(key(a), id(a))));
    chosen.truncate(HISTORY_LIMIT);
    chosen
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, the timeline's form of an instant.
pub fn utc_instant(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|instant| instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn timeline_event(entry: &Entry) -> TimelineEvent {
    TimelineEvent {
        event_id: entry.key.event_id.clone(),
        event_type: entry.event_type.as_str().to_owned(),
        channel: entry.channel,
        store_id: entry.store_id.clone(),
        occurred_at: utc_instant(entry.key.at_ms),
        reference: entry.reference.clone(),
    }
}

fn touch_view(touched: &Option<Touched>) -> Option<TouchView> {
    touched.as_ref().map(|t| TouchView {
        channel: t.channel,
        source: t.source.clone(),
    })
}

/// Projects a customer's state at `version`.
pub fn project(state: &CustomerState, version: u64) -> CustomerView {
    let reported = state.reported_now();
    let mut orders: Vec<OrderView> = latest(&state.orders, |o| Some(&o.placed), |o| &o.order_id)
        .into_iter()
        .map(|order| {
            let mut lines: Vec<OrderLineView> = order
                .lines
                .iter()
                .map(|l| OrderLineView {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    refunded_quantity: l.refunded_quantity,
                })
                .collect();
            lines.sort_by(|a, b| a.sku.cmp(&b.sku));
            OrderView {
                order_id: order.order_id.clone(),
                channel: order.channel,
                fulfillment: order.fulfillment,
                status: order.status.status(&order.placed),
                currency: order.currency.clone(),
                total_minor: order.total_minor,
                refunded_minor: order.refunded_minor(),
                lines,
                attribution: reported
                    .get(&order.order_id)
                    .map(|r| AttributionView {
                        first_touch: touch_view(&r.attribution.first),
                        last_touch: touch_view(&r.attribution.last),
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    let mut refunds: Vec<RefundView> =
        latest(&state.refunds, |r| Some(&r.decided_by), |r| &r.refund_id)
            .into_iter()
            .map(|r| RefundView {
                refund_id: r.refund_id.clone(),
                order_id: r.order_id.clone(),
                channel: r.channel,
                status: r.status,
                amount_minor: r.amount_minor,
                reason_code: r.reason_code,
            })
            .collect();
    refunds.sort_by(|a, b| a.refund_id.cmp(&b.refund_id));
    let mut redemptions: Vec<RedemptionView> = latest(
        &state.loyalty.redemptions,
        |d| d.decided_by.as_ref(),
        |d| &d.id,
    )
    .into_iter()
    .map(|d| RedemptionView {
        redemption_id: d.id.clone(),
        points: d.points,
        status: d.status,
    })
    .collect();
    redemptions.sort_by(|a, b| a.redemption_id.cmp(&b.redemption_id));
    CustomerView {
        customer_id: state.customer_id.clone(),
        version,
        cart: state.shopping.cart.clone(),
        wishlist: state.shopping.wishlist.clone(),
        loyalty: LoyaltyView {
            balance: state.loyalty.balance,
        },
        orders,
        refunds,
        redemptions,
        counts: Counts {
            orders: count(state.orders.len()),
            refunds: count(state.refunds.len()),
            redemptions: count(state.loyalty.redemptions.len()),
        },
        timeline: state.timeline.iter().map(timeline_event).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ViewChanged;
    use crate::domain::wishlist::WishlistItem;

    #[test]
    fn an_empty_customer_has_every_field() {
        let state = CustomerState {
            customer_id: "c-1".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(ViewChanged::new(project(&state, 3))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "customer.view_changed", "customer_id": "c-1", "version": 3,
                "view": {"customer_id": "c-1", "version": 3, "cart": [], "wishlist": [], "loyalty": {"balance": 0},
                         "orders": [], "refunds": [], "redemptions": [],
                         "counts": {"orders": 0, "refunds": 0, "redemptions": 0}, "timeline": []}
            })
        );
    }

    #[test]
    fn absent_optionals_are_null_not_omitted() {
        let item = serde_json::to_value(WishlistItem {
            sku: "B".into(),
            preferred_size: None,
        })
        .unwrap();
        assert_eq!(
            item,
            serde_json::json!({"sku": "B", "preferred_size": null})
        );
    }

    fn order(i: usize, at_ms: i64) -> crate::domain::order::Order {
        use crate::contract::{Channel, Fulfillment};
        crate::domain::order::Order {
            order_id: format!("o-{i:03}"),
            placed: EventKey::new(at_ms, format!("p-{i:03}")),
            channel: Channel::Web,
            store_id: None,
            currency: "EUR".into(),
            fulfillment: Fulfillment::Ship,
            pickup_store_id: None,
            lines: vec![],
            total_minor: 0,
            status: Default::default(),
        }
    }

    proptest::proptest! {
        /// The view's orders are the 50 latest by their placement's event order, sorted by id,
        /// and `counts` has the total: the contract's rule, naively.
        #[test]
        fn the_view_holds_the_fifty_latest_orders_sorted_by_id(
            instants in proptest::collection::vec(0i64..40, 0..120),
        ) {
            let orders: Vec<_> = instants.iter().enumerate().map(|(i, at)| order(i, *at)).collect();
            let state = CustomerState { customer_id: "c-1".into(), orders: orders.clone(), ..Default::default() };
            let view = project(&state, 1);
            let mut naive = orders.clone();
            naive.sort_by(|a, b| b.placed.cmp(&a.placed));
            let mut expected: Vec<String> = naive.iter().take(50).map(|o| o.order_id.clone()).collect();
            expected.sort();
            let shown: Vec<String> = view.orders.iter().map(|o| o.order_id.clone()).collect();
            proptest::prop_assert_eq!(shown, expected);
            proptest::prop_assert_eq!(view.counts.orders, orders.len() as u64);
        }
    }
}
