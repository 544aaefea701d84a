//! availability-notifier: SQS `inventory-events` → `wishlist.back_in_stock` on `notifications.fifo`.
//!
//! Each report is placed in its `(sku, size, store_id)` timeline; the restocks that placement
//! makes (the report itself, or the one after it when a late 0 arrives) notify every customer
//! whose wishlist holds the SKU, in a matching size, when the restock is processed. A restock at
//! a store (v1.1, nearby stores) notifies only those of them for whom that store is one of their
//! stores, as their state says when the restock is processed: a store they picked up an order at,
//! bought in, or were touched in, their linked guests' included (`CustomerState::stores`).
//!
//! **The audience is decided once** (contract §2) and stored (`omnisync::store`,
//! `notifications.rs`): wishers come a page at a time from the sparse `wishlist-by-sku` index,
//! are looked at in parallel against their customer's folded wishlist (purchases and guest
//! sign-ins included), and each page's members are written before the cursor moves on. A restock
//! with thousands of wishers may take several deliveries; each resumes where the last stopped
//! (the batch answers before the invocation's deadline and reports the restock for redelivery),
//! and a redelivery after the audience is decided never decides again. An index entry whose SKU a
//! purchase took off the wishlist is removed on the way, so the index does not only grow.
//!
//! **Each customer hears once**: notifications go to the FIFO queue in batches of ten, each with
//! its `notification_id` (the same for every delivery of the restock) as
//! `MessageDeduplicationId` and the customer as `MessageGroupId`. A member is claimed before its
//! send and marked sent after; a delivery that finds a claim not marked sent sends again only
//! within the resend horizon, inside SQS's deduplication window (see `omnisync::store::Claim`).

use futures::StreamExt;
use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::clock::now_ms;
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{AvailabilityChanged, BackInStock, EventKey, StockEvent};
use omnisync::domain::availability::{restocks, sizes_match};
use omnisync::domain::wishlist::WishOp;
use omnisync::lambda::sqs_function;
use omnisync::queue::{PublishError, Publisher};
use omnisync::store::{Audience, Claim, Member, StoreError, Table, TimelinePlace};

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
    #[error("{failed} of a batch of notifications were not accepted by SQS; they are sent again")]
    NotAccepted { failed: usize },
}

/// Wishers looked at per page of the wishlist index (each page's decisions are saved before the
/// next page is read, so a restock with thousands of wishers is decided over several deliveries
/// if it must be).
const WISHERS_PER_PAGE: i32 = 100;
/// Wishers looked at, and notification batches sent, at once.
const PARALLEL: usize = 16;
/// Notifications per `SendMessageBatch` (SQS's maximum).
const BATCH: usize = 10;

pub struct AvailabilityNotifier {
    table: Table,
    publisher: Publisher,
    notifications_queue_url: String,
}

/// What one wisher comes to for one restock.
enum Verdict {
    /// This customer is in the audience.
    Notify(String),
    /// Wished for the SKU in another size.
    OtherSize,
    /// Wishes for it, but the restock is at a store that is not one of theirs.
    NotTheirStore,
    /// The SKU is no longer on the folded wishlist although this id's wish item still adds it
    /// (a purchase took it off at read time): the index entry is stale.
    Stale { owner_id: String, key: EventKey },
    /// Not (or no longer) a wisher.
    No,
}

impl AvailabilityNotifier {
    /// Decides the restock's audience (once: a redelivery after it is decided reads it back),
    /// then sends every member's notification not yet sent.
    async fn notify(
        &self,
        report: &AvailabilityChanged,
        restock: &EventKey,
    ) -> Result<usize, NotifyError> {
        self.decide_audience(report, &restock.event_id).await?;
        self.notify_audience(report, &restock.event_id).await
    }

    /// The audience, a page of wishers at a time. Each wisher is looked at and, if it is in the
    /// audience, written as a member (a stale index entry found on the way is removed); the
    /// results are taken in index order, and the cursor moves past every wisher done before the
    /// first that failed. So each delivery keeps what it decided, and a restock whose page of
    /// wishers never gets through in one delivery (a store that keeps failing one request in
    /// twenty) is still decided, a prefix at a time, instead of starting the page over forever.
    async fn decide_audience(
        &self,
        report: &AvailabilityChanged,
        restock_id: &str,
    ) -> Result<(), StoreError> {
        loop {
            let (audience, rev) = self.table.audience(restock_id).await?;
            if audience.decided {
                return Ok(());
            }
            let (wishers, next) = self
                .table
                .wishers_page(&report.sku, audience.next.as_ref(), WISHERS_PER_PAGE)
                .await?;
            let ids: Vec<String> = wishers.iter().map(|wisher| wisher.id.clone()).collect();
            let mut steps: Vec<Result<(), StoreError>> = futures::stream::iter(ids)
                .map(|id| self.decide(report, restock_id, id))
                .buffered(PARALLEL)
                .collect()
                .await;
            let failed = steps.iter().position(Result::is_err);
            let progressed = match failed {
                None => Audience {
                    decided: next.is_none(),
                    next,
                    ..Audience::default()
                },
                Some(first) => match first.checked_sub(1).and_then(|done| wishers.get(done)) {
                    Some(last_done) => Audience {
                        next: Some(last_done.after.clone()),
                        ..Audience::default()
                    },
                    None => return steps.swap_remove(first),
                },
            };
            // A conflict means another delivery moved the cursor: read it again and go on (or,
            // after a failure, leave it to that delivery's progress).
            self.table
                .save_audience(restock_id, &progressed, rev)
                .await?;
            if let Some(first) = failed {
                return steps.swap_remove(first);
            }
        }
    }

