//! view-fanout: after every change of a customer's state, `customer.view_changed` with the whole
//! view and its version on `channel-updates-web`, `-app`, `-store` and `-call_center`.
//!
//! Triggered by the state table's stream (filtered to `CUSTOMER#` partitions). Records of one
//! customer arrive in order on one shard and a shard is processed one batch at a time, so for
//! each customer the versions published only grow. Per batch, each affected customer gets one
//! version bump by the number of its changes (so the version grows by at least one per change),
//! one read of its state, and one message per channel. A change under a guest id that is linked
//! also changes the linked customer's view.
//!
//! A consumer keeps the highest version it has seen: the view published with the highest version
//! was read after the last change, so it is current.
//!
//! Its second trigger is the stream mapping's own on-failure queue, `view-fanout-failures`: every
//! customer whose records the mapping gave up on gets its current view published again, with a
//! new version (`omnisync::batch::recovery`; every customer, when the records have left the
//! stream).

mod offload;

pub use offload::{MAX_INLINE_BYTES, POINTER_CLASS, SIZE_ATTRIBUTE};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use omnisync::aws::Clients;
use omnisync::batch::recovery::{Recover, RecoveryProcessor, comes_from};
use omnisync::batch::{BoxError as RecoverError, in_shard_order};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{Channel, ViewChanged};
use omnisync::domain::customer::CustomerState;
use omnisync::domain::projection::project;
use omnisync::lambda::{BoxError, Deadline, Function};
use omnisync::queue::{Attribute, PublishError, Publisher};
use omnisync::store::stream::Change;
use omnisync::store::stream_range::StreamReader;
use omnisync::store::{MAX_ATTEMPTS, ReportChange, StoreError, Table};

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike). It needs all four `channel-updates-<channel>` queues.
pub fn function(clients: &Clients, config: &FunctionConfig) -> Result<Triggers, ConfigError> {
    let fanout = std::sync::Arc::new(ViewFanout {
        table: config.state_table(clients),
        publisher: Publisher::new(clients.sqs.clone()),
        channels: config.require_channel_updates()?,
        s3: aws_sdk_s3::Client::new(&clients.sdk),
        views_bucket: config.require_views_bucket()?,
    });
    Ok(Triggers {
        recovery: RecoveryProcessor {
            table: fanout.table.clone(),
            streams: StreamReader::from_sdk(&clients.sdk),
            publisher: fanout.publisher.clone(),
            queue_url: config.require_recovery_queue()?,
            recover: Republish(std::sync::Arc::clone(&fanout)),
        },
        fanout,
    })
}

/// The deployed function: the stream, and its failure queue.
pub struct Triggers {
    fanout: std::sync::Arc<ViewFanout>,
    recovery: RecoveryProcessor<Republish>,
}

impl Function for Triggers {
    type Event = serde_json::Value;
    type Response = serde_json::Value;

    async fn invoke(
        &self,
        event: serde_json::Value,
        deadline: Deadline,
    ) -> Result<serde_json::Value, BoxError> {
        if comes_from(&event, &self.recovery.queue_url) {
            let batch: SqsEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                self.recovery.process(batch, deadline).await,
            )?)
        } else {
            let batch: DynamoDbEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(
                self.fanout.process(batch, deadline).await,
            )?)
        }
    }
}

/// Recovery: the customer's current view, published again with a new version.
pub struct Republish(std::sync::Arc<ViewFanout>);

impl Recover for Republish {
    fn sweep_prefix(&self) -> &'static str {
        ""
    }

    async fn recover(&self, id: &str) -> Result<(), RecoverError> {
        Ok(self.0.publish_for(id, 1).await?)
    }
}

pub struct ViewFanout {
    table: Table,
    publisher: Publisher,
    channels: Vec<(Channel, String)>,
    s3: aws_sdk_s3::Client,
    views_bucket: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not encode the view: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not store the oversized view of {customer_id} in {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(.source))]
    Offload {
        customer_id: String,
        bucket: String,
        #[source]
        source: Box<aws_sdk_s3::Error>,
    },
    #[error("could not publish to {channel}: {source}")]
    Publish {
        channel: Channel,
        #[source]
        source: PublishError,
    },
}

impl ViewFanout {
    /// Publishes the new view of every customer the batch changed.
    pub async fn process(&self, batch: DynamoDbEvent, deadline: Deadline) -> DynamoDbEventResponse {
        // Customers in the order of their first record, with their records' sequence numbers.
        let mut changed: Vec<(String, Vec<String>)> = Vec::new();
        for record in &batch.records {
            let change = Change::of(record);
            let Some(customer_id) = change.customer_id() else {
                continue;
            };
            let sequence = change.sequence();
            match changed.iter_mut().find(|(id, _)| id == customer_id) {
                Some((_, sequences)) => sequences.push(sequence),
                None => changed.push((customer_id.to_owned(), vec![sequence])),
            }
        }
        // A customer that fails is retried from its first record (the ones after it are
        // published again, which a consumer keeping the highest version absorbs).
        let units = changed.into_iter().map(|(customer_id, sequences)| {
            let first = sequences.first().cloned().unwrap_or_default();
            (first, (customer_id, sequences.len() as u64))
        });
        in_shard_order(units, deadline, |(customer_id, changes)| async move {
            self.publish_for(&customer_id, changes).await
        })
        .await
    }

