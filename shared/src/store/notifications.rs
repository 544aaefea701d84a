//! Who is notified of a restock, decided once, and whether each notification was sent.
//!
//! Everything about one restock is in the partition `NOTIFIED#<restock event_id>`:
//! - `AUDIENCE`: how far the audience is decided (the wishlist index page to read next), then
//!   `decided`. Building it may take several deliveries of the restock (thousands of wishers);
//!   each page's members are written before the cursor moves past the page, so a delivery cut
//!   off mid-way resumes where the last one stopped, and a redelivery after it is decided never
//!   decides again (contract §2: who is notified of a restock is decided once).
//! - `CUSTOMER#<id>`: one member: `pending` (in the audience), `sending` (claimed, with the
//!   time: a send may have happened), `sent`. See [`Claim`] for the rule that makes each
//!   notification reach its customer once.
//!
//! All of it expires ([`NOTIFICATION_RETENTION_SECONDS`], the table's TTL on `expires_at`) once
//! the restock can no longer be delivered again.

use super::availability::WishersCursor;
use super::key::{customer_of_pk, customer_pk, notified_pk};
use super::write::{Versioned, decode};
use super::{Commit, StoreError, Table};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

const AUDIENCE_SK: &str = "AUDIENCE";

/// How long a restock's bookkeeping is kept (DynamoDB TTL, `expires_at`): longer than a restock
/// event can still be delivered again (14 days on its queue, then 14 in its DLQ), after which
/// nothing needs it. Each write sets it anew.
pub const NOTIFICATION_RETENTION_SECONDS: i64 = 30 * 24 * 3600;

fn expires_at() -> i64 {
    crate::clock::now_ms() / 1000 + NOTIFICATION_RETENTION_SECONDS
}

/// How far a restock's audience is decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// The wishlist index page to read next; `None` once `decided` (or before the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<WishersCursor>,
    /// Every wisher was looked at: the audience is final.
    #[serde(default)]
    pub decided: bool,
    /// DynamoDB TTL (seconds since the epoch), set when saved.
    #[serde(default)]
    pub expires_at: i64,
}

/// Where one customer's notification of one restock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// In the audience; not sent yet.
    Pending,
    /// Claimed: a send may have happened.
    Sending,
    Sent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NotificationMarker {
    state: NotificationState,
    #[serde(default)]
    claimed_at_ms: i64,
    /// DynamoDB TTL (seconds since the epoch).
    #[serde(default)]
    expires_at: i64,
}

/// One member of a restock's audience, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub customer_id: String,
    pub state: NotificationState,
    pub claimed_at_ms: i64,
    rev: u64,
}

/// SQS FIFO's deduplication window: a message with the same deduplication id sent within it is
/// accepted but never delivered.
pub const FIFO_DEDUPLICATION_WINDOW_MS: i64 = 300_000;

/// How long after its claim a notification may still be sent (again). Every send of one
/// notification happens within this horizon of the claim, so any two sends are less than the
/// deduplication window apart and SQS delivers one; the minute to spare covers a send that is
/// slow to reach SQS.
pub const RESEND_HORIZON_MS: i64 = FIFO_DEDUPLICATION_WINDOW_MS - 60_000;

/// What to do about one customer's notification of one restock.
///
/// The claim is written before the first send, so whoever sends knows when sending began:
/// - [`Claim::Send`]: the member was pending (this delivery claimed it), or its claim is younger
///   than [`RESEND_HORIZON_MS`] and not marked sent (an earlier delivery died or lost the send's
///   response, or is sending right now). Send; a copy inside the window is dropped by SQS.
/// - [`Claim::AlreadySent`]: marked sent; nothing to do.
/// - [`Claim::PastWindow`]: claimed longer ago than the horizon and never marked sent. A send
///   now could reach a consumer a second time, so it is taken as sent and not sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Send,
    AlreadySent,
    PastWindow,
}

