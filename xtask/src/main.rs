//! `cargo xtask <command>`: the project's developer commands. See README.md.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use omnisync::contract::ViewChanged;
use omnisync::domain::customer::CustomerState;
use omnisync::store::Table;
use serde::Deserialize;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;
use xtask::local::{LocalStack, StackOptions};
use xtask::venv::{Venv, run};
use xtask::workspace_root;

/// The project's developer commands.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "omnisync's developer commands (see README.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Set up, start a local AWS stack, send the story from events/story through the queues into
    /// the real functions, and print what every customer and every channel sees.
    Demo,
    /// Set up, then run every check and test: fmt, clippy, cfn-lint, the template's policy
    /// checks, unit, property and end-to-end tests against a local AWS endpoint.
    Test,
    /// Set up, start a local AWS stack with the runner and keep it running; prints the endpoint
    /// and queue URLs (Ctrl-C stops it).
    Stack {
        /// How long a status change or refund waits for its order (the template's
        /// OrderWaitSeconds; 14 days by default).
        #[arg(long)]
        order_wait_seconds: Option<u64>,
        /// Deploy into an endpoint that is already running (LocalStack, a shared moto, a proxy)
        /// instead of starting a moto server.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// The stack name and resource prefix.
        #[arg(long, default_value = "omnisync")]
        prefix: String,
    },
    /// Install the local-stack tools into .venv/ (moto, aws-sam-translator, cfn-lint,
    /// cargo-lambda).
    Setup,
    /// cfn-lint infra/template.yaml.
    Lint,
    /// The template's policy checks: cfn-lint with the serverless rules and checkov, failing on
    /// any finding not waived in infra/waivers.toml (installs them into .venv-checks/).
    Checks,
    /// Build and deploy a stage to AWS (sam build, sam deploy --config-env <stage>), no prompts;
    /// arguments after `--` go to sam deploy.
    Deploy {
        #[arg(long, value_enum)]
        stage: xtask::deploy::Stage,
        #[arg(last = true)]
        sam_args: Vec<String>,
    },
    /// Delete a stage's stack (the views bucket emptied first; a dev stage's table too).
    Teardown {
        #[arg(long, value_enum)]
        stage: xtask::deploy::Stage,
    },
    /// Measure every function beside the Python Powertools peer (cold starts, peak RSS, DynamoDB
    /// requests per event, package sizes, the criterion benches); prints the tables and writes
    /// docs/BENCHMARKS.md.
    Bench {
        /// Cold starts per function (the median is reported).
        #[arg(long, default_value_t = 20)]
        starts: usize,
        /// A quick run for CI: debug binaries, two starts, criterion in test mode, nothing
        /// written.
        #[arg(long)]
        smoke: bool,
    },
    /// cargo lambda build --release for every function; prints the bootstrap sizes.
    Build {
        /// Build for the deploy architecture (arm64) instead of the host.
        #[arg(long)]
        arm64: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Task::Setup => setup().map(|_| ()),
        Task::Lint => {
            let venv = setup()?;
            lint(&venv)
        }
        Task::Demo => {
            let _venv = setup()?;
            runtime.block_on(demo())
        }
        Task::Stack {
            order_wait_seconds,
            endpoint,
            prefix,
        } => {
            let _venv = setup()?;
            runtime.block_on(stack(order_wait_seconds, endpoint, &prefix))
        }
        Task::Checks => {
            let venv = setup()?;
            checks(&venv)
        }
        Task::Test => {
            let venv = setup()?;
            test(&venv)
        }
        Task::Deploy { stage, sam_args } => xtask::deploy::deploy(stage, &sam_args),
        Task::Teardown { stage } => runtime.block_on(xtask::deploy::teardown(stage)),
        Task::Bench { starts, smoke } => {
            let venv = setup()?;
            bench(&venv, &runtime, if smoke { 2 } else { starts }, smoke)
        }
        Task::Build { arm64 } => {
            let venv = setup()?;
            let extra: Vec<String> = if arm64 {
                vec!["--arm64".to_owned()]
            } else {
                Vec::new()
            };
            build(&venv, &extra)
        }
    }
}

