//! The DynamoDB Streams side of the runner (see the module docs of `runner`).

use crate::functions::JsonFunction;
use crate::stack::StreamSource;
use anyhow::{Context, Result};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Reader {
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    source: StreamSource,
    region: String,
    function: Arc<dyn JsonFunction>,
    function_name: String,
    filters: Vec<Value>,
    /// Shard id -> the sequence number of the last record done (delivered or given up on): a
    /// read that fails resumes after it, as Lambda's mapping keeps its place in the shard,
    /// instead of starting the shard over.
    checkpoints: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// One stream record, as Lambda's event JSON, with what the retry policy needs.
#[derive(Clone)]
struct Pending {
    sequence: String,
    created_at_seconds: f64,
    json: Value,
}

impl Reader {
    pub fn new(
        streams: aws_sdk_dynamodbstreams::Client,
        sqs: aws_sdk_sqs::Client,
        source: StreamSource,
        region: String,
        function: Arc<dyn JsonFunction>,
        function_name: String,
    ) -> Result<Self> {
        let filters = source
            .filter_patterns
            .iter()
            .map(|p| serde_json::from_str(p).with_context(|| format!("filter pattern {p}")))
            .collect::<Result<Vec<Value>>>()?;
        Ok(Reader {
            streams,
            sqs,
            source,
            region,
            function,
            function_name,
            filters,
            checkpoints: std::sync::Mutex::default(),
        })
    }

    pub async fn run(self) {
        loop {
            if let Err(error) = self.read_all_shards().await {
                tracing::warn!(mapping = %self.source.mapping, error = format!("{error:#}"), "stream read failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Reads every shard from the starting position to its end (a shard of a live table stays
    /// open, so in practice this follows the open shard).
    async fn read_all_shards(&self) -> Result<()> {
        let described = self
            .streams
            .describe_stream()
            .stream_arn(&self.source.stream_arn)
            .send()
            .await
            .context("DescribeStream")?;
        let shards = described
            .stream_description
            .map(|d| d.shards.unwrap_or_default())
            .unwrap_or_default();
        for shard in shards {
            let Some(shard_id) = shard.shard_id else {
                continue;
            };
            self.follow(&shard_id).await?;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(())
    }

    fn checkpoint(&self, shard_id: &str) -> Option<String> {
        self.checkpoints
            .lock()
            .ok()
            .and_then(|c| c.get(shard_id).cloned())
    }

    fn set_checkpoint(&self, shard_id: &str, sequence: &str) {
        if let Ok(mut checkpoints) = self.checkpoints.lock() {
            checkpoints.insert(shard_id.to_owned(), sequence.to_owned());
        }
    }

    async fn follow(&self, shard_id: &str) -> Result<()> {
        let mut last_sequence: Option<String> = self.checkpoint(shard_id);
        let mut iterator = self.iterator(shard_id, last_sequence.as_deref()).await?;
        while let Some(current) = iterator {
            let output = self
                .streams
                .get_records()
                .shard_iterator(current)
                .limit(self.source.batch_size.clamp(1, 1000) as i32)
                .send()
                .await
                .context("GetRecords")?;
            iterator = output.next_shard_iterator;
            let fetched = output.records.unwrap_or_default();
            if let Some(last) = fetched
                .last()
                .and_then(|r| r.dynamodb.as_ref())
                .and_then(|d| d.sequence_number.clone())
            {
                last_sequence = Some(last);
            }
            let records: Vec<Pending> = fetched
                .iter()
                .map(|r| self.pending(r))
                .filter(|p| self.passes_filters(&p.json))
                .collect();
            if !records.is_empty() {
                self.deliver(shard_id, records).await?;
            }
            if let Some(last) = &last_sequence {
                self.set_checkpoint(shard_id, last);
            }
            if fetched.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if last_sequence.is_none() && self.source.starting_position == "LATEST" {
                    continue;
                }
                // A fresh iterator after the last record read, as a long-running poller must take
                // anyway (iterators expire after 15 minutes on AWS).
                iterator = self.iterator(shard_id, last_sequence.as_deref()).await?;
            }
        }
        Ok(())
    }

    /// An iterator at the mapping's starting position, or just after `after`.
    async fn iterator(&self, shard_id: &str, after: Option<&str>) -> Result<Option<String>> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.source.stream_arn)
            .shard_id(shard_id);
        let request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None if self.source.starting_position == "LATEST" => {
                request.shard_iterator_type(ShardIteratorType::Latest)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request
            .send()
            .await
            .context("GetShardIterator")?
            .shard_iterator)
    }

    /// Invokes with one batch until every record is done or given up on.
    async fn deliver(&self, shard_id: &str, batch: Vec<Pending>) -> Result<()> {
        let mut queue: VecDeque<Vec<Pending>> = VecDeque::from([batch]);
        while let Some(mut pending) = queue.pop_front() {
            let mut retries = 0i64;
            while !pending.is_empty() {
                if let Some(expired) = self.expired_prefix(&pending) {
                    let gone: Vec<Pending> = pending.drain(..expired).collect();
                    self.give_up(shard_id, &gone, "RecordAgeExceeded", retries)
                        .await?;
                    continue;
                }
                let event = json!({ "Records": pending.iter().map(|p| p.json.clone()).collect::<Vec<_>>() });
                let failed_from = match self.function.invoke(event).await {
                    Ok(response) => {
                        let response: DynamoDbEventResponse = serde_json::from_value(response)
                            .context("reading the stream batch response")?;
                        let failed: Vec<String> = response
                            .batch_item_failures
                            .into_iter()
                            .filter_map(|f| f.item_identifier)
                            .collect();
                        if failed.is_empty() || !self.source.report_batch_item_failures {
                            None
                        } else {
                            // Resume from the lowest failed sequence number; an unknown one means the
                            // whole batch.
                            Some(
                                pending
                                    .iter()
                                    .position(|p| failed.contains(&p.sequence))
                                    .unwrap_or(0),
                            )
                        }
                    }
                    Err(error) => {
                        tracing::warn!(mapping = %self.source.mapping, %error, "stream invocation failed");
                        Some(0)
                    }
                };
                let Some(from) = failed_from else {
                    break;
                };
                pending.drain(..from);
                retries += 1;
                let limit = self.source.maximum_retry_attempts;
                if limit >= 0 && retries > limit {
                    if self.source.bisect_batch_on_function_error && pending.len() > 1 {
                        let second = pending.split_off(pending.len() / 2);
                        queue.push_front(second);
                        retries = 0;
                        continue;
                    }
                    let gone: Vec<Pending> = std::mem::take(&mut pending);
                    self.give_up(shard_id, &gone, "RetryAttemptsExhausted", retries)
                        .await?;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100 * retries.min(10) as u64)).await;
            }
        }
        Ok(())
    }

    /// How many leading records are older than `MaximumRecordAgeInSeconds`.
    fn expired_prefix(&self, pending: &[Pending]) -> Option<usize> {
        let limit = self.source.maximum_record_age_seconds;
        if limit < 0 {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let expired = pending
            .iter()
            .take_while(|p| now - p.created_at_seconds > limit as f64)
            .count();
        (expired > 0).then_some(expired)
    }

    /// Describes the records on the on-failure destination, as Lambda does (the records stay in
    /// the stream; the description says where), and moves on.
    async fn give_up(
        &self,
        shard_id: &str,
        records: &[Pending],
        condition: &str,
        attempts: i64,
    ) -> Result<()> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        tracing::warn!(mapping = %self.source.mapping, condition, first = %first.sequence, last = %last.sequence, "giving up on stream records");
        let Some(queue_url) = &self.source.on_failure_queue_url else {
            return Ok(());
        };
        let body = json!({
            "requestContext": {
                "functionArn": format!("arn:aws:lambda:{}:123456789012:function:{}", self.region, self.function_name),
                "condition": condition,
                "approximateInvokeCount": attempts + 1,
            },
            "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
            "version": "1.0",
            "timestamp": chrono_now(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first.sequence,
                "endSequenceNumber": last.sequence,
                "approximateArrivalOfFirstRecord": first.created_at_seconds,
                "approximateArrivalOfLastRecord": last.created_at_seconds,
                "batchSize": records.len(),
                "streamArn": self.source.stream_arn,
            },
        });
        // Lambda does not drop a record because its destination failed once: the description
        // is sent until it is accepted, and only then does the shard move on.
        let mut wait = Duration::from_millis(100);
        loop {
            match self
                .sqs
                .send_message()
                .queue_url(queue_url)
                .message_body(body.to_string())
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) => {
                    tracing::warn!(mapping = %self.source.mapping, error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "sending to the on-failure destination failed; sending again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn pending(&self, record: &Record) -> Pending {
        let change = record
            .dynamodb
            .clone()
            .unwrap_or_else(|| aws_sdk_dynamodbstreams::types::StreamRecord::builder().build());
        let image = |map: Option<
            std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
        >| {
            map.map(|m| {
                let item: serde_dynamo::Item = m.into();
                serde_json::to_value(item).unwrap_or(Value::Null)
            })
        };
        let created_at_seconds = change
            .approximate_creation_date_time
            .map(|t| t.as_secs_f64())
            .unwrap_or_default();
        let sequence = change.sequence_number.clone().unwrap_or_default();
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": created_at_seconds,
            "Keys": image(change.keys.clone()).unwrap_or(json!({})),
            "SequenceNumber": sequence,
            "SizeBytes": change.size_bytes.unwrap_or_default(),
            "StreamViewType": change.stream_view_type.as_ref().map(|v| v.as_str()),
        });
        if let Some(new_image) = image(change.new_image.clone()) {
            dynamodb["NewImage"] = new_image;
        }
        if let Some(old_image) = image(change.old_image.clone()) {
            dynamodb["OldImage"] = old_image;
        }
        Pending {
            sequence,
            created_at_seconds,
            json: json!({
                "eventID": record.event_id,
                "eventName": record.event_name.as_ref().map(|n| n.as_str()),
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": self.region,
                "dynamodb": dynamodb,
                "eventSourceARN": self.source.stream_arn,
            }),
        }
    }

    fn passes_filters(&self, record: &Value) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|pattern| matches_pattern(pattern, record))
    }
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("{now}")
}