impl Table {
    fn audience_item(&self, restock_event_id: &str) -> Versioned<'_> {
        self.item(notified_pk(restock_event_id), AUDIENCE_SK.to_owned())
    }

    fn member_item(&self, restock_event_id: &str, customer_id: &str) -> Versioned<'_> {
        self.item(notified_pk(restock_event_id), customer_pk(customer_id))
    }

    /// How far the audience of a restock is decided, and the revision to move it from.
    pub async fn audience(&self, restock_event_id: &str) -> Result<(Audience, u64), StoreError> {
        let (audience, rev) = self
            .audience_item(restock_event_id)
            .read_existing::<Audience>()
            .await?;
        Ok((audience.unwrap_or_default(), rev))
    }

    /// Moves the audience's progress on from the revision read (`Conflict`: another delivery
    /// moved it; read again).
    pub async fn save_audience(
        &self,
        restock_event_id: &str,
        audience: &Audience,
        rev: u64,
    ) -> Result<Commit<()>, StoreError> {
        let audience = Audience {
            expires_at: expires_at(),
            ..audience.clone()
        };
        self.audience_item(restock_event_id)
            .put_at(&audience, rev)
            .await
    }

    /// Adds a customer to a restock's audience (a no-op if it is in already, whatever its state).
    pub async fn add_to_audience(
        &self,
        restock_event_id: &str,
        customer_id: &str,
    ) -> Result<(), StoreError> {
        self.member_item(restock_event_id, customer_id)
            .create(&NotificationMarker {
                state: NotificationState::Pending,
                claimed_at_ms: 0,
                expires_at: expires_at(),
            })
            .await?;
        Ok(())
    }

    /// Every member of a restock's audience not yet marked sent (one strongly consistent,
    /// paginated query of the restock's partition).
    pub async fn unsent_members(&self, restock_event_id: &str) -> Result<Vec<Member>, StoreError> {
        let pk = notified_pk(restock_event_id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :customer)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":customer", AttributeValue::S(customer_pk("")))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut members = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| self.request_error("Query", &pk, "CUSTOMER#", e.into()))?;
            let sk = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => continue,
            };
            let Some(customer_id) = customer_of_pk(&sk).map(str::to_owned) else {
                continue;
            };
            let (marker, rev): (NotificationMarker, u64) = decode(&pk, &sk, item)?;
            if marker.state != NotificationState::Sent {
                members.push(Member {
                    customer_id,
                    state: marker.state,
                    claimed_at_ms: marker.claimed_at_ms,
                    rev,
                });
            }
        }
        Ok(members)
    }

    /// Claims a member's notification before its send, and says whether to send it now (see
    /// [`Claim`]). A pending member is claimed with one conditional write; `Conflict` when
    /// another delivery claimed it first (then it is that delivery's to send, within the
    /// horizon: [`Claim::Send`] is safe either way, thanks to the deduplication id).
    pub async fn claim_notification(
        &self,
        restock_event_id: &str,
        member: &Member,
        now_ms: i64,
    ) -> Result<Claim, StoreError> {
        match member.state {
            NotificationState::Sent => Ok(Claim::AlreadySent),
            NotificationState::Sending if now_ms - member.claimed_at_ms < RESEND_HORIZON_MS => {
                Ok(Claim::Send)
            }
            NotificationState::Sending => Ok(Claim::PastWindow),
            NotificationState::Pending => {
                let claimed = NotificationMarker {
                    state: NotificationState::Sending,
                    claimed_at_ms: now_ms,
                    expires_at: expires_at(),
                };
                let item = self.member_item(restock_event_id, &member.customer_id);
                match item.put_at(&claimed, member.rev).await? {
                    Commit::Done(()) => Ok(Claim::Send),
                    // Claimed (or sent) by another delivery just now: send within the horizon
                    // like any young claim, or find it sent.
                    Commit::Conflict => {
                        let (marker, _) = item.read_existing::<NotificationMarker>().await?;
                        Ok(match marker.map(|m| m.state) {
                            Some(NotificationState::Sent) => Claim::AlreadySent,
                            _ => Claim::Send,
                        })
                    }
                }
            }
        }
    }

    /// Marks a notification sent (one write; its state only ever moves forward to `sent`).
    pub async fn mark_sent(
        &self,
        restock_event_id: &str,
        customer_id: &str,
    ) -> Result<(), StoreError> {
        let item = self.member_item(restock_event_id, customer_id);
        self.client
            .update_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(item.pk.clone()))
            .key("sk", AttributeValue::S(item.sk.clone()))
            .update_expression("SET #state = :sent ADD #rev :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .map_err(|e| item.request_error("UpdateItem", e.into()))?;
        Ok(())
    }
}
