//! The projection of a customer's state into the customer view (contract §4): a pure function,
//! so every channel, the operator's command and the tests see the same document for the same
//! state.

use super::customer::CustomerState;
use crate::contract::view::{
    CustomerView, LoyaltyView, OrderLineView, OrderView, RedemptionView, RefundView,
};

/// Projects a customer's state at `version`.
pub fn project(state: &CustomerState, version: u64) -> CustomerView {
    let mut orders: Vec<OrderView> = state
        .orders
        .iter()
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
            }
        })
        .collect();
    orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    let mut refunds: Vec<RefundView> = state
        .refunds
        .iter()
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
    let mut redemptions: Vec<RedemptionView> = state
        .loyalty
        .redemptions
        .iter()
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
                         "orders": [], "refunds": [], "redemptions": []}
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
}
