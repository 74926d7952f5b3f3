//! `{object: "search", …}`: a page of search results, in the key order of Omise's examples (the
//! omise-python fixtures).

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Serialize)]
pub struct SearchObject<T> {
    pub object: &'static str,
    pub order: &'static str,
    pub scope: &'static str,
    pub query: String,
    /// The filters as the client sent them.
    pub filters: Map<String, Value>,
    pub page: u64,
    pub per_page: u64,
    pub location: &'static str,
    pub total_pages: u64,
    pub total: u64,
    pub data: Vec<T>,
}
