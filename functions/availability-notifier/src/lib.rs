//! availability-notifier: SQS `inventory-events` → `wishlist.back_in_stock` on `notifications`.
//!
//! Each report is placed in its `(sku, size, store_id)` timeline; the restocks that placement
//! makes (the report itself, or the one after it when a late 0 arrives) notify every customer
//! whose wishlist holds the SKU, in a matching size, when the restock is processed. Candidates
//! come from the sparse `wishlist-by-sku` index and are confirmed against the customer's folded
//! wishlist (purchases and guest sign-ins included). Each notification is claimed (a conditional
//! create), sent, then marked sent: a concurrent or later delivery of the same restock skips it
//! or, while the claim is fresh, retries later. Only a delivery that died between sending and
//! marking can cause a copy, after the claim's lease, and the `notification_id` is derived from
//! the customer and the restock's `event_id`, so the consumer can drop it.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler};
use omnisync::config::FunctionConfig;
use omnisync::contract::{
    AvailabilityChanged, Event, EventKey, EventType, Payload, ReasonCode, Rejection,
};
use omnisync::domain::availability::{restocks, sizes_match};
use omnisync::store::StoreError;
use omnisync::store::availability::{AvailabilityStore, Claim};
use omnisync::store::customer::CustomerReader;
use serde::Serialize;
use uuid::Uuid;

/// The namespace of `notification_id`s (UUID v5 of customer and restock event).
const NOTIFICATION_NAMESPACE: Uuid = Uuid::from_u128(0x6f6d_6e69_7379_6e63_0000_6e6f_7469_6679);

/// The message on `notifications` (contract §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackInStock {
    pub notification_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub customer_id: String,
    pub sku: String,
    pub size: Option<String>,
    pub store_id: Option<String>,
}

/// The `notification_id` of a customer's notification for a restock.
pub fn notification_id(customer_id: &str, restock_event_id: &str) -> String {
    let name = format!("{customer_id}\n{restock_event_id}");
    Uuid::new_v5(&NOTIFICATION_NAMESPACE, name.as_bytes()).to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the template sets no notifications queue URL for this function")]
    NoQueue,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another delivery of this restock is sending a notification right now")]
    InProgress,
    #[error("could not encode a notification: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not send a notification: {}", aws_sdk_sqs::error::DisplayErrorContext(.0))]
    Send(#[from] Box<aws_sdk_sqs::Error>),
}

pub struct AvailabilityNotifier {
    availability: AvailabilityStore,
    reader: CustomerReader,
    sqs: aws_sdk_sqs::Client,
    notifications_queue_url: String,
}

impl AvailabilityNotifier {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Result<Self, NotifyError> {
        Ok(AvailabilityNotifier {
            availability: AvailabilityStore::new(clients.dynamodb.clone(), &config.table),
            reader: CustomerReader::new(clients.dynamodb.clone(), &config.table),
            sqs: clients.sqs.clone(),
            notifications_queue_url: config
                .notifications_queue_url
                .clone()
                .ok_or(NotifyError::NoQueue)?,
        })
    }

    /// The customers to notify: wishers of the SKU (guest ids resolved to their customer) whose
    /// folded wishlist holds it in a matching size.
    async fn audience(&self, report: &AvailabilityChanged) -> Result<Vec<String>, StoreError> {
        let mut customers: Vec<String> = Vec::new();
        for id in self.availability.wishers(&report.sku).await? {
            let partition = self.reader.partition(&id).await?;
            let (customer_id, state) = match partition.linked_to {
                // A guest's wish belongs to the customer it was linked to.
                Some((customer_id, _)) => {
                    if customers.contains(&customer_id) {
                        continue;
                    }
                    let state = self.reader.load(&customer_id).await?;
                    (customer_id, state)
                }
                None => {
                    if customers.contains(&id) {
                        continue;
                    }
                    let state = self.reader.load_with(&id, partition).await?;
                    (id, state)
                }
            };
            let wants = state.shopping.wishlist.iter().any(|item| {
                item.sku == report.sku
                    && sizes_match(item.preferred_size.as_deref(), report.size.as_deref())
            });
            if wants {
                customers.push(customer_id);
            }
        }
        Ok(customers)
    }

    async fn notify(
        &self,
        report: &AvailabilityChanged,
        restock: &EventKey,
    ) -> Result<usize, NotifyError> {
        let mut sent = 0;
        for customer_id in self.audience(report).await? {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or_default();
            match self
                .availability
                .claim_notification(&restock.event_id, &customer_id, now_ms)
                .await?
            {
                Claim::AlreadySent => continue,
                Claim::InProgress => return Err(NotifyError::InProgress),
                Claim::Won => {}
            }
            let notification = BackInStock {
                notification_id: notification_id(&customer_id, &restock.event_id),
                kind: "wishlist.back_in_stock",
                customer_id: customer_id.clone(),
                sku: report.sku.clone(),
                size: report.size.clone(),
                store_id: report.store_id.clone(),
            };
            self.sqs
                .send_message()
                .queue_url(&self.notifications_queue_url)
                .message_body(serde_json::to_string(&notification)?)
                .send()
                .await
                .map_err(|e| Box::new(aws_sdk_sqs::Error::from(e)))?;
            self.availability
                .mark_sent(&restock.event_id, &customer_id)
                .await?;
            tracing::info!(customer_id, restock = %restock.event_id, notification_id = %notification.notification_id, outcome = "notified");
            sent += 1;
        }
        Ok(sent)
    }
}

impl EventHandler for AvailabilityNotifier {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "inventory-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let Payload::Inventory(report) = &event.payload else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not an inventory event").into());
        };
        let (previous, current, next) = self
            .availability
            .record(report, &event.key)
            .await
            .map_err(ApplyError::transient)?;
        let mut sent = 0;
        for restock in restocks(previous.as_ref(), &current, next.as_ref()) {
            sent += self
                .notify(report, &restock)
                .await
                .map_err(ApplyError::transient)?;
        }
        Ok(if sent > 0 {
            Applied::Changed
        } else {
            Applied::Unchanged
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_ids_are_stable_and_distinct() {
        assert_eq!(
            notification_id("c-1", "inv-9"),
            notification_id("c-1", "inv-9")
        );
        assert_ne!(
            notification_id("c-1", "inv-9"),
            notification_id("c-2", "inv-9")
        );
        assert_ne!(
            notification_id("c-1", "inv-9"),
            notification_id("c-1", "inv-10")
        );
    }

    #[test]
    fn absent_size_and_store_are_null() {
        let message = BackInStock {
            notification_id: "n".into(),
            kind: "wishlist.back_in_stock",
            customer_id: "c-1".into(),
            sku: "A".into(),
            size: None,
            store_id: None,
        };
        assert_eq!(
            serde_json::to_value(message).unwrap(),
            serde_json::json!({"notification_id": "n", "type": "wishlist.back_in_stock", "customer_id": "c-1", "sku": "A", "size": null, "store_id": null})
        );
    }
}
