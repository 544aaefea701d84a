//! What a function actually asks of AWS, recorded from its own clients' requests: the IAM
//! action, the resource and, for DynamoDB, the partition key prefixes it touches. The template
//! test compares this with each function's role, so a policy that names too little fails
//! against real requests, not against a list written beside it.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// One kind of access: `("dynamodb:PutItem", "table", Some("CUSTOMER#"))`,
/// `("dynamodb:Query", "index/wishlist-by-sku", None)`, `("sqs:SendMessage", "rejected-events",
/// None)` (a queue by its name without the stack's prefix).
pub type Access = (String, String, Option<String>);

/// Records every request a client sends (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct AccessRecorder {
    prefix: String,
    seen: Arc<Mutex<BTreeSet<Access>>>,
}

impl AccessRecorder {
    /// A recorder for a stack whose queues are named `<prefix>-<name>`.
    pub fn new(prefix: &str) -> Self {
        AccessRecorder {
            prefix: format!("{prefix}-"),
            seen: Arc::default(),
        }
    }

    pub fn seen(&self) -> BTreeSet<Access> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn record(&self, access: Access) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(access);
        }
    }
}

/// The partition key prefix (up to and including the first `#`) of a key or item.
fn pk_prefix(item: &Value) -> Option<String> {
    item["pk"]["S"].as_str().map(prefix_of)
}

/// The partition key prefix a value has: up to and including its first `#` (`CUSTOMER#`), or
/// the whole value when it has none (`WAITING`).
fn prefix_of(value: &str) -> String {
    match value.find('#') {
        Some(at) => value[..=at].to_owned(),
        None => value.to_owned(),
    }
}

/// The prefix of the partition key a query asks for: the value its key condition binds to
/// `pk` (or to an index's `gsi1pk` / `gsi2pk`), names resolved through
/// `ExpressionAttributeNames`.
fn queried_prefix(body: &Value) -> Option<String> {
    let condition = body["KeyConditionExpression"].as_str()?;
    condition.split(" AND ").find_map(|clause| {
        let (name, value) = clause.split_once('=')?;
        let name = name.trim();
        let name = body["ExpressionAttributeNames"][name]
            .as_str()
            .unwrap_or(name);
        if !["pk", "gsi1pk", "gsi2pk"].contains(&name) {
            return None;
        }
        let bound = body["ExpressionAttributeValues"][value.trim()]["S"].as_str()?;
        Some(prefix_of(bound))
    })
}

impl Intercept for AccessRecorder {
    fn name(&self) -> &'static str {
        "AccessRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let Some(target) = request.headers().get("x-amz-target") else {
            return Ok(());
        };
        let (service, operation) = target.split_once('.').unwrap_or(("?", target));
        let body: Value = serde_json::from_slice(request.body().bytes().unwrap_or_default())
            .unwrap_or(Value::Null);
        if service.starts_with("AmazonSQS") {
            // A batch call is authorized as its single-message action.
            let action = match operation {
                "SendMessageBatch" => "SendMessage",
                "DeleteMessageBatch" => "DeleteMessage",
                "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
                other => other,
            };
            let queue = body["QueueUrl"]
                .as_str()
                .and_then(|url| url.rsplit('/').next())
                .map(|name| name.strip_prefix(&self.prefix).unwrap_or(name).to_owned())
                .unwrap_or_default();
            self.record((format!("sqs:{action}"), queue, None));
            return Ok(());
        }
        let resource = match body["IndexName"].as_str() {
            Some(index) => format!("index/{index}"),
            None => "table".to_owned(),
        };
        match operation {
            "TransactWriteItems" => {
                for item in body["TransactItems"].as_array().into_iter().flatten() {
                    for (kind, action) in [
                        ("Put", "PutItem"),
                        ("Update", "UpdateItem"),
                        ("Delete", "DeleteItem"),
                        ("ConditionCheck", "ConditionCheckItem"),
                    ] {
                        let part = &item[kind];
                        if part.is_null() {
                            continue;
                        }
                        let prefix = pk_prefix(&part["Key"]).or_else(|| pk_prefix(&part["Item"]));
                        self.record((format!("dynamodb:{action}"), "table".into(), prefix));
                    }
                }
            }
            "Query" => {
                self.record(("dynamodb:Query".into(), resource, queried_prefix(&body)));
            }
            other => {
                let prefix = pk_prefix(&body["Key"]).or_else(|| pk_prefix(&body["Item"]));
                let prefix = match other {
                    "Scan" | "ListTables" | "DescribeTable" => None,
                    _ => prefix,
                };
                self.record((format!("dynamodb:{other}"), resource, prefix));
            }
        }
        Ok(())
    }
}
