//! View versions: one counter per customer, outside the customer's partition (`VIEW#<id>` /
//! `VERSION`), so bumping it is not itself a change the fan-out reacts to.

use super::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

pub fn version_pk(customer_id: &str) -> String {
    format!("VIEW#{customer_id}")
}

const VERSION_SK: &str = "VERSION";

#[derive(Debug, Clone)]
pub struct ViewVersions {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl ViewVersions {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        ViewVersions {
            client,
            table: table.into(),
        }
    }

    fn error(
        &self,
        operation: &'static str,
        customer_id: &str,
        source: aws_sdk_dynamodb::Error,
    ) -> StoreError {
        StoreError::Request {
            operation,
            pk: version_pk(customer_id),
            sk: VERSION_SK.into(),
            source: Box::new(source),
        }
    }

    /// Adds `changes` (at least 1) to the customer's view version; returns the new version.
    pub async fn bump(&self, customer_id: &str, changes: u64) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(version_pk(customer_id)))
            .key("sk", AttributeValue::S(VERSION_SK.into()))
            .update_expression("ADD version :n")
            .expression_attribute_values(":n", AttributeValue::N(changes.max(1).to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", customer_id, e.into()))?;
        Ok(version_of(output.attributes.as_ref()))
    }

    /// The customer's current view version (0 before the first change).
    pub async fn current(&self, customer_id: &str) -> Result<u64, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(version_pk(customer_id)))
            .key("sk", AttributeValue::S(VERSION_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", customer_id, e.into()))?;
        Ok(version_of(output.item.as_ref()))
    }
}

fn version_of(item: Option<&std::collections::HashMap<String, AttributeValue>>) -> u64 {
    match item.and_then(|i| i.get("version")) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}
