//! The customer view (contract §4): the one JSON document every channel shows, projected from a
//! customer's stored state. Arrays are sorted by their id or SKU, and no field is omitted
//! (`preferred_size` and `reason_code` are `null` when absent).

use crate::contract::{Channel, Fulfillment, OrderStatus, ReasonCode};
use crate::domain::cart::CartLine;
use crate::domain::wishlist::WishlistItem;
use crate::store::customer::CustomerState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerView {
    pub customer_id: String,
    pub version: u64,
    pub cart: Vec<CartLine>,
    pub wishlist: Vec<WishlistItem>,
    pub loyalty: LoyaltyView,
    pub orders: Vec<OrderView>,
    pub refunds: Vec<RefundView>,
    pub redemptions: Vec<RedemptionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyView {
    pub balance: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub channel: Channel,
    pub fulfillment: Fulfillment,
    pub status: OrderStatus,
    pub currency: String,
    pub total_minor: u64,
    pub refunded_minor: u64,
    pub lines: Vec<OrderLineView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_minor: u64,
    pub refunded_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    pub refund_id: String,
    pub order_id: String,
    pub channel: Channel,
    pub status: String,
    pub amount_minor: u64,
    pub reason_code: Option<ReasonCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionView {
    pub redemption_id: String,
    pub points: i64,
    pub status: String,
}

/// The message on every `channel-updates-<channel>` queue after a change of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChanged {
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_id: String,
    pub version: u64,
    pub view: CustomerView,
}

impl ViewChanged {
    pub const TYPE: &'static str = "customer.view_changed";

    pub fn new(view: CustomerView) -> Self {
        ViewChanged {
            kind: Self::TYPE.to_owned(),
            customer_id: view.customer_id.clone(),
            version: view.version,
            view,
        }
    }
}

/// The customer's view as it is now: its current version and its state (what the operator's
/// command prints).
pub async fn current_view(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    customer_id: &str,
) -> Result<CustomerView, crate::store::StoreError> {
    let version = crate::store::view::ViewVersions::new(client.clone(), table)
        .current(customer_id)
        .await?;
    let state = crate::store::customer::CustomerReader::new(client.clone(), table)
        .load(customer_id)
        .await?;
    Ok(project(&state, version))
}

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
            status: r.status.clone(),
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
            status: d.status.clone(),
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