fn setup() -> Result<Venv> {
    let venv = Venv::at_workspace();
    venv.ensure()?;
    Ok(venv)
}

fn checks(venv: &Venv) -> Result<()> {
    let checks = Venv::checks();
    checks.ensure()?;
    xtask::checks::run(venv, &checks)
}

fn lint(venv: &Venv) -> Result<()> {
    eprintln!("== cfn-lint infra/template.yaml");
    run(Command::new(venv.bin("cfn-lint")).arg(workspace_root().join("infra/template.yaml")))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn test(venv: &Venv) -> Result<()> {
    eprintln!("== cargo fmt --check");
    run(cargo().args(["fmt", "--all", "--check"]))?;
    eprintln!("== cargo clippy --all-targets -- -D warnings");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    lint(venv)?;
    checks(venv)?;
    // The functions' own binaries, for the end-to-end test that runs them behind a local
    // Runtime API (tests/binaries.rs); the same profile as the tests, so it shares their build.
    let functions = function_packages()?;
    eprintln!("== cargo build --bins ({})", functions.join(", "));
    let mut build = cargo();
    build.args(["build", "--bins"]);
    for package in &functions {
        build.args(["--package", package]);
    }
    run(&mut build)?;
    let moto = xtask::moto::MotoServer::start(venv)?;
    eprintln!(
        "== cargo test --workspace (local AWS endpoint {})",
        moto.endpoint()
    );
    let tested = run_counting_tests(
        cargo()
            .args(["test", "--workspace"])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("OMNISYNC_BINARIES", workspace_root().join("target/debug"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test"),
    );
    drop(moto);
    tested?;
    // The bench at smoke size: every measuring path runs, no figure is judged.
    eprintln!("== cargo xtask bench --smoke");
    let runtime = tokio::runtime::Runtime::new()?;
    bench(venv, &runtime, 2, true)
}

/// Runs `cargo test`, echoing its output, and closes with one line that totals every test
/// binary's `test result:` line (cargo's own last line is the last binary's, often doc tests).
fn run_counting_tests(command: &mut Command) -> Result<()> {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let stdout = child.stdout.take().context("cargo test's stdout")?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            for part in summary.split(['.', ';']) {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(what)) = (
                    words.next().and_then(|n| n.parse::<u64>().ok()),
                    words.next(),
                ) {
                    match what {
                        "passed" => passed += n,
                        "failed" => failed += n,
                        "ignored" => ignored += n,
                        _ => {}
                    }
                }
            }
        }
    }
    let status = child.wait()?;
    println!("tests: {passed} passed, {failed} failed, {ignored} skipped");
    if !status.success() {
        bail!("cargo test failed with {status}");
    }
    Ok(())
}

