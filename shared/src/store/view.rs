//! View versions: one counter per customer, outside the customer's partition (`VIEW#<id>` /
//! `VERSION`), so bumping it is not itself a change the fan-out reacts to; and the current view
//! as the operator reads it.

use super::key::{VIEW_VERSION_SK, view_version_pk};
use super::{StoreError, Table};
use crate::contract::CustomerView;
use crate::domain::projection::project;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

impl Table {
    fn version_error(
        &self,
        operation: &'static str,
        customer_id: &str,
        source: aws_sdk_dynamodb::Error,
    ) -> StoreError {
        self.request_error(
            operation,
            &view_version_pk(customer_id),
            VIEW_VERSION_SK,
            source,
        )
    }

    /// Adds `changes` (at least 1) to the customer's view version; returns the new version.
    pub async fn bump_view_version(
        &self,
        customer_id: &str,
        changes: u64,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(view_version_pk(customer_id)))
            .key("sk", AttributeValue::S(VIEW_VERSION_SK.into()))
            .update_expression("ADD version :n")
            .expression_attribute_values(":n", AttributeValue::N(changes.max(1).to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.version_error("UpdateItem", customer_id, e.into()))?;
        Ok(version_of(output.attributes.as_ref()))
    }

    /// The customer's current view version (0 before the first change).
    pub async fn view_version(&self, customer_id: &str) -> Result<u64, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(view_version_pk(customer_id)))
            .key("sk", AttributeValue::S(VIEW_VERSION_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.version_error("GetItem", customer_id, e.into()))?;
        Ok(version_of(output.item.as_ref()))
    }

    /// The customer's view as it is now: its current version and its state (what the operator's
    /// command prints), its orders' attribution joined with their report records as the
    /// fan-out does (so a touch that expired does not change it).
    pub async fn current_view(&self, customer_id: &str) -> Result<CustomerView, StoreError> {
        let version = self.view_version(customer_id).await?;
        let mut state = self.customer_state(customer_id).await?;
        if !state.orders.is_empty() {
            state.reported = self
                .reported(customer_id)
                .await?
                .into_iter()
                .map(|(order_id, stored)| (order_id, stored.record))
                .collect();
        }
        Ok(project(&state, version))
    }
}

fn version_of(item: Option<&HashMap<String, AttributeValue>>) -> u64 {
    match item.and_then(|i| i.get("version")) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}
