//! `GET /capability` (omise-wire.md §4.8): what this gateway accepts, read from the payment-method
//! registry. Either key works; omise-node and omise-python send the public key.

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
    banks: [(); 0],
    limits: Limits,
    payment_methods: Vec<PaymentMethodObject>,
    tokenization_methods: [(); 0],
    zero_interest_installments: bool,
}

pub async fn retrieve_capability(State(_app): State<AppState>, AnyKey(caller): AnyKey) -> Result<Reply, ApiError> {
    let all = REGISTRY.iter().flat_map(|m| m.currencies.iter());
    let min = all.clone().map(|l| l.min).min().unwrap_or(0);
    let max = all.map(|l| l.max).max().unwrap_or(0);
    let cap = CapabilityObject {
        object: "capability",
        location: "/capability",
        banks: [],
        limits: Limits { charge_amount: MinMax { min, max } },
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
