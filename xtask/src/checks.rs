//! `cargo xtask checks`: the template's policy checks, failing on any finding not waived.
//!
//! - `cfn-lint` with the serverless rules (`cfn_lint_serverless`) over `infra/template.yaml`;
//! - `checkov` over the template as CloudFormation gets it (SAM's transform applied by
//!   `local_cfn.py translate`): checkov's own SAM parsing fails on this template, and the
//!   translated one is what is deployed, policies and event source mappings included.
//!
//! A finding is waived by `infra/waivers.toml` (tool, rule, optionally the resources, and a
//! one-line reason). A waiver that matches no finding fails the run too, so the file cannot
//! keep excuses for problems that are gone.

use crate::venv::Venv;
use crate::workspace_root;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

/// One finding of one tool: its rule and the resource it is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub tool: &'static str,
    pub rule: String,
    pub resource: String,
    pub message: String,
}

/// One accepted finding (or several: every resource, when `resources` is empty).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub tool: String,
    pub rule: String,
    #[serde(default)]
    pub resources: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    waiver: Vec<Waiver>,
}

impl Waiver {
    fn covers(&self, finding: &Finding) -> bool {
        self.tool == finding.tool
            && self.rule == finding.rule
            && (self.resources.is_empty() || self.resources.contains(&finding.resource))
    }
}

/// Reads the waivers; each must give a reason.
pub fn read_waivers(text: &str) -> Result<Vec<Waiver>> {
    let file: WaiverFile = toml::from_str(text).context("infra/waivers.toml")?;
    for waiver in &file.waiver {
        if waiver.reason.trim().is_empty() {
            bail!(
                "the waiver of {} {} gives no reason",
                waiver.tool,
                waiver.rule
            );
        }
    }
    Ok(file.waiver)
}

/// What is left after the waivers: the findings no waiver covers, and the waivers that cover
/// no finding.
pub fn unwaived<'a>(
    findings: &'a [Finding],
    waivers: &'a [Waiver],
) -> (Vec<&'a Finding>, Vec<&'a Waiver>) {
    let open = findings
        .iter()
        .filter(|f| !waivers.iter().any(|w| w.covers(f)))
        .collect();
    let stale = waivers
        .iter()
        .filter(|w| !findings.iter().any(|f| w.covers(f)))
        .collect();
    (open, stale)
}

/// cfn-lint's JSON findings.
pub fn cfn_lint_findings(json: &Value) -> Vec<Finding> {
    json.as_array()
        .into_iter()
        .flatten()
        .map(|f| Finding {
            tool: "cfn-lint",
            rule: f["Rule"]["Id"].as_str().unwrap_or("?").to_owned(),
            resource: f["Location"]["Path"][1].as_str().unwrap_or("").to_owned(),
            message: f["Message"].as_str().unwrap_or("").to_owned(),
        })
        .collect()
}

