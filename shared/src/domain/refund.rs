//! The refund decision (contract §3, Refunds).
//!
//! Decided once per `refund_id`, at first processing, against the order as it is then:
//! **approved** when the order is the requester's, is not cancelled, and every line's quantity is
//! at most purchased − already refunded for that SKU; otherwise **rejected** with the first
//! failing check in the contract's order: `wrong_customer`, `order_cancelled`, `unknown_sku`,
//! `exceeds_refundable_quantity`. The store applies an approval atomically with the order's
//! refunded quantities, conditional on the order being unchanged since it was read, so two
//! racing refunds can never together refund more than was bought.
//!
//! [`decide`] returns the whole outcome (wait for the order, the rejection to store, or the
//! approval with the order after it); the function commits it and, on a lost race, decides again.

use super::loyalty;
use super::order::{Order, PurchasedLine};
pub use crate::contract::view::DecisionStatus;
use crate::contract::{Channel, CustomerEvent, ReasonCode, RefundLine, RefundRequested};
use serde::{Deserialize, Serialize};

/// A refund decision, kept in the requester's partition; never changed once made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundDecision {
    pub refund_id: String,
    pub order_id: String,
    /// Whose order it is (differs from the requester only for `wrong_customer`).
    pub order_customer_id: String,
    pub channel: Channel,
    /// The `refund.requested` event that was decided.
    pub decided_by: crate::contract::EventKey,
    pub status: DecisionStatus,
    pub amount_minor: u64,
    #[serde(default)]
    pub reason_code: Option<ReasonCode>,
    pub lines: Vec<RefundLine>,
    /// Loyalty points the approval takes back (`reverse:<refund_id>`); 0 when rejected.
    pub points_reversed: i64,
}

/// The order a refund names, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderFound {
    /// The order has not arrived yet.
    NotYet,
    /// The order, and the customer it belongs to.
    Of {
        customer_id: String,
        order: Box<Order>,
    },
}

/// What a refund request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Its order has not arrived: nothing is decided yet.
    WaitForOrder,
    /// Rejected: store the decision on its own.
    Rejected(RefundDecision),
    /// Approved: store the decision together with the order as it is after the refund.
    Approved {
        decision: RefundDecision,
        order_after: Box<Order>,
    },
}

/// Decides `request` against the order as it is now.
pub fn decide(request: &CustomerEvent<RefundRequested>, found: OrderFound) -> RefundOutcome {
    let OrderFound::Of { customer_id, order } = found else {
        return RefundOutcome::WaitForOrder;
    };
    let refund = &request.payload;
    let decision = |status, reason_code, amount_minor, points_reversed| RefundDecision {
        refund_id: refund.refund_id.clone(),
        order_id: refund.order_id.clone(),
        order_customer_id: customer_id.clone(),
        channel: request.channel,
        decided_by: request.key.clone(),
        status,
        amount_minor,
        reason_code,
        lines: refund.lines.clone(),
        points_reversed,
    };
    let view = OrderForRefund {
        customer_id: &customer_id,
        cancelled: order.is_cancelled(),
        total_minor: order.total_minor,
        lines: &order.lines,
    };
    match check(&request.customer_id, view, &refund.lines) {
        Decision::Rejected(reason) => {
            RefundOutcome::Rejected(decision(DecisionStatus::Rejected, Some(reason), 0, 0))
        }
        Decision::Approved(approval) => RefundOutcome::Approved {
            decision: decision(
                DecisionStatus::Approved,
                None,
                approval.amount_minor,
                approval.points_reversed,
            ),
            order_after: Box::new(Order {
                lines: approval.lines_after,
                ..*order
            }),
        },
    }
}

/// The order as the refund checks need it.
#[derive(Debug, Clone, Copy)]
pub struct OrderForRefund<'a> {
    pub customer_id: &'a str,
    pub cancelled: bool,
    pub total_minor: u64,
    pub lines: &'a [PurchasedLine],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approved(Approval),
    Rejected(ReasonCode),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub amount_minor: u64,
    /// The order's lines with their refunded quantities grown by this refund.
    pub lines_after: Vec<PurchasedLine>,
    /// The loyalty points this refund takes back (`reverse:<refund_id>`), ≥ 0.
    pub points_reversed: i64,
}

