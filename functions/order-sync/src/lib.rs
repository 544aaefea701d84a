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
use omnisync::batch::{Applied, ApplyError, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, OrderEvent, ReasonCode, Rejection};
use omnisync::domain::order::Order;
use omnisync::lambda::sqs_function;
use omnisync::store::{Placement, StatusUpdate, Table};

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<OrderSync>, ConfigError> {
    let table = config.state_table(clients);
    Ok(sqs_function(clients, config, OrderSync { table }))
}

pub struct OrderSync {
    table: Table,
}

/// A status change for an order that has not arrived yet.
#[derive(Debug, thiserror::Error)]
#[error("order {order_id} of customer {customer_id} has not arrived yet")]
pub struct OrderNotYetSeen {
    pub order_id: String,
    pub customer_id: String,
}

impl EventHandler for OrderSync {
    type Input = CustomerEvent<OrderEvent>;

    async fn apply(&self, event: &Self::Input) -> Result<Applied, ApplyError> {
        let customer_id = &event.customer_id;
        match &event.payload {
            OrderEvent::Placed(placed) => {
                let order =
                    Order::placed(&event.key, event.channel, event.store_id.as_deref(), placed);
                let placement = self
                    .table
                    .place_order(customer_id, &order)
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
                    .table
                    .change_order_status(customer_id, order_id, event.key.clone(), *status)
                    .await
                    .map_err(ApplyError::transient)?;
                match update {
                    StatusUpdate::Applied(written) => Ok(written.into()),
                    StatusUpdate::OrderNotFound => Err(ApplyError::transient(OrderNotYetSeen {
                        order_id: order_id.clone(),
                        customer_id: customer_id.clone(),
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
