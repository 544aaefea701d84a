//! How the store writes: one table handle, the optimistic-concurrency loop every item update goes
//! through, the transactional twins of its writes, one retry-on-conflict loop for decisions that
//! are committed against what was read, and one reader of transaction cancellation reasons.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put};
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::time::Duration;

use super::key::{CustomerItem, customer_pk};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

/// How often a write re-reads and retries after losing a race before it gives up (the event is
/// then redelivered by SQS, which spreads the contention out further).
pub const MAX_ATTEMPTS: u32 = 8;
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

impl StoreError {
    /// The rejection for a request DynamoDB refused as invalid (`ValidationException`): it
    /// fails the same way every time, so retrying it only delays the DLQ. An item over the
    /// 400 KB limit is `too_large`; any other is `invalid_field`, with DynamoDB's message.
    pub fn refused_as_invalid(&self) -> Option<crate::contract::Rejection> {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata;
        let StoreError::Request {
            operation,
            pk,
            sk,
            source,
        } = self
        else {
            return None;
        };
        if source.code() != Some("ValidationException") {
            return None;
        }
        let message = source.message().unwrap_or_default();
        let reason = if message.to_lowercase().contains("size") {
            crate::contract::ReasonCode::TooLarge
        } else {
            crate::contract::ReasonCode::InvalidField
        };
        Some(crate::contract::Rejection::new(
            reason,
            format!("DynamoDB refused {operation} on {pk}/{sk}: {message}"),
        ))
    }
}

/// A conditional write whose failed condition is an answer, not an error (the item moved on,
/// or the change is already there): `Ok(true)` when it wrote, `Ok(false)` when the condition
/// failed; any other error through `failed`.
pub(crate) fn written_unless_condition_failed<O, E, R>(
    sent: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
    failed: impl FnOnce(aws_sdk_dynamodb::Error) -> StoreError,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    match sent {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(err) => Err(failed(err.into())),
    }
}

/// The state table: the client and the table's name. Cheap to clone (the client is shared).
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) name: String,
}

impl Table {
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Table {
            client,
            name: name.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One item, by its keys.
    pub(crate) fn item(&self, pk: String, sk: String) -> Versioned<'_> {
        Versioned {
            client: &self.client,
            table: &self.name,
            pk,
            sk,
        }
    }

    /// An item of a customer's partition.
    pub(crate) fn customer_item(&self, customer_id: &str, item: &CustomerItem) -> Versioned<'_> {
        self.item(customer_pk(customer_id), item.sk())
    }

    pub(crate) fn request_error(
        &self,
        operation: &'static str,
        pk: &str,
        sk: &str,
        source: aws_sdk_dynamodb::Error,
    ) -> StoreError {
        StoreError::Request {
            operation,
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            source: Box::new(source),
        }
    }
}

/// One item of the state table: its keys, its revision, and a typed body.
pub(crate) struct Versioned<'a> {
    pub client: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
    pub pk: String,
    pub sk: String,
}

