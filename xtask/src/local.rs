//! One local stack in use: moto (started here or reached through `AWS_ENDPOINT_URL`), the
//! deployed template, and the event-source runner. The demo, `cargo xtask stack` and the
//! end-to-end tests all work through this.

use crate::moto::MotoServer;
use crate::runner::Runner;
use crate::stack::{self, Manifest};
use crate::venv::Venv;
use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use omnisync::aws::Clients;
use omnisync::config::CHANNEL_SENDERS_VAR;
use std::time::{Duration, Instant};

pub struct LocalStack {
    pub manifest: Manifest,
    /// Function logical id -> the sender map the template gave it (the functions here run
    /// without one: see `deploy`).
    pub deployed_channel_senders: std::collections::BTreeMap<String, String>,
    pub sdk: SdkConfig,
    pub prefix: String,
    runner: Option<Runner>,
    moto: Option<MotoServer>,
}

/// How to bring a stack up.
pub struct StackOptions<'a> {
    /// An endpoint to use; `None` starts a moto server for this stack alone.
    pub endpoint: Option<String>,
    /// Stack name and resource prefix.
    pub prefix: &'a str,
    /// Further template parameters.
    pub params: Vec<(&'a str, String)>,
}

impl LocalStack {
    /// Deploys the template (the Python tools must be installed: `cargo xtask setup`).
    pub async fn deploy(options: StackOptions<'_>) -> Result<LocalStack> {
        let venv = Venv::at_workspace();
        let moto = match options.endpoint {
            Some(_) => None,
            None => Some(MotoServer::start(&venv)?),
        };
        let endpoint = match (&options.endpoint, &moto) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(moto)) => moto.endpoint().to_owned(),
            (None, None) => bail!("no endpoint"),
        };
        let mut params: Vec<(&str, &str)> = vec![("Prefix", options.prefix)];
        params.extend(options.params.iter().map(|(k, v)| (*k, v.as_str())));
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let stack_name = options.prefix.to_owned();
        let manifest = {
            let endpoint = endpoint.clone();
            tokio::task::spawn_blocking(move || {
                let borrowed: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                stack::deploy(&venv, &endpoint, &stack_name, &borrowed)
            })
            .await??
        };
        let sdk = stack::local_sdk_config(&endpoint).await;
        let mut manifest = manifest;
        let mut deployed_channel_senders = std::collections::BTreeMap::new();
        // moto stamps every message with one fixed SenderId, so the channel roles' ids in the
        // template's sender map never match here: a local run goes without a map (contract §4
        // allows it only there), unless a test sets one (`authorize_senders`).
        for (function, spec) in manifest.functions.iter_mut() {
            if let Some(map) = spec
                .environment
                .insert(CHANNEL_SENDERS_VAR.to_owned(), String::new())
            {
                deployed_channel_senders.insert(function.clone(), map);
            }
        }
        Ok(LocalStack {
            manifest,
            deployed_channel_senders,
            sdk,
            prefix: options.prefix.to_owned(),
            runner: None,
            moto,
        })
    }

    /// Gives every function this sender -> channels map (JSON, as `OMNISYNC_CHANNEL_SENDERS`)
    /// instead of none; call it before starting a runner.
    pub fn authorize_senders(&mut self, map: &str) {
        for spec in self.manifest.functions.values_mut() {
            spec.environment
                .insert(CHANNEL_SENDERS_VAR.to_owned(), map.to_owned());
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.manifest.endpoint
    }

    /// Starts the event-source runner with `pollers` concurrent pollers per mapping.
    pub fn start_runner(&mut self, pollers: usize) -> Result<()> {
        self.start_runner_with(&self.clients(), pollers)
    }

    /// Starts the runner with functions built on `clients` (e.g. with an interceptor).
    pub fn start_runner_with(&mut self, clients: &Clients, pollers: usize) -> Result<()> {
        self.runner = Some(Runner::start(&self.manifest, &self.sdk, clients, pollers)?);
        Ok(())
    }

    /// Starts the runner with functions built on `clients`, each passed through `wrap` (e.g.
    /// to make invocations crash).
    pub fn start_runner_wrapped(
        &mut self,
        clients: &Clients,
        pollers: usize,
        wrap: impl Fn(
            std::sync::Arc<dyn crate::functions::JsonFunction>,
        ) -> std::sync::Arc<dyn crate::functions::JsonFunction>,
    ) -> Result<()> {
        self.runner = Some(Runner::start_wrapped(
            &self.manifest,
            &self.sdk,
            clients,
            pollers,
            |_| true,
            wrap,
        )?);
        Ok(())
    }

    /// Starts the runner for the given functions only (by logical id), on `clients`.
    pub fn start_runner_for(
        &mut self,
        clients: &Clients,
        pollers: usize,
        functions: &[&str],
    ) -> Result<()> {
        self.runner = Some(Runner::start_for(
            &self.manifest,
            &self.sdk,
            clients,
            pollers,
            |f| functions.contains(&f),
        )?);
        Ok(())
    }

    /// Like [`Self::extra_runner`], for the given functions only.
    pub fn extra_runner_for(
        &self,
        clients: &Clients,
        pollers: usize,
        functions: &[&str],
    ) -> Result<Runner> {
        Runner::start_for(&self.manifest, &self.sdk, clients, pollers, |f| {
            functions.contains(&f)
        })
    }

    /// Starts one more, independent runner (as a second Lambda poller fleet would be); it runs
    /// until the returned value is dropped.
    pub fn extra_runner(&self, clients: &Clients, pollers: usize) -> Result<Runner> {
        Runner::start(&self.manifest, &self.sdk, clients, pollers)
    }

    pub fn clients(&self) -> Clients {
        Clients::new(&self.sdk)
    }

    pub fn stop_runner(&mut self) {
        self.runner = None;
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// The URL of the contract queue `name` (e.g. `cart-events`), i.e. `<prefix>-<name>`.
    pub fn queue_url(&self, name: &str) -> Result<&str> {
        let wanted = format!("{}-{name}", self.prefix);
        self.manifest
            .queues
            .values()
            .find(|url| url.rsplit('/').next() == Some(wanted.as_str()))
            .map(String::as_str)
            .with_context(|| format!("the stack has no queue {wanted}"))
    }

    /// The contract names (e.g. `cart-events`) of every queue an event source mapping reads.
    pub fn ingress_queues(&self) -> Vec<String> {
        let prefix = format!("{}-", self.prefix);
        self.manifest
            .event_sources
            .iter()
            .filter_map(|source| match source {
                crate::stack::EventSource::Sqs(sqs) => sqs.queue_url.rsplit('/').next(),
                crate::stack::EventSource::Stream(_) => None,
            })
            .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    pub fn table(&self) -> Result<&str> {
        self.manifest.table("StateTable")
    }

    /// Sends bodies in batches of ten; returns the message ids in the order of `bodies`.
    pub async fn send(&self, queue: &str, bodies: &[String]) -> Result<Vec<String>> {
        let url = self.queue_url(queue)?.to_owned();
        let sqs = self.sqs();
        let mut ids = Vec::with_capacity(bodies.len());
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .context("building a batch entry")
                })
                .collect::<Result<Vec<_>>>()?;
            let output = sqs
                .send_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("SendMessageBatch")?;
            if !output.failed.is_empty() {
                bail!(
                    "{} messages were not accepted by {queue}",
                    output.failed.len()
                );
            }
            let mut successful = output.successful;
            successful.sort_by_key(|entry| entry.id.parse::<usize>().unwrap_or(usize::MAX));
            ids.extend(successful.into_iter().map(|entry| entry.message_id));
        }
        Ok(ids)
    }

    /// Messages on `queue`, visible or in flight.
    pub async fn depth(&self, queue: &str) -> Result<u64> {
        self.count(
            queue,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ],
        )
        .await
    }

    /// How many messages of `queue` are in flight (received and not yet deleted or visible
    /// again): a sign that a consumer has taken them at least once.
    pub async fn receive_count_hint(&self, queue: &str) -> Result<u64> {
        self.count(
            queue,
            &[QueueAttributeName::ApproximateNumberOfMessagesNotVisible],
        )
        .await
    }

    /// Waits until a consumer has taken a message of `queue` (it is in flight), or fails after
    /// `limit`.
    pub async fn wait_taken(&self, queue: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while self.receive_count_hint(queue).await? == 0 {
            if Instant::now() > deadline {
                bail!("nothing took a message of {queue} within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The sum of the given approximate message counts of `queue`.
    async fn count(&self, queue: &str, attributes: &[QueueAttributeName]) -> Result<u64> {
        let output = self
            .sqs()
            .get_queue_attributes()
            .queue_url(self.queue_url(queue)?)
            .set_attribute_names(Some(attributes.to_vec()))
            .send()
            .await
            .context("GetQueueAttributes")?;
        Ok(output
            .attributes
            .unwrap_or_default()
            .values()
            .map(|v| v.parse::<u64>().unwrap_or(0))
            .sum())
    }

    /// Waits until every one of `queues` is empty (nothing visible, in flight or delayed) twice in
    /// a row, or fails after `limit`.
    pub async fn wait_drained(&self, queues: &[&str], limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let mut empty_in_a_row = 0;
        while empty_in_a_row < 2 {
            if Instant::now() > deadline {
                bail!("queues {queues:?} were not drained within {limit:?}");
            }
            let mut total = 0;
            for queue in queues {
                total += self.depth(queue).await?;
            }
            empty_in_a_row = if total == 0 { empty_in_a_row + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Receives and deletes every message currently on `queue`; returns the bodies.
    pub async fn drain(&self, queue: &str) -> Result<Vec<String>> {
        let url = self.queue_url(queue)?.to_owned();
        let sqs = self.sqs();
        let mut bodies = Vec::new();
        loop {
            let output = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .context("ReceiveMessage")?;
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(bodies);
            }
            let entries: Vec<aws_sdk_sqs::types::DeleteMessageBatchRequestEntry> = messages
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .set_receipt_handle(m.receipt_handle.clone())
                        .build()
                        .ok()
                })
                .collect();
            sqs.delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("DeleteMessageBatch")?;
            bodies.extend(messages.into_iter().filter_map(|m| m.body));
        }
    }

    /// Like [`Self::drain`] for a `channel-updates-<channel>` queue, with every offloaded view (an
    /// SQS Extended Client pointer, see `view_fanout`) read back from S3: what a consumer using the
    /// Extended Client Library receives.
    pub async fn drain_views(&self, queue: &str) -> Result<Vec<String>> {
        let s3 = aws_sdk_s3::Client::new(&self.sdk);
        let mut views = Vec::new();
        for body in self.drain(queue).await? {
            let pointer: Option<(String, serde_json::Value)> = serde_json::from_str(&body).ok();
            match pointer {
                Some((class, location)) if class == view_fanout::POINTER_CLASS => {
                    let bucket = location["s3BucketName"].as_str().unwrap_or_default();
                    let key = location["s3Key"].as_str().unwrap_or_default();
                    let object = s3
                        .get_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await
                        .with_context(|| format!("GetObject s3://{bucket}/{key}"))?;
                    let bytes = object.body.collect().await?.into_bytes();
                    views.push(String::from_utf8(bytes.to_vec())?);
                }
                _ => views.push(body),
            }
        }
        Ok(views)
    }

    /// Stops the runner and, if this stack started it, the moto server.
    pub fn shutdown(mut self) {
        self.runner = None;
        self.moto = None;
    }
}
