//! `GET /search`: Omise's Search API for the `charge` and `refund` scopes, as omise-python's
//! `Search.execute` and omise-node's `search.list` send it (`scope`, `query`, `filters[...]`, `page`,
//! `per_page`, `order`). Following Omise's "Search Query and Filters": results are newest first unless
//! `order=chronological`, 30 a page by default, amounts in filters are in major units (`filters[amount]=1000`
//! finds THB 1,000.00 = 100000 subunits; `1000..2000` is a range), booleans read `true`/`yes`/`on`/`1`,
//! `created` is a day (`2024-01-31`, UTC) or a range of days (`2024-01-01..2024-01-31`).
//!
//! Here the parameters become a [`SearchQuery`]; the stores answer it from their full-text indexes
//! ([`crate::store::search`]).

use axum::extract::State;
use satang_domain::{Currency, FailureCode, Timestamp};
use serde_json::{Map, Value};

use super::auth::SecretKey;
use super::error::ApiError;
use super::params::{Params, value_string};
use super::version::Reply;
use super::wire::charge::ChargeObject;
use super::wire::refund::RefundObject;
use super::wire::search::SearchObject;
use crate::app::AppState;
use crate::store::Order;
use crate::store::search::{SearchFilters, SearchQuery, query_words};

/// Results a page unless `per_page` says otherwise, and the most it may say.
pub const DEFAULT_PER_PAGE: u64 = 30;
pub const MAX_PER_PAGE: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Charge,
    Refund,
}

pub async fn search(State(app): State<AppState>, SecretKey(caller): SecretKey, p: Params) -> Result<Reply, ApiError> {
    let scope = match p.string("scope")?.as_deref() {
        Some("charge") => Scope::Charge,
        Some("refund") => Scope::Refund,
        None | Some("") => return Err(ApiError::bad_request("scope is required (charge or refund)")),
        Some(other) => {
            return Err(ApiError::bad_request(format!("scope {other} is not supported (use charge or refund)")));
        }
    };
    let query = p.string("query")?.unwrap_or_default();
    let filters = match p.get("filters") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) if s.is_empty() => Map::new(),
        Some(_) => return Err(ApiError::bad_request("filters must be an object (filters[status]=successful)")),
    };
    let page = match p.int("page")? {
        None => 1,
        Some(n) if n < 1 => return Err(ApiError::bad_request("page must be 1 or more")),
        Some(n) => n as u64,
    };
    let per_page = match p.int("per_page")? {
        None => DEFAULT_PER_PAGE,
        Some(n) if n < 1 => return Err(ApiError::bad_request("per_page must be 1 or more")),
        Some(n) => (n as u64).min(MAX_PER_PAGE),
    };
    let order = match p.string("order")?.as_deref() {
        None | Some("") | Some("reverse_chronological") => Order::ReverseChronological,
        Some("chronological") => Order::Chronological,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order {other} is not supported (use chronological or reverse_chronological)"
            )));
        }
    };
    let offset = (page - 1).checked_mul(per_page).ok_or_else(|| ApiError::bad_request("page is too large"))?;
    let q = SearchQuery {
        words: query_words(&query),
        filters: parse_filters(scope, &filters)?,
        order,
        offset,
        limit: per_page,
    };
    let (total, data) = match scope {
        Scope::Charge => {
            let found = app.store.search_charges(&caller.scope, &q).await?;
            let ctx = app.render_ctx(app.now());
            let data = found
                .items
                .iter()
                .map(|c| serde_json::to_value(ChargeObject::new(c, &ctx)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::internal(e.into()))?;
            (found.total, data)
        }
        Scope::Refund => {
            let found = app.store.search_refunds(&caller.scope, &q).await?;
            let data = found
                .items
                .iter()
                .map(|r| serde_json::to_value(RefundObject::from_record(r)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::internal(e.into()))?;
            (found.total, data)
        }
    };
    Reply::new(
        caller.version,
        &SearchObject {
            object: "search",
            order: order.as_str(),
            scope: match scope {
                Scope::Charge => "charge",
                Scope::Refund => "refund",
            },
            query,
            filters,
            page,
            per_page,
            location: "/search",
            total_pages: total.div_ceil(per_page),
            total,
            data,
        },
    )
}

/// Omise's filters of a scope into the store's; an unknown filter or a bad value is a `bad_request`
/// naming it, never a silent match-all.
fn parse_filters(scope: Scope, filters: &Map<String, Value>) -> Result<SearchFilters, ApiError> {
    let mut f = SearchFilters::default();
    let text = |key: &str| -> Result<String, ApiError> {
        let k = format!("filters[{key}]");
        Ok(value_string(&k, filters.get(key))?.unwrap_or_default().trim().to_string())
    };
    // The currency first: it gives the amount filter its unit.
    if filters.contains_key("currency") {
        let c = text("currency")?;
        f.currency = Some(
            c.parse::<Currency>()
                .map_err(|_| ApiError::bad_request(format!("filters[currency] {c} is not a supported currency")))?,
        );
    }
    for key in filters.keys() {
        let v = text(key)?;
        match (scope, key.as_str()) {
            (_, "currency") => {}
            (_, "amount") => {
                let exponent = f.currency.unwrap_or(Currency::Thb).exponent();
                let (lo, hi) = range(&v, |s| major_to_subunits(s, exponent), "filters[amount]")?;
                f.amount = Some((lo.unwrap_or(0), hi.unwrap_or(i64::MAX)));
            }
            (_, "created") => {
                let (lo, hi) = range(&v, day, "filters[created]")?;
                let lo = lo.map(|(start, _)| start).unwrap_or(Timestamp::EPOCH);
                let hi = hi.map(|(_, end)| end).unwrap_or(Timestamp::from_unix(i64::MAX / 2));
                f.created = Some((lo, hi));
            }
            (Scope::Charge, "status") => match v.as_str() {
                "pending" | "successful" | "failed" | "expired" => f.status = Some(v),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "filters[status] {v} is not a charge status (pending, successful, failed or expired)"
                    )));
                }
            },
            (Scope::Charge, "captured" | "authorized" | "paid") => f.successful = Some(boolean(key, &v)?),
            (Scope::Charge, "refunded") => f.refunded = Some(boolean(key, &v)?),
            (Scope::Charge, "source_type" | "source_of_fund" | "type") => f.source_type = Some(v),
            (Scope::Charge, "failure_code") => {
                FailureCode::parse(&v)
                    .ok_or_else(|| ApiError::bad_request(format!("filters[failure_code] {v} is not a failure code")))?;
                f.failure_code = Some(v);
            }
            (Scope::Refund, "charge") => f.charge = Some(v),
            (_, other) => {
                let scope = if scope == Scope::Charge { "charge" } else { "refund" };
                return Err(ApiError::bad_request(format!("filters[{other}] is not supported for scope {scope}")));
            }
        }
    }
    Ok(f)
}