impl Versioned<'_> {
    /// Reads the item's body (`None` when absent) and its revision (0 when absent).
    pub async fn read_existing<T: DeserializeOwned>(&self) -> Result<(Option<T>, u64), StoreError> {
        match self.read_item().await? {
            None => Ok((None, 0)),
            Some(item) => self.decode(item).map(|(body, rev)| (Some(body), rev)),
        }
    }

    /// Reads the whole item as stored (empty when absent), strongly consistent.
    pub async fn read_raw(&self) -> Result<HashMap<String, AttributeValue>, StoreError> {
        Ok(self.read_item().await?.unwrap_or_default())
    }

    /// The one `GetItem` of an item: strongly consistent, `None` when absent.
    async fn read_item(&self) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
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
        Ok(output.item)
    }

    /// Writes a register item, `body` (with its event key flattened as `t` and `e`), if it is
    /// later than the one stored: one conditional `UpdateItem`, no read. The attributes named in
    /// `optional` that `body` leaves out are removed. A failed condition is the answer: the
    /// stored op is the same or later, so nothing is written.
    pub async fn put_if_later<T: Serialize>(
        &self,
        body: &T,
        optional: &[&str],
    ) -> Result<WriteOutcome, StoreError> {
        let attributes = serde_dynamo::to_item::<_, HashMap<String, AttributeValue>>(body)
            .map_err(|source| self.corrupt(source))?;
        let (Some(AttributeValue::N(t)), Some(AttributeValue::S(e))) =
            (attributes.get("t"), attributes.get("e"))
        else {
            return Err(
                self.corrupt(<serde_dynamo::Error as serde::ser::Error>::custom(
                    "a register item needs its event key (`t`, `e`)",
                )),
            );
        };
        let (t, e) = (t.clone(), e.clone());
        let mut update = self
            .client
            .update_item()
            .table_name(self.table)
            .key(PK, AttributeValue::S(self.pk.clone()))
            .key(SK, AttributeValue::S(self.sk.clone()))
            .condition_expression("attribute_not_exists(#t) OR #t < :t OR (#t = :t AND #e < :e)")
            .expression_attribute_names("#rev", REV)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":t", AttributeValue::N(t))
            .expression_attribute_values(":e", AttributeValue::S(e));
        let mut sets = Vec::new();
        let mut names: Vec<&String> = attributes.keys().collect();
        names.sort();
        for (i, name) in names.into_iter().enumerate() {
            let placeholder = match name.as_str() {
                "t" => "#t".to_owned(),
                "e" => "#e".to_owned(),
                _ => format!("#a{i}"),
            };
            sets.push(format!("{placeholder} = :a{i}"));
            update = update
                .expression_attribute_names(&placeholder, name)
                .expression_attribute_values(format!(":a{i}"), attributes[name].clone());
        }
        let mut removed = Vec::new();
        for name in optional
            .iter()
            .filter(|name| !attributes.contains_key(**name))
        {
            let placeholder = format!("#r{}", removed.len());
            update = update.expression_attribute_names(&placeholder, *name);
            removed.push(placeholder);
        }
        let mut expression = format!("SET {} ADD #rev :one", sets.join(", "));
        if !removed.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removed.join(", ")));
        }
        let sent = update.update_expression(expression).send().await;
        let written =
            written_unless_condition_failed(sent, |e| self.request_error("UpdateItem", e))?;
        Ok(if written {
            WriteOutcome::Written
        } else {
            WriteOutcome::Unchanged
        })
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> Result<(T, u64), StoreError> {
        decode(&self.pk, &self.sk, item)
    }

    /// Writes `body` as a new item (revision 1) unless the item exists. Returns whether it was
    /// created. One conditional write, no read.
    pub async fn create<T: Serialize>(&self, body: &T) -> Result<bool, StoreError> {
        let item = self.encode(body, 1)?;
        let put = self
            .client
            .put_item()
            .table_name(self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        written_unless_condition_failed(put.send().await, |e| self.request_error("PutItem", e))
    }

    /// A `Put` for a transaction that creates the item (revision 1) only if it is absent: the
    /// transactional twin of [`Self::create`].
    pub(crate) fn create_put<T: Serialize>(&self, body: &T) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(self.table)
            .set_item(Some(self.encode(body, 1)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| self.request_error("TransactWriteItems", e.into()))
    }

    /// A `Put` for a transaction that replaces the item read at `rev` (revision `rev + 1`) only if
    /// nobody wrote it since: the transactional twin of the write in [`Self::update`].
    pub(crate) fn replace_put<T: Serialize>(&self, body: &T, rev: u64) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(self.table)
            .set_item(Some(self.encode(body, rev + 1)?))
            .condition_expression("#rev = :rev")
            .expression_attribute_names("#rev", REV)
            .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
            .build()
            .map_err(|e| self.request_error("TransactWriteItems", e.into()))
    }

    /// Writes `body` on condition that the item is still at `rev` (absent when `rev` is 0):
    /// [`Commit::Conflict`] when someone wrote it since.
    pub async fn put_at<T: Serialize>(&self, body: &T, rev: u64) -> Result<Commit<()>, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(self.table)
            .set_item(Some(self.encode(body, rev + 1)?));
        let put = if rev == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#rev = :rev")
                .expression_attribute_names("#rev", REV)
                .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
        };
        let written = written_unless_condition_failed(put.send().await, |e| {
            self.request_error("PutItem", e)
        })?;
        Ok(if written {
            Commit::Done(())
        } else {
            Commit::Conflict
        })
    }

    /// A `Delete` of the item for a transaction (unconditional: deleting an absent item is fine).
    pub(crate) fn delete_op(&self) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(self.table)
            .key(PK, AttributeValue::S(self.pk.clone()))
            .key(SK, AttributeValue::S(self.sk.clone()))
            .build()
            .map_err(|e| self.request_error("TransactWriteItems", e.into()))
    }

    pub(crate) fn encode<T: Serialize>(
        &self,
        body: &T,
        rev: u64,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item = serde_dynamo::to_item::<_, HashMap<String, AttributeValue>>(body)
            .map_err(|source| self.corrupt(source))?;
        item.insert(PK.into(), AttributeValue::S(self.pk.clone()));
        item.insert(SK.into(), AttributeValue::S(self.sk.clone()));
        item.insert(REV.into(), AttributeValue::N(rev.to_string()));
        Ok(item)
    }

    /// Reads, applies `change` (which returns whether it changed anything), and writes back on
    /// condition that nobody wrote in between; retries on a lost race. For an item that must
    /// exist: `Ok(None)` when it does not.
    pub async fn update_existing<T>(
        &self,
        mut change: impl FnMut(&mut T) -> bool,
    ) -> Result<Option<WriteOutcome>, StoreError>
    where
        T: Serialize + DeserializeOwned,
    {
        let mut absent = false;
        let outcome = self
            .compare_and_swap(|body: Option<&mut T>, _fresh: &mut Option<T>| match body {
                Some(body) => change(body),
                None => {
                    absent = true;
                    false
                }
            })
            .await?;
        Ok(if absent { None } else { outcome })
    }

    /// The read–change–conditional-put loop. `change` gets the stored body (or `None` and a slot
    /// for a new body) and says whether anything changed.
    async fn compare_and_swap<T>(
        &self,
        mut change: impl FnMut(Option<&mut T>, &mut Option<T>) -> bool,
    ) -> Result<Option<WriteOutcome>, StoreError>
    where
        T: Serialize + DeserializeOwned,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let (mut stored, rev) = self.read_existing::<T>().await?;
            let mut fresh = None;
            if !change(stored.as_mut(), &mut fresh) {
                return Ok(Some(WriteOutcome::Unchanged));
            }
            let Some(body) = stored.or(fresh) else {
                return Ok(Some(WriteOutcome::Unchanged));
            };
            match self.put_at(&body, rev).await? {
                Commit::Done(()) => return Ok(Some(WriteOutcome::Written)),
                Commit::Conflict => {
                    tracing::debug!(pk = %self.pk, sk = %self.sk, attempt, "lost a write race; retrying");
                    crate::metrics::contention_retry();
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        Err(StoreError::Contention {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    pub(crate) fn request_error(
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

    pub(crate) fn corrupt(&self, source: serde_dynamo::Error) -> StoreError {
        StoreError::Corrupt {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            source,
        }
    }
}

/// Splits a stored item into its typed body and its revision.
pub(crate) fn decode<T: DeserializeOwned>(
    pk: &str,
    sk: &str,
    mut item: HashMap<String, AttributeValue>,
) -> Result<(T, u64), StoreError> {
    let corrupt = |source| StoreError::Corrupt {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
        source,
    };
    item.remove(PK);
    item.remove(SK);
    let rev = match item.remove(REV) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    };
    let body = serde_dynamo::from_item(item).map_err(corrupt)?;
    match rev {
        Some(rev) => Ok((body, rev)),
        None => Err(corrupt(<serde_dynamo::Error as serde::de::Error>::custom(
            "missing or non-numeric `rev`",
        ))),
    }
}

/// What committing a decision against the state it was made on came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit<T> {
    /// Written (or, for a read-only outcome, nothing to write).
    Done(T),
    /// Someone else wrote first: read again and decide again.
    Conflict,
}

/// Runs `attempt` (read, decide, commit) until it is not a [`Commit::Conflict`], with jittered
/// backoff, at most [`MAX_ATTEMPTS`] times; then [`StoreError::Contention`] on the item named.
pub async fn retry_on_conflict<T, F, Fut>(
    pk: &str,
    sk: &str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Commit<T>, StoreError>>,
{
    for round in 0..MAX_ATTEMPTS {
        match attempt().await? {
            Commit::Done(value) => return Ok(value),
            Commit::Conflict => {
                tracing::debug!(pk, sk, attempt = round, "lost a race; deciding again");
                crate::metrics::contention_retry();
                tokio::time::sleep(backoff(round)).await;
            }
        }
    }
    Err(StoreError::Contention {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
        attempts: MAX_ATTEMPTS,
    })
}

/// Why one item of a cancelled transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// This item was fine; another one cancelled the transaction.
    None,
    /// Its condition failed.
    ConditionFailed,
    /// Another transaction or write was changing it at the same time.
    Conflict,
    /// Anything else (throttling, validation, capacity): not a decision to retry in-process.
    Other,
}

/// What a failed `TransactWriteItems` says, per item in request order; `None` when it failed for
/// a reason that is not a cancellation (then it is a plain request error).
pub fn cancellation<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<Cancelled>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| match reason.code() {
                    None | Some("None") => Cancelled::None,
                    Some("ConditionalCheckFailed") => Cancelled::ConditionFailed,
                    Some("TransactionConflict") => Cancelled::Conflict,
                    Some(_) => Cancelled::Other,
                })
                .collect(),
        ),
        // Another transaction with the same token, or on these items, is still running.
        TransactWriteItemsError::TransactionInProgressException(_) => {
            Some(vec![Cancelled::Conflict])
        }
        _ => None,
    }
}

/// Whether a cancellation is a lost race that deciding again resolves: every item was fine, lost
/// its condition, or conflicted.
pub fn is_lost_race(reasons: &[Cancelled]) -> bool {
    reasons.iter().all(|r| *r != Cancelled::Other)
}

/// Exponential backoff with full jitter.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}
