//! availability-notifier: SQS `inventory-events` → `wishlist.back_in_stock` on `notifications`.
//!
//! Each report is placed in its `(sku, size, store_id)` timeline; the restocks that placement
//! makes (the report itself, or the one after it when a late 0 arrives) notify every customer
//! whose wishlist holds the SKU, in a matching size, when the restock is processed. Candidates
//! come from the sparse `wishlist-by-sku` index and are confirmed against the customer's folded
//! wishlist (purchases and guest sign-ins included).
//!
//! Each notification goes to the FIFO queue `notifications.fifo` with its `notification_id` (the
//! same for every delivery of the restock) as `MessageDeduplicationId` and the customer as
//! `MessageGroupId`. Its claim is written before the first send and it is marked sent after: a
//! redelivery (a lost send response, a crash before the mark) within the resend horizon sends it
//! again and SQS drops the copy; one after the horizon never sends (see
//! `omnisync::store::Claim`).

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{AvailabilityChanged, BackInStock, EventKey, StockEvent};
use omnisync::domain::availability::{restocks, sizes_match};
use omnisync::lambda::sqs_function;
use omnisync::queue::{PublishError, Publisher};
use omnisync::store::{Claim, StoreError, Table, TimelinePlace};

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike). It needs the `notifications` queue.
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<AvailabilityNotifier>, ConfigError> {
    let notifier = AvailabilityNotifier {
        table: config.state_table(clients),
        publisher: Publisher::new(clients.sqs.clone()),
        notifications_queue_url: config.require_notifications_queue()?,
    };
    Ok(sqs_function(clients, config, notifier))
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] PublishError),
}

pub struct AvailabilityNotifier {
    table: Table,
    publisher: Publisher,
    notifications_queue_url: String,
}

impl AvailabilityNotifier {
    /// The customers to notify: wishers of the SKU (guest ids resolved to their customer) whose
    /// folded wishlist holds it in a matching size.
    async fn audience(&self, report: &AvailabilityChanged) -> Result<Vec<String>, StoreError> {
        let mut customers: Vec<String> = Vec::new();
        for id in self.table.wishers(&report.sku).await? {
            let own = self.table.id_state(&id).await?;
            let (customer_id, state) = match own.linked_to {
                // A guest's wish belongs to the customer it was linked to.
                Some((customer_id, _)) => {
                    if customers.contains(&customer_id) {
                        continue;
                    }
                    let state = self.table.customer_state(&customer_id).await?;
                    (customer_id, state)
                }
                None => {
                    if customers.contains(&id) {
                        continue;
                    }
                    let state = self.table.customer_state_with(&id, own).await?;
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
                .table
                .claim_notification(&restock.event_id, &customer_id, now_ms)
                .await?
            {
                Claim::Send => {}
                Claim::AlreadySent => continue,
                Claim::PastWindow => {
                    // Claimed more than the resend horizon ago and never marked sent: it may
                    // have been sent, and a copy now would reach the customer. Taken as sent.
                    tracing::warn!(customer_id, restock = %restock.event_id, outcome = "taken_as_sent", "a notification claimed before the deduplication window is not sent again");
                    self.table
                        .mark_sent(&restock.event_id, &customer_id)
                        .await?;
                    continue;
                }
            }
            let notification = BackInStock::new(
                &customer_id,
                &restock.event_id,
                &report.sku,
                report.size.as_deref(),
                report.store_id.as_deref(),
            );
            self.publisher
                .publish_fifo(
                    &self.notifications_queue_url,
                    &notification,
                    &customer_id,
                    &notification.notification_id,
                )
                .await?;
            self.table
                .mark_sent(&restock.event_id, &customer_id)
                .await?;
            tracing::info!(customer_id, restock = %restock.event_id, notification_id = %notification.notification_id, outcome = "notified");
            sent += 1;
        }
        Ok(sent)
    }
}

impl EventHandler for AvailabilityNotifier {
    type Input = StockEvent;

    async fn apply(
        &self,
        event: &Self::Input,
        _delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let report = &event.report;
        let TimelinePlace {
            previous,
            current,
            next,
        } = self
            .table
            .record_report(report, &event.key)
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