/// `a`, `a..b`, `a..` or `..b`, each bound read by `parse`; a single value is both bounds.
#[allow(clippy::type_complexity)]
fn range<T: Clone>(v: &str, parse: impl Fn(&str) -> Option<T>, name: &str) -> Result<(Option<T>, Option<T>), ApiError> {
    let bad = || ApiError::bad_request(format!("{name} {v} is not a value or a range (a..b)"));
    match v.split_once("..") {
        None => {
            let x = parse(v).ok_or_else(bad)?;
            Ok((Some(x.clone()), Some(x)))
        }
        Some((a, b)) => {
            let bound = |s: &str| if s.is_empty() { Ok(None) } else { parse(s).map(Some).ok_or_else(bad) };
            let (a, b) = (bound(a.trim())?, bound(b.trim())?);
            if a.is_none() && b.is_none() {
                return Err(bad());
            }
            Ok((a, b))
        }
    }
}

/// A decimal amount in major units (`1000`, `10.5`) in subunits, if it has no more decimals than the
/// currency has subunit digits.
pub fn major_to_subunits(s: &str, exponent: u32) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > exponent as usize {
        return None;
    }
    let scale = 10i64.checked_pow(exponent)?;
    let frac_value =
        if frac.is_empty() { 0 } else { frac.parse::<i64>().ok()? * 10i64.pow(exponent - frac.len() as u32) };
    int.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(frac_value)
}

/// A day (`2024-01-31`, UTC) as its first and last second; a full ISO 8601 date-time is that instant.
fn day(s: &str) -> Option<(Timestamp, Timestamp)> {
    if s.len() == 10 {
        let start = Timestamp::parse(&format!("{s}T00:00:00Z")).ok()?;
        Some((start, Timestamp::from_unix(start.unix() + 86_399)))
    } else {
        let t = Timestamp::parse(s).ok()?;
        Some((t, t))
    }
}

fn boolean(key: &str, v: &str) -> Result<bool, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!("filters[{key}] {v} is not a boolean (true or false)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_major_units() {
        assert_eq!(major_to_subunits("1000", 2), Some(100_000));
        assert_eq!(major_to_subunits("10.5", 2), Some(1_050));
        assert_eq!(major_to_subunits("10.55", 2), Some(1_055));
        assert_eq!(major_to_subunits("10.555", 2), None);
        assert_eq!(major_to_subunits("500", 0), Some(500));
        assert_eq!(major_to_subunits("-1", 2), None);
        assert_eq!(major_to_subunits("99999999999999999999", 2), None);
    }

    #[test]
    fn ranges_take_open_ends() {
        let p = |s: &str| s.parse::<i64>().ok();
        assert_eq!(range("5", p, "x").unwrap(), (Some(5), Some(5)));
        assert_eq!(range("5..9", p, "x").unwrap(), (Some(5), Some(9)));
        assert_eq!(range("..9", p, "x").unwrap(), (None, Some(9)));
        assert!(range("..", p, "x").is_err());
        assert!(range("a..9", p, "x").is_err());
    }

    #[test]
    fn a_day_is_all_of_it() {
        let (a, b) = day("1970-01-02").unwrap();
        assert_eq!((a.unix(), b.unix()), (86_400, 172_799));
        assert!(day("1970-13-02").is_none());
    }
}