    /// Bumps the version *before* reading the state it publishes. Every change bumps after it was
    /// written (its stream record comes later), so the read that goes with the highest version
    /// happens after every change that bumped: the highest version is never a stale view, even
    /// when two shards publish one customer at once (its own records and a linked guest's).
    async fn publish_for(&self, id: &str, changes: u64) -> Result<(), FanoutError> {
        let version = self.table.bump_view_version(id, changes).await?;
        let own = self.table.id_state(id).await?;
        let linked_customer = own
            .linked_to
            .as_ref()
            .map(|(customer_id, _)| customer_id.clone());
        let mut state = self.table.customer_state_with(id, own).await?;
        self.reconcile_report(version, &mut state).await?;
        self.send(version, state).await?;
        // A linked guest's ops (and touches) are part of its customer's cart, wishlist, timeline
        // and attribution.
        if let Some(customer_id) = linked_customer {
            let version = self.table.bump_view_version(&customer_id, changes).await?;
            let mut state = self.table.customer_state(&customer_id).await?;
            self.reconcile_report(version, &mut state).await?;
            self.send(version, state).await?;
        }
        Ok(())
    }

    /// Brings the report records of the customer's orders to what its state gives
    /// (`omnisync::domain::report`): reads the records (one query, only for a customer with
    /// orders), and commits those that differ with the counters they move, while `version` is
    /// still the customer's (else a newer publication does it). A lost race reads them again.
    async fn reconcile_report(
        &self,
        version: u64,
        state: &mut CustomerState,
    ) -> Result<(), FanoutError> {
        if state.orders.is_empty() {
            return Ok(());
        }
        for attempt in 0..MAX_ATTEMPTS {
            let stored = self.table.reported(&state.customer_id).await?;
            state.reported = stored
                .iter()
                .map(|(order_id, s)| (order_id.clone(), s.record.clone()))
                .collect();
            let changes: Vec<ReportChange> = state
                .reported_now()
                .into_iter()
                .filter_map(|(order_id, now)| {
                    let stored = stored.get(&order_id).cloned();
                    let before = stored
                        .as_ref()
                        .map(|s| s.record.clone())
                        .unwrap_or_default();
                    (before != now).then_some(ReportChange {
                        order_id,
                        stored,
                        now,
                    })
                })
                .collect();
            if changes.is_empty() {
                return Ok(());
            }
            match self
                .table
                .commit_reported(&state.customer_id, version, &changes)
                .await?
            {
                Ok(outcome) => {
                    tracing::info!(customer_id = %state.customer_id, version, orders = changes.len(), outcome = ?outcome, "report records");
                    return Ok(());
                }
                Err(()) => {
                    omnisync::metrics::contention_retry();
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt.min(5)))
                        .await;
                }
            }
        }
        Err(StoreError::Contention {
            pk: format!("VIEW#{}", state.customer_id),
            sk: "REPORTED#".into(),
            attempts: MAX_ATTEMPTS,
        }
        .into())
    }

    async fn send(&self, version: u64, state: CustomerState) -> Result<(), FanoutError> {
        let view = serde_json::to_string(&ViewChanged::new(project(&state, version)))?;
        let size = u64::try_from(view.len()).unwrap_or(u64::MAX);
        let (body, attributes) = if view.len() <= MAX_INLINE_BYTES {
            (view, Vec::new())
        } else {
            let key = offload::object_key(&state.customer_id, version);
            self.s3
                .put_object()
                .bucket(&self.views_bucket)
                .key(&key)
                .content_type("application/json")
                .body(view.into_bytes().into())
                .send()
                .await
                .map_err(|e| FanoutError::Offload {
                    customer_id: state.customer_id.clone(),
                    bucket: self.views_bucket.clone(),
                    source: Box::new(e.into()),
                })?;
            tracing::info!(customer_id = %state.customer_id, version, size, outcome = "offloaded");
            (
                offload::pointer(&self.views_bucket, &key)?,
                vec![(SIZE_ATTRIBUTE, Attribute::Number(size))],
            )
        };
        for (channel, queue_url) in &self.channels {
            self.publisher
                .send_body(queue_url, &body, &attributes)
                .await
                .map_err(|source| FanoutError::Publish {
                    channel: *channel,
                    source,
                })?;
        }
        tracing::info!(customer_id = %state.customer_id, version, outcome = "published");
        Ok(())
    }
}
