//! The loyalty rules (contract §3, Loyalty): points as a ledger.
//!
//! The balance is the sum of ledger entries, each with a unique id written at most once:
//! `earn:<order_id>`, `reverse:<refund_id>`, `cancel:<order_id>`, `redeem:<redemption_id>`,
//! `adjust:<adjustment_id>`. The amounts are pure functions of order amounts, so every function
//! that writes an entry computes the same number:
//! - an order earns one point per 100 minor units of its total;
//! - an approved refund reverses `floor(P_before / 100) − floor(P_after / 100)`, where `P` is the
//!   order's total minus its approved refunds, so the reversals of an order refunded in full,
//!   however split, add up to exactly what it earned;
//! - a cancellation takes back what the order earned and was not yet reversed, which by the same
//!   telescoping is `floor(P_now / 100)`;
//! - a redemption, or a negative adjustment, is approved only if the balance covers it at decision
//!   time. Only reversals and cancellations may take a balance below 0.

pub use crate::contract::view::DecisionStatus;
use crate::contract::{EventKey, LoyaltyEvent};
use crate::domain::order::Order;
use crate::domain::refund::RefundDecision;
use serde::{Deserialize, Serialize};

/// Points per 100 minor units.
const MINOR_PER_POINT: u64 = 100;

/// What an order of `total_minor` earns.
pub fn earned(total_minor: u64) -> i64 {
    points(total_minor)
}

/// What approving a refund of `amount_minor` reverses, when the order's total minus its earlier
/// approved refunds is `remaining_before` (a positive number of points to take back).
pub fn reversed(remaining_before: u64, amount_minor: u64) -> i64 {
    points(remaining_before) - points(remaining_before.saturating_sub(amount_minor))
}

/// What cancelling an order takes back, when its total minus its approved refunds is
/// `remaining` (a positive number of points to take back).
pub fn cancelled(remaining: u64) -> i64 {
    points(remaining)
}

fn points(minor: u64) -> i64 {
    i64::try_from(minor / MINOR_PER_POINT).unwrap_or(i64::MAX)
}

/// One ledger entry: written at most once, by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub entry_id: String,
    pub points: i64,
}

/// A redemption or an adjustment: the order-dependent part of the ledger, decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebitKind {
    Redemption,
    Adjustment,
}

/// A redemption or adjustment as the ledger sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebitRequest {
    /// The event that asks for it (its place in event order).
    pub key: EventKey,
    pub kind: DebitKind,
    /// `redemption_id` or `adjustment_id`.
    pub id: String,
    /// The change to the balance: negative for a redemption, signed for an adjustment.
    pub change: i64,
    pub reason: Option<String>,
}

impl DebitRequest {
    pub fn of(key: &EventKey, event: &LoyaltyEvent) -> Self {
        let key = key.clone();
        match event {
            LoyaltyEvent::PointsRedeemed {
                redemption_id,
                points,
            } => DebitRequest {
                key,
                kind: DebitKind::Redemption,
                id: redemption_id.clone(),
                change: -i64::from(*points),
                reason: None,
            },
            LoyaltyEvent::PointsAdjusted {
                adjustment_id,
                points,
                reason,
            } => DebitRequest {
                key,
                kind: DebitKind::Adjustment,
                id: adjustment_id.clone(),
                change: i64::from(*points),
                reason: Some(reason.clone()),
            },
        }
    }

    /// The ledger entry an approval writes.
    pub fn entry_id(&self) -> String {
        match self.kind {
            DebitKind::Redemption => entry_id::redeem(&self.id),
            DebitKind::Adjustment => entry_id::adjust(&self.id),
        }
    }

    /// The balance an approval needs at decision time: a debit must be covered; a credit needs
    /// nothing. The store makes the approval conditional on it, so the rule holds however many
    /// debits race.
    pub fn required_balance(&self) -> Option<i64> {
        (self.change < 0).then_some(-self.change)
    }

    /// The decision, given whether the balance covered [`Self::required_balance`].
    pub fn decide(&self, covered: bool) -> DebitDecision {
        DebitDecision {
            id: self.id.clone(),
            points: match self.kind {
                DebitKind::Redemption => -self.change,
                DebitKind::Adjustment => self.change,
            },
            status: if covered || self.required_balance().is_none() {
                DecisionStatus::Approved
            } else {
                DecisionStatus::Rejected
            },
            reason: self.reason.clone(),
            decided_by: Some(self.key.clone()),
        }
    }
}

/// A redemption's or adjustment's decision, kept in the customer's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebitDecision {
    pub id: String,
    /// As sent: positive for a redemption, signed for an adjustment.
    pub points: i64,
    pub status: DecisionStatus,
    #[serde(default)]
    pub reason: Option<String>,
    /// The event that was decided (absent on decisions stored before it was recorded, which
    /// count as the oldest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<EventKey>,
}

/// Ledger entry ids.
/// The earn entry of an order: written when the order is first stored.
pub fn order_earn(order: &Order) -> LedgerEntry {
    LedgerEntry {
        entry_id: entry_id::earn(&order.order_id),
        points: earned(order.total_minor),
    }
}

