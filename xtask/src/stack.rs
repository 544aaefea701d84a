//! The local deployment of `infra/template.yaml` and the manifest the runner works from.

use crate::venv::Venv;
use anyhow::{Context, Result, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::process::Command;

/// What `xtask/python/local_cfn.py deploy` reports about a created stack.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub stack: String,
    pub endpoint: String,
    pub region: String,
    pub outputs: BTreeMap<String, String>,
    /// Logical id → queue URL.
    pub queues: BTreeMap<String, String>,
    /// Logical id → table name.
    pub tables: BTreeMap<String, String>,
    pub functions: BTreeMap<String, FunctionSpec>,
    pub event_sources: Vec<EventSource>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FunctionSpec {
    pub function_name: String,
    pub timeout_seconds: u64,
    /// The environment as CloudFormation resolved it from the template.
    pub environment: BTreeMap<String, String>,
}

/// One event source mapping of the template, as deployed.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind")]
pub enum EventSource {
    #[serde(rename = "sqs")]
    Sqs(SqsSource),
    #[serde(rename = "dynamodb-stream")]
    Stream(StreamSource),
}

impl EventSource {
    pub fn mapping(&self) -> &str {
        match self {
            EventSource::Sqs(s) => &s.mapping,
            EventSource::Stream(s) => &s.mapping,
        }
    }

    pub fn function(&self) -> &str {
        match self {
            EventSource::Sqs(s) => &s.function,
            EventSource::Stream(s) => &s.function,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SqsSource {
    pub mapping: String,
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub visibility_timeout_seconds: u64,
    pub batch_size: usize,
    pub maximum_batching_window_seconds: u64,
    pub report_batch_item_failures: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamSource {
    pub mapping: String,
    pub function: String,
    pub table_name: String,
    pub stream_arn: String,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    pub batch_size: usize,
    pub maximum_batching_window_seconds: u64,
    pub report_batch_item_failures: bool,
    pub bisect_batch_on_function_error: bool,
    /// −1: retry until the record expires.
    pub maximum_retry_attempts: i64,
    /// −1: no limit.
    pub maximum_record_age_seconds: i64,
    pub on_failure_queue_url: Option<String>,
    /// Lambda event filter patterns (JSON text).
    pub filter_patterns: Vec<String>,
}

impl Manifest {
    pub fn queue_url(&self, logical_id: &str) -> Result<&str> {
        self.queues
            .get(logical_id)
            .map(String::as_str)
            .with_context(|| format!("the template declares no queue {logical_id}"))
    }

    pub fn table(&self, logical_id: &str) -> Result<&str> {
        self.tables
            .get(logical_id)
            .map(String::as_str)
            .with_context(|| format!("the template declares no table {logical_id}"))
    }
}

/// A pseudo-parameter of local runs only: every consumed queue's visibility timeout, in seconds,
/// set after the stack is created. The template ties it to 6x `FunctionTimeout` (so a deployed
/// stack cannot have less); tests want redeliveries within seconds.
pub const LOCAL_VISIBILITY_TIMEOUT: &str = "LocalVisibilityTimeout";

/// Creates a stack from the template in the endpoint's CloudFormation. `params` are template
/// parameter overrides, e.g. `("Prefix", "t-1a2b")`, and [`LOCAL_VISIBILITY_TIMEOUT`].
pub fn deploy(
    venv: &Venv,
    endpoint: &str,
    stack: &str,
    params: &[(&str, &str)],
) -> Result<Manifest> {
    let root = crate::workspace_root();
    let mut command = Command::new(venv.python());
    command
        .arg(root.join("xtask/python/local_cfn.py"))
        .args([
            "deploy",
            "--endpoint",
            endpoint,
            "--stack",
            stack,
            "--template",
        ])
        .arg(root.join("infra/template.yaml"))
        .env("AWS_DEFAULT_REGION", "us-east-1");
    for (key, value) in params {
        if *key == LOCAL_VISIBILITY_TIMEOUT {
            command.arg("--visibility-override").arg(value);
        } else {
            command.arg("--param").arg(format!("{key}={value}"));
        }
    }
    let output = command
        .output()
        .context("running local_cfn.py (run `cargo xtask setup`)")?;
    if !output.status.success() {
        bail!(
            "deploying {stack} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("reading the deploy manifest")
}

/// SDK configuration for a local endpoint: fixed region and dummy credentials, as moto expects.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(omnisync::aws::http_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "omnisync-local",
        ))
        .load()
        .await
}
