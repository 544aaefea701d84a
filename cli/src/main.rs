//! `omnisync`: the operator's command.
//!
//! ```text
//! omnisync view <customer_id> [--table NAME]
//! omnisync redrive <dlq> [--to QUEUE] [--limit N]
//! omnisync reconcile [--views] [--prefix PREFIX]
//! omnisync report --from YYYY-MM-DD --to YYYY-MM-DD [--table NAME]
//! ```
//!
//! - `view` prints the customer's view (contract §4) at its current version. The table is
//!   `--table`, else `OMNISYNC_TABLE`, else `omnisync-state`.
//! - `redrive` sends a dead-letter queue's messages back to the queue whose DLQ it is (or to
//!   `--to`), keeping who first sent them and when (`omnisync::queue::redrive`). Any DLQ: an
//!   ingress queue's, or a stream failure queue's.
//! - `reconcile` starts a sweep: every customer with an order gets the ledger entries its orders
//!   and refunds imply (or, with `--views`, every customer's view is published again), by a
//!   message on the function's failure queue (`omnisync::batch::recovery`).
//! - `report` prints the channel report (contract §4) of a range of UTC days, inclusive, from
//!   the day counters the functions keep (`omnisync::domain::report`): a few reads per day,
//!   never a scan.
//!
//! Everything goes to whatever endpoint the standard AWS configuration points at
//! (`AWS_ENDPOINT_URL` for a local stack, a profile or role for AWS). A queue is named by URL or
//! by its name.

use clap::{Parser, Subcommand};
use omnisync::aws::load_sdk_config;
use omnisync::batch::recovery::RecoveryBody;
use omnisync::queue::redrive;
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
    /// Send a dead-letter queue's messages back to the queue it is the DLQ of.
    Redrive {
        /// The DLQ (URL or name), e.g. omnisync-cart-events-dlq.
        dlq: String,
        /// Where to send them (URL or name); by default the queue whose DLQ it is.
        #[arg(long)]
        to: Option<String>,
        /// At most this many messages.
        #[arg(long, default_value_t = 100_000)]
        limit: usize,
    },
    /// Print the channel report (contract §4) of a range of UTC days, inclusive.
    Report {
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// The state table.
        #[arg(long, env = "OMNISYNC_TABLE", default_value = "omnisync-state")]
        table: String,
    },
    /// Start a sweep that repairs the ledger (or republishes the views) of every customer.
    Reconcile {
        /// Republish every customer's view instead of repairing the ledger.
        #[arg(long)]
        views: bool,
        /// The stack's prefix (contract §5).
        #[arg(long, env = "OMNISYNC_PREFIX", default_value = "omnisync")]
        prefix: String,
    },
}

/// The failure queue a `reconcile` sweep message goes to.
fn sweep_queue(prefix: &str, views: bool) -> String {
    if views {
        format!("{prefix}-view-fanout-failures")
    } else {
        format!("{prefix}-loyalty-stream-failures")
    }
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<String, String> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_owned());
    }
    sqs.get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .map_err(|e| {
            format!(
                "no queue {queue}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })?
        .queue_url
        .ok_or_else(|| format!("no URL for queue {queue}"))
}

async fn run(command: Command) -> Result<String, String> {
    let sdk = load_sdk_config().await;
    match command {
        Command::View { customer_id, table } => {
            let view = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table)
                .current_view(&customer_id)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&view).map_err(|e| e.to_string())
        }
        Command::Report { from, to, table } => {
            let report = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table)
                .channel_report(&from, &to)
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
        }
        Command::Redrive { dlq, to, limit } => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let from = queue_url(&sqs, &dlq).await?;
            let to = match to {
                Some(to) => queue_url(&sqs, &to).await?,
                None => redrive::source_of(&sqs, &from)
                    .await
                    .map_err(|e| e.to_string())?,
            };
            let done = redrive::redrive(&sqs, &from, &to, limit)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("moved {} messages from {from} to {to}", done.moved))
        }
        Command::Reconcile { views, prefix } => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let url = queue_url(&sqs, &sweep_queue(&prefix, views)).await?;
            let body =
                serde_json::to_string(&RecoveryBody::sweep(None)).map_err(|e| e.to_string())?;
            sqs.send_message()
                .queue_url(&url)
                .message_body(body)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
            Ok(format!("sweep started on {url}"))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("omnisync: {error}");
            ExitCode::FAILURE
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
        let Command::View { customer_id, table } = cli.command else {
            panic!("not view");
        };
        assert_eq!((customer_id.as_str(), table.as_str()), ("c-1", "t-state"));
        assert!(Cli::try_parse_from(["omnisync", "view"]).is_err());
    }

    #[test]
    fn redrive_defaults_to_the_dlqs_source_and_reconcile_to_the_ledger() {
        let cli = Cli::try_parse_from(["omnisync", "redrive", "p-cart-events-dlq"]).unwrap();
        let Command::Redrive { dlq, to, .. } = cli.command else {
            panic!("not redrive");
        };
        assert_eq!((dlq.as_str(), to), ("p-cart-events-dlq", None));
        assert_eq!(sweep_queue("p", false), "p-loyalty-stream-failures");
        assert_eq!(sweep_queue("p", true), "p-view-fanout-failures");
    }
}