/// Lambda event filtering, for the forms the template uses: nested objects whose leaves are
/// arrays of exact values or `{"prefix": "..."}`.
fn matches_pattern(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(key, sub)| value.get(key).is_some_and(|v| matches_pattern(sub, v))),
        Value::Array(options) => options.iter().any(|option| match option {
            Value::Object(rule) => match rule.get("prefix").and_then(Value::as_str) {
                Some(prefix) => value.as_str().is_some_and(|v| v.starts_with(prefix)),
                None => false,
            },
            exact => exact == value,
        }),
        exact => exact == value,
    }
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;
    use serde_json::json;

    #[test]
    fn prefix_and_exact_patterns() {
        let pattern = json!({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "ORDER#"}, {"prefix": "REFUND#"}]}}}});
        let order =
            json!({"dynamodb": {"Keys": {"pk": {"S": "CUSTOMER#c"}, "sk": {"S": "ORDER#o-1"}}}});
        let cart =
            json!({"dynamodb": {"Keys": {"pk": {"S": "CUSTOMER#c"}, "sk": {"S": "CART#LINE#A"}}}});
        assert!(matches_pattern(&pattern, &order));
        assert!(!matches_pattern(&pattern, &cart));
        assert!(matches_pattern(
            &json!({"eventName": ["INSERT"]}),
            &json!({"eventName": "INSERT"})
        ));
        assert!(!matches_pattern(
            &json!({"eventName": ["INSERT"]}),
            &json!({"eventName": "MODIFY"})
        ));
    }
}
