//! Reading a customer's state: one query per partition, folded with the pure rules.
//!
//! A customer's cart and wishlist are the folds over its own partition and the partitions of the
//! guest ids linked to it (verified on the guest side: the earliest link wins, and a guest id is
//! never followed through a second link). A guest id that is linked shows an empty cart and
//! wishlist. Orders stay with the id they were placed under.

use super::items::*;
use super::loyalty::{
    ADJUSTMENT_PREFIX, BALANCE_SK, LEDGER_PREFIX, REDEMPTION_PREFIX, StoredDebitDecision,
    StoredEntry,
};
use super::versioned::decode;
use super::{StoreError, customer_pk};
use crate::contract::EventKey;
use crate::domain::shopping::{IdOps, Purchase, Shopping, shopping};
use aws_sdk_dynamodb::types::AttributeValue;

/// Everything stored under one id.
#[derive(Debug, Clone, Default)]
pub struct Partition {
    pub ops: IdOps,
    pub orders: Vec<StoredOrder>,
    pub refunds: Vec<StoredRefund>,
    pub loyalty: Loyalty,
    /// When this id is a guest id that was linked: the customer and the link's key.
    pub linked_to: Option<(String, EventKey)>,
    /// Guest ids this id was linked with (not yet verified on the guest side).
    pub guests: Vec<String>,
}

/// An id's loyalty points: the balance item and what it is made of.
#[derive(Debug, Clone, Default)]
pub struct Loyalty {
    /// The balance item (0 when none was written yet).
    pub balance: i64,
    /// Every ledger entry, sorted by id.
    pub entries: Vec<StoredEntry>,
    /// Redemption decisions, sorted by id.
    pub redemptions: Vec<StoredDebitDecision>,
    /// Adjustment decisions, sorted by id.
    pub adjustments: Vec<StoredDebitDecision>,
}

/// A customer's state as channels show it.
#[derive(Debug, Clone, Default)]
pub struct CustomerState {
    pub customer_id: String,
    pub shopping: Shopping,
    /// Sorted by `order_id`.
    pub orders: Vec<StoredOrder>,
    /// Refund decisions on this id's requests, sorted by `refund_id`.
    pub refunds: Vec<StoredRefund>,
    pub loyalty: Loyalty,
    pub linked_to: Option<String>,
    /// The guest ids whose ops are folded into this customer's cart and wishlist.
    pub linked_guests: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CustomerReader {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl CustomerReader {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        CustomerReader {
            client,
            table: table.into(),
        }
    }

    /// Loads a customer's state: its partition plus those of its linked guests.
    pub async fn load(&self, customer_id: &str) -> Result<CustomerState, StoreError> {
        let own = self.partition(customer_id).await?;
        self.load_with(customer_id, own).await
    }

    /// Like [`Self::load`], with the customer's own partition already read.
    pub async fn load_with(
        &self,
        customer_id: &str,
        own: Partition,
    ) -> Result<CustomerState, StoreError> {
        let mut guests = Vec::new();
        let mut linked_guests = Vec::new();
        if own.linked_to.is_none() {
            for guest_id in &own.guests {
                let guest = self.partition(guest_id).await?;
                if guest
                    .linked_to
                    .as_ref()
                    .is_some_and(|(to, _)| to == customer_id)
                {
                    linked_guests.push(guest_id.clone());
                    guests.push(guest);
                }
            }
        }
        let shopping = match own.linked_to {
            Some(_) => Shopping::default(),
            None => shopping(&own.ops, &guests.iter().map(|g| &g.ops).collect::<Vec<_>>()),
        };
        let mut orders = own.orders;
        orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
        let mut refunds = own.refunds;
        refunds.sort_by(|a, b| a.refund_id.cmp(&b.refund_id));
        Ok(CustomerState {
            customer_id: customer_id.to_owned(),
            shopping,
            orders,
            refunds,
            loyalty: own.loyalty,
            linked_to: own.linked_to.map(|(to, _)| to),
            linked_guests,
        })
    }

    /// Reads one id's partition with one (paginated, strongly consistent) query.
    pub async fn partition(&self, id: &str) -> Result<Partition, StoreError> {
        let pk = customer_pk(id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut partition = Partition::default();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| StoreError::Request {
                operation: "Query",
                pk: pk.clone(),
                sk: String::new(),
                source: Box::new(e.into()),
            })?;
            let Some(AttributeValue::S(sk)) = item.get("sk").cloned() else {
                continue;
            };
            add_item(&mut partition, &pk, &sk, item)?;
        }
        Ok(partition)
    }
}

fn add_item(
    partition: &mut Partition,
    pk: &str,
    sk: &str,
    item: std::collections::HashMap<String, AttributeValue>,
) -> Result<(), StoreError> {
    if let Some(sku) = sk.strip_prefix(CART_LINE_PREFIX) {
        let (line, _): (StoredLine, u64) = decode(pk, sk, item)?;
        partition
            .ops
            .cart
            .lines
            .insert(sku.to_owned(), line.to_state());
    } else if sk == CART_CLEAR_SK {
        let (clear, _): (StoredClear, u64) = decode(pk, sk, item)?;
        partition.ops.cart.cleared = clear.key;
    } else if let Some(sku) = sk.strip_prefix(WISH_PREFIX) {
        let (wish, _): (StoredWish, u64) = decode(pk, sk, item)?;
        if let Some(entry) = wish.to_entry() {
            partition.ops.wishlist.entries.insert(sku.to_owned(), entry);
        }
    } else if sk.starts_with(ORDER_PREFIX) {
        let (order, _): (StoredOrder, u64) = decode(pk, sk, item)?;
        partition.ops.purchases.push(Purchase {
            key: order.placed.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect(),
        });
        partition.orders.push(order);
    } else if sk.starts_with(REFUND_PREFIX) {
        let (refund, _): (StoredRefund, u64) = decode(pk, sk, item)?;
        partition.refunds.push(refund);
    } else if sk == BALANCE_SK {
        partition.loyalty.balance = match item.get("balance") {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Corrupt {
                pk: pk.to_owned(),
                sk: sk.to_owned(),
                source: <serde_dynamo::Error as serde::de::Error>::custom("non-numeric balance"),
            })?,
            _ => 0,
        };
    } else if sk.starts_with(LEDGER_PREFIX) {
        let (entry, _): (StoredEntry, u64) = decode(pk, sk, item)?;
        partition.loyalty.entries.push(entry);
    } else if sk.starts_with(REDEMPTION_PREFIX) {
        let (decision, _): (StoredDebitDecision, u64) = decode(pk, sk, item)?;
        partition.loyalty.redemptions.push(decision);
    } else if sk.starts_with(ADJUSTMENT_PREFIX) {
        let (decision, _): (StoredDebitDecision, u64) = decode(pk, sk, item)?;
        partition.loyalty.adjustments.push(decision);
    } else if sk == LINKED_TO_SK {
        let (link, _): (StoredLinkedTo, u64) = decode(pk, sk, item)?;
        if let (Some(customer_id), Some(key)) = (link.customer_id, link.key) {
            partition.linked_to = Some((customer_id, key));
        }
    } else if let Some(guest_id) = sk.strip_prefix(GUEST_LINK_PREFIX) {
        partition.guests.push(guest_id.to_owned());
    }
    Ok(())
}
