//! `cargo xtask bench`: what a function costs, measured side by side with the usual Lambda stack.
//!
//! One run measures, against a local stack (moto) and on this machine:
//! - **cold starts**: every function's binary and the Python peer (`benches/peer`: Powertools'
//!   `BatchProcessor` + `idempotent_function` on DynamoDB + `Logger`, run by `awslambdaric`),
//!   each started afresh behind a local Runtime API ([`crate::runtime_api`]) `starts` times with
//!   its `events/` sample: process start → first `GET /next`, → first response, one warm
//!   invocation after it, peak RSS (`VmHWM`) and CPU time from `/proc`; medians;
//! - **DynamoDB requests per applied event of every type**, counted on the functions' own
//!   clients, plus the batch targets (ten cart events on ten lines, and on three);
//! - **package size**: each release binary zipped as Lambda takes it (`bootstrap`, deflate);
//! - the criterion benches of the pure rules (`benches/`).
//!
//! Each cold start gets the sample with every id made fresh (a suffix per start), so it is applied
//! as new, not found as a redelivery. No figure here is asserted by a test: they are printed and
//! written to `docs/BENCHMARKS.md`.

pub mod report;

use crate::local::LocalStack;
use crate::runtime_api::{Answer, RuntimeApi};
use crate::workspace_root;
use anyhow::{Context, Result, bail};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One cold start: from process start to its first `GET /next` and to its first response, the
/// warm invocation after it, and what the process used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    pub to_next: Duration,
    pub to_response: Duration,
    pub warm: Duration,
    pub peak_rss_kib: u64,
    pub cpu: Duration,
}

/// The medians of a function's cold starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdStarts {
    pub name: String,
    pub starts: usize,
    pub median: Start,
}

/// What to run for one cold start: a command (its environment set), and the event it answers.
pub struct Subject {
    pub name: String,
    pub command: PathBuf,
    pub args: Vec<String>,
    pub dir: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub function_name: String,
    /// The sample trigger event; `fresh` makes its ids unique to one start.
    pub sample: Value,
}

/// Starts the subject afresh behind its own Runtime API, hands it the sample (fresh for start
/// `n`), then a second one warm, and measures.
pub async fn cold_start(subject: &Subject, n: usize) -> Result<Start> {
    let api = RuntimeApi::start(&subject.function_name).await?;
    let mut command = tokio::process::Command::new(&subject.command);
    command
        .args(&subject.args)
        .env_clear()
        .envs(&subject.env)
        .envs(api.lambda_environment(128))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = &subject.dir {
        command.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", subject.command.display()))?;
    let pid = child.id().context("the process's id")?;
    let first = api
        .invoke(fresh(&subject.sample, n, 0), Duration::from_secs(30))
        .await?;
    let to_response = started.elapsed();
    let to_next = api
        .first_next()
        .context("the function never asked for work")?
        .duration_since(started);
    let warm_started = Instant::now();
    let second = api
        .invoke(fresh(&subject.sample, n, 1), Duration::from_secs(30))
        .await?;
    let warm = warm_started.elapsed();
    let (peak_rss_kib, cpu) = (peak_rss_kib(pid)?, cpu_time(pid)?);
    let _ = child.kill().await;
    for answer in [first, second] {
        if let Answer::Error(error) = answer {
            bail!("{} answered with an error: {error}", subject.name);
        }
    }
    Ok(Start {
        to_next,
        to_response,
        warm,
        peak_rss_kib,
        cpu,
    })
}

/// Runs `starts` cold starts of the subject and takes the median of each figure.
pub async fn cold_starts(subject: &Subject, starts: usize) -> Result<ColdStarts> {
    let mut all = Vec::with_capacity(starts);
    for n in 0..starts {
        all.push(cold_start(subject, n).await?);
    }
    let median_of = |figure: fn(&Start) -> f64| {
        let mut values: Vec<f64> = all.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or_default()
    };
    let seconds = |s: f64| Duration::from_secs_f64(s);
    Ok(ColdStarts {
        name: subject.name.clone(),
        starts,
        median: Start {
            to_next: seconds(median_of(|s| s.to_next.as_secs_f64())),
            to_response: seconds(median_of(|s| s.to_response.as_secs_f64())),
            warm: seconds(median_of(|s| s.warm.as_secs_f64())),
            peak_rss_kib: median_of(|s| s.peak_rss_kib as f64) as u64,
            cpu: seconds(median_of(|s| s.cpu.as_secs_f64())),
        },
    })
}

/// The ids a sample's events carry, made unique to start `n` and invocation `i`: the event id
/// and customer, and the order, refund, redemption, adjustment and guest ids a payload names.
/// Stream samples (no `body`) are handed over unchanged.
pub fn fresh(sample: &Value, n: usize, i: usize) -> Value {
    let mut event = sample.clone();
    let suffix = format!("-b{n}i{i}");
    let Some(records) = event.get_mut("Records").and_then(Value::as_array_mut) else {
        return event;
    };
    for record in records {
        if let Some(id) = record
            .get_mut("messageId")
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            record["messageId"] = json!(format!("{id}{suffix}"));
        }
        let Some(body) = record.get("body").and_then(Value::as_str) else {
            continue;
        };
        let Ok(mut body) = serde_json::from_str::<Value>(body) else {
            continue;
        };
        let rename = |value: &mut Value| {
            if let Some(text) = value.as_str() {
                *value = json!(format!("{text}{suffix}"));
            }
        };
        for field in ["event_id", "customer_id"] {
            if let Some(value) = body.get_mut(field) {
                rename(value);
            }
        }
        if let Some(payload) = body.get_mut("payload") {
            for field in [
                "order_id",
                "refund_id",
                "redemption_id",
                "adjustment_id",
                "anonymous_id",
            ] {
                if let Some(value) = payload.get_mut(field) {
                    rename(value);
                }
            }
        }
        record["body"] = json!(body.to_string());
    }
    event
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmHWM in /proc/<pid>/status")
}

