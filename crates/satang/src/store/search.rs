//! What a search asks of a store (`GET /search`, and the dashboard's search box): words to find, filters,
//! and a page. The API layer ([`crate::api::search`]) turns Omise's parameters into a [`SearchQuery`];
//! each store answers it from its full-text index, written in the same transaction as the charge (SQLite:
//! an FTS5 table written at the end of each write batch, `store/sqlite/search.rs`; PostgreSQL: a `tsvector`
//! column with a GIN index, computed from [`charge_text`] in the charge's own statement), so a charge is
//! found the moment it is acknowledged.
//!
//! A charge's searchable text is its ID, description, metadata values and source type. Each query word
//! must appear in it as a whole token sequence (`chrg_test_5x` matches the ID, `order` does not match
//! `order123`); words are ANDed.
//!
//! The dashboard's charge list asks the same words and filters as a [`Browse`]: a page that starts after a
//! cursor (a charge of the list) instead of at an offset, and a count that stops at a cap, so its cost does
//! not grow with the number of charges before the page (see [`crate::dashboard`]).

use satang_domain::{Charge, ChargeId, Currency, Timestamp};
use serde_json::Value;

use super::Order;

/// A search of one scope (charges or refunds) of the caller's account and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words that must all appear (already stripped of words with no letter or digit).
    pub words: Vec<String>,
    pub filters: SearchFilters,
    pub order: Order,
    pub offset: u64,
    pub limit: u64,
}

/// The filters a store applies; `None` is no condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    /// `pending`, `successful`, `failed` or `expired` (charges).
    pub status: Option<String>,
    /// Whether the charge is (or is not) successful: Omise's `captured`, `authorized` and `paid`.
    pub successful: Option<bool>,
    /// Whether the charge has any refund.
    pub refunded: Option<bool>,
    /// Inclusive bounds, in subunits.
    pub amount: Option<(i64, i64)>,
    pub currency: Option<Currency>,
    /// Inclusive bounds.
    pub created: Option<(Timestamp, Timestamp)>,
    /// The source type (`promptpay`, `alipay_hk`, …).
    pub source_type: Option<String>,
    pub failure_code: Option<String>,
    /// Refunds of this charge only (refunds).
    pub charge: Option<String>,
}

/// A page of the dashboard's charge list, newest first: the charges matching `words` and `filters` just
/// older (or newer) than the cursor's charge, in (created_at, insertion) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Browse {
    pub words: Vec<String>,
    pub filters: SearchFilters,
    /// Where the page starts; `None` is the newest charges.
    pub cursor: Option<Cursor>,
    pub limit: u64,
    /// Count the matches up to this many (0: do not count).
    pub count_up_to: u64,
}

/// A position in the list: a charge of the caller's scope. A charge the scope does not have is no
/// position, and the page starts at the newest charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// The charges older than this one.
    Older(ChargeId),
    /// The charges newer than this one (the page nearest to it).
    Newer(ChargeId),
}

/// What a [`Browse`] found.
#[derive(Debug, Clone)]
pub struct Browsed<T> {
    /// Newest first.
    pub items: Vec<T>,
    /// Whether more charges match beyond the page in the direction it was read (older for
    /// [`Cursor::Older`] and the first page, newer for [`Cursor::Newer`]).
    pub more: bool,
    /// The matches, counted up to `count_up_to`.
    pub count: u64,
    /// Whether the cursor was a charge of the scope (else the page is the newest).
    pub cursor_found: bool,
}

/// A charge's searchable text: its ID, description, the string and number values of its metadata (nested
/// ones too, keys not), and its source type, separated by spaces.
pub fn charge_text(c: &Charge) -> String {
    fn values(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push(' ');
                out.push_str(s);
            }
            Value::Number(n) => {
                out.push(' ');
                out.push_str(&n.to_string());
            }
            Value::Array(a) => a.iter().for_each(|v| values(v, out)),
            Value::Object(m) => m.values().for_each(|v| values(v, out)),
            Value::Null | Value::Bool(_) => {}
        }
    }
    let mut out = String::with_capacity(64);
    out.push_str(c.id.as_str());
    if let Some(d) = &c.description {
        out.push(' ');
        out.push_str(d);
    }
    c.metadata.values().for_each(|v| values(v, &mut out));
    out.push(' ');
    out.push_str(c.source.method.name);
    out
}

/// Whether a change from `before` to `after` changes the charge's [`charge_text`]: its ID and source never
/// change; its description and metadata may. A search index is written again only when this is true.
pub fn text_changed(before: &Charge, after: &Charge) -> bool {
    before.description != after.description || before.metadata != after.metadata
}

/// The words of a query as the indexes tokenize them: split on whitespace, words without a letter or digit
/// dropped (they would match nothing, or everything).
pub fn query_words(query: &str) -> Vec<String> {
    query.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).map(str::to_string).collect()
}

/// The FTS5 `MATCH` expression for the words: each one a quoted phrase (so `_`, `-`, `.` split it into
/// tokens that must follow each other, as they do in the text), all of them required.
pub fn fts5_match(words: &[String]) -> String {
    words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_drop_punctuation_only_words() {
        assert_eq!(query_words("  chrg_test_1  - ร้าน  "), vec!["chrg_test_1", "ร้าน"]);
        assert!(query_words("\" - .").is_empty());
    }

    #[test]
    fn a_charges_text_is_its_id_description_metadata_values_and_source_type() {
        use satang_domain::{AccountId, ChargeRequest, Source, SourceRequest};
        let src = Source::create(
            SourceRequest {
                kind: Some("alipay_hk".into()),
                amount: Some(20_000),
                currency: Some("SGD".into()),
                ..Default::default()
            },
            false,
            Timestamp::from_unix(1_714_532_400),
        )
        .unwrap();
        let fees = src.method.limit(src.currency).unwrap().default_fees;
        let metadata = serde_json::json!({"order": "ORD-7", "n": 12.5, "paid": true, "none": null,
                                          "items": [{"sku": "ร้าน-1"}, 3]});
        let c = Charge::create(
            AccountId::generate(false),
            ChargeRequest {
                amount: Some(20_000),
                currency: Some("SGD".into()),
                source: src,
                return_uri: Some("https://shop.example/r".into()),
                description: Some("Two cakes".into()),
                metadata: metadata.as_object().unwrap().clone(),
                expires_at: None,
                ip: None,
                webhook_endpoints: vec![],
            },
            fees,
            false,
            Timestamp::from_unix(1_714_532_400),
        )
        .unwrap();
        // Strings and numbers at any depth; keys, booleans and nulls are not searchable.
        assert_eq!(charge_text(&c), format!("{} Two cakes ORD-7 12.5 ร้าน-1 3 alipay_hk", c.id));
        let mut changed = c.clone();
        assert!(!text_changed(&c, &changed));
        changed.status = satang_domain::ChargeStatus::Expired { expired_at: Timestamp::from_unix(1_714_600_000) };
        assert!(!text_changed(&c, &changed), "a status change leaves the text alone");
        changed.metadata.insert("order".into(), "ORD-8".into());
        assert!(text_changed(&c, &changed));
    }

    #[test]
    fn fts5_phrases_escape_quotes() {
        let words = vec!["a\"b".to_string(), "order-7".to_string()];
        assert_eq!(fts5_match(&words), "\"a\"\"b\" \"order-7\"");
    }
}
