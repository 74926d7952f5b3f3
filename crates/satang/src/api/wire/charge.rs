//! The charge object (omise-wire.md §4.2 and §5.1; key order from fixture F3 and seed 000's example).
//!
//! Every boolean flag is derived from [`ChargeStatus`] here, following §5.1's table: a successful charge is
//! `authorized` and `paid`; a failed or pending one neither; an expired one `expired`. `capture` is always
//! true for wallet charges (java sends `capture:false` by default; it is ignored, §2.1).

use serde::Serialize;
use serde_json::{Map, Value};

use satang_domain::{Charge, ChargeStatus};

use super::refund::RefundObject;
use super::source::SourceObject;
use satang_domain::Timestamp;

use super::{Concat, Iso, ListObject, MajorDecimal, RenderCtx, Shown, iso};

#[derive(Debug, Serialize)]
pub struct TransactionFees {
    pub fee_flat: MajorDecimal,
    pub fee_rate: Shown<satang_domain::Percent>,
    pub vat_rate: Shown<satang_domain::Percent>,
}

#[derive(Debug, Serialize)]
struct PlatformFee {
    fixed: Option<()>,
    amount: Option<()>,
    percentage: Option<()>,
}

#[derive(Debug, Serialize)]
pub struct ChargeObject<'a> {
    object: &'static str,
    id: &'a str,
    location: Concat<'a, 2>,
    amount: i64,
    acquirer_reference_number: Option<()>,
    net: i64,
    fee: i64,
    fee_vat: i64,
    interest: i64,
    interest_vat: i64,
    funding_amount: i64,
    refunded_amount: i64,
    transaction_fees: TransactionFees,
    platform_fee: PlatformFee,
    currency: &'static str,
    funding_currency: &'static str,
    ip: Option<&'a str>,
    refunds: ListObject<RefundObject<'a>, Concat<'a, 3>>,
    link: Option<()>,
    description: Option<&'a str>,
    metadata: &'a Map<String, Value>,
    card: Option<()>,
    source: SourceObject<'a>,
    schedule: Option<()>,
    linked_account: Option<()>,
    customer: Option<()>,
    dispute: Option<()>,
    transaction: Option<&'a str>,
    failure_code: Option<&'static str>,
    failure_message: Option<&'static str>,
    merchant_advice: Option<()>,
    merchant_advice_code: Option<()>,
    status: &'static str,
    authorize_uri: Concat<'a, 5>,
    return_uri: Option<&'a str>,
    created_at: Iso,
    paid_at: Option<Iso>,
    authorized_at: Option<Iso>,
    expires_at: Iso,
    expired_at: Option<Iso>,
    reversed_at: Option<()>,
    multi_capture: bool,
    zero_interest_installments: bool,
    branch: Option<()>,
    terminal: Option<()>,
    device: Option<()>,
    authorized: bool,
    capturable: bool,
    capture: bool,
    disputable: bool,
    livemode: bool,
    refundable: bool,
    partially_refundable: bool,
    reversed: bool,
    reversible: bool,
    voided: bool,
    paid: bool,
    expired: bool,
    can_perform_void: bool,
    approval_code: Option<()>,
}

/// The payer's page for a charge: `<public-url>/pay/<charge id>/<token>` (`.to_string()` for a `String`).
pub fn authorize_uri<'a>(public_url: &'a str, c: &'a Charge) -> Concat<'a, 5> {
    Concat([public_url.trim_end_matches('/'), "/pay/", c.id.as_str(), "/", &c.authorize_token])
}

impl<'a> ChargeObject<'a> {
    pub fn new(c: &'a Charge, ctx: &RenderCtx<'a>) -> Self {
        let (transaction, paid_at, failure, expired_at) = match &c.status {
            ChargeStatus::Pending => (None, None, None, None),
            ChargeStatus::Successful { transaction, paid_at } => {
                (Some(transaction.as_str()), Some(*paid_at), None, None)
            }
            ChargeStatus::Failed { failure_code, .. } => (None, None, Some(*failure_code), None),
            ChargeStatus::Expired { expired_at } => (None, None, None, Some(*expired_at)),
        };
        let paid = paid_at.is_some();
        let refundable = c.refundable(ctx.now);
        let schedule = &c.fees.schedule;
        ChargeObject {
            object: "charge",
            id: c.id.as_str(),
            location: Concat(["/charges/", c.id.as_str()]),
            amount: c.amount.subunits(),
            acquirer_reference_number: None,
            net: c.fees.net.subunits(),
            fee: c.fees.fee.subunits(),
            fee_vat: c.fees.fee_vat.subunits(),
            interest: 0,
            interest_vat: 0,
            funding_amount: c.amount.subunits(),
            refunded_amount: c.refunded_amount().subunits(),
            transaction_fees: TransactionFees {
                fee_flat: MajorDecimal(c.currency, schedule.flat),
                fee_rate: Shown(schedule.rate),
                vat_rate: Shown(schedule.vat_rate),
            },
            platform_fee: PlatformFee { fixed: None, amount: None, percentage: None },
            currency: c.currency.code(),
            funding_currency: c.currency.code(),
            ip: c.ip.as_deref(),
            refunds: ListObject {
                object: "list",
                data: c.refunds.iter().map(|r| RefundObject::new(&c.id, c.currency, r)).collect(),
                limit: 20,
                offset: 0,
                total: c.refunds.len() as u64,
                location: Concat(["/charges/", c.id.as_str(), "/refunds"]),
                order: "chronological",
                from: Iso(Timestamp::from_unix(0)),
                to: Iso(ctx.now),
            },
            link: None,
            description: c.description.as_deref(),
            metadata: &c.metadata,
            card: None,
            source: SourceObject::new(&c.source, Some(c.status.name())),
            schedule: None,
            linked_account: None,
            customer: None,
            dispute: None,
            transaction,
            failure_code: failure.map(|f| f.as_str()),
            failure_message: failure.map(|f| f.message()),
            merchant_advice: None,
            merchant_advice_code: None,
            status: c.status.name(),
            authorize_uri: authorize_uri(ctx.public_url, c),
            return_uri: c.return_uri.as_deref(),
            created_at: Iso(c.created_at),
            paid_at: iso(paid_at),
            authorized_at: iso(paid_at),
            expires_at: Iso(c.expires_at),
            expired_at: iso(expired_at),
            reversed_at: None,
            multi_capture: false,
            zero_interest_installments: false,
            branch: None,
            terminal: None,
            device: None,
            authorized: paid,
            capturable: false,
            capture: true,
            disputable: false,
            livemode: c.livemode(),
            refundable,
            partially_refundable: refundable,
            reversed: false,
            reversible: false,
            voided: false,
            paid,
            expired: expired_at.is_some(),
            can_perform_void: false,
            approval_code: None,
        }
    }
}
