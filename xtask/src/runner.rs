//! The local event-source runner: what Lambda's event source mappings do, done against the local
//! endpoint, because moto never runs Lambda code.
//!
//! **SQS mappings** ([`sqs`]): pollers long-poll the queue for up to `BatchSize` (at most 10)
//! messages with every attribute, build the SQS event JSON Lambda sends, invoke the function,
//! and delete what succeeded. With `ReportBatchItemFailures` the listed failures stay on the
//! queue and reappear after the visibility timeout (so the redrive policy counts them); if the
//! invocation fails, or names an item not in the batch, nothing is deleted.
//!
//! **DynamoDB stream mappings** ([`stream`]): one reader per shard, from `StartingPosition`,
//! builds the DynamoDB Streams event JSON Lambda sends, applies the mapping's filter patterns,
//! and invokes in order. A reported batch item failure resumes from the lowest failed sequence
//! number; a failed invocation is retried, bisected when `BisectBatchOnFunctionError` is set;
//! after `MaximumRetryAttempts` (or past `MaximumRecordAgeInSeconds`) the failing records are
//! described on the on-failure destination and the reader moves on, so the records behind them
//! are processed.
//!
//! Differences from real Lambda, on purpose: no batching window across several receives (one
//! receive is one batch), a fixed number of concurrent SQS pollers per mapping instead of
//! Lambda's scaling, the handler runs in this process (built from the same library code as the
//! `bootstrap` binary, without the Lambda Runtime API in between), the function timeout is a
//! deadline the handler honours (it is not killed at it), and filter patterns support the forms the template uses (exact values and
//! `prefix`).

mod sqs;
mod stream;

use crate::functions;
use crate::stack::{EventSource, Manifest};
use anyhow::{Context, Result};
use aws_config::SdkConfig;
use omnisync::aws::Clients;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Running pollers; dropping the runner stops them.
pub struct Runner {
    tasks: Vec<JoinHandle<()>>,
}

impl Runner {
    /// Starts `pollers` concurrent pollers for every SQS mapping and one reader per shard for every
    /// stream mapping. The functions are built on `clients`; the pollers use them too.
    /// `sdk` is the runner's own connection (stream reads); `clients` are the functions'.
    pub fn start(
        manifest: &Manifest,
        sdk: &SdkConfig,
        clients: &Clients,
        pollers: usize,
    ) -> Result<Runner> {
        Self::start_for(manifest, sdk, clients, pollers, |_| true)
    }

    /// Like [`Runner::start`], for the mappings whose function `wanted` accepts (by logical id).
    pub fn start_for(
        manifest: &Manifest,
        sdk: &SdkConfig,
        clients: &Clients,
        pollers: usize,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Runner> {
        Self::start_wrapped(manifest, sdk, clients, pollers, wanted, |f| f)
    }

    /// Like [`Runner::start_for`], with every function passed through `wrap` before the
    /// mappings invoke it (the chaos tests make invocations crash this way).
    pub fn start_wrapped(
        manifest: &Manifest,
        sdk: &SdkConfig,
        clients: &Clients,
        pollers: usize,
        wanted: impl Fn(&str) -> bool,
        wrap: impl Fn(Arc<dyn functions::JsonFunction>) -> Arc<dyn functions::JsonFunction>,
    ) -> Result<Runner> {
        let mut tasks = Vec::new();
        for source in manifest
            .event_sources
            .iter()
            .filter(|s| wanted(s.function()))
        {
            let spec = manifest.functions.get(source.function()).with_context(|| {
                format!(
                    "mapping {} names unknown function {}",
                    source.mapping(),
                    source.function()
                )
            })?;
            let function = wrap(functions::build(source.function(), clients, spec)?);
            match source {
                EventSource::Sqs(sqs_source) => {
                    for _ in 0..pollers.max(1) {
                        let poller = sqs::Poller {
                            sqs: clients.sqs.clone(),
                            source: sqs_source.clone(),
                            region: manifest.region.clone(),
                            function: Arc::clone(&function),
                        };
                        tasks.push(tokio::spawn(poller.run()));
                    }
                }
                EventSource::Stream(stream_source) => {
                    let reader = stream::Reader::new(
                        aws_sdk_dynamodbstreams::Client::new(sdk),
                        clients.sqs.clone(),
                        stream_source.clone(),
                        manifest.region.clone(),
                        Arc::clone(&function),
                        spec.function_name.clone(),
                    )?;
                    tasks.push(tokio::spawn(reader.run()));
                }
            }
        }
        Ok(Runner { tasks })
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
