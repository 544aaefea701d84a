//! Reading a customer's state: one query per partition, assembled with the pure rule of
//! [`crate::domain::customer`].
//!
//! The customer's own partition is read first; the partitions of the guest ids it lists are read
//! only when the id is not itself a linked guest (whose cart and wishlist are empty).

use super::items::{StoredClear, StoredLinkedTo, StoredWish};
use super::key::{CustomerItem, customer_pk};
use super::write::decode;
use super::{StoreError, Table};
use crate::domain::customer::{CustomerState, IdState};
use crate::domain::loyalty::{DebitDecision, LedgerEntry};
use crate::domain::order::Order;
use crate::domain::refund::RefundDecision;
use crate::domain::shopping::IdOps;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

impl Table {
    /// Loads a customer's state: its partition plus those of its linked guests.
    pub async fn customer_state(&self, customer_id: &str) -> Result<CustomerState, StoreError> {
        let own = self.id_state(customer_id).await?;
        self.customer_state_with(customer_id, own).await
    }

    /// Like [`Self::customer_state`], with the customer's own partition already read.
    pub async fn customer_state_with(
        &self,
        customer_id: &str,
        own: IdState,
    ) -> Result<CustomerState, StoreError> {
        let mut guests = Vec::new();
        if own.linked_to.is_none() {
            for guest_id in &own.guests {
                guests.push((guest_id.clone(), self.id_state(guest_id).await?));
            }
        }
        Ok(CustomerState::assemble(customer_id, own, guests))
    }

    /// The cart and wishlist ops that fold into the cart `id` is part of: those of the customer
    /// (`id` itself, or the customer a linked guest id belongs to) and of its verified guests.
    pub async fn shopping_ops(&self, id: &str) -> Result<(IdOps, Vec<IdOps>), StoreError> {
        let mut customer_id = id.to_owned();
        let mut own = self.id_state(id).await?;
        if let Some((linked_to, _)) = own.linked_to.clone() {
            own = self.id_state(&linked_to).await?;
            customer_id = linked_to;
        }
        let mut guests = Vec::new();
        for guest_id in &own.guests {
            let guest = self.id_state(guest_id).await?;
            if guest.is_linked_to(&customer_id) {
                guests.push(guest.ops);
            }
        }
        Ok((own.ops, guests))
    }

    /// Reads one id's partition with one (paginated, strongly consistent) query.
    pub async fn id_state(&self, id: &str) -> Result<IdState, StoreError> {
        let pk = customer_pk(id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut state = IdState::default();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.request_error("Query", &pk, "", e.into()))?;
            let Some(AttributeValue::S(sk)) = item.get("sk").cloned() else {
                continue;
            };
            add_item(&mut state, &pk, &sk, item)?;
        }
        Ok(state)
    }
}

/// Adds one stored item to an id's state; items this reader does not know are skipped.
fn add_item(
    state: &mut IdState,
    pk: &str,
    sk: &str,
    item: HashMap<String, AttributeValue>,
) -> Result<(), StoreError> {
    let Some(kind) = CustomerItem::parse(sk) else {
        return Ok(());
    };
    match kind {
        CustomerItem::CartLine(sku) => {
            let (line, _) = super::items::line(&item).map_err(|source| StoreError::Corrupt {
                pk: pk.to_owned(),
                sk: sk.to_owned(),
                source,
            })?;
            state.cart_mut().lines.insert(sku, line);
        }
        CustomerItem::CartClear => {
            let (clear, _): (StoredClear, u64) = decode(pk, sk, item)?;
            state.cart_mut().cleared = clear.key;
        }
        CustomerItem::Wish(sku) => {
            let (wish, _): (StoredWish, u64) = decode(pk, sk, item)?;
            if let Some(entry) = wish.to_entry() {
                state.wishlist_mut().entries.insert(sku, entry);
            }
        }
        CustomerItem::Order(_) => {
            let (order, _): (Order, u64) = decode(pk, sk, item)?;
            state.add_order(order);
        }
        CustomerItem::Refund(_) => {
            let (refund, _): (RefundDecision, u64) = decode(pk, sk, item)?;
            state.refunds.push(refund);
        }
        CustomerItem::Balance => {
            state.loyalty.balance = match item.get("balance") {
                Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Corrupt {
                    pk: pk.to_owned(),
                    sk: sk.to_owned(),
                    source: <serde_dynamo::Error as serde::de::Error>::custom(
                        "non-numeric balance",
                    ),
                })?,
                _ => 0,
            };
        }
        CustomerItem::LedgerEntry(_) => {
            let (entry, _): (LedgerEntry, u64) = decode(pk, sk, item)?;
            state.loyalty.entries.push(entry);
        }
        CustomerItem::Redemption(_) => {
            let (decision, _): (DebitDecision, u64) = decode(pk, sk, item)?;
            state.loyalty.redemptions.push(decision);
        }
        CustomerItem::Adjustment(_) => {
            let (decision, _): (DebitDecision, u64) = decode(pk, sk, item)?;
            state.loyalty.adjustments.push(decision);
        }
        CustomerItem::LinkedTo => {
            let (link, _): (StoredLinkedTo, u64) = decode(pk, sk, item)?;
            if let (Some(customer_id), Some(key)) = (link.customer_id, link.key) {
                state.linked_to = Some((customer_id, key));
            }
        }
        CustomerItem::Guest(guest_id) => state.guests.push(guest_id),
        CustomerItem::Timeline(strand) => {
            super::timeline::add_strand(&mut state.timeline, strand, &item);
        }
        CustomerItem::TouchDay(_) => state.touches.extend(super::touches::day_touches(&item)),
        CustomerItem::Stores => state.stores.extend(super::touches::stores_of(&item)),
    }
    Ok(())
}
