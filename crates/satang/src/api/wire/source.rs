//! The source object (omise-wire.md §4.1; seed 000's example gives the key order).

use serde::Serialize;
use serde_json::Value;

use satang_domain::Source;

use super::{Concat, Iso};

#[derive(Debug, Serialize)]
pub struct SourceObject<'a> {
    object: &'static str,
    id: &'a str,
    livemode: bool,
    location: Concat<'a, 2>,
    amount: i64,
    barcode: Option<()>,
    bank: Option<()>,
    created_at: Iso,
    currency: &'static str,
    email: Option<&'a str>,
    flow: &'static str,
    installment_term: Option<()>,
    ip: Option<&'a str>,
    absorption_type: Option<()>,
    name: Option<&'a str>,
    mobile_number: Option<&'a str>,
    phone_number: Option<&'a str>,
    platform_type: Option<&'static str>,
    scannable_code: Option<()>,
    qr_settings: Option<()>,
    billing: Option<&'a Value>,
    shipping: Option<&'a Value>,
    items: &'a [Value],
    references: Option<()>,
    provider_references: Option<()>,
    store_id: Option<()>,
    store_name: Option<()>,
    terminal_id: Option<()>,
    #[serde(rename = "type")]
    kind: &'static str,
    zero_interest_installments: Option<()>,
    /// The status of the charge that used the source, or `unknown` before one did.
    charge_status: &'a str,
    receipt_amount: Option<()>,
    discounts: [(); 0],
    promotion_code: Option<&'a str>,
}

impl<'a> SourceObject<'a> {
    pub fn new(s: &'a Source, charge_status: Option<&'a str>) -> Self {
        let d = &s.details;
        SourceObject {
            object: "source",
            id: s.id.as_str(),
            livemode: s.livemode(),
            location: Concat(["/sources/", s.id.as_str()]),
            amount: s.amount.subunits(),
            barcode: None,
            bank: None,
            created_at: Iso(s.created_at),
            currency: s.currency.code(),
            email: d.email.as_deref(),
            flow: s.method.flow.as_str(),
            installment_term: None,
            ip: d.ip.as_deref(),
            absorption_type: None,
            name: d.name.as_deref(),
            mobile_number: d.mobile_number.as_deref(),
            phone_number: d.phone_number.as_deref(),
            platform_type: s.platform_type.map(|p| p.as_str()),
            scannable_code: None,
            qr_settings: None,
            billing: d.billing.as_ref(),
            shipping: d.shipping.as_ref(),
            items: &d.items,
            references: None,
            provider_references: None,
            store_id: None,
            store_name: None,
            terminal_id: None,
            kind: s.method.name,
            zero_interest_installments: None,
            charge_status: charge_status.unwrap_or("unknown"),
            receipt_amount: None,
            discounts: [],
            promotion_code: d.promotion_code.as_deref(),
        }
    }
}
