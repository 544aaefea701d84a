//! Views too large for one SQS message: stored in S3, and the channel message is a pointer, in
//! the format of the SQS Extended Client Library (Java `amazon-sqs-java-extended-client-lib`,
//! Python `amazon-sqs-extended-client`), so a consumer that uses it reads the view as if it had
//! come inline.
//!
//! With the view's bounded history (50 orders, refunds and redemptions) a view passes 1 MiB only
//! with a cart or wishlist of thousands of SKUs; it is then published this way rather than
//! dropped. The body is `["software.amazon.payloadoffloading.PayloadS3Pointer",
//! {"s3BucketName": …, "s3Key": …}]` and the message attribute `ExtendedPayloadSize` (Number)
//! holds the view message's size in bytes.

use serde::Serialize;

/// SQS's largest message (body and attributes): 1 MiB.
pub const SQS_MAX_MESSAGE_BYTES: usize = 1_048_576;
/// The largest body sent inline; a larger one is offloaded (the rest of the limit is left for
/// message attributes).
pub const MAX_INLINE_BYTES: usize = SQS_MAX_MESSAGE_BYTES - 4_096;
/// The pointer's class name, as the Extended Client Library writes and reads it.
pub const POINTER_CLASS: &str = "software.amazon.payloadoffloading.PayloadS3Pointer";
/// The attribute that marks an offloaded message and gives the payload's size.
pub const SIZE_ATTRIBUTE: &str = "ExtendedPayloadSize";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    s3_bucket_name: &'a str,
    s3_key: &'a str,
}

/// The object key of a customer's view at a version (one object per version: a consumer that
/// reads an older pointer late still finds the view it points to).
pub fn object_key(customer_id: &str, version: u64) -> String {
    format!("views/{customer_id}/{version:020}.json")
}

/// The pointer body for an offloaded view.
pub fn pointer(bucket: &str, key: &str) -> Result<String, serde_json::Error> {
    serde_json::to_string(&(
        POINTER_CLASS,
        Location {
            s3_bucket_name: bucket,
            s3_key: key,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_is_the_extended_client_s_format() {
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pointer("b", "views/c-1/1.json").unwrap())
                .unwrap(),
            serde_json::json!([
                "software.amazon.payloadoffloading.PayloadS3Pointer",
                {"s3BucketName": "b", "s3Key": "views/c-1/1.json"}
            ])
        );
        assert_eq!(object_key("c-1", 7), "views/c-1/00000000000000000007.json");
    }
}