    /// Looks at one wisher and writes what it comes to: a member of the audience, the removal
    /// of a stale index entry, or nothing.
    async fn decide(
        &self,
        report: &AvailabilityChanged,
        restock_id: &str,
        id: String,
    ) -> Result<(), StoreError> {
        match self.verdict(report, id).await? {
            Verdict::Notify(customer_id) => {
                self.table.add_to_audience(restock_id, &customer_id).await
            }
            Verdict::Stale { owner_id, key } => {
                self.table.unindex_wish(&owner_id, &report.sku, &key).await
            }
            Verdict::OtherSize | Verdict::NotTheirStore | Verdict::No => Ok(()),
        }
    }

    /// Whether a wisher (a customer or guest id from the index) is to be notified: its
    /// customer's folded wishlist (purchases and guest sign-ins included) holds the SKU in a
    /// matching size.
    async fn verdict(
        &self,
        report: &AvailabilityChanged,
        id: String,
    ) -> Result<Verdict, StoreError> {
        let own = self.table.id_state(&id).await?;
        let own_add = own
            .ops
            .wishlist
            .entries
            .get(&report.sku)
            .filter(|entry| matches!(entry.op, WishOp::Add { .. }))
            .map(|entry| entry.key.clone());
        let (customer_id, state) = match own.linked_to.clone() {
            // A guest's wish belongs to the customer it was linked to.
            Some((customer_id, _)) => {
                let state = self.table.customer_state(&customer_id).await?;
                (customer_id, state)
            }
            None => {
                let state = self.table.customer_state_with(&id, own).await?;
                (id.clone(), state)
            }
        };
        let wished = state
            .shopping
            .wishlist
            .iter()
            .find(|item| item.sku == report.sku);
        // A restock at a store is for the wishers for whom it is one of their stores (v1.1).
        let nearby = report
            .store_id
            .as_deref()
            .is_none_or(|store_id| state.is_their_store(store_id));
        Ok(match (wished, own_add) {
            (Some(item), _)
                if sizes_match(item.preferred_size.as_deref(), report.size.as_deref()) =>
            {
                if nearby {
                    Verdict::Notify(customer_id)
                } else {
                    Verdict::NotTheirStore
                }
            }
            (Some(_), _) => Verdict::OtherSize,
            (None, Some(key)) => Verdict::Stale { owner_id: id, key },
            (None, None) => Verdict::No,
        })
    }

    /// Sends the notifications of every member not marked sent, ten to a batch, several batches
    /// at once.
    async fn notify_audience(
        &self,
        report: &AvailabilityChanged,
        restock_id: &str,
    ) -> Result<usize, NotifyError> {
        let members = self.table.unsent_members(restock_id).await?;
        let batches: Vec<Vec<Member>> = members.chunks(BATCH).map(<[Member]>::to_vec).collect();
        let sent: Vec<Result<usize, NotifyError>> = futures::stream::iter(batches)
            .map(|batch| async move { self.notify_batch(report, restock_id, &batch).await })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        sent.into_iter().sum()
    }

    async fn notify_batch(
        &self,
        report: &AvailabilityChanged,
        restock_id: &str,
        members: &[Member],
    ) -> Result<usize, NotifyError> {
        let now = now_ms();
        let mut to_send = Vec::new();
        for member in members {
            let customer_id = &member.customer_id;
            match self
                .table
                .claim_notification(restock_id, member, now)
                .await?
            {
                Claim::Send => to_send.push(BackInStock::new(
                    customer_id,
                    restock_id,
                    &report.sku,
                    report.size.as_deref(),
                    report.store_id.as_deref(),
                )),
                Claim::AlreadySent => {}
                Claim::PastWindow => {
                    // Claimed more than the resend horizon ago and never marked sent: it may
                    // have been sent, and a copy now would reach the customer. Taken as sent.
                    tracing::warn!(
                        customer_id,
                        restock = restock_id,
                        outcome = "taken_as_sent",
                        "a notification claimed before the deduplication window is not sent again"
                    );
                    self.table.mark_sent(restock_id, customer_id).await?;
                }
            }
        }
        if to_send.is_empty() {
            return Ok(0);
        }
        let batch: Vec<(&BackInStock, String, String)> = to_send
            .iter()
            .map(|n| (n, n.customer_id.clone(), n.notification_id.clone()))
            .collect();
        let failed = self
            .publisher
            .publish_fifo_batch(&self.notifications_queue_url, &batch)
            .await?;
        let mut sent = 0;
        for (index, notification) in to_send.iter().enumerate() {
            if failed.contains(&index) {
                continue;
            }
            self.table
                .mark_sent(restock_id, &notification.customer_id)
                .await?;
            tracing::info!(customer_id = %notification.customer_id, restock = restock_id, notification_id = %notification.notification_id, outcome = "notified");
            sent += 1;
        }
        if failed.is_empty() {
            Ok(sent)
        } else {
            Err(NotifyError::NotAccepted {
                failed: failed.len(),
            })
        }
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
