//! Shared set-up for the end-to-end tests: a fresh stack per test on the local AWS endpoint,
//! event builders, an independent reference of the cart rule, and SDK interceptors that count
//! DynamoDB requests or make a write's response get lost (fault injection on the real client,
//! against the real endpoint: nothing is mocked).
//!
//! The endpoint comes from `AWS_ENDPOINT_URL`, which `cargo xtask test` sets to the moto server
//! it starts. Each test deploys the template under its own random prefix, so tests run in
//! parallel on one endpoint without seeing each other's queues.

pub mod access;
pub mod faults;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use omnisync::domain::customer::CustomerState;
use omnisync::store::Table;
use rand::Rng;
use serde_json::{Value, json};
use std::time::Duration;
use xtask::local::{LocalStack, StackOptions};

/// How long a test waits for its queues to drain before it fails.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(180);

/// Deploys a fresh stack for one test. Visibility timeout 2 s, so redeliveries come quickly.
/// With `RUST_LOG` set, the functions' log lines are written (to the test's output).
/// `None` (the test is skipped, with a message) when no local endpoint is configured.
pub async fn stack(test: &str, extra: &[(&'static str, &str)]) -> Option<LocalStack> {
    logs_if_asked();
    let mut params: Vec<(&str, String)> = vec![
        ("LocalVisibilityTimeout", "2".into()),
        ("MaxReceiveCount", "5".into()),
    ];
    params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    deploy(test, params).await
}

/// Deploys a fresh stack with the template's own parameter defaults (but its own prefix).
pub async fn stack_with_defaults(test: &str) -> Option<LocalStack> {
    deploy(test, Vec::new()).await
}

/// The local AWS endpoint the end-to-end tests run against, if one is configured.
pub fn endpoint() -> Option<String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty());
    if endpoint.is_none() {
        eprintln!(
            "skipped: AWS_ENDPOINT_URL is not set. The end-to-end tests need a local AWS \
             endpoint: run them with `cargo xtask test`, or start `cargo xtask stack` and run \
             `AWS_ENDPOINT_URL=<its endpoint> cargo test -p omnisync-e2e`"
        );
    }
    endpoint
}

async fn deploy(test: &str, params: Vec<(&str, String)>) -> Option<LocalStack> {
    let endpoint = endpoint()?;
    let suffix: u32 = rand::rng().random();
    let prefix = format!("{test}-{suffix:08x}");
    LocalStack::deploy(StackOptions {
        endpoint: Some(endpoint),
        prefix: &prefix,
        params,
    })
    .await
    .map(Some)
    .expect("deploying the template")
}

/// An envelope with the contract's fields; `at_ms` becomes `occurred_at`.
pub fn event(
    event_id: &str,
    at_ms: i64,
    customer_id: &str,
    channel: &str,
    event_type: &str,
    payload: Value,
) -> Value {
    let occurred_at = chrono::DateTime::from_timestamp_millis(at_ms)
        .expect("instant in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut body = json!({
        "event_id": event_id,
        "type": event_type,
        "schema_version": 1,
        "customer_id": customer_id,
        "channel": channel,
        "occurred_at": occurred_at,
        "payload": payload,
    });
    if channel == "store" {
        body["store_id"] = json!("store-berlin-01");
    }
    body
}

/// An `order.placed` (`place-<order_id>`, web, shipped, EUR) with the given lines.
pub fn placed(order_id: &str, customer_id: &str, at_ms: i64, lines: Value) -> Value {
    event(
        &format!("place-{order_id}"),
        at_ms,
        customer_id,
        "web",
        "order.placed",
        json!({"order_id": order_id, "currency": "EUR", "fulfillment": "ship", "lines": lines}),
    )
}

/// The ingress queue an event body's type is sent on (contract §3).
pub fn queue_of(body: &Value) -> &'static str {
    let event_type = body["type"].as_str().unwrap_or_default();
    omnisync::contract::EventType::parse(event_type)
        .unwrap_or_else(|| panic!("no queue for type {event_type}"))
        .queue()
        .logical_name()
}

/// Sends every event to its ingress queue (in the given order within each queue) and waits until
/// those queues are drained.
pub async fn send_all(stack: &LocalStack, events: &[Value]) {
    let mut queues: Vec<&str> = Vec::new();
    for event in events {
        if !queues.contains(&queue_of(event)) {
            queues.push(queue_of(event));
        }
    }
    for queue in &queues {
        let mine: Vec<Value> = events
            .iter()
            .filter(|e| queue_of(e) == *queue)
            .cloned()
            .collect();
        stack.send(queue, &bodies(&mine)).await.unwrap();
    }
    stack.wait_drained(&queues, DRAIN_LIMIT).await.unwrap();
}

