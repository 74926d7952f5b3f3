//! The refund object (omise-wire.md §4.3, fixture F4).

use serde::Serialize;
use serde_json::{Map, Value};

use satang_domain::{ChargeId, Currency, Refund};

use super::{Concat, Iso};
use crate::store::RefundRecord;

#[derive(Debug, Serialize)]
pub struct RefundObject<'a> {
    object: &'static str,
    id: &'a str,
    location: Concat<'a, 4>,
    livemode: bool,
    /// [INF] satang has no settlement cut-off to void before, so refunds are never voids.
    voided: bool,
    currency: &'static str,
    amount: i64,
    metadata: &'a Map<String, Value>,
    charge: &'a str,
    capture: Option<()>,
    terminal: Option<()>,
    transaction: &'a str,
    /// Always `closed`: the only value Java's `RefundStatus` knows (omise-wire.md §2.2).
    status: &'static str,
    funding_amount: i64,
    funding_currency: &'static str,
    created_at: Iso,
    acquirer_reference_number: Option<()>,
    approval_code: Option<()>,
}

impl<'a> RefundObject<'a> {
    pub fn new(charge: &'a ChargeId, currency: Currency, r: &'a Refund) -> Self {
        RefundObject {
            object: "refund",
            id: r.id.as_str(),
            location: Concat(["/charges/", charge.as_str(), "/refunds/", r.id.as_str()]),
            livemode: r.id.is_live(),
            voided: false,
            currency: currency.code(),
            amount: r.amount.subunits(),
            metadata: &r.metadata,
            charge: charge.as_str(),
            capture: None,
            terminal: None,
            transaction: r.transaction.as_str(),
            status: "closed",
            funding_amount: r.amount.subunits(),
            funding_currency: currency.code(),
            created_at: Iso(r.created_at),
            acquirer_reference_number: None,
            approval_code: None,
        }
    }

    pub fn from_record(rec: &'a RefundRecord) -> Self {
        Self::new(&rec.charge, rec.currency, &rec.refund)
    }
}
