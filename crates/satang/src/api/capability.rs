//! `GET /capability` (omise-wire.md §4.8): what this gateway accepts, read from the payment-method
//! registry. Either key works; omise-node and omise-python send the public key.
//!
//! `limits.charge_amount` is in the account's currency ([`super::account::ACCOUNT_CURRENCY`]) and is the
//! range *every* method taking that currency accepts (the largest minimum, the smallest maximum). That is
//! what omise-php's `filterPaymentMethodChargeAmount` (under WooCommerce and Magento checkouts) filters every
//! method by, so a cart it lets through is never refused at charge creation: a THB 15 cart is not offered
//! Alipay, whose minimum is THB 20. Each method's own per-currency range is in its `limits` (beyond Omise).
//! `limits.installment_amount` is present because omise-php reads it on every filter; satang offers no
//! installment methods, so it only mirrors the charge range.

use axum::extract::State;
use satang_domain::REGISTRY;
use serde::Serialize;

use super::auth::AnyKey;
use super::error::ApiError;
use super::version::Reply;
use crate::app::AppState;

#[derive(Serialize)]
struct MinMax {
    min: i64,
    max: i64,
}

#[derive(Serialize)]
struct Limits {
    charge_amount: MinMax,
    installment_amount: MinMax,
}

#[derive(Serialize)]
struct PaymentMethodObject {
    object: &'static str,
    name: &'static str,
    currencies: Vec<&'static str>,
    card_brands: Option<()>,
    installment_terms: Option<()>,
    banks: [(); 0],
    /// Beyond Omise: per-currency limits, from the registry.
    limits: Vec<CurrencyLimitObject>,
}

#[derive(Serialize)]
struct CurrencyLimitObject {
    currency: &'static str,
    min: i64,
    max: i64,
}

#[derive(Serialize)]
struct CapabilityObject {
    object: &'static str,
    location: &'static str,
    country: &'static str,
    banks: [(); 0],
    limits: Limits,
    payment_methods: Vec<PaymentMethodObject>,
    tokenization_methods: [(); 0],
    zero_interest_installments: bool,
}

/// The amounts every method that takes `currency` accepts.
pub fn charge_range(currency: satang_domain::Currency) -> (i64, i64) {
    let limits = REGISTRY.iter().flat_map(|m| m.currencies.iter()).filter(|l| l.currency == currency);
    let min = limits.clone().map(|l| l.min).max().unwrap_or(0);
    let max = limits.map(|l| l.max).min().unwrap_or(0);
    (min, max)
}

pub async fn retrieve_capability(State(_app): State<AppState>, AnyKey(caller): AnyKey) -> Result<Reply, ApiError> {
    let (min, max) = charge_range(super::account::ACCOUNT_CURRENCY);
    let cap = CapabilityObject {
        object: "capability",
        location: "/capability",
        country: super::account::ACCOUNT_COUNTRY,
        banks: [],
        limits: Limits { charge_amount: MinMax { min, max }, installment_amount: MinMax { min, max } },
        payment_methods: REGISTRY
            .iter()
            .map(|m| PaymentMethodObject {
                object: "payment_method",
                name: m.name,
                currencies: m.currencies.iter().map(|l| l.currency.code()).collect(),
                card_brands: None,
                installment_terms: None,
                banks: [],
                limits: m
                    .currencies
                    .iter()
                    .map(|l| CurrencyLimitObject { currency: l.currency.code(), min: l.min, max: l.max })
                    .collect(),
            })
            .collect(),
        tokenization_methods: [],
        zero_interest_installments: false,
    };
    Reply::new(caller.version, &cap)
}
