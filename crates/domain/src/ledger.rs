//! The merchant's ledger: money in (a successful charge credits its `net`) and money out (a refund debits
//! its amount). Entries are derived from a charge's change, never written by hand, so every entry points at
//! exactly one charge or one refund and the balance always equals
//! `Σ net of successful charges − Σ refunds` (checked by `tests/api/money.rs`).

use serde::{Deserialize, Serialize};

use crate::charge::{Charge, ChargeStatus};
use crate::clock::Timestamp;
use crate::id::{ChargeId, RefundId, TransactionId};
use crate::money::{Amount, Currency};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Credit,
    Debit,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        }
    }

    /// The entry's effect on the balance, in subunits.
    pub fn signed(self, amount: Amount) -> i64 {
        match self {
            Direction::Credit => amount.subunits(),
            Direction::Debit => -amount.subunits(),
        }
    }
}

/// What a ledger entry is about: exactly one charge or one refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Origin {
    Charge(ChargeId),
    Refund(RefundId),
}

impl Origin {
    pub fn id(&self) -> &str {
        match self {
            Origin::Charge(c) => c.as_str(),
            Origin::Refund(r) => r.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: TransactionId,
    pub direction: Direction,
    pub amount: Amount,
    pub currency: Currency,
    pub origin: Origin,
    pub created_at: Timestamp,
}

impl LedgerEntry {
    pub fn livemode(&self) -> bool {
        self.id.is_live()
    }
}

/// The entries a change of `before` into `after` books: a credit of `net` when the charge became
/// successful, and a debit per refund added.
pub fn entries_for_change(before: &Charge, after: &Charge) -> Vec<LedgerEntry> {
    let mut out = Vec::new();
    if let (ChargeStatus::Pending, ChargeStatus::Successful { transaction, paid_at }) = (&before.status, &after.status)
    {
        out.push(LedgerEntry {
            id: transaction.clone(),
            direction: Direction::Credit,
            amount: after.fees.net,
            currency: after.currency,
            origin: Origin::Charge(after.id.clone()),
            created_at: *paid_at,
        });
    }
    for r in after.refunds.iter().skip(before.refunds.len()) {
        out.push(LedgerEntry {
            id: r.transaction.clone(),
            direction: Direction::Debit,
            amount: r.amount,
            currency: after.currency,
            origin: Origin::Refund(r.id.clone()),
            created_at: r.created_at,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charge::tests::{pending_charge, t};
    use serde_json::Map;

    #[test]
    fn payment_credits_net_and_refunds_debit_their_amount() {
        let now = t("2024-05-01T03:00:00Z");
        let pending = pending_charge("alipay", 100_000, "THB", now);
        let mut paid = pending.clone();
        paid.pay(now).unwrap();
        let credit = entries_for_change(&pending, &paid);
        assert_eq!(credit.len(), 1);
        assert_eq!((credit[0].direction, credit[0].amount.subunits()), (Direction::Credit, 96_094));
        assert_eq!(credit[0].origin, Origin::Charge(paid.id.clone()));
        let mut refunded = paid.clone();
        refunded.refund(30_000, Map::new(), now).unwrap();
        let debit = entries_for_change(&paid, &refunded);
        assert_eq!(debit.len(), 1);
        assert_eq!((debit[0].direction, debit[0].amount.subunits()), (Direction::Debit, 30_000));
        assert!(matches!(debit[0].origin, Origin::Refund(_)));
        assert!(entries_for_change(&refunded, &refunded).is_empty());
    }

    #[test]
    fn failure_and_expiry_book_nothing() {
        let now = t("2024-05-01T03:00:00Z");
        let pending = pending_charge("alipay", 100_000, "THB", now);
        let mut failed = pending.clone();
        failed.fail(crate::FailureCode::PaymentRejected, now).unwrap();
        assert!(entries_for_change(&pending, &failed).is_empty());
        let mut expired = pending.clone();
        expired.expire(now).unwrap();
        assert!(entries_for_change(&pending, &expired).is_empty());
    }
}
