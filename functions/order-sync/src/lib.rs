//! order-sync: SQS `order-events` → orders.
//!
//! `order.placed` creates the order once (`duplicate_order` for a second placement of an
//! `order_id` under another `event_id`); `order.status_changed` folds into it, and is transient
//! while the order has not arrived yet (SQS redelivers it; the DLQ keeps it if the order never
//! comes).
//!
//! The effect of a purchase on the cart and the wishlist is not written here, nor by a
//! stream-triggered function: the order item, in the customer's partition, *is* the purchase op,
//! and every read of the cart and wishlist folds it in at its place in event order
//! (`omnisync::domain::shopping`). That costs no extra write, keeps a late `order.placed` correct
//! without any re-ordering logic, and has no second write that could fail on its own.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler};
use omnisync::config::FunctionConfig;
use omnisync::contract::{Event, EventType, OrderEvent, Payload, ReasonCode, Rejection};
use omnisync::store::orders::{OrderStore, Placement, StatusUpdate};

pub struct OrderSync {
    orders: OrderStore,
}

impl OrderSync {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Self {
        OrderSync {
            orders: OrderStore::new(clients.dynamodb.clone(), &config.table),
        }
    }
}

/// A status change for an order that has not arrived yet.
#[derive(Debug, thiserror::Error)]
#[error("order {order_id} of customer {customer_id} has not arrived yet")]
pub struct OrderNotYetSeen {
    pub order_id: String,
    pub customer_id: String,
}

impl EventHandler for OrderSync {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "order-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let (Payload::Order(order_event), Some(customer_id)) =
            (&event.payload, event.customer_id.as_deref())
        else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not an order event").into());
        };
        match order_event {
            OrderEvent::Placed(order) => {
                let placement = self
                    .orders
                    .place(
                        customer_id,
                        &event.key,
                        event.channel,
                        event.store_id.as_deref(),
                        order,
                    )
                    .await
                    .map_err(ApplyError::transient)?;
                match placement {
                    Placement::Created => Ok(Applied::Changed),
                    Placement::AlreadyPlaced => Ok(Applied::Unchanged),
                    Placement::Duplicate { claimed_by_event } => Err(Rejection::new(
                        ReasonCode::DuplicateOrder,
                        format!("`payload.order_id` `{}` was already placed by event `{claimed_by_event}`", order.order_id),
                    )
                    .into()),
                }
            }
            OrderEvent::StatusChanged { order_id, status } => {
                let update = self
                    .orders
                    .change_status(customer_id, order_id, event.key.clone(), *status)
                    .await
                    .map_err(ApplyError::transient)?;
                match update {
                    StatusUpdate::Applied(written) => Ok(written.into()),
                    StatusUpdate::OrderNotFound => Err(ApplyError::transient(OrderNotYetSeen {
                        order_id: order_id.clone(),
                        customer_id: customer_id.to_owned(),
                    })),
                    StatusUpdate::OtherCustomer => Err(Rejection::new(
                        ReasonCode::WrongCustomer,
                        format!("`payload.order_id` `{order_id}` belongs to another customer"),
                    )
                    .into()),
                }
            }
        }
    }
}
