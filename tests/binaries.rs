//! End to end through the real binaries (issue 10 #7): every function's built binary runs
//! behind a local Lambda Runtime API (`xtask::runtime_api`) with the environment the template
//! gives it, and answers each of its `events/` samples. The in-process runner calls handlers
//! directly; this is what exercises `main.rs`, the configuration read from the environment,
//! `lambda_runtime`'s (de)serialization of the trigger events and the log and metric lines the
//! process writes.
//!
//! The binaries are built by `cargo xtask test` (`cargo build --bins` of the function crates)
//! before the tests run, and it sets `OMNISYNC_BINARIES` to their directory; without it, this
//! test says how to run it and skips.

use crate::support::stack;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use xtask::runtime_api::{Answer, RuntimeApi};

fn binaries() -> Option<PathBuf> {
    let dir = std::env::var_os("OMNISYNC_BINARIES").map(PathBuf::from);
    if dir.is_none() {
        eprintln!(
            "skipped: OMNISYNC_BINARIES is not set; run `cargo xtask test`, or build the \
             functions (`cargo build --bins -p cart-sync …`) and set it to target/debug"
        );
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_functions_binary_answers_its_samples_behind_a_local_runtime_api() {
    let Some(dir) = binaries() else {
        return;
    };
    let Some(stack) = stack("bin", &[]).await else {
        return;
    };
    for (logical_id, spec) in &stack.manifest.functions {
        let name = spec
            .function_name
            .strip_prefix(&format!("{}-", stack.prefix))
            .unwrap();
        let api = RuntimeApi::start(&spec.function_name).await.unwrap();
        let binary = dir.join(name);
        assert!(binary.exists(), "{} is not built", binary.display());
        let mut process = tokio::process::Command::new(&binary)
            .env_clear()
            .envs(&spec.environment)
            .envs(api.lambda_environment(256))
            .env("RUST_LOG", "error")
            .env("AWS_ENDPOINT_URL", stack.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();

        let mut samples: Vec<PathBuf> =
            std::fs::read_dir(xtask::workspace_root().join("events").join(name))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
        // A stream failure sample names a stream and shard of its own, which moto answers with
        // a 500 (AWS: ResourceNotFoundException, read as "gone"); the recovery of real records
        // is tested in-process (tests/recovery.rs), and the recovery route of the binary by the
        // sweep sample.
        samples.retain(|s| !s.ends_with("sqs-stream-failure.json"));
        samples.sort();
        assert!(!samples.is_empty(), "{name} has samples");
        let mut answers = Vec::new();
        for sample in &samples {
            // The samples come from the `omnisync` stack; this one has its own prefix.
            let text = std::fs::read_to_string(sample)
                .unwrap()
                .replace(":omnisync-", &format!(":{}-", stack.prefix));
            let event: Value = serde_json::from_str(&text).unwrap();
            let answer = api
                .invoke(event, Duration::from_secs(spec.timeout_seconds))
                .await
                .map_err(|e| e.to_string());
            answers.push((sample, answer));
        }
        process.start_kill().unwrap();
        let output = process.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        for (sample, answer) in answers {
            assert_eq!(
                answer,
                Ok(Answer::Response(json!({"batchItemFailures": []}))),
                "{logical_id} {}; its output:\n{stdout}{}",
                sample.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        // The level Lambda passes (INFO) wins over RUST_LOG (error): info lines are written,
        // each carrying its invocation's request id.
        let logged: Vec<&Value> = lines.iter().filter(|l| l["level"] == "INFO").collect();
        assert!(
            !logged.is_empty(),
            "{logical_id} wrote no info line:\n{stdout}"
        );
        assert!(
            logged.iter().any(|l| l["span"]["requestId"]
                .as_str()
                .is_some_and(|id| id.starts_with("local-"))),
            "{logical_id}: no line carries the request id"
        );
        if spec.environment.contains_key("OMNISYNC_REJECTED_QUEUE_URL")
            && samples.iter().any(|s| s.ends_with("sqs-valid.json"))
        {
            assert!(
                lines
                    .iter()
                    .any(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "omnisync"),
                "{logical_id}: no EMF metrics"
            );
        }
    }
}
