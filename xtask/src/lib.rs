//! Developer tooling for omnisync: the project-local Python tools, the local AWS stack, and the
//! local event-source runner that plays Lambda's part against it.
//!
//! - [`venv`]: installs the local-stack tools into `.venv/` and the template checks into
//!   `.venv-checks/`, each from a lock file with hashes.
//! - [`deploy`]: deploys a stage to AWS with SAM, and tears it down.
//! - [`checks`]: cfn-lint with the serverless rules and checkov, against `infra/waivers.toml`.
//! - [`moto`]: starts and stops a moto server on a free 127.0.0.1 port.
//! - [`stack`]: deploys `infra/template.yaml` into that endpoint and reads back what it made.
//! - [`functions`]: the deployed functions, by the template's logical id.
//! - [`runner`]: polls each event source mapping's queue like Lambda does and invokes the function.
//! - [`runtime_api`]: a local Lambda Runtime API, to run a function's real binary.

pub mod bench;
pub mod checks;
pub mod deploy;
pub mod functions;
pub mod local;
pub mod moto;
pub mod runner;
pub mod runtime_api;
pub mod stack;
pub mod venv;

use std::path::PathBuf;

/// The workspace root (this crate lives in `<root>/xtask`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
