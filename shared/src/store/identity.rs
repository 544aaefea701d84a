//! Guest sign-in (`identity.linked`): which customer a guest id belongs to.
//!
//! Nothing is moved: a guest's cart and wishlist ops stay in the guest id's partition, whenever
//! they arrive, and the reader folds them into the customer's (see [`super::customer`]). A link
//! is two items: the winner in the guest's partition (`IDENTITY#LINKED_TO`: the earliest link in
//! event order, so the result does not depend on arrival order) and, in the customer's
//! partition, `IDENTITY#GUEST#<guest_id>`, so the reader knows which partitions to fold in. The
//! reader checks the guest side, so a link that later loses to an earlier one is ignored.

use super::items::{StoredGuestLink, StoredLinkedTo};
use super::key::CustomerItem;
use super::{StoreError, Table, WriteOutcome};
use crate::contract::EventKey;

impl Table {
    /// Links `guest_id` to `customer_id` unless an earlier link of the guest exists.
    pub async fn link_guest(
        &self,
        guest_id: &str,
        customer_id: &str,
        key: EventKey,
    ) -> Result<WriteOutcome, StoreError> {
        let mut winner = None;
        let guest_side = self
            .customer_item(guest_id, &CustomerItem::LinkedTo)
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
        let customer_side = self
            .customer_item(customer_id, &CustomerItem::Guest(guest_id.to_owned()))
            .create(&StoredGuestLink { key })
            .await?;
        Ok(if guest_side == WriteOutcome::Written || customer_side {
            WriteOutcome::Written
        } else {
            WriteOutcome::Unchanged
        })
    }
}