/// The cart rule of CONTRACT.md §3, written out independently of `omnisync::domain`: sort a
/// customer's ops by `(occurred_at, event_id)` and fold each SKU from 0.
pub fn reference_cart(events: &[Value], customer_id: &str) -> Vec<Value> {
    let mut mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["customer_id"] == customer_id)
        .collect();
    let key = |e: &Value| {
        let at = chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        (at, e["event_id"].as_str().unwrap().to_owned())
    };
    mine.sort_by_key(|e| key(e));
    let mut lines: std::collections::BTreeMap<String, i64> = Default::default();
    for e in mine {
        let sku = e["payload"]["sku"].as_str().map(str::to_owned);
        let n = e["payload"]["quantity"].as_i64().unwrap_or(0);
        match (e["type"].as_str().unwrap(), sku) {
            ("cart.item_added", Some(sku)) => {
                let q = lines.entry(sku).or_insert(0);
                *q = (*q + n).min(999);
            }
            ("cart.item_quantity_set", Some(sku)) => {
                lines.insert(sku, n);
            }
            ("cart.item_removed", Some(sku)) => {
                lines.insert(sku, 0);
            }
            ("cart.cleared", _) => lines.values_mut().for_each(|q| *q = 0),
            (other, _) => panic!("not a cart event: {other}"),
        }
    }
    lines
        .into_iter()
        .filter(|(_, q)| *q > 0)
        .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
        .collect()
}

/// A customer's state as the reader folds it.
pub async fn customer(stack: &LocalStack, customer_id: &str) -> CustomerState {
    Table::new(stack.dynamodb(), stack.table().unwrap())
        .customer_state(customer_id)
        .await
        .expect("loading the customer")
}

/// A customer's ledger as stored: entry id → points.
pub fn ledger_entries(state: &CustomerState) -> std::collections::BTreeMap<String, i64> {
    state
        .loyalty
        .entries
        .iter()
        .map(|e| (e.entry_id.clone(), e.points))
        .collect()
}

/// The cart as stored, in the contract's JSON shape.
pub async fn stored_cart(stack: &LocalStack, customer_id: &str) -> Vec<Value> {
    let state = customer(stack, customer_id).await;
    state
        .shopping
        .cart
        .into_iter()
        .map(|l| serde_json::to_value(l).unwrap())
        .collect()
}

/// Every message on `rejected-events`, parsed.
pub async fn rejected(stack: &LocalStack) -> Vec<Value> {
    stack
        .drain("rejected-events")
        .await
        .expect("reading rejected-events")
        .iter()
        .map(|body| serde_json::from_str(body).expect("rejected-events bodies are JSON"))
        .collect()
}