/// checkov's failed checks (one report, or a list of them when it ran several frameworks).
pub fn checkov_findings(json: &Value) -> Vec<Finding> {
    let reports: Vec<&Value> = match json {
        Value::Array(reports) => reports.iter().collect(),
        report => vec![report],
    };
    reports
        .into_iter()
        .flat_map(|r| {
            r["results"]["failed_checks"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .map(|f| Finding {
            tool: "checkov",
            rule: f["check_id"].as_str().unwrap_or("?").to_owned(),
            // "AWS::SQS::Queue.CartEventsQueue" → the logical id.
            resource: f["resource"]
                .as_str()
                .and_then(|r| r.rsplit('.').next())
                .unwrap_or("")
                .to_owned(),
            message: f["check_name"].as_str().unwrap_or("").to_owned(),
        })
        .collect()
}

/// Runs a tool that exits non-zero when it finds something, and parses its JSON output.
fn json_of(command: &mut Command) -> Result<Value> {
    let output = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "{command:?} ({}) printed no JSON:\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Runs both tools and fails on what the waivers do not cover.
pub fn run(stack_tools: &Venv, checks: &Venv) -> Result<()> {
    let root = workspace_root();
    let template = root.join("infra/template.yaml");
    eprintln!("== cfn-lint (with the serverless rules) infra/template.yaml");
    let lint = json_of(
        Command::new(checks.bin("cfn-lint"))
            .args(["-a", "cfn_lint_serverless.rules", "--format", "json", "--"])
            .arg(&template),
    )?;
    let mut findings = cfn_lint_findings(&lint);

    eprintln!("== checkov, over the translated template");
    let translated = root.join("target/xtask/template.translated.json");
    std::fs::create_dir_all(root.join("target/xtask"))?;
    let output = Command::new(stack_tools.python())
        .arg(root.join("xtask/python/local_cfn.py"))
        .args(["translate", "--template"])
        .arg(&template)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .context("running local_cfn.py translate")?;
    if !output.status.success() {
        bail!(
            "translating the template failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::write(&translated, &output.stdout)?;
    let checkov = json_of(
        Command::new(checks.bin("checkov"))
            .args(["--framework", "cloudformation", "-o", "json", "--quiet"])
            .args(["--compact", "--skip-download", "-f"])
            .arg(&translated)
            .env("BC_SKIP_MAPPING", "TRUE"),
    )?;
    let passed = checkov["summary"]["passed"].as_u64().unwrap_or(0);
    findings.extend(checkov_findings(&checkov));

    let waivers = read_waivers(
        &std::fs::read_to_string(root.join("infra/waivers.toml"))
            .context("reading infra/waivers.toml")?,
    )?;
    let (open, stale) = unwaived(&findings, &waivers);
    let tools: BTreeSet<&str> = findings.iter().map(|f| f.tool).collect();
    for tool in tools {
        let all = findings.iter().filter(|f| f.tool == tool).count();
        let left = open.iter().filter(|f| f.tool == tool).count();
        eprintln!("{tool}: {all} findings, {} waived, {left} open", all - left);
    }
    eprintln!("checkov: {passed} checks passed");
    for finding in &open {
        eprintln!(
            "  open: {} {} {}: {}",
            finding.tool, finding.rule, finding.resource, finding.message
        );
    }
    for waiver in &stale {
        eprintln!(
            "  stale waiver: {} {} {:?} covers no finding",
            waiver.tool, waiver.rule, waiver.resources
        );
    }
    if !open.is_empty() || !stale.is_empty() {
        bail!(
            "{} findings not waived, {} waivers that cover nothing (infra/waivers.toml)",
            open.len(),
            stale.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(tool: &'static str, rule: &str, resource: &str) -> Finding {
        Finding {
            tool,
            rule: rule.into(),
            resource: resource.into(),
            message: String::new(),
        }
    }

    #[test]
    fn a_waiver_covers_its_rule_for_its_resources_only_and_stale_waivers_are_reported() {
        let waivers = read_waivers(
            r#"
[[waiver]]
tool = "checkov"
rule = "CKV_AWS_117"
reason = "no VPC"

[[waiver]]
tool = "cfn-lint"
rule = "ES6000"
resources = ["CartEventsDeadLetterQueue"]
reason = "a DLQ has no DLQ"

[[waiver]]
tool = "cfn-lint"
rule = "WS9999"
reason = "gone"
"#,
        )
        .unwrap();
        let findings = vec![
            finding("checkov", "CKV_AWS_117", "CartSyncFunction"),
            finding("cfn-lint", "ES6000", "CartEventsDeadLetterQueue"),
            finding("cfn-lint", "ES6000", "CartEventsQueue"),
            finding("cfn-lint", "CKV_AWS_117", "CartSyncFunction"),
        ];
        let (open, stale) = unwaived(&findings, &waivers);
        assert_eq!(open, vec![&findings[2], &findings[3]]);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].rule, "WS9999");
    }

    #[test]
    fn a_waiver_without_a_reason_is_refused() {
        let text = "[[waiver]]\ntool = \"checkov\"\nrule = \"CKV_AWS_117\"\nreason = \" \"\n";
        assert!(read_waivers(text).is_err());
    }

    #[test]
    fn reads_both_tools_json() {
        let lint = json!([{"Rule": {"Id": "ES6000"}, "Location": {"Path": ["Resources", "Q"]},
                           "Message": "no redrive"}]);
        assert_eq!(
            cfn_lint_findings(&lint),
            vec![Finding {
                tool: "cfn-lint",
                rule: "ES6000".into(),
                resource: "Q".into(),
                message: "no redrive".into()
            }]
        );
        let checkov = json!({"results": {"failed_checks": [
            {"check_id": "CKV_AWS_27", "resource": "AWS::SQS::Queue.CartEventsQueue",
             "check_name": "encrypted"}]}, "summary": {"passed": 3}});
        assert_eq!(checkov_findings(&checkov)[0].resource, "CartEventsQueue");
        assert_eq!(checkov_findings(&json!([checkov])).len(), 1);
    }
}
