//! Reading back a range of the state table's stream: the records a stream mapping gave up on.
//!
//! When Lambda gives up on stream records (retries exhausted, or older than
//! `MaximumRecordAgeInSeconds`) its on-failure destination gets only where they are: the shard
//! and the first and last sequence numbers. The records themselves stay in the stream for 24
//! hours. This reads them back while they are there, and says so plainly when they are not
//! ([`RangeRead::Gone`]), so the caller can fall back to reconciling from the table itself.

use super::key::customer_of_pk;
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Where the given-up records are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRange {
    pub stream_arn: String,
    pub shard_id: String,
    pub start_sequence: String,
    pub end_sequence: String,
}

/// What reading a range came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRead {
    /// The ids (customers and guests) whose partitions the range's records changed.
    Customers(BTreeSet<String>),
    /// The records are no longer in the stream (trimmed after 24 hours, or the stream was
    /// replaced): who they touched cannot be known from the stream.
    Gone,
}

#[derive(Debug, thiserror::Error)]
#[error("DynamoDB Streams {operation} on {shard_id} failed: {message}")]
pub struct StreamReadError {
    pub operation: &'static str,
    pub shard_id: String,
    pub message: String,
}

/// Records per `GetRecords` page: a given-up range is at most one stream batch (the mappings'
/// `BatchSize`, 100), so one page usually holds it all; a page of the maximum, 1,000 records with
/// their images, can take longer than the SDK's attempt timeout to come back.
const PAGE_RECORDS: i32 = 100;

/// How many empty pages in a row end a read that has not reached the range's end: the shard is
/// open and the end record is known to exist, so an empty page only means "not yet".
const EMPTY_PAGES_LIMIT: usize = 20;

/// Stream sequence numbers are decimal strings of up to 40 digits: compare them as numbers.
pub fn compare_sequence(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The DynamoDB Streams client, for reading ranges back.
#[derive(Debug, Clone)]
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
}

impl StreamReader {
    pub fn new(client: aws_sdk_dynamodbstreams::Client) -> Self {
        StreamReader { client }
    }

    /// A reader on the function's SDK configuration (its region, endpoint and credentials).
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_dynamodbstreams::Client::new(sdk))
    }

    /// The ids whose partitions the records of `range` changed, or [`RangeRead::Gone`].
    pub async fn customers_in(&self, range: &StreamRange) -> Result<RangeRead, StreamReadError> {
        let error = |operation: &'static str, message: String| StreamReadError {
            operation,
            shard_id: range.shard_id.clone(),
            message,
        };
        let started = self
            .client
            .get_shard_iterator()
            .stream_arn(&range.stream_arn)
            .shard_id(&range.shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&range.start_sequence)
            .send()
            .await;
        let mut iterator = match started {
            Ok(output) => output.shard_iterator,
            Err(SdkError::ServiceError(e))
                if e.err().is_trimmed_data_access_exception()
                    || e.err().is_resource_not_found_exception() =>
            {
                return Ok(RangeRead::Gone);
            }
            Err(e) => {
                return Err(error(
                    "GetShardIterator",
                    DisplayErrorContext(&e).to_string(),
                ));
            }
        };
        let mut customers = BTreeSet::new();
        let mut empty_pages = 0;
        while let Some(current) = iterator {
            let page = match self
                .client
                .get_records()
                .shard_iterator(current)
                .limit(PAGE_RECORDS)
                .send()
                .await
            {
                Ok(page) => page,
                Err(SdkError::ServiceError(e)) if e.err().is_trimmed_data_access_exception() => {
                    return Ok(RangeRead::Gone);
                }
                Err(e) => return Err(error("GetRecords", DisplayErrorContext(&e).to_string())),
            };
            let records = page.records.unwrap_or_default();
            empty_pages = if records.is_empty() {
                empty_pages + 1
            } else {
                0
            };
            for record in &records {
                let Some(change) = &record.dynamodb else {
                    continue;
                };
                let sequence = change.sequence_number.as_deref().unwrap_or_default();
                if compare_sequence(sequence, &range.end_sequence) == Ordering::Greater {
                    return Ok(RangeRead::Customers(customers));
                }
                let pk = change.keys.as_ref().and_then(|keys| match keys.get("pk") {
                    Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(pk)) => Some(pk),
                    _ => None,
                });
                if let Some(id) = pk.and_then(|pk| customer_of_pk(pk)) {
                    customers.insert(id.to_owned());
                }
                if compare_sequence(sequence, &range.end_sequence) != Ordering::Less {
                    return Ok(RangeRead::Customers(customers));
                }
            }
            if empty_pages >= EMPTY_PAGES_LIMIT {
                return Err(error(
                    "GetRecords",
                    format!(
                        "{EMPTY_PAGES_LIMIT} empty pages before sequence number {}",
                        range.end_sequence
                    ),
                ));
            }
            iterator = page.next_shard_iterator;
        }
        // The shard is closed and ended before the range's end: everything there was is read.
        Ok(RangeRead::Customers(customers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers_not_as_text() {
        assert_eq!(compare_sequence("900", "1000"), Ordering::Less);
        assert_eq!(compare_sequence("1000", "1000"), Ordering::Equal);
        assert_eq!(compare_sequence("0100", "100"), Ordering::Equal);
        assert_eq!(
            compare_sequence(
                "4000000000000000000000000000000000000001",
                "4000000000000000000000000000000000000000"
            ),
            Ordering::Greater
        );
    }
}