/// `(event_id, reason_code)` of every message on `rejected-events`, sorted.
pub async fn rejected_reasons(stack: &LocalStack) -> Vec<(String, String)> {
    let mut reasons: Vec<(String, String)> = rejected(stack)
        .await
        .iter()
        .map(|r| {
            (
                r["event_id"].as_str().unwrap_or_default().to_owned(),
                r["reason_code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    reasons
}

/// Writes items straight into the state table, 25 to a `BatchWriteItem` (test set-up that would
/// otherwise take thousands of events), and fails if any is left unprocessed.
pub async fn put_items(
    stack: &LocalStack,
    items: Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>,
) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let dynamodb = stack.dynamodb();
    let table = stack.table().unwrap().to_owned();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let writes: Vec<WriteRequest> = items
            .by_ref()
            .take(25)
            .map(|item| {
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build()
            })
            .collect();
        let written = dynamodb
            .batch_write_item()
            .request_items(&table, writes)
            .send()
            .await
            .unwrap();
        assert!(written.unprocessed_items.unwrap_or_default().is_empty());
    }
}

pub fn bodies(events: &[Value]) -> Vec<String> {
    events.iter().map(Value::to_string).collect()
}

/// Runs a sample trigger event from `events/` (what `sam local invoke -e` would send) through the
/// function the template declares as `function`, built with the stack's environment.
pub async fn invoke_sample(stack: &LocalStack, function: &str, sample: &str) -> SqsBatchResponse {
    invoke_sample_with(stack, &stack.clients(), function, sample).await
}

/// Prints the in-process functions' logs when `RUST_LOG` is set (the level it names), and
/// nothing otherwise: the subscriber is global to the test process.
pub fn logs_if_asked() {
    if std::env::var_os("RUST_LOG").is_some() {
        omnisync::telemetry::init();
    }
}

/// Clients whose DynamoDB and SQS requests both pass through `interceptor`.
pub fn clients_with_both(
    stack: &LocalStack,
    interceptor: impl aws_smithy_runtime_api::client::interceptors::Intercept + Clone + 'static,
) -> omnisync::aws::Clients {
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(interceptor.clone())
        .build();
    let sqs = aws_sdk_sqs::config::Builder::from(&stack.sdk)
        .interceptor(interceptor)
        .build();
    omnisync::aws::Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
        sqs: aws_sdk_sqs::Client::from_conf(sqs),
        sdk: stack.sdk.clone(),
    }
}

/// Like [`invoke_sample`], with the function built on `clients` (e.g. with an interceptor).
pub async fn invoke_sample_with(
    stack: &LocalStack,
    clients: &omnisync::aws::Clients,
    function: &str,
    sample: &str,
) -> SqsBatchResponse {
    let spec = &stack.manifest.functions[function];
    let built = xtask::functions::build(function, clients, spec).expect("building the function");
    let path = xtask::workspace_root().join("events").join(sample);
    let event: SqsEvent =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reading the sample"))
            .expect("an SQS event");
    let response = built
        .invoke(serde_json::to_value(event).expect("event JSON"))
        .await
        .expect("the invocation");
    serde_json::from_value(response).expect("an SQS batch response")
}

/// Invokes an SQS-triggered function built on `clients` with one batch of `bodies` from
/// `queue`, as Lambda would hand it over: the batch's response.
pub async fn invoke_batch_with(
    stack: &LocalStack,
    clients: &omnisync::aws::Clients,
    function: &str,
    queue: &str,
    bodies: &[String],
) -> SqsBatchResponse {
    let spec = &stack.manifest.functions[function];
    let built = xtask::functions::build(function, clients, spec).expect("building the function");
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            serde_json::json!({
                "messageId": format!("m-{i}"), "body": body, "eventSource": "aws:sqs",
                "attributes": {"SentTimestamp": omnisync::clock::now_ms().to_string()},
                "messageAttributes": {},
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{}-{queue}", stack.prefix),
            })
        })
        .collect();
    let response = built
        .invoke(serde_json::json!({ "Records": records }))
        .await
        .expect("the invocation");
    serde_json::from_value(response).expect("an SQS batch response")
}

/// Like [`invoke_sample`] for any trigger: the sample's JSON in, the function's JSON out.
pub async fn invoke_sample_json(stack: &LocalStack, function: &str, sample: &str) -> Value {
    let spec = &stack.manifest.functions[function];
    let built =
        xtask::functions::build(function, &stack.clients(), spec).expect("building the function");
    let path = xtask::workspace_root().join("events").join(sample);
    let event: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reading the sample"))
            .expect("JSON");
    built.invoke(event).await.expect("the invocation")
}

/// How many records a sample trigger event holds.
pub fn sample_len(sample: &str) -> usize {
    let path = xtask::workspace_root().join("events").join(sample);
    let event: SqsEvent =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reading the sample"))
            .expect("an SQS event");
    event.records.len()
}

/// Clients whose SQS client carries `interceptor` (to count sends or lose a send's response).
pub fn clients_with_sqs(
    stack: &LocalStack,
    interceptor: impl aws_smithy_runtime_api::client::interceptors::Intercept + 'static,
) -> omnisync::aws::Clients {
    let config = aws_sdk_sqs::config::Builder::from(&stack.sdk)
        .interceptor(interceptor)
        .build();
    omnisync::aws::Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&stack.sdk),
        sqs: aws_sdk_sqs::Client::from_conf(config),
        sdk: stack.sdk.clone(),
    }
}

/// Clients whose DynamoDB client carries `interceptor` (to count requests or inject faults).
pub fn clients_with(
    stack: &LocalStack,
    interceptor: impl aws_smithy_runtime_api::client::interceptors::Intercept + 'static,
) -> omnisync::aws::Clients {
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(interceptor)
        .build();
    omnisync::aws::Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(config),
        sqs: aws_sdk_sqs::Client::new(&stack.sdk),
        sdk: stack.sdk.clone(),
    }
}
