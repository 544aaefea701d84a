//! The project-local Python environments (git-ignored), each with its pinned tools, installed
//! from a lock file with hashes: `.venv/` has the local-stack tools
//! (`xtask/python/requirements.txt`: moto, aws-sam-translator, cfn-lint, cargo-lambda),
//! `.venv-checks/` the template checks (`xtask/python/checks-requirements.txt`: checkov and
//! cfn-lint with the serverless rules), `.venv-sam/` AWS SAM CLI for deploys
//! (`xtask/python/sam-requirements.txt`), `.venv-peer/` the bench's Python peer
//! (`benches/peer/requirements.txt`), kept apart because their pins conflict. Needs only a
//! `python3` on the PATH.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

pub struct Venv {
    root: PathBuf,
    requirements: PathBuf,
    what: &'static str,
}

impl Venv {
    /// The local-stack tools.
    pub fn at_workspace() -> Self {
        Venv {
            root: crate::workspace_root().join(".venv"),
            requirements: crate::workspace_root().join("xtask/python/requirements.txt"),
            what: "the local-stack tools: moto, aws-sam-translator, cfn-lint, cargo-lambda",
        }
    }

    /// AWS SAM CLI, for deploys.
    pub fn sam() -> Self {
        Venv {
            root: crate::workspace_root().join(".venv-sam"),
            requirements: crate::workspace_root().join("xtask/python/sam-requirements.txt"),
            what: "AWS SAM CLI",
        }
    }

    /// The template checks.
    pub fn checks() -> Self {
        Venv {
            root: crate::workspace_root().join(".venv-checks"),
            requirements: crate::workspace_root().join("xtask/python/checks-requirements.txt"),
            what: "the template checks: checkov, cfn-lint with the serverless rules",
        }
    }

    /// The bench's peer: Python with AWS Lambda Powertools and awslambdaric (`benches/peer`).
    pub fn peer() -> Self {
        Venv {
            root: crate::workspace_root().join(".venv-peer"),
            requirements: crate::workspace_root().join("benches/peer/requirements.txt"),
            what: "the bench peer: AWS Lambda Powertools and awslambdaric",
        }
    }

    pub fn bin(&self, tool: &str) -> PathBuf {
        self.root.join("bin").join(tool)
    }

    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// Creates the venv and installs the requirements unless the installed set already matches.
    pub fn ensure(&self) -> Result<()> {
        let requirements = &self.requirements;
        let wanted = std::fs::read_to_string(requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let stamp = self.root.join(".requirements.installed");
        if self.python().exists()
            && std::fs::read_to_string(&stamp).is_ok_and(|done| done == wanted)
        {
            return Ok(());
        }
        if !self.python().exists() {
            eprintln!("setting up {} (python3 -m venv)", self.root.display());
            run(Command::new("python3").args(["-m", "venv"]).arg(&self.root))?;
        }
        eprintln!("installing {}", self.what);
        run(Command::new(self.python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "-r",
            ])
            .arg(requirements))?;
        std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
        Ok(())
    }
}

pub fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
