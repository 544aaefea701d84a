//! The bench's tables, printed and written to `docs/BENCHMARKS.md`, and the cost per million
//! events computed from them with the public prices below.

use super::{ColdStarts, Requests};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Public on-demand prices, us-east-1, as AWS published them in November 2024 (DynamoDB's
/// on-demand price cut of 2024-11-01 included); not re-checked from this machine, which has no
/// internet access.
pub const PRICES_DATE: &str = "2024-11 (us-east-1, as published on the AWS pricing pages)";
/// Lambda, arm64, per GB-second.
pub const LAMBDA_ARM64_GB_SECOND: f64 = 0.000_013_333_4;
/// Lambda, per request.
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// DynamoDB on-demand, per write request unit (1 KB).
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
/// DynamoDB on-demand, per read request unit (4 KB, strongly consistent).
pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
/// SQS standard queue, per request (64 KB chunk).
pub const SQS_REQUEST: f64 = 0.40 / 1e6;

/// Everything one run measured.
pub struct Figures {
    pub command: String,
    pub machine: String,
    pub commit: String,
    pub profile: &'static str,
    pub cold_starts: Vec<ColdStarts>,
    pub peer: Option<ColdStarts>,
    pub requests: Vec<Requests>,
    /// Function name → (zip bytes, binary bytes).
    pub sizes: BTreeMap<String, (u64, u64)>,
    /// Function name → the memory size the template gives it, in MB.
    pub memory_mb: BTreeMap<String, u64>,
    /// Function name → records in its sample (what one warm invocation handles).
    pub batch_sizes: BTreeMap<String, usize>,
    pub criterion: String,
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// Write and read request units one row's requests cost on AWS, for items under 1 KB (what the
/// bench's items are): a write (`PutItem`, `UpdateItem`, `DeleteItem`, conditional or not, a
/// failed condition included) 1 unit, a transaction 2 units an item (counted as 2 items, the
/// usual shape here), a strongly consistent read or a query page 1 read unit.
pub fn request_units(requests: &BTreeMap<String, usize>) -> (f64, f64) {
    let mut writes = 0.0;
    let mut reads = 0.0;
    for (operation, count) in requests {
        let n = *count as f64;
        match operation.as_str() {
            // `UpdateItem timeline`: the batch layer's timeline write (`RequestCounter`).
            op if op.starts_with("UpdateItem") => writes += n,
            "PutItem" | "DeleteItem" => writes += n,
            "TransactWriteItems" => writes += 4.0 * n,
            "GetItem" | "Query" | "Scan" => reads += n,
            _ => {}
        }
    }
    (writes, reads)
}

impl Figures {
    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `{}` at commit `{}` on {}. Binaries: the `{}` profile, built for the host \
             (x86_64); Lambda runs arm64, so absolute times there differ, the comparison does not \
             change its sense. Every figure is measured by this run; none is asserted by a test.\n",
            self.command, self.commit, self.machine, self.profile
        );

        let _ = writeln!(
            out,
            "## Cold starts (median of {} each)\n",
            self.cold_starts.first().map_or(0, |c| c.starts)
        );
        let _ = writeln!(
            out,
            "Process start → first `GET /next` (init), → first response (init and one batch, \
             the function's `events/` sample with fresh ids), one warm invocation after it, peak \
             RSS (`VmHWM`) and CPU time (user + system, 10 ms ticks) from `/proc`. The ratio \
             columns divide by the Python Powertools peer (`benches/peer`).\n"
        );
        let _ = writeln!(
            out,
            "| function | to first `GET /next` | to first response | warm invocation | peak RSS | CPU | init ratio | first response ratio | RSS ratio |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
        let peer = self.peer.as_ref();
        let ratio = |a: f64, b: Option<f64>| match b {
            Some(b) if b > 0.0 => format!("{:.3}", a / b),
            _ => "—".to_owned(),
        };
        for row in self.peer.iter().chain(&self.cold_starts) {
            let m = &row.median;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.name,
                ms(m.to_next),
                ms(m.to_response),
                ms(m.warm),
                mib(m.peak_rss_kib),
                ms(m.cpu),
                ratio(
                    m.to_next.as_secs_f64(),
                    peer.map(|p| p.median.to_next.as_secs_f64())
                ),
                ratio(
                    m.to_response.as_secs_f64(),
                    peer.map(|p| p.median.to_response.as_secs_f64())
                ),
                ratio(
                    m.peak_rss_kib as f64,
                    peer.map(|p| p.median.peak_rss_kib as f64)
                ),
            );
        }

        let _ = writeln!(out, "\n## DynamoDB requests per applied event\n");
        let _ = writeln!(
            out,
            "Counted on the functions' own DynamoDB clients (an interceptor), each event applied \
             as new; prerequisites (the order a status change or refund needs) sent first and \
             not counted. Units: what AWS would charge for items under 1 KB (a write 1 WRU, a \
             transaction of two items 4, a strongly consistent read or a query page 1 RRU), as \
             the bench's items are; a cart line with many adds grows to ~15 KB and then costs a \
             unit per KB. moto's own `ConsumedCapacity` is a fixed 1 or 0.5 per request whatever \
             the size, so it is not used.\n"
        );
        let _ = writeln!(
            out,
            "| what | events | requests | per event | WRU per event | RRU per event |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for row in &self.requests {
            let (writes, reads) = request_units(&row.requests);
            let requests: Vec<String> = row
                .requests
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect();
            let events = row.events.max(1) as f64;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} |",
                row.what,
                row.events,
                if requests.is_empty() {
                    "none".to_owned()
                } else {
                    requests.join(", ")
                },
                row.per_event(),
                writes / events,
                reads / events,
            );
        }

        let _ = writeln!(out, "\n## Package size\n");
        let _ = writeln!(
            out,
            "Each release binary zipped as Lambda's custom runtime takes it (one `bootstrap` \
             entry, deflate), for the host target.\n"
        );
        let _ = writeln!(out, "| function | zip | binary |");
        let _ = writeln!(out, "|---|---|---|");
        for (name, (zip, binary)) in &self.sizes {
            let _ = writeln!(out, "| {name} | {} | {} |", mb(*zip), mb(*binary));
        }

        let _ = writeln!(out, "\n## Memory and cost per million events\n");
        let _ = writeln!(
            out,
            "Prices: {PRICES_DATE}: Lambda arm64 ${LAMBDA_ARM64_GB_SECOND} per GB-s and $0.20 per \
             million requests; DynamoDB on-demand $0.625 per million WRU and $0.125 per million \
             RRU; SQS $0.40 per million requests. Lambda: the warm invocation's duration over its \
             sample's records at the template's memory size, one request per batch of 10; SQS: \
             the channel's send plus Lambda's receive and delete, a tenth each per event in \
             batches of 10; DynamoDB: the request units above. The view fan-out and \
             notifications an event causes are priced on their own rows, not added in.\n"
        );
        let _ = writeln!(
            out,
            "| function | memory | peak RSS | Lambda | SQS | DynamoDB (event type) | per million events |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for row in &self.cold_starts {
            let memory = self.memory_mb.get(&row.name).copied().unwrap_or(128);
            let batch = self.batch_sizes.get(&row.name).copied().unwrap_or(1).max(1) as f64;
            let gb_seconds = row.median.warm.as_secs_f64() / batch * memory as f64 / 1024.0;
            let lambda = gb_seconds * LAMBDA_ARM64_GB_SECOND + LAMBDA_REQUEST / 10.0;
            let sqs = 1.2 * SQS_REQUEST;
            let typical = typical_event(&row.name)
                .and_then(|what| self.requests.iter().find(|r| r.what.starts_with(what)));
            let (dynamodb, label) = match typical {
                Some(r) => {
                    let (w, rd) = request_units(&r.requests);
                    let events = r.events.max(1) as f64;
                    (
                        (w * DYNAMODB_WRITE_UNIT + rd * DYNAMODB_READ_UNIT) / events,
                        r.what.clone(),
                    )
                }
                None => (0.0, "—".to_owned()),
            };
            let _ = writeln!(
                out,
                "| {} | {memory} MB | {} | ${:.3} | ${:.3} | ${:.3} ({label}) | ${:.3} |",
                row.name,
                mib(row.median.peak_rss_kib),
                lambda * 1e6,
                sqs * 1e6,
                dynamodb * 1e6,
                (lambda + sqs + dynamodb) * 1e6,
            );
        }

        let _ = writeln!(out, "\n## Criterion benches of the pure rules\n");
        let _ = writeln!(
            out,
            "`cargo bench -p omnisync-benches` (`benches/benches/rules.rs`):\n"
        );
        let _ = writeln!(out, "```text\n{}\n```", self.criterion.trim());
        out
    }
}

/// The event type whose requests price a function's row.
fn typical_event(function: &str) -> Option<&'static str> {
    Some(match function {
        "cart-sync" => "cart.item_added",
        "wishlist-sync" => "wishlist.item_added",
        "order-sync" => "order.placed",
        "identity-sync" => "identity.linked",
        "engagement-sync" => "engagement.touched",
        "refund-processor" => "refund.requested",
        "loyalty-ledger" => "loyalty.points_adjusted",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_units_follow_dynamodb_s_rules_for_small_items() {
        let requests = BTreeMap::from([
            ("UpdateItem".to_owned(), 3),
            ("GetItem".to_owned(), 2),
            ("TransactWriteItems".to_owned(), 1),
            ("Query".to_owned(), 1),
        ]);
        assert_eq!(request_units(&requests), (7.0, 3.0));
    }
}
