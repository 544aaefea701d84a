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

use clap::{Parser, Subcommand};
use omnisync::aws::load_sdk_config;
use omnisync::store::Table;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "omnisync", about = "The omnisync operator's command", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a customer's view (contract §4) at its current version.
    View {
        /// The customer (or guest) id.
        customer_id: String,
        /// The state table.
        #[arg(long, env = "OMNISYNC_TABLE", default_value = "omnisync-state")]
        table: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::View { customer_id, table } => {
            let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
            let printed = Table::new(client, table)
                .current_view(&customer_id)
                .await
                .map_err(|e| e.to_string())
                .and_then(|view| serde_json::to_string_pretty(&view).map_err(|e| e.to_string()));
            match printed {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn view_takes_a_customer_and_a_table() {
        let cli = Cli::try_parse_from(["omnisync", "view", "c-1", "--table", "t-state"]).unwrap();
        let Command::View { customer_id, table } = cli.command;
        assert_eq!((customer_id.as_str(), table.as_str()), ("c-1", "t-state"));
        assert!(Cli::try_parse_from(["omnisync", "view"]).is_err());
    }
}
