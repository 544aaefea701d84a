//! order-sync: SQS `order-events` → orders.
//!
//! `order.placed` creates the order once (`duplicate_order` for a second placement of an
//! `order_id` under another `event_id`); `order.status_changed` folds into it. A status change
//! (or, in refund-processor, a refund) whose order has not arrived **waits for it** (contract §3,
//! v1.1): it is set aside (`omnisync::store::WaitingEvent`) and its message acknowledged; placing
//! the order sends every waiting event back to its queue ([`Redelivery::release`]); and on a
//! schedule this function moves the events whose wait is over, and whose order never came, to
//! their queue's DLQ ([`Redelivery::sweep`]). The order's status stays a pure function of the
//! event set: a waiting event is applied by the same fold when it comes back.
//!
//! The effect of a purchase on the cart and the wishlist is not written here, nor by a
//! stream-triggered function: the order item, in the customer's partition, *is* the purchase op,
//! and every read of the cart and wishlist folds it in at its place in event order
//! (`omnisync::domain::shopping`). That costs no extra write, keeps a late `order.placed` correct
//! without any re-ordering logic, and has no second write that could fail on its own.

mod redelivery;

pub use redelivery::{DEAD_LETTER_REASON_ATTRIBUTE, Redelivery, RedeliveryError, Swept};

use aws_lambda_events::event::sqs::SqsEvent;
use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::clock::now_ms;
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, OrderEvent, OrderStatus, Queue, ReasonCode, Rejection};
use omnisync::domain::order::Order;
use omnisync::lambda::{BoxError, Deadline, Function, sqs_function};
use omnisync::queue::Publisher;
use omnisync::store::{Placement, StatusUpdate, Table, WaitingEvent};
use serde_json::Value;
use std::time::Duration;

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike): `order-events` from SQS, and a scheduled sweep of the events whose wait
/// for their order is over.
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<OrderSyncFunction, ConfigError> {
    let table = config.state_table(clients);
    let queues = [Queue::Order, Queue::Refund]
        .into_iter()
        .map(|queue| {
            config
                .require_redelivery_queue(queue)
                .map(|(url, dlq)| (queue, url, dlq))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let redelivery = Redelivery {
        table: table.clone(),
        publisher: Publisher::new(clients.sqs.clone()),
        queues,
    };
    let handler = OrderSync {
        table,
        wait: config.order_wait,
        redelivery: redelivery.clone(),
    };
    Ok(OrderSyncFunction {
        orders: sqs_function(clients, config, handler),
        redelivery,
    })
}

/// Both triggers: SQS batches of `order-events`, and the schedule (an EventBridge event).
pub struct OrderSyncFunction {
    orders: SqsBatchProcessor<OrderSync>,
    redelivery: Redelivery,
}

impl Function for OrderSyncFunction {
    type Event = Value;
    type Response = Value;

    async fn invoke(&self, event: Value, deadline: Deadline) -> Result<Value, BoxError> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event)?;
            return Ok(serde_json::to_value(
                self.orders.process(batch, deadline).await,
            )?);
        }
        let swept = self.redelivery.sweep(now_ms(), deadline).await?;
        tracing::info!(
            redelivered = swept.redelivered,
            dead_lettered = swept.dead_lettered,
            outcome = "swept"
        );
        Ok(serde_json::to_value(swept)?)
    }
}

pub struct OrderSync {
    table: Table,
    wait: Duration,
    redelivery: Redelivery,
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

    async fn apply(
        &self,
        event: &Self::Input,
        delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
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
                if !matches!(placement, Placement::Duplicate { .. }) {
                    // Events that waited for this order go back to their queues (also on a
                    // redelivery: an earlier attempt may have stopped before this).
                    self.redelivery
                        .release(&order.order_id)
                        .await
                        .map_err(ApplyError::transient)?;
                }
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
                match self.change_status(event, order_id, *status).await? {
                    StatusUpdate::OrderNotFound => {
                        self.wait(event, delivery, order_id, *status).await
                    }
                    update => outcome_of(update, order_id),
                }
            }
        }
    }
}

fn outcome_of(update: StatusUpdate, order_id: &str) -> Result<Applied, ApplyError> {
    match update {
        StatusUpdate::Applied(written) => Ok(written.into()),
        StatusUpdate::OrderNotFound => Ok(Applied::Waiting),
        StatusUpdate::OtherCustomer => Err(Rejection::new(
            ReasonCode::WrongCustomer,
            format!("`payload.order_id` `{order_id}` belongs to another customer"),
        )
        .into()),
    }
}

impl OrderSync {
    async fn change_status(
        &self,
        event: &CustomerEvent<OrderEvent>,
        order_id: &str,
        status: OrderStatus,
    ) -> Result<StatusUpdate, ApplyError> {
        self.table
            .change_order_status(&event.customer_id, order_id, event.key.clone(), status)
            .await
            .map_err(ApplyError::transient)
    }

    /// Sets a status change aside until its order arrives, then checks again: the order may
    /// have been placed while this was being written (its release read before this existed).
    async fn wait(
        &self,
        event: &CustomerEvent<OrderEvent>,
        delivery: &Delivery<'_>,
        order_id: &str,
        status: OrderStatus,
    ) -> Result<Applied, ApplyError> {
        let waiting = WaitingEvent::new(
            Queue::Order,
            order_id,
            &event.key,
            delivery.body,
            delivery.sender_id,
            delivery.first_sent_ms,
            self.wait,
        );
        if waiting.wait_until_ms <= now_ms() {
            // Sent longer ago than the wait (a message redriven from a DLQ): its queue's retries
            // decide, as for any transient failure.
            return Err(ApplyError::transient(OrderNotYetSeen {
                order_id: order_id.to_owned(),
                customer_id: event.customer_id.clone(),
            }));
        }
        self.table
            .wait_for_order(&waiting)
            .await
            .map_err(ApplyError::transient)?;
        let update = self.change_status(event, order_id, status).await?;
        if update != StatusUpdate::OrderNotFound {
            self.table
                .stop_waiting(&waiting)
                .await
                .map_err(ApplyError::transient)?;
        }
        outcome_of(update, order_id)
    }
}
