//! `omnisync`: the operator's command.
//!
//! ```text
//! omnisync view <customer_id> [--table NAME]
//! ```
//!
//! Prints the customer's view (contract §4) at its current version, read from the state table
//! of whatever endpoint the standard AWS configuration points at (`AWS_ENDPOINT_URL` for a local
//! stack, a profile or role for AWS). The table is `--table`, else `OMNISYNC_TABLE`, else
//! `omnisync-state`.

use omnisync::aws::load_sdk_config;
use omnisync::view::current_view;
use std::process::ExitCode;

const USAGE: &str = "usage: omnisync view <customer_id> [--table NAME]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (customer_id, table) = match parse(&args) {
        Some(parsed) => parsed,
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    let view = match current_view(&client, &table, &customer_id).await {
        Ok(view) => view,
        Err(error) => {
            eprintln!("omnisync: {error}");
            return ExitCode::FAILURE;
        }
    };
    match serde_json::to_string_pretty(&view) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("omnisync: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Option<(String, String)> {
    let mut table = std::env::var("OMNISYNC_TABLE").unwrap_or_else(|_| "omnisync-state".into());
    let mut rest = args.iter();
    if rest.next()? != "view" {
        return None;
    }
    let customer_id = rest.next()?.clone();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--table" => table = rest.next()?.clone(),
            _ => return None,
        }
    }
    Some((customer_id, table))
}
