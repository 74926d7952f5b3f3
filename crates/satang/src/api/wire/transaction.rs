//! The transaction (ledger entry) and balance objects (Omise's `transaction` and `balance`).

use serde::Serialize;

use satang_domain::{Currency, LedgerEntry, Origin};

use crate::store::Balance;

#[derive(Debug, Serialize)]
pub struct TransactionObject<'a> {
    object: &'static str,
    id: &'a str,
    livemode: bool,
    location: String,
    /// `credit` (a payment's net) or `debit` (a refund).
    #[serde(rename = "type")]
    kind: &'static str,
    /// The same as `type`, under the name newer Omise versions use.
    direction: &'static str,
    /// What booked it: `charge.payment` or `refund`.
    key: &'static str,
    amount: i64,
    currency: &'static str,
    /// The charge or refund the entry is for.
    source: &'a str,
    origin: &'a str,
    /// [INF] satang holds no funds back, so an entry is transferable when booked.
    transferable_at: String,
    created_at: String,
}

impl<'a> TransactionObject<'a> {
    pub fn new(e: &'a LedgerEntry) -> Self {
        let key = match e.origin {
            Origin::Charge(_) => "charge.payment",
            Origin::Refund(_) => "refund",
        };
        TransactionObject {
            object: "transaction",
            id: e.id.as_str(),
            livemode: e.livemode(),
            location: format!("/transactions/{}", e.id),
            kind: e.direction.as_str(),
            direction: e.direction.as_str(),
            key,
            amount: e.amount.subunits(),
            currency: e.currency.code(),
            source: e.origin.id(),
            origin: e.origin.id(),
            transferable_at: e.created_at.iso(),
            created_at: e.created_at.iso(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CurrencyBalance {
    currency: &'static str,
    total: i64,
    transferable: i64,
    reserve: i64,
}

/// `GET /balance`: Omise's single-currency shape for the account's main currency, plus `balances`, one per
/// currency the account has booked (an Alipay HK account may take both SGD and THB).
#[derive(Debug, Serialize)]
pub struct BalanceObject {
    object: &'static str,
    livemode: bool,
    location: &'static str,
    currency: &'static str,
    total: i64,
    transferable: i64,
    reserve: i64,
    balances: Vec<CurrencyBalance>,
    created_at: String,
}

impl BalanceObject {
    /// `main` is the currency shown at the top level when the account has several (or none yet).
    pub fn new(livemode: bool, balances: &[Balance], main: Currency, now: satang_domain::Timestamp) -> Self {
        let per: Vec<CurrencyBalance> = balances
            .iter()
            .map(|b| CurrencyBalance { currency: b.currency.code(), total: b.total, transferable: b.total, reserve: 0 })
            .collect();
        let top = balances.iter().find(|b| b.currency == main).map(|b| b.total).unwrap_or(0);
        BalanceObject {
            object: "balance",
            livemode,
            location: "/balance",
            currency: main.code(),
            total: top,
            transferable: top,
            reserve: 0,
            balances: per,
            created_at: now.iso(),
        }
    }
}