/// The contract's checks, in its order, for a refund of `lines` requested by `requester`.
pub fn check(requester: &str, order: OrderForRefund<'_>, lines: &[RefundLine]) -> Decision {
    if requester != order.customer_id {
        return Decision::Rejected(ReasonCode::WrongCustomer);
    }
    if order.cancelled {
        return Decision::Rejected(ReasonCode::OrderCancelled);
    }
    let find = |sku: &str| order.lines.iter().position(|l| l.sku == sku);
    if lines.iter().any(|line| find(&line.sku).is_none()) {
        return Decision::Rejected(ReasonCode::UnknownSku);
    }
    let mut lines_after = order.lines.to_vec();
    let mut amount_minor = 0;
    for line in lines {
        let Some(index) = find(&line.sku) else {
            return Decision::Rejected(ReasonCode::UnknownSku);
        };
        let purchased = &mut lines_after[index];
        let refundable = purchased
            .quantity
            .saturating_sub(purchased.refunded_quantity);
        if line.quantity > refundable {
            return Decision::Rejected(ReasonCode::ExceedsRefundableQuantity);
        }
        purchased.refunded_quantity += line.quantity;
        amount_minor += u64::from(line.quantity) * purchased.unit_price_minor;
    }
    let refunded_before: u64 = order
        .lines
        .iter()
        .map(|l| u64::from(l.refunded_quantity) * l.unit_price_minor)
        .sum();
    let remaining_before = order.total_minor.saturating_sub(refunded_before);
    Decision::Approved(Approval {
        amount_minor,
        lines_after,
        points_reversed: loyalty::reversed(remaining_before, amount_minor),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(sku: &str, quantity: u32, price: u64, refunded: u32) -> PurchasedLine {
        PurchasedLine {
            sku: sku.into(),
            quantity,
            unit_price_minor: price,
            refunded_quantity: refunded,
        }
    }

    fn ask(sku: &str, quantity: u32) -> RefundLine {
        RefundLine {
            sku: sku.into(),
            quantity,
        }
    }

    fn order(lines: &[PurchasedLine], cancelled: bool) -> OrderForRefund<'_> {
        OrderForRefund {
            customer_id: "c-1",
            cancelled,
            total_minor: lines
                .iter()
                .map(|l| u64::from(l.quantity) * l.unit_price_minor)
                .sum(),
            lines,
        }
    }

    #[test]
    fn checks_run_in_the_contract_order() {
        let lines = [line("A", 2, 6000, 2)];
        // Everything is wrong at once: the first check decides.
        let all_wrong = [ask("B", 9)];
        assert_eq!(
            check("c-2", order(&lines, true), &all_wrong),
            Decision::Rejected(ReasonCode::WrongCustomer)
        );
        assert_eq!(
            check("c-1", order(&lines, true), &all_wrong),
            Decision::Rejected(ReasonCode::OrderCancelled)
        );
        assert_eq!(
            check("c-1", order(&lines, false), &[ask("A", 1), ask("B", 1)]),
            Decision::Rejected(ReasonCode::UnknownSku),
            "an unknown SKU is reported even if an earlier line exceeds"
        );
        assert_eq!(
            check("c-1", order(&lines, false), &[ask("A", 1)]),
            Decision::Rejected(ReasonCode::ExceedsRefundableQuantity)
        );
    }

    #[test]
    fn an_approval_grows_the_refunded_quantities_and_prices_the_refund() {
        let lines = [line("A", 2, 6000, 0), line("B", 1, 999, 0)];
        let Decision::Approved(approval) = check("c-1", order(&lines, false), &[ask("A", 1)])
        else {
            panic!("expected an approval");
        };
        assert_eq!(approval.amount_minor, 6000);
        assert_eq!(approval.lines_after[0].refunded_quantity, 1);
        assert_eq!(approval.lines_after[1].refunded_quantity, 0);
        // 12999 → 6999: 129 → 69 points.
        assert_eq!(approval.points_reversed, 60);
    }

    proptest! {
        #[test]
        fn approved_refunds_never_exceed_what_was_bought(
            quantities in prop::collection::vec(1u32..5, 1..4),
            requests in prop::collection::vec((0usize..4, 1u32..4), 0..12),
        ) {
            let skus = ["A", "B", "C", "D"];
            let mut lines: Vec<PurchasedLine> =
                quantities.iter().enumerate().map(|(i, q)| line(skus[i], *q, 100, 0)).collect();
            let total: u64 = lines.iter().map(|l| u64::from(l.quantity) * 100).sum();
            let mut refunded_minor = 0;
            let mut points = 0;
            for (sku, quantity) in requests {
                let request = [ask(skus[sku], quantity)];
                let view = OrderForRefund { customer_id: "c-1", cancelled: false, total_minor: total, lines: &lines };
                if let Decision::Approved(approval) = check("c-1", view, &request) {
                    refunded_minor += approval.amount_minor;
                    points += approval.points_reversed;
                    lines = approval.lines_after;
                }
            }
            prop_assert!(lines.iter().all(|l| l.refunded_quantity <= l.quantity));
            prop_assert!(refunded_minor <= total);
            prop_assert!(points <= loyalty::earned(total));
        }
    }
}