/// The process's user + system CPU time so far (`/proc/<pid>/stat`, in clock ticks of 1/100 s,
/// Linux's `USER_HZ`).
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // After the `(comm)` field: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|t| t.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_millis((user + system) * 10)),
        _ => bail!("unexpected /proc/{pid}/stat: {stat}"),
    }
}

/// Zips `binary` as Lambda's custom runtime takes it (one `bootstrap` entry, deflate) with the
/// local Python's `zipfile`, and returns the archive's size in bytes.
pub fn zipped_size(python: &Path, binary: &Path, archive: &Path) -> Result<u64> {
    crate::venv::run(
        std::process::Command::new(python)
            .args([
                "-c",
                "import sys, zipfile\n\
         with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:\n    \
         z.write(sys.argv[1], 'bootstrap')",
            ])
            .arg(binary)
            .arg(archive),
    )?;
    Ok(std::fs::metadata(archive)?.len())
}

/// Counts the requests made by the clients it is installed on, by operation (`GetItem`,
/// `UpdateItem`, …), retries included. The end-to-end tests count with it too.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl RequestCounter {
    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The requests of `operation` so far.
    pub fn get(&self, operation: &str) -> usize {
        self.snapshot().get(operation).copied().unwrap_or(0)
    }

    /// The requests since `before`, by operation.
    pub fn since(&self, before: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
        self.snapshot()
            .into_iter()
            .map(|(op, n)| {
                let earlier = before.get(&op).copied().unwrap_or(0);
                (op, n - earlier)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The operation of an AWS JSON request (`GetItem`, `SendMessage`, …), from its `X-Amz-Target`
/// header (`DynamoDB_20120810.GetItem`); `?` for a request without one.
pub fn operation_name(request: &aws_smithy_runtime_api::http::Request) -> &str {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("?")
}

/// How [`RequestCounter`] names the `UpdateItem`s that record a timeline (the batch layer's, one
/// per customer and batch), so a count tells them from the function's own writes.
pub const TIMELINE_SUFFIX: &str = " timeline";

/// Whether a request's item is a timeline strand (`sk` `TIMELINE#…`).
fn writes_timeline(request: &aws_smithy_runtime_api::http::Request) -> bool {
    request
        .body()
        .bytes()
        .and_then(|body| serde_json::from_slice::<Value>(body).ok())
        .and_then(|body| {
            body["Key"]["sk"]["S"]
                .as_str()
                .map(|sk| sk.starts_with("TIMELINE#"))
        })
        .unwrap_or(false)
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut operation = operation_name(context.request()).to_owned();
        if operation == "UpdateItem" && writes_timeline(context.request()) {
            operation.push_str(TIMELINE_SUFFIX);
        }
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

/// One contract event as a channel sends it.
pub fn event(id: &str, at_ms: i64, customer_id: &str, event_type: &str, payload: Value) -> Value {
    let occurred_at = chrono_like_rfc3339(at_ms);
    json!({
        "event_id": id, "type": event_type, "schema_version": 1, "customer_id": customer_id,
        "channel": "web", "occurred_at": occurred_at, "payload": payload
    })
}

fn chrono_like_rfc3339(at_ms: i64) -> String {
    // 2026-11-20T00:00:00Z is 1_763_596_800_000 ms; the events sit in the minutes after it.
    let offset = at_ms.rem_euclid(86_400_000);
    let (h, m, s, ms) = (
        offset / 3_600_000,
        offset / 60_000 % 60,
        offset / 1_000 % 60,
        offset % 1_000,
    );
    format!("2026-11-20T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// The SQS trigger event Lambda would hand a function for `bodies` from `queue`.
pub fn sqs_batch(stack: &LocalStack, queue: &str, bodies: &[Value]) -> Value {
    let now = omnisync::clock::now_ms().to_string();
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("bench-{i}"), "body": body.to_string(), "eventSource": "aws:sqs",
                "attributes": {"SentTimestamp": now}, "messageAttributes": {},
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{}-{queue}", stack.prefix),
            })
        })
        .collect();
    json!({ "Records": records })
}

/// One row of the request table: what was sent, how many events applied, the requests made.
#[derive(Debug, Clone, PartialEq)]
pub struct Requests {
    pub what: String,
    pub events: usize,
    pub requests: BTreeMap<String, usize>,
}

impl Requests {
    pub fn per_event(&self) -> f64 {
        let total: usize = self.requests.values().sum();
        total as f64 / self.events.max(1) as f64
    }
}

/// Counts the DynamoDB requests of every event type, each applied as new (its prerequisites,
/// such as the order a status change needs, sent first and not counted), and of the cart
/// batches the issue sets targets for.
pub async fn requests_per_event(stack: &LocalStack) -> Result<Vec<Requests>> {
    let counter = RequestCounter::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(counter.clone())
        .build();
    let clients = omnisync::aws::Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(config),
        sqs: aws_sdk_sqs::Client::new(&stack.sdk),
        sdk: stack.sdk.clone(),
    };
    let function = |logical_id: &str| {
        crate::functions::build(logical_id, &clients, &stack.manifest.functions[logical_id])
    };
    let (cart, wishlist, orders, identity, refunds, loyalty) = (
        function("CartSyncFunction")?,
        function("WishlistSyncFunction")?,
        function("OrderSyncFunction")?,
        function("IdentitySyncFunction")?,
        function("RefundProcessorFunction")?,
        function("LoyaltyLedgerFunction")?,
    );
    let engagement = function("EngagementSyncFunction")?;
    let placed = |id: &str, customer: &str| {
        event(
            &format!("placed-{id}"),
            1_000,
            customer,
            "order.placed",
            json!({"order_id": id, "currency": "EUR", "fulfillment": "ship",
                   "lines": [{"sku": "JKT-RAIN-M", "quantity": 2, "unit_price_minor": 6_000}]}),
        )
    };
    struct Case<'a> {
        what: &'a str,
        function: &'a Arc<dyn crate::functions::JsonFunction>,
        queue: &'a str,
        before: Vec<(&'a Arc<dyn crate::functions::JsonFunction>, &'a str, Value)>,
        events: Vec<Value>,
    }
    let add = |i: usize, customer: &str, sku: &str| {
        event(
            &format!("add-{customer}-{i}"),
            2_000 + i as i64,
            customer,
            "cart.item_added",
            json!({"sku": sku, "quantity": 1}),
        )
    };
    // Sent twice: once new, once again as a redelivery.
    let on_three_lines: Vec<Value> = (0..10)
        .map(|i| add(i, "c-three", ["A", "B", "C"][i % 3]))
        .collect();
    let cases = vec![
        Case {
            what: "cart.item_added",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: vec![add(0, "c-add", "A")],
        },
        Case {
            what: "cart.item_quantity_set",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: vec![event(
                "set-1",
                2_000,
                "c-set",
                "cart.item_quantity_set",
                json!({"sku": "A", "quantity": 3}),
            )],
        },
        Case {
            what: "cart.item_removed",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: vec![event(
                "rm-1",
                2_000,
                "c-rm",
                "cart.item_removed",
                json!({"sku": "A"}),
            )],
        },
        Case {
            what: "cart.cleared",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: vec![event("clr-1", 2_000, "c-clr", "cart.cleared", json!({}))],
        },
        Case {
            what: "cart: a batch of 10 events on 10 lines",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: (0..10).map(|i| add(i, "c-ten", &format!("L{i}"))).collect(),
        },
        Case {
            what: "cart: a batch of 10 events on 3 lines",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: on_three_lines.clone(),
        },
        Case {
            what: "cart: the same batch of 10 on 3 lines again (a redelivery)",
            function: &cart,
            queue: "cart-events",
            before: vec![],
            events: on_three_lines,
        },
        Case {
            what: "wishlist.item_added",
            function: &wishlist,
            queue: "wishlist-events",
            before: vec![],
            events: vec![event(
                "w-1",
                2_000,
                "c-wish",
                "wishlist.item_added",
                json!({"sku": "A", "preferred_size": "M"}),
            )],
        },
        Case {
            what: "wishlist.item_removed",
            function: &wishlist,
            queue: "wishlist-events",
            before: vec![],
            events: vec![event(
                "w-2",
                2_100,
                "c-wish",
                "wishlist.item_removed",
                json!({"sku": "A"}),
            )],
        },
        Case {
            what: "order.placed",
            function: &orders,
            queue: "order-events",
            before: vec![],
            events: vec![placed("o-new", "c-order")],
        },
        Case {
            what: "order.status_changed",
            function: &orders,
            queue: "order-events",
            before: vec![(&orders, "order-events", placed("o-status", "c-status"))],
            events: vec![event(
                "st-1",
                3_000,
                "c-status",
                "order.status_changed",
                json!({"order_id": "o-status", "status": "shipped"}),
            )],
        },
        Case {
            what: "identity.linked",
            function: &identity,
            queue: "identity-events",
            before: vec![],
            events: vec![event(
                "link-1",
                2_000,
                "c-link",
                "identity.linked",
                json!({"anonymous_id": "g-link"}),
            )],
        },
        Case {
            what: "engagement.touched",
            function: &engagement,
            queue: "engagement-events",
            before: vec![],
            events: vec![event(
                "touch-1",
                2_000,
                "c-touch",
                "engagement.touched",
                json!({"kind": "session", "source": "instagram", "sku": "SNK-RUN-44"}),
            )],
        },
        Case {
            what: "refund.requested",
            function: &refunds,
            queue: "refund-events",
            before: vec![(&orders, "order-events", placed("o-refund", "c-refund"))],
            events: vec![event(
                "rf-1",
                3_000,
                "c-refund",
                "refund.requested",
                json!({"refund_id": "r-1", "order_id": "o-refund", "lines": [{"sku": "JKT-RAIN-M", "quantity": 1}]}),
            )],
        },
        Case {
            what: "loyalty.points_adjusted",
            function: &loyalty,
            queue: "loyalty-events",
            before: vec![],
            events: vec![event(
                "adj-1",
                2_000,
                "c-loyal",
                "loyalty.points_adjusted",
                json!({"adjustment_id": "a-1", "points": 50, "reason": "goodwill"}),
            )],
        },
        Case {
            what: "loyalty.points_redeemed",
            function: &loyalty,
            queue: "loyalty-events",
            before: vec![],
            events: vec![event(
                "red-1",
                2_100,
                "c-loyal",
                "loyalty.points_redeemed",
                json!({"redemption_id": "rd-1", "points": 20}),
            )],
        },
    ];
    let mut rows = Vec::new();
    for case in cases {
        for (function, queue, body) in case.before {
            function
                .invoke(sqs_batch(stack, queue, &[body]))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        // A failed delivery is delivered again, as SQS would; the row counts the requests of
        // every delivery it took (and says how many).
        let mut attempts = 0;
        let before = counter.snapshot();
        let requests = loop {
            attempts += 1;
            let response = case
                .function
                .invoke(sqs_batch(stack, case.queue, &case.events))
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", case.what))?;
            let failures = response["batchItemFailures"].as_array().map_or(0, Vec::len);
            if failures == 0 {
                break counter.since(&before);
            }
            if attempts == 3 {
                bail!(
                    "{}: {failures} events failed three times: {response}",
                    case.what
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let what = if attempts == 1 {
            case.what.to_owned()
        } else {
            format!("{} ({attempts} deliveries: the first failed)", case.what)
        };
        rows.push(Requests {
            what,
            events: case.events.len(),
            requests,
        });
    }
    Ok(rows)
}

/// The functions' logical ids and the sample each cold start answers.
pub const SAMPLES: &[(&str, &str)] = &[
    ("CartSyncFunction", "cart-sync/sqs-valid.json"),
    ("WishlistSyncFunction", "wishlist-sync/sqs-valid.json"),
    ("OrderSyncFunction", "order-sync/sqs-valid.json"),
    ("IdentitySyncFunction", "identity-sync/sqs-valid.json"),
    ("EngagementSyncFunction", "engagement-sync/sqs-valid.json"),
    ("RefundProcessorFunction", "refund-processor/sqs-valid.json"),
    ("LoyaltyLedgerFunction", "loyalty-ledger/sqs-valid.json"),
    ("ViewFanoutFunction", "view-fanout/dynamodb-stream.json"),
    (
        "AvailabilityNotifierFunction",
        "availability-notifier/sqs-valid.json",
    ),
];

/// The memory size `infra/template.yaml` gives a function: its own `MemorySize`, else the
/// one in `Globals`. (A plain reading of the template's layout: two-space resource ids, and
/// each `MemorySize` on a line of its own.)
pub fn template_memory_mb(logical_id: &str) -> Result<u64> {
    let template = std::fs::read_to_string(workspace_root().join("infra/template.yaml"))?;
    memory_in(&template, logical_id)
}

fn memory_in(template: &str, logical_id: &str) -> Result<u64> {
    let value = |line: &str| {
        line.trim()
            .strip_prefix("MemorySize:")
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let header = format!("  {logical_id}:");
    let own = template
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| {
            !(line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':'))
        })
        .find_map(value);
    let global = template
        .lines()
        .skip_while(|line| *line != "Globals:")
        .take_while(|line| *line == "Globals:" || line.starts_with(' ') || line.is_empty())
        .find_map(value);
    own.or(global)
        .with_context(|| format!("no MemorySize for {logical_id} in the template"))
}

/// Reads a sample trigger event of `events/`.
pub fn sample(path: &str) -> Result<Value> {
    let file = workspace_root().join("events").join(path);
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    Ok(serde_json::from_str(&text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_sample_renames_its_ids_and_nothing_else() {
        let sample = json!({"Records": [{"messageId": "m-1", "body": json!({
            "event_id": "e-1", "customer_id": "c-1", "type": "refund.requested",
            "payload": {"order_id": "o-1", "refund_id": "r-1", "lines": [{"sku": "A"}]}
        }).to_string()}, {"messageId": "m-2", "body": "not json"}]});
        let fresh = fresh(&sample, 3, 1);
        let body: Value =
            serde_json::from_str(fresh["Records"][0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["event_id"], "e-1-b3i1");
        assert_eq!(body["customer_id"], "c-1-b3i1");
        assert_eq!(body["payload"]["order_id"], "o-1-b3i1");
        assert_eq!(body["payload"]["refund_id"], "r-1-b3i1");
        assert_eq!(body["payload"]["lines"][0]["sku"], "A");
        assert_eq!(body["type"], "refund.requested");
        assert_eq!(fresh["Records"][0]["messageId"], "m-1-b3i1");
        assert_eq!(fresh["Records"][1]["body"], "not json");
        let stream = json!({"Records": [{"eventName": "INSERT"}]});
        assert_eq!(super::fresh(&stream, 1, 0), stream);
    }

    #[test]
    fn a_function_s_memory_is_its_own_or_the_global_one() {
        let template = "Globals:\n  Function:\n    MemorySize: 256\nResources:\n  A:\n    Type: X\n    Properties:\n      MemorySize: 128\n  B:\n    Type: X\n";
        assert_eq!(memory_in(template, "A").unwrap(), 128);
        assert_eq!(memory_in(template, "B").unwrap(), 256);
    }

    #[test]
    fn event_times_are_rfc3339_in_the_story_s_day() {
        assert_eq!(chrono_like_rfc3339(3_723_004), "2026-11-20T01:02:03.004Z");
    }
}
