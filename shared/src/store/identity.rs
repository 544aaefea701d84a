//! Guest sign-in (`identity.linked`): which customer a guest id belongs to.
//!
//! Nothing is moved: a guest's cart and wishlist ops stay in the guest id's partition, whenever
//! they arrive, and the reader folds them into the customer's (see [`super::customer`]). A link
//! is two items: the winner in the guest's partition (`IDENTITY#LINKED_TO`: the earliest link in
//! event order, so the result does not depend on arrival order) and, in the customer's
//! partition, `IDENTITY#GUEST#<guest_id>`, so the reader knows which partitions to fold in. The
//! reader checks the guest side, so a link that later loses to an earlier one is ignored.

use super::items::{GUEST_LINK_PREFIX, LINKED_TO_SK, StoredGuestLink, StoredLinkedTo};
use super::versioned::Versioned;
use super::{StoreError, WriteOutcome, customer_pk};
use crate::contract::EventKey;

#[derive(Debug, Clone)]
pub struct IdentityStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl IdentityStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        IdentityStore {
            client,
            table: table.into(),
        }
    }

    /// Links `guest_id` to `customer_id` unless an earlier link of the guest exists.
    pub async fn link(
        &self,
        guest_id: &str,
        customer_id: &str,
        key: EventKey,
    ) -> Result<WriteOutcome, StoreError> {
        let mut winner = None;
        let guest_side = Versioned {
            client: &self.client,
            table: &self.table,
            pk: customer_pk(guest_id),
            sk: LINKED_TO_SK.to_owned(),
        }
        .update(|stored: &mut StoredLinkedTo| {
            let earlier = stored.key.as_ref().is_none_or(|known| key < *known);
            if earlier {
                stored.key = Some(key.clone());
                stored.customer_id = Some(customer_id.to_owned());
            }
            winner = stored.key.clone();
            earlier
        })
        .await?;
        if winner.as_ref() != Some(&key) {
            return Ok(WriteOutcome::Unchanged);
        }
        // Also on a redelivery: an earlier attempt may have stopped between the two writes.
        let customer_side = Versioned {
            client: &self.client,
            table: &self.table,
            pk: customer_pk(customer_id),
            sk: format!("{GUEST_LINK_PREFIX}{guest_id}"),
        }
        .create(&StoredGuestLink { key })
        .await?;
        Ok(if guest_side == WriteOutcome::Written || customer_side {
            WriteOutcome::Written
        } else {
            WriteOutcome::Unchanged
        })
    }
}
