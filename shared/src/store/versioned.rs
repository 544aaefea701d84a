//! The optimistic-concurrency loop every item write goes through.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::time::Duration;

/// How often a write re-reads and retries after losing a race before it gives up (the event is
/// then redelivered by SQS, which spreads the contention out further).
const MAX_ATTEMPTS: u32 = 8;
const BACKOFF_BASE: Duration = Duration::from_millis(10);
const BACKOFF_CAP: Duration = Duration::from_millis(400);

const PK: &str = "pk";
const SK: &str = "sk";
const REV: &str = "rev";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The item changed (one conditional write).
    Written,
    /// The event was already in the item, or superseded: nothing written.
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} on {pk}/{sk} failed: {}", DisplayErrorContext(.source))]
    Request {
        operation: &'static str,
        pk: String,
        sk: String,
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
    #[error("item {pk}/{sk} has an unexpected shape: {source}")]
    Corrupt {
        pk: String,
        sk: String,
        #[source]
        source: serde_dynamo::Error,
    },
    #[error("item {pk}/{sk} was changed by other writers {attempts} times in a row")]
    Contention {
        pk: String,
        sk: String,
        attempts: u32,
    },
}

/// One item of the state table: its keys, its revision, and a typed body.
pub(crate) struct Versioned<'a> {
    pub client: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
    pub pk: String,
    pub sk: String,
}

impl Versioned<'_> {
    /// Reads the item's body (default when absent) and its revision (0 when absent).
    pub async fn read<T: DeserializeOwned + Default>(&self) -> Result<(T, u64), StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table)
            .key(PK, AttributeValue::S(self.pk.clone()))
            .key(SK, AttributeValue::S(self.sk.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.request_error("GetItem", e.into()))?;
        match output.item {
            None => Ok((T::default(), 0)),
            Some(item) => self.decode(item),
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        mut item: HashMap<String, AttributeValue>,
    ) -> Result<(T, u64), StoreError> {
        item.remove(PK);
        item.remove(SK);
        let rev = match item.remove(REV) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        };
        let body = serde_dynamo::from_item(item).map_err(|source| self.corrupt(source))?;
        match rev {
            Some(rev) => Ok((body, rev)),
            None => Err(
                self.corrupt(<serde_dynamo::Error as serde::de::Error>::custom(
                    "missing or non-numeric `rev`",
                )),
            ),
        }
    }

    /// Reads, applies `change` (which returns whether it changed anything), and writes back on
    /// condition that nobody wrote in between; retries on a lost race.
    pub async fn update<T>(
        &self,
        mut change: impl FnMut(&mut T) -> bool,
    ) -> Result<WriteOutcome, StoreError>
    where
        T: Serialize + DeserializeOwned + Default,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let (mut body, rev) = self.read::<T>().await?;
            if !change(&mut body) {
                return Ok(WriteOutcome::Unchanged);
            }
            let mut item = serde_dynamo::to_item::<_, HashMap<String, AttributeValue>>(&body)
                .map_err(|source| self.corrupt(source))?;
            item.insert(PK.into(), AttributeValue::S(self.pk.clone()));
            item.insert(SK.into(), AttributeValue::S(self.sk.clone()));
            item.insert(REV.into(), AttributeValue::N((rev + 1).to_string()));
            let put = self
                .client
                .put_item()
                .table_name(self.table)
                .set_item(Some(item));
            let put = if rev == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#rev = :rev")
                    .expression_attribute_names("#rev", REV)
                    .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
            };
            match put.send().await {
                Ok(_) => return Ok(WriteOutcome::Written),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    tracing::debug!(pk = %self.pk, sk = %self.sk, attempt, "lost a write race; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => return Err(self.request_error("PutItem", err.into())),
            }
        }
        Err(StoreError::Contention {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    fn request_error(
        &self,
        operation: &'static str,
        source: aws_sdk_dynamodb::Error,
    ) -> StoreError {
        StoreError::Request {
            operation,
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            source: Box::new(source),
        }
    }

    fn corrupt(&self, source: serde_dynamo::Error) -> StoreError {
        StoreError::Corrupt {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            source,
        }
    }
}

/// Exponential backoff with full jitter.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}
