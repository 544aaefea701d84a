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

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use omnisync::aws::Clients;
use omnisync::config::FunctionConfig;
use omnisync::contract::Channel;
use omnisync::store::StoreError;
use omnisync::store::customer::CustomerReader;
use omnisync::store::view::ViewVersions;
use omnisync::view::{ViewChanged, project};

pub struct ViewFanout {
    reader: CustomerReader,
    versions: ViewVersions,
    sqs: aws_sdk_sqs::Client,
    channels: Vec<(Channel, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error("the template sets no channel-updates queue URLs for this function")]
    NoChannels,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not encode the view: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not publish to {channel}: {}", aws_sdk_sqs::error::DisplayErrorContext(.source))]
    Publish {
        channel: Channel,
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },
}

impl ViewFanout {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Result<Self, FanoutError> {
        if config.channel_updates.len() != Channel::ALL.len() {
            return Err(FanoutError::NoChannels);
        }
        Ok(ViewFanout {
            reader: CustomerReader::new(clients.dynamodb.clone(), &config.table),
            versions: ViewVersions::new(clients.dynamodb.clone(), &config.table),
            sqs: clients.sqs.clone(),
            channels: config.channel_updates.clone(),
        })
    }

    /// Publishes the new view of every customer the batch changed.
    pub async fn process(&self, batch: DynamoDbEvent) -> DynamoDbEventResponse {
        // Customers in the order of their first record, with their records' sequence numbers.
        let mut changed: Vec<(String, Vec<String>)> = Vec::new();
        for record in &batch.records {
            let Some(customer_id) = customer_of(record) else {
                continue;
            };
            let sequence = record.change.sequence_number.clone().unwrap_or_default();
            match changed.iter_mut().find(|(id, _)| *id == customer_id) {
                Some((_, sequences)) => sequences.push(sequence),
                None => changed.push((customer_id, vec![sequence])),
            }
        }
        let mut response = DynamoDbEventResponse::default();
        for (customer_id, sequences) in &changed {
            if let Err(error) = self.publish_for(customer_id, sequences.len() as u64).await {
                tracing::warn!(customer_id, error = %error, outcome = "retry", "view fan-out failed");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequences.first().cloned();
                response.batch_item_failures.push(failure);
                break;
            }
        }
        response
    }

    /// Bumps the version *before* reading the state it publishes. Every change bumps after it was
    /// written (its stream record comes later), so the read that goes with the highest version
    /// happens after every change that bumped: the highest version is never a stale view, even
    /// when two shards publish one customer at once (its own records and a linked guest's).
    async fn publish_for(&self, id: &str, changes: u64) -> Result<(), FanoutError> {
        let version = self.versions.bump(id, changes).await?;
        let own = self.reader.partition(id).await?;
        let linked_customer = own
            .linked_to
            .as_ref()
            .map(|(customer_id, _)| customer_id.clone());
        self.send(version, self.reader.load_with(id, own).await?)
            .await?;
        // A linked guest's ops are part of its customer's cart and wishlist.
        if let Some(customer_id) = linked_customer {
            let version = self.versions.bump(&customer_id, changes).await?;
            self.send(version, self.reader.load(&customer_id).await?)
                .await?;
        }
        Ok(())
    }

    async fn send(
        &self,
        version: u64,
        state: omnisync::store::customer::CustomerState,
    ) -> Result<(), FanoutError> {
        let body = serde_json::to_string(&ViewChanged::new(project(&state, version)))?;
        for (channel, queue_url) in &self.channels {
            self.sqs
                .send_message()
                .queue_url(queue_url)
                .message_body(&body)
                .send()
                .await
                .map_err(|e| FanoutError::Publish {
                    channel: *channel,
                    source: Box::new(e.into()),
                })?;
        }
        tracing::info!(customer_id = %state.customer_id, version, outcome = "published");
        Ok(())
    }
}

/// The customer id whose partition a record is in, if it is a customer partition.
fn customer_of(record: &EventRecord) -> Option<String> {
    match record.change.keys.get("pk") {
        Some(serde_dynamo::AttributeValue::S(pk)) => {
            pk.strip_prefix("CUSTOMER#").map(str::to_owned)
        }
        _ => None,
    }
}