/// The cancel entry of an order that is cancelled: what it earned and was not yet reversed.
/// Refunds of a cancelled order are rejected (`order_cancelled`), so what is left at the first
/// cancelled image is what is left ever after: this is the same number whenever it is computed.
pub fn order_cancel(order: &Order) -> Option<LedgerEntry> {
    order.is_cancelled().then(|| LedgerEntry {
        entry_id: entry_id::cancel(&order.order_id),
        points: -cancelled(order.remaining_minor()),
    })
}

/// The reversal entry of an approved refund that takes points back.
pub fn refund_reversal(refund: &RefundDecision) -> Option<LedgerEntry> {
    (refund.status == DecisionStatus::Approved && refund.points_reversed != 0).then(|| {
        LedgerEntry {
            entry_id: entry_id::reverse(&refund.refund_id),
            points: -refund.points_reversed,
        }
    })
}

/// Every entry a customer's stored orders and refund decisions imply, sorted by id: what the
/// stream side writes, re-derived from state. Entries are written at most once by id, so
/// crediting the missing ones of this list repairs a ledger whose stream records were lost
/// (`loyalty-ledger`'s recovery), and crediting the present ones changes nothing.
/// Redemptions and adjustments are not here: they are committed with their decision, never
/// through the stream.
pub fn implied_entries(orders: &[Order], refunds: &[RefundDecision]) -> Vec<LedgerEntry> {
    let mut entries: Vec<LedgerEntry> = orders
        .iter()
        .flat_map(|order| std::iter::once(order_earn(order)).chain(order_cancel(order)))
        .chain(refunds.iter().filter_map(refund_reversal))
        .collect();
    entries.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
    entries
}

pub mod entry_id {
    pub fn earn(order_id: &str) -> String {
        format!("earn:{order_id}")
    }
    pub fn reverse(refund_id: &str) -> String {
        format!("reverse:{refund_id}")
    }
    pub fn cancel(order_id: &str) -> String {
        format!("cancel:{order_id}")
    }
    pub fn redeem(redemption_id: &str) -> String {
        format!("redeem:{redemption_id}")
    }
    pub fn adjust(adjustment_id: &str) -> String {
        format!("adjust:{adjustment_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_point_per_hundred_minor_units() {
        assert_eq!(earned(0), 0);
        assert_eq!(earned(99), 0);
        assert_eq!(earned(12_000), 120);
        assert_eq!(earned(15_597), 155);
    }

    #[test]
    fn a_debit_is_approved_only_when_covered_and_a_credit_always() {
        let key = EventKey::new(1, "e-1");
        let redeem = DebitRequest::of(
            &key,
            &LoyaltyEvent::PointsRedeemed {
                redemption_id: "x-1".into(),
                points: 50,
            },
        );
        assert_eq!(redeem.required_balance(), Some(50));
        assert_eq!(redeem.entry_id(), "redeem:x-1");
        assert_eq!(redeem.decide(true).status, DecisionStatus::Approved);
        assert_eq!(redeem.decide(false).status, DecisionStatus::Rejected);
        assert_eq!(redeem.decide(true).points, 50, "shown as sent");
        let credit = DebitRequest::of(
            &key,
            &LoyaltyEvent::PointsAdjusted {
                adjustment_id: "a-1".into(),
                points: 25,
                reason: "goodwill".into(),
            },
        );
        assert_eq!(credit.required_balance(), None);
        assert_eq!(credit.decide(false).status, DecisionStatus::Approved);
        assert_eq!(credit.decide(false).reason.as_deref(), Some("goodwill"));
    }

    proptest! {
        #[test]
        fn a_full_refund_in_any_split_gives_back_exactly_what_was_earned(
            total in 0u64..2_000_000,
            cuts in prop::collection::vec(0u64..2_000_000, 0..8),
        ) {
            let mut cuts: Vec<u64> = cuts.into_iter().map(|c| c % (total + 1)).collect();
            cuts.push(0);
            cuts.push(total);
            cuts.sort_unstable();
            let mut remaining = total;
            let mut given_back = 0;
            for pair in cuts.windows(2) {
                let amount = pair[1] - pair[0];
                given_back += reversed(remaining, amount);
                remaining -= amount;
            }
            prop_assert_eq!(remaining, 0);
            prop_assert_eq!(given_back, earned(total));
        }

        #[test]
        fn cancelling_after_partial_refunds_brings_the_order_to_zero(
            total in 0u64..2_000_000,
            refunds in prop::collection::vec(0u64..500_000, 0..5),
        ) {
            let mut remaining = total;
            let mut net = earned(total);
            for amount in refunds {
                let amount = amount.min(remaining);
                net -= reversed(remaining, amount);
                remaining -= amount;
            }
            net -= cancelled(remaining);
            prop_assert_eq!(net, 0);
        }

        #[test]
        fn reversals_never_exceed_what_is_left(before in 0u64..2_000_000, amount in 0u64..2_000_000) {
            let amount = amount.min(before);
            let r = reversed(before, amount);
            prop_assert!(r >= 0 && r <= earned(before));
        }
    }
}
