//! Batch handling: how a function's records end (contract §2, "Nothing lost").
//!
//! - [`sqs`]: an SQS batch with `ReportBatchItemFailures`: each record is applied, rejected to
//!   `rejected-events`, or reported for redelivery; one bad record never fails the batch.
//! - [`stream`]: a DynamoDB Streams batch: units of work in shard order, stopping at the first
//!   failure and reporting its sequence number, so Lambda resumes exactly there.
//! - [`coalesce`]: the events of one SQS batch that touch the same item, folded into one write.
//! - [`recovery`]: a stream mapping's failure queue: what the given-up records touched is
//!   recovered from the table's state.

pub mod coalesce;
mod deadline;
pub mod recovery;
pub mod sqs;
pub mod stream;

pub use deadline::Deadline;

pub use sqs::{
    Admitted, Applied, ApplyError, BoxError, Delivery, EventHandler, FIRST_SENT_ATTRIBUTE,
    ORIGINAL_SENDER_ATTRIBUTE, SqsBatchProcessor,
};
pub use stream::in_shard_order;
