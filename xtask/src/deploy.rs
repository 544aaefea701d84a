//! `cargo xtask deploy --stage dev|prod` and `cargo xtask teardown --stage dev|prod`: the
//! stack's whole life in an AWS account, without prompts.
//!
//! Deploy installs AWS SAM CLI into `.venv-sam/` (its own environment: it pins a boto3 that
//! conflicts with moto's) and cargo-lambda into `.venv/`, then runs `sam build` (the functions
//! for arm64, by cargo-lambda) and `sam deploy --config-env <stage>` with the stage's settings
//! from `infra/samconfig.toml` (stack name, prefix, tags, no changeset prompt).
//!
//! Teardown empties the views bucket (CloudFormation cannot delete a bucket with objects in
//! it), runs `sam delete`, and then, for `dev` only, deletes the state table, which the
//! template retains on stack deletion: a dev stage can be torn down and deployed again. A prod
//! stage's table is kept (it also has deletion protection): its data outlives the stack.

use crate::venv::{Venv, run};
use crate::workspace_root;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// A stage of `infra/samconfig.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    Dev,
    Prod,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Dev => "dev",
            Stage::Prod => "prod",
        }
    }
}

/// The stack name `infra/samconfig.toml` gives a stage.
pub fn stack_name(samconfig: &str, stage: Stage) -> Result<String> {
    let config: toml::Table = toml::from_str(samconfig).context("infra/samconfig.toml")?;
    config
        .get(stage.name())
        .and_then(|s| s.get("global"))
        .and_then(|g| g.get("parameters"))
        .and_then(|p| p.get("stack_name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "infra/samconfig.toml has no [{}.global.parameters] stack_name",
                stage.name()
            )
        })
}

/// `sam`, with cargo-lambda on its PATH, run in `infra/`.
fn sam(sam_tools: &Venv, stack_tools: &Venv) -> Result<Command> {
    let path = std::env::join_paths([sam_tools.bin(""), stack_tools.bin("")].into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    let mut command = Command::new(sam_tools.bin("sam"));
    command
        .current_dir(workspace_root().join("infra"))
        .env("PATH", path);
    Ok(command)
}

fn tools() -> Result<(Venv, Venv)> {
    let stack_tools = Venv::at_workspace();
    stack_tools.ensure()?;
    let sam_tools = Venv::sam();
    sam_tools.ensure()?;
    Ok((sam_tools, stack_tools))
}

/// Builds and deploys the stage; `extra` goes to `sam deploy` as it is.
pub fn deploy(stage: Stage, extra: &[String]) -> Result<()> {
    let (sam_tools, stack_tools) = tools()?;
    eprintln!("== sam build --config-env {}", stage.name());
    run(sam(&sam_tools, &stack_tools)?.args(["build", "--config-env", stage.name()]))?;
    eprintln!("== sam deploy --config-env {}", stage.name());
    run(sam(&sam_tools, &stack_tools)?
        .args(["deploy", "--config-env", stage.name()])
        .args(extra))?;
    Ok(())
}

/// The stack's outputs, by key.
fn outputs(
    sam_tools: &Venv,
    stack_tools: &Venv,
    stack: &str,
) -> Result<std::collections::BTreeMap<String, String>> {
    let output = sam(sam_tools, stack_tools)?
        .args([
            "list",
            "stack-outputs",
            "--stack-name",
            stack,
            "--output",
            "json",
        ])
        .output()
        .context("sam list stack-outputs")?;
    if !output.status.success() {
        bail!(
            "could not read the outputs of {stack}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let listed: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).context("reading sam list stack-outputs")?;
    Ok(listed
        .iter()
        .filter_map(|o| {
            Some((
                o["OutputKey"].as_str()?.to_owned(),
                o["OutputValue"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// Empties the views bucket, deletes the stack, and (dev) its retained table.
pub async fn teardown(stage: Stage) -> Result<()> {
    let (sam_tools, stack_tools) = tools()?;
    let samconfig_path: PathBuf = workspace_root().join("infra/samconfig.toml");
    let stack = stack_name(
        &std::fs::read_to_string(&samconfig_path)
            .with_context(|| format!("reading {}", samconfig_path.display()))?,
        stage,
    )?;
    let outputs = outputs(&sam_tools, &stack_tools, &stack)?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(omnisync::aws::http_client())
        .load()
        .await;
    if let Some(bucket) = outputs.get("ViewsBucketName") {
        eprintln!("== emptying s3://{bucket}");
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.context("listing the views bucket")?;
            let objects: Vec<aws_sdk_s3::types::ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|key| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(key)
                        .build()
                        .ok()
                })
                .collect();
            if objects.is_empty() {
                continue;
            }
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .build()
                .context("a delete request")?;
            s3.delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .context("emptying the views bucket")?;
        }
    }
    eprintln!("== sam delete --config-env {}", stage.name());
    run(sam(&sam_tools, &stack_tools)?.args([
        "delete",
        "--config-env",
        stage.name(),
        "--no-prompts",
    ]))?;
    let Some(table) = outputs.get("StateTableName") else {
        return Ok(());
    };
    match stage {
        Stage::Dev => {
            eprintln!("== deleting the retained table {table}");
            let deleted = aws_sdk_dynamodb::Client::new(&sdk)
                .delete_table()
                .table_name(table)
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) => {}
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "deleting {table}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                    ));
                }
            }
        }
        Stage::Prod => eprintln!(
            "kept {table}: a prod stage's data outlives its stack (deletion protection is on); \
             delete it by hand, or import it into the next stack"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_of_the_projects_samconfig_has_its_own_stack() {
        let samconfig =
            std::fs::read_to_string(workspace_root().join("infra/samconfig.toml")).unwrap();
        assert_eq!(stack_name(&samconfig, Stage::Dev).unwrap(), "omnisync-dev");
        assert_eq!(
            stack_name(&samconfig, Stage::Prod).unwrap(),
            "omnisync-prod"
        );
        let config: toml::Table = toml::from_str(&samconfig).unwrap();
        for stage in ["dev", "prod"] {
            let deploy = &config[stage]["deploy"]["parameters"];
            assert_eq!(
                deploy["confirm_changeset"].as_bool(),
                Some(false),
                "{stage}"
            );
            assert!(
                deploy["parameter_overrides"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("Stage={stage}")),
                "{stage}"
            );
            assert!(
                deploy["tags"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("stage=\"{stage}\"")),
                "{stage}"
            );
        }
    }
}