/// The function crates (`functions/<name>`), by name.
fn function_packages() -> Result<Vec<String>> {
    let functions_dir = workspace_root().join("functions");
    let mut packages = Vec::new();
    for entry in std::fs::read_dir(&functions_dir)
        .with_context(|| format!("reading {}", functions_dir.display()))?
    {
        let entry = entry?;
        if entry.path().join("Cargo.toml").exists() {
            packages.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    packages.sort();
    Ok(packages)
}

fn bench(venv: &Venv, runtime: &tokio::runtime::Runtime, starts: usize, smoke: bool) -> Result<()> {
    use xtask::bench::{self, Subject, report::Figures};
    let functions = function_packages()?;
    let profile = if smoke { "debug" } else { "release" };
    eprintln!(
        "== cargo build --bins --profile {profile} ({})",
        functions.join(", ")
    );
    let mut build = cargo();
    build.args(["build", "--bins"]);
    if !smoke {
        build.arg("--release");
    }
    for package in &functions {
        build.args(["--package", package]);
    }
    run(&mut build)?;
    let peer_venv = Venv::peer();
    peer_venv.ensure()?;

    eprintln!("== criterion benches of the pure rules");
    // The smoke run runs each bench once, in the test profile (no optimized build of its own).
    let mut criterion = cargo();
    if smoke {
        criterion.args(["test", "--package", "omnisync-benches", "--bench", "rules"]);
    } else {
        criterion.args(["bench", "--package", "omnisync-benches", "--bench", "rules"]);
    }
    let output = criterion.output().context("running cargo bench")?;
    if !output.status.success() {
        bail!(
            "cargo bench failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let criterion_text: String = String::from_utf8_lossy(&output.stdout)
        .lines()
        // The benches' names and times; not criterion's comparison with an earlier run on this
        // machine, nor its outlier counts.
        .filter(|line| {
            let text = line.trim();
            let noise = [
                "Benchmarking",
                "change:",
                "Performance has",
                "No change",
                "Change within",
                "Found ",
                "Gnuplot",
            ];
            !text.is_empty()
                && !noise.iter().any(|n| text.starts_with(n))
                // An outlier line, e.g. `2 (2.00%) high mild`.
                && (!text.ends_with("%)") || text.contains("time:"))
        })
        .collect::<Vec<_>>()
        .join("\n");

    let bin_dir = workspace_root().join("target").join(profile);
    let zips = workspace_root().join("target/xtask/bench");
    std::fs::create_dir_all(&zips)?;
    let mut sizes = std::collections::BTreeMap::new();
    for name in &functions {
        let binary = bin_dir.join(name);
        let zip = bench::zipped_size(&venv.python(), &binary, &zips.join(format!("{name}.zip")))?;
        sizes.insert(name.clone(), (zip, std::fs::metadata(&binary)?.len()));
    }

    let (cold_starts, peer, requests, memory_mb, batch_sizes) = runtime.block_on(async {
        // The template's own timeout, not the local stack's 1 s: a refund's four requests on a
        // loaded moto can take longer, and a record cut off at the deadline is delivered again.
        let stack = LocalStack::deploy(StackOptions {
            endpoint: None,
            prefix: "bench",
            params: vec![("FunctionTimeout", "30".into())],
        })
        .await?;
        let common = |env: &mut std::collections::BTreeMap<String, String>| {
            env.insert("AWS_ENDPOINT_URL".into(), stack.endpoint().to_owned());
            // What Lambda sets: both region variables (botocore reads only the second).
            env.insert("AWS_REGION".into(), "us-east-1".into());
            env.insert("AWS_DEFAULT_REGION".into(), "us-east-1".into());
            env.insert("AWS_ACCESS_KEY_ID".into(), "test".into());
            env.insert("AWS_SECRET_ACCESS_KEY".into(), "test".into());
        };
        let mut cold_starts = Vec::new();
        let mut memory_mb = std::collections::BTreeMap::new();
        let mut batch_sizes = std::collections::BTreeMap::new();
        for (logical_id, sample) in bench::SAMPLES {
            let spec = &stack.manifest.functions[*logical_id];
            let name = spec
                .function_name
                .strip_prefix(&format!("{}-", stack.prefix))
                .unwrap_or(&spec.function_name)
                .to_owned();
            let mut env = spec.environment.clone();
            common(&mut env);
            let sample = bench::sample(sample)?;
            batch_sizes.insert(
                name.clone(),
                sample["Records"].as_array().map_or(1, Vec::len),
            );
            memory_mb.insert(name.clone(), bench::template_memory_mb(logical_id)?);
            let subject = Subject {
                name: name.clone(),
                command: bin_dir.join(&name),
                args: Vec::new(),
                dir: None,
                env,
                function_name: spec.function_name.clone(),
                sample,
            };
            eprintln!("== {starts} cold starts of {name}");
            cold_starts.push(bench::cold_starts(&subject, starts).await?);
        }
        let mut env = std::collections::BTreeMap::new();
        common(&mut env);
        env.insert("OMNISYNC_STATE_TABLE".into(), stack.table()?.to_owned());
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        env.insert("POWERTOOLS_SERVICE_NAME".into(), "cart-peer".into());
        let peer = Subject {
            name: "Python Powertools peer (cart)".into(),
            command: peer_venv.python(),
            args: vec![
                "-m".into(),
                "awslambdaric".into(),
                "handler.lambda_handler".into(),
            ],
            dir: Some(workspace_root().join("benches/peer")),
            env,
            function_name: "bench-cart-peer".into(),
            sample: bench::sample("cart-sync/sqs-valid.json")?,
        };
        eprintln!("== {starts} cold starts of the peer");
        let peer = bench::cold_starts(&peer, starts).await?;
        eprintln!("== DynamoDB requests per applied event");
        let requests = bench::requests_per_event(&stack).await?;
        anyhow::Ok((cold_starts, Some(peer), requests, memory_mb, batch_sizes))
    })?;

    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "an unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let figures = Figures {
        command: format!(
            "cargo xtask bench --starts {starts}{}",
            if smoke { " --smoke" } else { "" }
        ),
        machine: format!("{cores} cores of {machine}, Linux, moto on 127.0.0.1"),
        commit,
        profile,
        cold_starts,
        peer,
        requests,
        sizes,
        memory_mb,
        batch_sizes,
        criterion: criterion_text,
    };
    let markdown = figures.markdown();
    println!("{markdown}");
    if !smoke {
        let path = workspace_root().join("docs/BENCHMARKS.md");
        std::fs::create_dir_all(workspace_root().join("docs"))?;
        std::fs::write(&path, &markdown).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn build(venv: &Venv, extra: &[String]) -> Result<()> {
    let path = std::env::join_paths(std::iter::once(venv.bin("")).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let packages = function_packages()?;
    eprintln!(
        "== cargo lambda build --release {} ({})",
        extra.join(" "),
        packages.join(", ")
    );
    let mut command = cargo();
    command
        .args(["lambda", "build", "--release"])
        .args(extra)
        .env("PATH", path);
    for package in &packages {
        command.args(["--package", package]);
    }
    run(&mut command)?;
    let lambda_dir = workspace_root().join("target/lambda");
    for entry in std::fs::read_dir(&lambda_dir)
        .with_context(|| format!("reading {}", lambda_dir.display()))?
    {
        let bootstrap = entry?.path().join("bootstrap");
        if let Ok(meta) = std::fs::metadata(&bootstrap) {
            println!("{:>12} bytes  {}", meta.len(), bootstrap.display());
        }
    }
    Ok(())
}

async fn stack(
    order_wait_seconds: Option<u64>,
    endpoint: Option<String>,
    prefix: &str,
) -> Result<()> {
    let mut params = local_params();
    if let Some(seconds) = order_wait_seconds {
        params.push(("OrderWaitSeconds", seconds.to_string()));
    }
    let mut stack = LocalStack::deploy(StackOptions {
        endpoint,
        prefix,
        params,
    })
    .await?;
    stack.start_runner(2)?;
    omnisync::telemetry::init();
    println!("local AWS endpoint: {}", stack.endpoint());
    println!(
        "  export AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
        stack.endpoint()
    );
    for (logical_id, url) in &stack.manifest.queues {
        println!("queue {logical_id}: {url}");
    }
    for (logical_id, name) in &stack.manifest.tables {
        println!("table {logical_id}: {name}");
    }
    let env_dir = write_env_files(&stack)?;
    println!(
        "each function's environment, for `cargo lambda watch --env-file`: {}/<function>.env",
        env_dir.display()
    );
    println!("the event-source runner is polling; Ctrl-C stops everything");
    tokio::signal::ctrl_c().await?;
    stack.shutdown();
    Ok(())
}

/// Writes each function's environment on this stack (the template's, plus the endpoint and
/// test credentials) as `target/xtask/env/<function>.env`, the `KEY=VALUE` lines
/// `cargo lambda watch --env-file` reads.
fn write_env_files(stack: &LocalStack) -> Result<std::path::PathBuf> {
    let dir = workspace_root().join("target/xtask/env");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for spec in stack.manifest.functions.values() {
        let name = spec
            .function_name
            .strip_prefix(&format!("{}-", stack.prefix))
            .unwrap_or(&spec.function_name);
        let mut lines: Vec<String> = spec
            .environment
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        lines.extend([
            format!("AWS_ENDPOINT_URL={}", stack.endpoint()),
            "AWS_REGION=us-east-1".to_owned(),
            "AWS_ACCESS_KEY_ID=test".to_owned(),
            "AWS_SECRET_ACCESS_KEY=test".to_owned(),
        ]);
        let path = dir.join(format!("{name}.env"));
        std::fs::write(&path, lines.join("\n") + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

#[derive(Deserialize)]
struct Story {
    description: String,
    events: Vec<StoryEvent>,
    /// Customer id → the cart, wishlist and orders (id, status, total) the story must end in.
    expected: serde_json::Map<String, Value>,
    /// Event id → reason code.
    expected_rejections: serde_json::Map<String, Value>,
    /// `{customer_id, sku, size, store_id}` of every back-in-stock notification.
    expected_notifications: Vec<Value>,
    /// Customer id → the event ids of its view's timeline, newest first.
    expected_timelines: serde_json::Map<String, Value>,
    /// Order id → its view's `attribution`.
    expected_attribution: serde_json::Map<String, Value>,
    /// `omnisync report` over the story's days.
    expected_report: Value,
}

#[derive(Deserialize)]
struct StoryEvent {
    queue: String,
    note: String,
    body: Value,
    /// Order-dependent decisions (which `order.placed` came first) follow arrival order: such an
    /// event is sent after all others.
    #[serde(default)]
    deliver_last: bool,
}

/// The parameters the demo and `stack` deploy with: a one-second function timeout, so the
/// template's visibility timeout (6×) shows a redelivery in seconds, not minutes.
fn local_params() -> Vec<(&'static str, String)> {
    vec![("FunctionTimeout", "1".into())]
}

/// What the demo shows of a customer (the full customer view comes with the view projection).
fn shown(state: &CustomerState) -> Value {
    json!({
        "customer_id": state.customer_id,
        "cart": state.shopping.cart,
        "wishlist": state.shopping.wishlist,
        "orders": state.orders.iter().map(|o| json!({
            "order_id": o.order_id,
            "status": o.status.status(&o.placed).as_str(),
            "total_minor": o.total_minor,
        })).collect::<Vec<_>>(),
        "refunds": state.refunds.iter().map(|r| json!({
            "refund_id": r.refund_id,
            "status": r.status.as_str(),
            "amount_minor": r.amount_minor,
            "reason_code": r.reason_code,
        })).collect::<Vec<_>>(),
        "loyalty": { "balance": state.loyalty.balance },
    })
}

/// Reads every channel-updates queue until each customer's newest update carries its current
/// version, then prints, per channel, the version it holds for each customer and whether that
/// view is the operator's (`omnisync view`).
async fn show_channels(stack: &LocalStack, story: &Story) -> Result<bool> {
    let channels = [
        "channel-updates-web",
        "channel-updates-app",
        "channel-updates-store",
        "channel-updates-call_center",
    ];
    let table = Table::new(stack.dynamodb(), stack.table()?);
    let mut newest: std::collections::BTreeMap<(&str, String), ViewChanged> = Default::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        for channel in channels {
            for body in stack.drain_views(channel).await? {
                let update: ViewChanged = serde_json::from_str(&body)?;
                let slot = (channel, update.customer_id.clone());
                if newest
                    .get(&slot)
                    .is_none_or(|known| known.version < update.version)
                {
                    newest.insert(slot, update);
                }
            }
        }
        let mut current = true;
        for customer_id in story.expected.keys() {
            let version = table.current_view(customer_id).await?.version;
            current &= channels.iter().all(|c| {
                newest
                    .get(&(*c, customer_id.clone()))
                    .is_some_and(|u| u.version == version)
            });
        }
        if current || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!("\nthe latest customer.view_changed each channel holds:");
    let mut all_current = true;
    for channel in channels {
        let mut line = format!("  {channel:<28}");
        for customer_id in story.expected.keys() {
            let operator = table.current_view(customer_id).await?;
            let held = newest.get(&(channel, customer_id.clone()));
            let same = held.is_some_and(|u| u.view == operator);
            all_current &= same;
            let version = held.map_or(0, |u| u.version);
            line.push_str(&format!(
                " {customer_id} v{version}{}",
                if same { "" } else { " (STALE)" }
            ));
        }
        println!("{line}");
    }
    if let Some(update) = newest.get(&("channel-updates-store", "c-dan".to_owned())) {
        println!(
            "\nwhat the store associate's tablet shows for c-dan:\n{}",
            serde_json::to_string_pretty(&update.view)?
        );
    }
    println!(
        "every channel holds the operator's view: {}\n",
        if all_current { "yes" } else { "NO" }
    );
    Ok(all_current)
}

/// Prints the timeline the store associate sees for Dan, every order's attribution and the
/// channel report of the story's days, each checked against the story; whether all match.
async fn show_engagement(table: &Table, story: &Story) -> Result<bool> {
    let mut all_match = true;
    let mut views = std::collections::BTreeMap::new();
    for customer_id in story.expected.keys() {
        views.insert(customer_id.clone(), table.current_view(customer_id).await?);
    }
    if let Some(dan) = views.get("c-dan") {
        println!(
            "\nthe timeline the associate sees for c-dan (his guest session's events included):"
        );
        for event in &dan.timeline {
            println!(
                "  {}  {:<12} {:<22} {:<16} {}",
                event.occurred_at,
                event.channel.as_str(),
                event.event_type,
                event.store_id.as_deref().unwrap_or("-"),
                event.reference.as_deref().unwrap_or("-"),
            );
        }
    }
    for (customer_id, expected) in &story.expected_timelines {
        let shown: Vec<Value> = views
            .get(customer_id)
            .map(|v| v.timeline.iter().map(|e| json!(e.event_id)).collect())
            .unwrap_or_default();
        if Value::Array(shown.clone()) != *expected {
            println!("  MISMATCH timeline of {customer_id}: {shown:?}");
            all_match = false;
        }
    }
    println!("\nattribution of every order (first touch, last touch):");
    for view in views.values() {
        for order in &view.orders {
            let shown = serde_json::to_value(&order.attribution)?;
            let ok = story.expected_attribution.get(&order.order_id) == Some(&shown);
            all_match &= ok;
            println!(
                "  {}  {} {}: {}",
                if ok { "ok      " } else { "MISMATCH" },
                view.customer_id,
                order.order_id,
                shown
            );
        }
    }
    let from = story.expected_report["from"].as_str().unwrap_or_default();
    let to = story.expected_report["to"].as_str().unwrap_or_default();
    let report = table
        .channel_report(from, to)
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = serde_json::to_value(&report)?;
    let report_match = report == story.expected_report;
    all_match &= report_match;
    println!(
        "\nomnisync report --from {from} --to {to} ({}):\n{}",
        if report_match {
            "as expected"
        } else {
            "MISMATCH"
        },
        serde_json::to_string_pretty(&report)?
    );
    Ok(all_match)
}

async fn demo() -> Result<()> {
    let path = workspace_root().join("events/story/story.json");
    let story: Story = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    println!("omnisync demo: {}\n", story.description);
    for event in &story.events {
        let body = &event.body;
        println!(
            "  {:<8} {:<12} {:<24} {}",
            body["customer_id"].as_str().unwrap_or("-"),
            body["channel"].as_str().unwrap_or("?"),
            body["type"].as_str().unwrap_or("?"),
            event.note
        );
    }

    let mut stack = LocalStack::deploy(StackOptions {
        endpoint: None,
        prefix: "omnisync",
        params: local_params(),
    })
    .await?;
    println!(
        "\nlocal AWS endpoint {} with the stack from infra/template.yaml",
        stack.endpoint()
    );
    stack.start_runner(2)?;

    // Deliver as the network might: newest first (so status changes come before their order),
    // and the first event twice; events whose outcome depends on arrival come last.
    let mut deliveries: Vec<&StoryEvent> = story
        .events
        .iter()
        .rev()
        .filter(|e| !e.deliver_last)
        .collect();
    deliveries.extend(story.events.first());
    let last: Vec<&StoryEvent> = story.events.iter().filter(|e| e.deliver_last).collect();
    for event in &deliveries {
        stack.send(&event.queue, &[event.body.to_string()]).await?;
    }
    let queues = stack.ingress_queues();
    let queue_names: Vec<&str> = queues.iter().map(String::as_str).collect();
    stack
        .wait_drained(&queue_names, Duration::from_secs(180))
        .await?;
    for event in &last {
        stack.send(&event.queue, &[event.body.to_string()]).await?;
    }
    println!(
        "sent {} messages ({} events, newest first, one twice, the order-dependent ones last); waiting for the queues to drain",
        deliveries.len() + last.len(),
        story.events.len()
    );
    stack
        .wait_drained(&queue_names, Duration::from_secs(180))
        .await?;

    let table = Table::new(stack.dynamodb(), stack.table()?);
    // The ledger follows the table's stream, a moment after the queues are empty.
    let parts = ["cart", "wishlist", "orders", "refunds", "loyalty"];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let states = loop {
        let mut states = Vec::new();
        for (customer_id, expected) in &story.expected {
            let state = shown(&table.customer_state(customer_id).await?);
            let matches = parts.iter().all(|part| state[part] == expected[part]);
            states.push((state, matches));
        }
        if states.iter().all(|(_, matches)| *matches) || std::time::Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let all_match = states.iter().all(|(_, matches)| *matches);
    println!("\ncustomers, as every channel now shows them:");
    for (state, matches) in &states {
        println!(
            "  {}  {}",
            if *matches { "ok      " } else { "MISMATCH" },
            state
        );
    }
    let rejected = stack.drain("rejected-events").await?;
    println!("\nrejected-events ({}):", rejected.len());
    let mut rejections = serde_json::Map::new();
    for body in &rejected {
        let value: Value = serde_json::from_str(body)?;
        println!(
            "  {} {}: {}",
            value["event_id"], value["reason_code"], value["detail"]
        );
        if let Some(event_id) = value["event_id"].as_str() {
            rejections.insert(event_id.to_owned(), value["reason_code"].clone());
        }
    }

    let channels_match = show_channels(&stack, &story).await?;
    let mut notifications: Vec<Value> = Vec::new();
    for body in stack.drain("notifications.fifo").await? {
        let mut value: Value = serde_json::from_str(&body)?;
        println!("  notification {}", value);
        if let Some(object) = value.as_object_mut() {
            object.remove("notification_id");
            object.remove("type");
        }
        notifications.push(value);
    }
    let notifications_match = notifications == story.expected_notifications;
    println!(
        "notifications: {}",
        if notifications_match {
            "as expected"
        } else {
            "MISMATCH"
        }
    );
    let engagement_match = show_engagement(&table, &story).await?;
    stack.shutdown();
    if !all_match
        || rejections != story.expected_rejections
        || !channels_match
        || !notifications_match
        || !engagement_match
    {
        bail!("the result does not match the story's expected result");
    }
    println!("\nevery customer and every rejection is as the story expects");
    Ok(())
}
