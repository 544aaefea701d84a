//! Events that waited for their order, sent back to their queues (or, when their wait is over
//! and the order never came, to the queue's DLQ). See `omnisync::store::WaitingEvent`.

use omnisync::batch::{Deadline, FIRST_SENT_ATTRIBUTE, ORIGINAL_SENDER_ATTRIBUTE};
use omnisync::contract::Queue;
use omnisync::queue::{Attribute, PublishError, Publisher};
use omnisync::store::{StoreError, Table, WaitingEvent};
use serde::Serialize;

/// Why a message on a DLQ is there, for the operator who reads it.
pub const DEAD_LETTER_REASON_ATTRIBUTE: &str = "omnisync-dead-letter-reason";

#[derive(Debug, thiserror::Error)]
pub enum RedeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] PublishError),
    #[error("a waiting event names queue `{0}`, which this function does not deliver to")]
    UnknownQueue(String),
}

/// The queues waiting events go back to.
#[derive(Debug, Clone)]
pub struct Redelivery {
    pub table: Table,
    pub publisher: Publisher,
    /// Queue → (URL, DLQ URL).
    pub queues: Vec<(Queue, String, String)>,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Sent back to their queue: their order had arrived.
    pub redelivered: usize,
    /// Moved to their queue's DLQ: their wait was over and their order never came.
    pub dead_lettered: usize,
}

impl Redelivery {
    fn urls(&self, waiting: &WaitingEvent) -> Result<(&str, &str), RedeliveryError> {
        let queue = waiting.queue();
        self.queues
            .iter()
            .find(|(q, _, _)| Some(*q) == queue)
            .map(|(_, url, dlq)| (url.as_str(), dlq.as_str()))
            .ok_or_else(|| RedeliveryError::UnknownQueue(waiting.queue.clone()))
    }

    async fn send(
        &self,
        url: &str,
        waiting: &WaitingEvent,
        reason: Option<&str>,
    ) -> Result<(), RedeliveryError> {
        let first_sent = waiting.first_sent_ms.to_string();
        let mut attributes = vec![(FIRST_SENT_ATTRIBUTE, Attribute::String(&first_sent))];
        if let Some(sender) = &waiting.sender_id {
            attributes.push((ORIGINAL_SENDER_ATTRIBUTE, Attribute::String(sender)));
        }
        if let Some(reason) = reason {
            attributes.push((DEAD_LETTER_REASON_ATTRIBUTE, Attribute::String(reason)));
        }
        self.publisher
            .send_body(url, &waiting.body, &attributes)
            .await?;
        Ok(())
    }

    /// Sends every event waiting for `order_id` back to its queue (the order has arrived).
    /// Each is sent, then its wait ends: a crash in between sends it once more, which its
    /// function absorbs like any redelivery.
    pub async fn release(&self, order_id: &str) -> Result<usize, RedeliveryError> {
        let waiting = self.table.waiting_for(order_id).await?;
        for event in &waiting {
            let (url, _) = self.urls(event)?;
            self.send(url, event, None).await?;
            self.table.stop_waiting(event).await?;
            tracing::info!(order_id, event_id = %event.key.event_id, queue = %event.queue, outcome = "redelivered");
        }
        Ok(waiting.len())
    }

    /// Ends the waits that are over: an event whose order arrived after all goes back to its
    /// queue; one whose order never came goes to its queue's DLQ, unchanged.
    pub async fn sweep(&self, now_ms: i64, deadline: Deadline) -> Result<Swept, RedeliveryError> {
        let mut swept = Swept::default();
        loop {
            let orders = self.table.orders_with_waits_over(now_ms, 100).await?;
            if orders.is_empty() || deadline.reached() {
                return Ok(swept);
            }
            for order_id in orders {
                if self.table.order_arrived(&order_id).await? {
                    swept.redelivered += self.release(&order_id).await?;
                    continue;
                }
                for event in self.table.waiting_for(&order_id).await? {
                    if event.wait_until_ms > now_ms {
                        continue;
                    }
                    let (_, dlq) = self.urls(&event)?;
                    self.send(dlq, &event, Some("its order never arrived"))
                        .await?;
                    self.table.stop_waiting(&event).await?;
                    tracing::warn!(order_id, event_id = %event.key.event_id, queue = %event.queue, outcome = "dead_lettered", "the order never arrived");
                    swept.dead_lettered += 1;
                }
            }
        }
    }
}
