//! The infrastructure template: lint-clean, and the deployed stack (on the local endpoint, with
//! the template's own defaults) has the settings the delivery guarantees depend on.

use crate::support::access::{Access, AccessRecorder};
use crate::support::{stack, stack_with_defaults};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

#[test]
fn cfn_lint_passes() {
    let root = xtask::workspace_root();
    let cfn_lint = root.join(".venv/bin/cfn-lint");
    assert!(
        cfn_lint.exists(),
        "{} is missing: run `cargo xtask setup`",
        cfn_lint.display()
    );
    let output = Command::new(cfn_lint)
        .arg(root.join("infra/template.yaml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sqs_mapping_reports_item_failures_and_redrives_to_a_dlq() {
    let Some(stack) = stack_with_defaults("tpl").await else {
        return;
    };
    let sqs = stack.sqs();
    assert!(!stack.manifest.event_sources.is_empty());
    for source in &stack.manifest.event_sources {
        let xtask::stack::EventSource::Sqs(source) = source else {
            continue;
        };
        let function = &stack.manifest.functions[&source.function];
        assert!(
            source.report_batch_item_failures,
            "{}: ReportBatchItemFailures",
            source.mapping
        );
        assert!(
            source.visibility_timeout_seconds >= 6 * function.timeout_seconds,
            "{}: visibility timeout {} s < 6 × function timeout {} s",
            source.mapping,
            source.visibility_timeout_seconds,
            function.timeout_seconds
        );
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&source.queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let policy: serde_json::Value = serde_json::from_str(
            attributes
                .get(&QueueAttributeName::RedrivePolicy)
                .expect("a redrive policy"),
        )
        .unwrap();
        let dlq = policy["deadLetterTargetArn"].as_str().unwrap();
        assert_eq!(
            dlq,
            format!("{}-dlq", source.queue_arn),
            "{}: DLQ named <queue>-dlq",
            source.mapping
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_follow_prefix_and_logical_name() {
    let Some(stack) = stack_with_defaults("tpl-names").await else {
        return;
    };
    for name in [
        "cart-events",
        "cart-events-dlq",
        "rejected-events",
        "notifications.fifo",
    ] {
        assert!(
            stack.queue_url(name).is_ok(),
            "queue {}-{name}",
            stack.prefix
        );
    }
    assert_eq!(stack.table().unwrap(), format!("{}-state", stack.prefix));
    for (logical_id, spec) in &stack.manifest.functions {
        assert!(
            spec.function_name
                .starts_with(&format!("{}-", stack.prefix)),
            "{logical_id}"
        );
        assert_eq!(
            spec.environment.get("OMNISYNC_TABLE"),
            Some(&format!("{}-state", stack.prefix))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_mapping_bisects_bounds_retries_and_age_and_has_an_on_failure_destination() {
    let Some(stack) = stack_with_defaults("tpl-streams").await else {
        return;
    };
    let streams: Vec<&xtask::stack::StreamSource> = stack
        .manifest
        .event_sources
        .iter()
        .filter_map(|s| match s {
            xtask::stack::EventSource::Stream(stream) => Some(stream),
            _ => None,
        })
        .collect();
    assert!(!streams.is_empty());
    for source in streams {
        assert!(source.report_batch_item_failures, "{}", source.mapping);
        assert!(source.bisect_batch_on_function_error, "{}", source.mapping);
        assert!(
            (0..=100).contains(&source.maximum_retry_attempts),
            "{}: bounded retries",
            source.mapping
        );
        assert!(
            (60..=86_400).contains(&source.maximum_record_age_seconds),
            "{}: bounded age",
            source.mapping
        );
        assert!(
            source.on_failure_queue_url.is_some(),
            "{}: on-failure destination",
            source.mapping
        );
    }
}

/// The template as CloudFormation gets it (SAM's transform applied), from
/// `xtask/python/local_cfn.py translate`.
fn translated_template() -> serde_json::Value {
    let root = xtask::workspace_root();
    let output = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("xtask/python/local_cfn.py"))
        .args(["translate", "--template"])
        .arg(root.join("infra/template.yaml"))
        // The transform needs a region for the ARNs it builds.
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("running local_cfn.py translate (run `cargo xtask setup`)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Contract §4: a deployed stack always authorizes channels. Every function gets the same
/// sender map, naming four role ids, one channel each (moto resolves the template's map).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_stack_gives_every_function_a_map_of_one_role_per_channel() {
    let Some(stack) = stack_with_defaults("tpl-auth").await else {
        return;
    };
    assert_eq!(
        stack.deployed_channel_senders.len(),
        stack.manifest.functions.len(),
        "every function has the map"
    );
    let maps: BTreeSet<&String> = stack.deployed_channel_senders.values().collect();
    assert_eq!(maps.len(), 1, "one map for all: {maps:?}");
    let map: BTreeMap<String, Vec<String>> =
        serde_json::from_str(maps.into_iter().next().unwrap()).unwrap();
    let mut channels: Vec<String> = Vec::new();
    for (role, claims) in &map {
        assert!(
            role.starts_with("AROA") && !role.contains(':'),
            "a role id, not a session: {role}"
        );
        assert_eq!(claims.len(), 1, "{role}: one channel per role");
        channels.extend(claims.iter().cloned());
    }
    channels.sort();
    assert_eq!(channels, ["app", "call_center", "store", "web"]);
}

/// Each channel's role is the one its channel is mapped from, every queue refuses access
/// without TLS, and each ingress queue takes sends only from the roles of the channels that
/// use it (plus order-sync where it sends waiting events back, and the operators who redrive).
#[test]
fn every_queue_needs_tls_and_each_ingress_queue_takes_only_its_channels_roles() {
    let template = translated_template();
    let resources = template["Resources"].as_object().unwrap();
    let roles = [
        ("web", "WebChannelRole"),
        ("app", "AppChannelRole"),
        ("store", "StoreChannelRole"),
        ("call_center", "CallCenterChannelRole"),
    ];
    for (logical_id, resource) in resources {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let map = resource["Properties"]["Environment"]["Variables"]["OMNISYNC_CHANNEL_SENDERS"]
            ["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{logical_id}: a sender map"));
        for (channel, role) in roles {
            assert!(
                map.contains(&format!(r#""${{{role}.RoleId}}": ["{channel}"]"#)),
                "{logical_id}: {role} claims {channel}: {map}"
            );
        }
    }

    // Which queues' policies cover which queue, by logical id.
    let mut statements: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for resource in resources.values() {
        if resource["Type"] != "AWS::SQS::QueuePolicy" {
            continue;
        }
        for queue in resource["Properties"]["Queues"].as_array().unwrap() {
            let queue = queue["Ref"].as_str().unwrap().to_owned();
            statements.entry(queue).or_default().extend(
                resource["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .cloned(),
            );
        }
    }
    for (logical_id, resource) in resources {
        if resource["Type"] != "AWS::SQS::Queue" {
            continue;
        }
        let tls = statements
            .get(logical_id)
            .and_then(|s| s.iter().find(|s| s["Sid"] == "DenyInsecureTransport"))
            .unwrap_or_else(|| panic!("{logical_id}: no TLS statement"));
        assert_eq!(tls["Effect"], "Deny", "{logical_id}");
        assert_eq!(tls["Action"], "sqs:*", "{logical_id}");
        assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }

    let all = ["web", "app", "store", "call_center"];
    for (queue, channels, functions) in [
        ("CartEventsQueue", &all[..], &[][..]),
        ("WishlistEventsQueue", &all[..], &[]),
        ("OrderEventsQueue", &all[..], &["OrderSyncFunctionRole"]),
        ("IdentityEventsQueue", &all[..], &[]),
        ("EngagementEventsQueue", &all[..], &[]),
        ("RefundEventsQueue", &all[..], &["OrderSyncFunctionRole"]),
        ("LoyaltyEventsQueue", &all[..], &[]),
        ("InventoryEventsQueue", &["web", "store"][..], &[]),
    ] {
        let only = statements[queue]
            .iter()
            .find(|s| s["Sid"] == "OnlyTheseSenders")
            .unwrap_or_else(|| panic!("{queue}: no senders statement"));
        assert_eq!(only["Effect"], "Deny");
        assert_eq!(only["Action"], "sqs:SendMessage");
        // Fn::Split [",", Fn::Sub [ "<ids>", {Redelivering: …} ]]
        let ids = only["Condition"]["StringNotLike"]["aws:userid"]["Fn::Split"][1]["Fn::Sub"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{queue}: the senders"));
        let mut expected: BTreeSet<String> = roles
            .iter()
            .filter(|(channel, _)| channels.contains(channel))
            .map(|(_, role)| format!("${{{role}.RoleId}}:*"))
            .chain(functions.iter().map(|role| format!("${{{role}.RoleId}}:*")))
            .collect();
        expected.insert("${Redelivering}:*".to_owned());
        let senders: BTreeSet<String> = ids.split(',').map(str::to_owned).collect();
        assert_eq!(senders, expected, "{queue}");

        // And the channel roles that may send there are the ones whose policy names it.
        for (channel, role) in roles {
            let allowed = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]
                ["Statement"][0]["Resource"]
                .as_array()
                .unwrap()
                .iter()
                .any(|arn| arn["Fn::GetAtt"][0] == queue);
            assert_eq!(allowed, channels.contains(&channel), "{role} -> {queue}");
        }
    }
}

/// Whether a policy `Resource` (one value of the translated template) is `resource` (as
/// [`Access`] names it), given the queues' logical ids by name.
fn names(value: &serde_json::Value, resource: &str, queues: &BTreeMap<String, String>) -> bool {
    match resource.strip_prefix("index/") {
        Some(index) => value["Fn::Sub"] == format!("${{StateTable.Arn}}/index/{index}"),
        None if resource == "table" => {
            value["Fn::GetAtt"] == serde_json::json!(["StateTable", "Arn"])
        }
        None => queues
            .get(resource)
            .is_some_and(|queue| value["Fn::GetAtt"] == serde_json::json!([queue, "Arn"])),
    }
}

/// Whether an `Allow` statement grants `access`: its actions include the action, its resources
/// the resource, and its `dynamodb:LeadingKeys` patterns (if any) the partition prefix.
fn grants(
    statement: &serde_json::Value,
    (action, resource, prefix): &Access,
    queues: &BTreeMap<String, String>,
) -> bool {
    let listed = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        match v {
            serde_json::Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        }
    };
    let leading = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
    statement["Effect"] == "Allow"
        && listed(&statement["Action"])
            .iter()
            .any(|a| a == action.as_str())
        && listed(&statement["Resource"])
            .iter()
            .any(|r| names(r, resource, queues))
        && (leading.is_null()
            || prefix.as_ref().is_some_and(|prefix| {
                listed(leading)
                    .iter()
                    .filter_map(|p| p.as_str())
                    .any(|p| p == prefix || p.strip_suffix('*') == Some(prefix.as_str()))
            }))
}

/// Every request each function makes while the story runs through the real functions (every
/// event type, guests linked, a refund, a restock, the stream consumers, a rejected message per
/// queue, the failure queues' recoveries and the order sweep) is granted by that function's own
/// role in the translated template: recorded from the function's clients, not listed by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_a_function_makes_is_granted_by_its_own_role() {
    let Some(stack) = stack("tpl-access", &[]).await else {
        return;
    };
    let mut recorders: BTreeMap<String, AccessRecorder> = BTreeMap::new();
    let mut runners = Vec::new();
    for function in stack.manifest.functions.keys() {
        let recorder = AccessRecorder::new(&stack.prefix);
        let clients = crate::support::clients_with_both(&stack, recorder.clone());
        runners.push(stack.extra_runner_for(&clients, 1, &[function]).unwrap());
        recorders.insert(function.clone(), recorder);
    }
    let story: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(xtask::workspace_root().join("events/story/story.json")).unwrap(),
    )
    .unwrap();
    // Newest first, as the demo sends it: status changes and refunds wait for their orders and
    // are sent back when the orders come. The stock reports go last, in their order, so the
    // restock finds its wishers and notifies them.
    let events = story["events"].as_array().unwrap();
    let (stock, rest): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) = events
        .iter()
        .partition(|e| e["queue"] == "inventory-events");
    for (pass, sends) in [rest.into_iter().rev().collect::<Vec<_>>(), stock]
        .into_iter()
        .enumerate()
    {
        for event in sends {
            stack
                .send(
                    event["queue"].as_str().unwrap(),
                    &[event["body"].to_string()],
                )
                .await
                .unwrap();
        }
        if pass == 0 {
            let queues = stack.ingress_queues();
            let names: Vec<&str> = queues.iter().map(String::as_str).collect();
            stack
                .wait_drained(&names, crate::support::DRAIN_LIMIT)
                .await
                .unwrap();
        }
    }
    let queues = stack.ingress_queues();
    for queue in queues.iter().filter(|q| q.ends_with("-events")) {
        stack.send(queue, &["not json".to_owned()]).await.unwrap();
    }
    let queue_names: Vec<&str> = queues.iter().map(String::as_str).collect();
    stack
        .wait_drained(&queue_names, crate::support::DRAIN_LIMIT)
        .await
        .unwrap();
    // The stream consumers' last batches.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    for (function, sample) in [
        (
            "LoyaltyLedgerFunction",
            "loyalty-ledger/sqs-stream-failure.json",
        ),
        ("LoyaltyLedgerFunction", "loyalty-ledger/sqs-sweep.json"),
        ("ViewFanoutFunction", "view-fanout/sqs-stream-failure.json"),
    ] {
        let clients = crate::support::clients_with_both(&stack, recorders[function].clone());
        // The samples come from the `omnisync` stack; these records come from this one's queues.
        let text = std::fs::read_to_string(xtask::workspace_root().join("events").join(sample))
            .unwrap()
            .replace(":omnisync-", &format!(":{}-", stack.prefix));
        let built =
            xtask::functions::build(function, &clients, &stack.manifest.functions[function])
                .unwrap();
        built
            .invoke(serde_json::from_str(&text).unwrap())
            .await
            .unwrap();
    }
    let sweep = serde_json::json!({
        "version": "0", "id": "sweep-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    });
    let function = "OrderSyncFunction";
    let clients = crate::support::clients_with_both(&stack, recorders[function].clone());
    xtask::functions::build(function, &clients, &stack.manifest.functions[function])
        .unwrap()
        .invoke(sweep)
        .await
        .unwrap();
    drop(runners);

    let template = translated_template();
    let resources = template["Resources"].as_object().unwrap();
    let queues: BTreeMap<String, String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::SQS::Queue")
        .filter_map(|(id, r)| {
            let name = r["Properties"]["QueueName"]["Fn::Sub"].as_str()?;
            Some((name.strip_prefix("${Prefix}-")?.to_owned(), id.clone()))
        })
        .collect();
    let mut denied = Vec::new();
    for (function, recorder) in &recorders {
        let role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{function}: a role"));
        let statements: Vec<serde_json::Value> = resources[role]["Properties"]["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap().clone())
            .collect();
        let seen = recorder.seen();
        assert!(!seen.is_empty(), "{function} made no request");
        for access in &seen {
            eprintln!("{function}: {access:?}");
        }
        for access in seen {
            if !statements.iter().any(|s| grants(s, &access, &queues)) {
                denied.push(format!("{function}: {access:?}"));
            }
        }
    }
    assert!(denied.is_empty(), "not granted:\n{}", denied.join("\n"));

    // And the other way: a role names no queue and no partition its function did not touch,
    // but for the paths this story does not reach, each listed with the reason it is needed.
    let unexercised: &[(&str, &str, &str)] = &[
        (
            "OrderSyncFunction",
            "order-events-dlq",
            "the sweep dead-letters status changes whose wait is over",
        ),
        (
            "OrderSyncFunction",
            "refund-events-dlq",
            "the sweep dead-letters refunds whose wait is over",
        ),
    ];
    let mut broader = Vec::new();
    for (function, recorder) in &recorders {
        let role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        let seen = recorder.seen();
        let touched_queues: BTreeSet<&str> = seen
            .iter()
            .filter(|(action, _, _)| action.starts_with("sqs:"))
            .map(|(_, resource, _)| resource.as_str())
            .collect();
        let touched_prefixes: BTreeSet<&str> = seen
            .iter()
            .filter_map(|(_, _, prefix)| prefix.as_deref())
            .collect();
        let excused = |what: &str| {
            unexercised
                .iter()
                .any(|(f, name, _)| f == function && *name == what)
        };
        for statement in resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            let resources_named: Vec<serde_json::Value> = match &statement["Resource"] {
                serde_json::Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for resource in &resources_named {
                let Some(queue) = queues
                    .iter()
                    .find(|(_, id)| resource["Fn::GetAtt"] == serde_json::json!([id, "Arn"]))
                    .map(|(name, _)| name.as_str())
                else {
                    continue;
                };
                if !touched_queues.contains(queue) && !excused(queue) {
                    broader.push(format!("{function}: queue {queue}"));
                }
            }
            let leading =
                &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            for pattern in leading.as_array().into_iter().flatten() {
                let prefix = pattern.as_str().unwrap().trim_end_matches('*');
                if !touched_prefixes.contains(prefix) && !excused(prefix) {
                    broader.push(format!("{function}: partitions {prefix}*"));
                }
            }
        }
    }
    // An excuse for something the run did use is stale.
    for (function, what, _) in unexercised {
        let seen = recorders[*function].seen();
        let used = seen.iter().any(|(action, resource, prefix)| {
            (action.starts_with("sqs:") && resource == what) || prefix.as_deref() == Some(what)
        });
        if used {
            broader.push(format!(
                "{function}: {what} is listed as unexercised but was used"
            ));
        }
    }
    assert!(
        broader.is_empty(),
        "granted but never used (nor listed as needed):\n{}",
        broader.join("\n")
    );
}

/// No role statement names `*` as its resource where the service has resource-level
/// permissions: the only `*` is X-Ray's (it has none), and the queue policies' own statements
/// (whose resource is the queue the policy is attached to).
#[test]
fn no_role_grants_a_wildcard_resource_but_x_ray() {
    let template = translated_template();
    for (logical_id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in resource["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                let resources: Vec<serde_json::Value> = match &statement["Resource"] {
                    serde_json::Value::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                let actions: Vec<serde_json::Value> = match &statement["Action"] {
                    serde_json::Value::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                let wildcard = resources.iter().any(|r| {
                    r.as_str()
                        .is_some_and(|r| r.contains('*') && !r.contains(':'))
                });
                if wildcard {
                    assert!(
                        actions
                            .iter()
                            .all(|a| a.as_str().is_some_and(|a| a.starts_with("xray:"))),
                        "{logical_id}: {statement}"
                    );
                }
            }
        }
        assert!(
            resource["Properties"]["ManagedPolicyArns"].is_null(),
            "{logical_id} attaches managed policies"
        );
    }
}

/// Issue 10 #3 and #4, on the translated template: every SQS mapping is capped
/// (`ScalingConfig.MaximumConcurrency`), the stream consumers have reserved concurrency, every
/// consumed queue's visibility timeout is six times the function timeout whatever timeout is
/// chosen (there is no parameter to set it lower), and every function logs JSON at the
/// template's level into its own log group, with no `RUST_LOG` in its environment.
#[test]
fn mappings_are_capped_visibility_follows_the_timeout_and_logs_follow_lambdas_conventions() {
    let template = translated_template();
    let resources = template["Resources"].as_object().unwrap();
    let mut consumed = BTreeSet::new();
    for (logical_id, resource) in resources {
        if resource["Type"] != "AWS::Lambda::EventSourceMapping" {
            continue;
        }
        let source = &resource["Properties"]["EventSourceArn"]["Fn::GetAtt"][0];
        if resources[source.as_str().unwrap()]["Type"] == "AWS::SQS::Queue" {
            consumed.insert(source.as_str().unwrap().to_owned());
            assert!(
                !resource["Properties"]["ScalingConfig"]["MaximumConcurrency"].is_null(),
                "{logical_id}: MaximumConcurrency"
            );
        }
    }
    assert!(consumed.len() >= 9, "{consumed:?}");
    for function in ["LoyaltyLedgerFunction", "ViewFanoutFunction"] {
        assert_eq!(
            resources[function]["Properties"]["ReservedConcurrentExecutions"],
            serde_json::json!({"Ref": "StreamConsumerReservedConcurrency"}),
            "{function}"
        );
    }

    let timeouts = template["Parameters"]["FunctionTimeout"]["AllowedValues"]
        .as_array()
        .unwrap();
    let visibility = template["Mappings"]["VisibilityTimeouts"]
        .as_object()
        .unwrap();
    assert_eq!(timeouts.len(), visibility.len());
    for timeout in timeouts {
        let seconds: u64 = timeout.as_str().unwrap().parse().unwrap();
        assert_eq!(
            visibility[&seconds.to_string()]["Seconds"].as_u64(),
            Some(6 * seconds),
            "visibility for a {seconds} s timeout"
        );
    }
    for queue in &consumed {
        assert_eq!(
            resources[queue]["Properties"]["VisibilityTimeout"],
            serde_json::json!({"Fn::FindInMap": ["VisibilityTimeouts", {"Ref": "FunctionTimeout"}, "Seconds"]}),
            "{queue}"
        );
    }
    assert!(template["Parameters"]["QueueVisibilityTimeout"].is_null());

    for (logical_id, resource) in resources {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let logging = &resource["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{logical_id}");
        assert_eq!(
            logging["ApplicationLogLevel"],
            serde_json::json!({"Ref": "LogLevel"}),
            "{logical_id}"
        );
        let group = logging["LogGroup"]["Ref"].as_str().unwrap_or_default();
        assert_eq!(
            resources[group]["Properties"]["LogGroupName"]["Fn::Sub"],
            format!(
                "/aws/lambda/${{Prefix}}-{}",
                resource["Properties"]["FunctionName"]["Fn::Sub"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("${Prefix}-")
            ),
            "{logical_id}: its own log group"
        );
        assert!(
            resource["Properties"]["Environment"]["Variables"]["RUST_LOG"].is_null(),
            "{logical_id}: RUST_LOG set"
        );
    }
}

/// Issue 10 #3, on the translated template: every DLQ and stream failure queue has a depth
/// alarm, `rejected-events` a growth alarm, every function an error and a throttle alarm, each
/// stream consumer an iterator-age alarm, and every alarm notifies the topic `AlarmTopicArn`
/// names.
#[test]
fn every_dlq_failure_queue_function_and_stream_consumer_has_its_alarm() {
    let template = translated_template();
    let resources = template["Resources"].as_object().unwrap();
    let alarms: Vec<&serde_json::Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|r| &r["Properties"])
        .collect();
    let watched = |namespace: &str, metric: &str, dimension: &serde_json::Value| {
        alarms.iter().any(|a| {
            a["Namespace"] == namespace
                && a["MetricName"] == metric
                && a["Dimensions"][0]["Value"] == *dimension
        })
    };
    for (logical_id, resource) in resources {
        let queue_name = serde_json::json!({"Fn::GetAtt": [logical_id, "QueueName"]});
        let function = serde_json::json!({"Ref": logical_id});
        match resource["Type"].as_str() {
            Some("AWS::SQS::Queue")
                if logical_id.ends_with("DeadLetterQueue")
                    || logical_id.ends_with("FailuresQueue") =>
            {
                assert!(
                    watched("AWS/SQS", "ApproximateNumberOfMessagesVisible", &queue_name),
                    "{logical_id}: a depth alarm"
                );
            }
            Some("AWS::Lambda::Function") => {
                for metric in ["Errors", "Throttles"] {
                    assert!(
                        watched("AWS/Lambda", metric, &function),
                        "{logical_id}: a {metric} alarm"
                    );
                }
            }
            _ => {}
        }
    }
    for stream_consumer in ["LoyaltyLedgerFunction", "ViewFanoutFunction"] {
        assert!(watched(
            "AWS/Lambda",
            "IteratorAge",
            &serde_json::json!({"Ref": stream_consumer})
        ));
    }
    assert!(watched(
        "AWS/SQS",
        "NumberOfMessagesSent",
        &serde_json::json!({"Fn::GetAtt": ["RejectedEventsQueue", "QueueName"]})
    ));
    let notify = serde_json::json!({"Fn::If": ["AlarmTopicGiven", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]});
    for alarm in &alarms {
        assert_eq!(
            alarm["AlarmActions"], notify,
            "{}",
            alarm["AlarmDescription"]
        );
    }
}
