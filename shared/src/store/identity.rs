//! Guest sign-in (`identity.linked`): which customer a guest id belongs to.
//!
//! Nothing is moved: a guest's cart and wishlist ops stay in the guest id's partition, whenever
//! they arrive, and the reader folds them into the customer's (see [`super::customer`]). A link
//! is two items: the winner in the guest's partition (`IDENTITY#LINKED_TO`: the earliest link in
//! event order, so the result does not depend on arrival order) and, in the customer's
//! partition, `IDENTITY#GUEST#<guest_id>`, so the reader knows which partitions to fold in. The
//! reader checks the guest side, so a customer-side item whose link lost is ignored.
//!
//! Every intermediate state is correct: the customer side is written first, and until the guest
//! side names that customer the reader ignores it, so the guest's ops stay visible under the guest
//! id; the guest side switches in one conditional write. When an earlier link displaces a later
//! one that already won, the displaced customer's `IDENTITY#GUEST#<guest_id>` is deleted in the
//! same transaction as the switch: its partition changes, so its view is published again without
//! the guest's ops (and never keeps showing them at its highest version).

use super::items::{StoredGuestLink, StoredLinkedTo};
use super::key::CustomerItem;
use super::write::{cancellation, is_lost_race};
use super::{Commit, StoreError, Table, WriteOutcome, retry_on_conflict};
use crate::contract::EventKey;
use aws_sdk_dynamodb::types::TransactWriteItem;

impl Table {
    /// Links `guest_id` to `customer_id` unless an earlier link of the guest exists.
    pub async fn link_guest(
        &self,
        guest_id: &str,
        customer_id: &str,
        key: EventKey,
    ) -> Result<WriteOutcome, StoreError> {
        let guest_side = self.customer_item(guest_id, &CustomerItem::LinkedTo);
        let customer_side =
            self.customer_item(customer_id, &CustomerItem::Guest(guest_id.to_owned()));
        let link = StoredGuestLink { key: key.clone() };
        retry_on_conflict(&guest_side.pk, &guest_side.sk, || async {
            let (stored, rev) = guest_side.read_existing::<StoredLinkedTo>().await?;
            let stored = stored.unwrap_or_default();
            match &stored.key {
                // An earlier link won: this one changes nothing.
                Some(known) if *known < key => return Ok(Commit::Done(WriteOutcome::Unchanged)),
                // A redelivery: the customer side was written before the guest side, so it
                // exists; creating it again is a no-op (and repairs any older half-written link).
                Some(known) if *known == key => {
                    let created = customer_side.create(&link).await?;
                    return Ok(Commit::Done(if created {
                        WriteOutcome::Written
                    } else {
                        WriteOutcome::Unchanged
                    }));
                }
                _ => {}
            }
            customer_side.create(&link).await?;
            let winner = StoredLinkedTo {
                customer_id: Some(customer_id.to_owned()),
                key: Some(key.clone()),
            };
            let displaced = stored.customer_id.filter(|other| other != customer_id);
            let committed = match displaced {
                None => guest_side.put_at(&winner, rev).await?,
                Some(other) => {
                    let unlink = self
                        .customer_item(&other, &CustomerItem::Guest(guest_id.to_owned()))
                        .delete_op()?;
                    let sent = self
                        .client
                        .transact_write_items()
                        .transact_items(
                            TransactWriteItem::builder()
                                .put(guest_side.replace_put(&winner, rev)?)
                                .build(),
                        )
                        .transact_items(TransactWriteItem::builder().delete(unlink).build())
                        .send()
                        .await;
                    match sent {
                        Ok(_) => Commit::Done(()),
                        Err(err) if cancellation(&err).is_some_and(|r| is_lost_race(&r)) => {
                            Commit::Conflict
                        }
                        Err(err) => {
                            return Err(guest_side.request_error("TransactWriteItems", err.into()));
                        }
                    }
                }
            };
            Ok(match committed {
                Commit::Done(()) => Commit::Done(WriteOutcome::Written),
                Commit::Conflict => Commit::Conflict,
            })
        })
        .await
    }
}
