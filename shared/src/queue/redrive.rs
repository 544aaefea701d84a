//! Sending messages from a dead-letter queue back to where they came from: the operator's
//! `omnisync redrive`, for any DLQ and for the stream failure queues' DLQs alike.
//!
//! Each message is sent to the target with its body and message attributes, then deleted from
//! the DLQ: a crash in between sends it once more, which every handler absorbs like any
//! redelivery. Who first sent it and when are kept in the attributes the batch layer reads for
//! messages omnisync delivers again (`omnisync-original-sender`, `omnisync-first-sent`): they
//! are honoured only from a role listed as redelivering (`RedeliveringRoleIds` in the
//! template), so run the command under such a role (the ingress queues' policies let only the
//! channels, order-sync and those roles send).

use crate::batch::{FIRST_SENT_ATTRIBUTE, ORIGINAL_SENDER_ATTRIBUTE};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("SQS {operation} on {queue_url} failed: {message}")]
    Request {
        operation: &'static str,
        queue_url: String,
        message: String,
    },
    #[error("{0} is the dead-letter queue of {1} queues, not of one: name the target")]
    NoSingleSource(String, usize),
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redriven {
    pub moved: usize,
}

fn request_error<E: std::error::Error + 'static>(
    operation: &'static str,
    queue_url: &str,
) -> impl FnOnce(aws_sdk_sqs::error::SdkError<E>) -> RedriveError
where
    aws_sdk_sqs::error::SdkError<E>: std::error::Error,
{
    let queue_url = queue_url.to_owned();
    move |e| RedriveError::Request {
        operation,
        queue_url,
        message: DisplayErrorContext(&e).to_string(),
    }
}

/// The queue whose redrive policy names `dlq_url` as its DLQ.
pub async fn source_of(sqs: &aws_sdk_sqs::Client, dlq_url: &str) -> Result<String, RedriveError> {
    let sources = sqs
        .list_dead_letter_source_queues()
        .queue_url(dlq_url)
        .send()
        .await
        .map_err(request_error("ListDeadLetterSourceQueues", dlq_url))?
        .queue_urls;
    match <[String; 1]>::try_from(sources) {
        Ok([source]) => Ok(source),
        Err(sources) => Err(RedriveError::NoSingleSource(
            dlq_url.to_owned(),
            sources.len(),
        )),
    }
}

/// The attributes to send a DLQ message again with: its own, plus who first sent it and when.
fn attributes_of(message: &Message) -> HashMap<String, MessageAttributeValue> {
    let mut attributes = message.message_attributes.clone().unwrap_or_default();
    let system = message.attributes.clone().unwrap_or_default();
    let string = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .ok()
    };
    if let Some(sender) = system.get(&MessageSystemAttributeName::SenderId)
        && let Some(value) = string(sender)
    {
        attributes
            .entry(ORIGINAL_SENDER_ATTRIBUTE.to_owned())
            .or_insert(value);
    }
    if let Some(sent) = system.get(&MessageSystemAttributeName::SentTimestamp)
        && let Some(value) = string(sent)
    {
        attributes
            .entry(FIRST_SENT_ATTRIBUTE.to_owned())
            .or_insert(value);
    }
    attributes
}

/// Moves up to `limit` messages from `from` to `to`, ten at a time, until `from` is empty.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    from: &str,
    to: &str,
    limit: usize,
) -> Result<Redriven, RedriveError> {
    let mut moved = 0;
    while moved < limit {
        let messages = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(i32::try_from((limit - moved).min(10)).unwrap_or(10))
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .visibility_timeout(60)
            .send()
            .await
            .map_err(request_error("ReceiveMessage", from))?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in &messages {
            sqs.send_message()
                .queue_url(to)
                .message_body(message.body.clone().unwrap_or_default())
                .set_message_attributes(Some(attributes_of(message)))
                .send()
                .await
                .map_err(request_error("SendMessage", to))?;
            if let Some(receipt) = &message.receipt_handle {
                sqs.delete_message()
                    .queue_url(from)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(request_error("DeleteMessage", from))?;
            }
            moved += 1;
        }
    }
    Ok(Redriven { moved })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(system: &[(MessageSystemAttributeName, &str)], own: &[(&str, &str)]) -> Message {
        let mut builder = Message::builder().body("{}");
        for (name, value) in system {
            builder = builder.attributes(name.clone(), *value);
        }
        for (name, value) in own {
            builder = builder.message_attributes(
                *name,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(*value)
                    .build()
                    .unwrap(),
            );
        }
        builder.build()
    }

    fn text(attributes: &HashMap<String, MessageAttributeValue>, name: &str) -> Option<String> {
        attributes.get(name).and_then(|v| v.string_value.clone())
    }

    #[test]
    fn a_redriven_message_says_who_first_sent_it_and_when() {
        let first = message(
            &[
                (MessageSystemAttributeName::SenderId, "AROAWEB:checkout"),
                (MessageSystemAttributeName::SentTimestamp, "1700000000000"),
            ],
            &[("trace", "t-1")],
        );
        let attributes = attributes_of(&first);
        assert_eq!(
            text(&attributes, ORIGINAL_SENDER_ATTRIBUTE).as_deref(),
            Some("AROAWEB:checkout")
        );
        assert_eq!(
            text(&attributes, FIRST_SENT_ATTRIBUTE).as_deref(),
            Some("1700000000000")
        );
        assert_eq!(text(&attributes, "trace").as_deref(), Some("t-1"));
    }

    #[test]
    fn a_message_redelivered_before_keeps_its_first_sender() {
        let again = message(
            &[(MessageSystemAttributeName::SenderId, "AROAOPERATOR:me")],
            &[(ORIGINAL_SENDER_ATTRIBUTE, "AROAWEB:checkout")],
        );
        assert_eq!(
            text(&attributes_of(&again), ORIGINAL_SENDER_ATTRIBUTE).as_deref(),
            Some("AROAWEB:checkout")
        );
    }
}
