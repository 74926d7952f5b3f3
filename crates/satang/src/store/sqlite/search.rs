//! Search ([`crate::store::search`]) on SQLite: words through the `charges_search` FTS5 table (kept by
//! the 0010 migration's triggers in the charge's own transaction), filters on the row's columns and its
//! JSON document.

use rusqlite::Connection;
use rusqlite::types::Value as V;

use super::{SqliteStore, parse_docs, sql_err};
use crate::store::search::{SearchQuery, fts5_match};
use crate::store::{Charge, Order, Page, RefundRecord, Scope, StoreResult};

/// A `where` clause being built, with its numbered arguments.
struct Where {
    cond: String,
    args: Vec<V>,
}

impl Where {
    fn new(scope: &Scope) -> Self {
        Where {
            cond: "account_id = ?1 and livemode = ?2".into(),
            args: vec![V::Text(scope.account.to_string()), V::Integer(scope.livemode as i64)],
        }
    }

    /// Appends `and <sql>`, where each `?` in `sql` takes the next of `values`.
    fn and(&mut self, sql: &str, values: Vec<V>) {
        let mut out = String::new();
        let mut values = values.into_iter();
        for ch in sql.chars() {
            if ch == '?' {
                self.args.push(values.next().expect("one value per placeholder"));
                out.push_str(&format!("?{}", self.args.len()));
            } else {
                out.push(ch);
            }
        }
        self.cond.push_str(" and ");
        self.cond.push_str(&out);
    }

    /// The page of `table` matching, with the total.
    fn page(mut self, c: &Connection, table: &str, q: &SearchQuery) -> StoreResult<Page<String>> {
        let total: i64 = c
            .prepare_cached(&format!("select count(*) from {table} where {}", self.cond))
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(self.args.iter()), |r| r.get(0)))
            .map_err(sql_err)?;
        let dir = match q.order {
            Order::Chronological => "asc",
            Order::ReverseChronological => "desc",
        };
        let n = self.args.len();
        self.args.push(V::Integer(q.limit as i64));
        self.args.push(V::Integer(q.offset as i64));
        let sql = format!(
            "select doc from {table} where {} order by created_at {dir}, seq {dir} limit ?{} offset ?{}",
            self.cond,
            n + 1,
            n + 2
        );
        let items = c
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(rusqlite::params_from_iter(self.args.iter()), |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_err)?;
        Ok(Page { items, total: total as u64 })
    }
}

pub(super) async fn search_charges(store: &SqliteStore, scope: &Scope, q: &SearchQuery) -> StoreResult<Page<Charge>> {
    let mut w = Where::new(scope);
    if !q.words.is_empty() {
        w.and(
            "seq in (select rowid from charges_search where charges_search match ?)",
            vec![V::Text(fts5_match(&q.words))],
        );
    }
    let f = &q.filters;
    if let Some(status) = &f.status {
        w.and("status = ?", vec![V::Text(status.clone())]);
    }
    if let Some(ok) = f.successful {
        w.and(if ok { "status = 'successful'" } else { "status <> 'successful'" }, vec![]);
    }
    if let Some(refunded) = f.refunded {
        let op = if refunded { ">" } else { "=" };
        w.and(&format!("json_array_length(doc, '$.refunds') {op} 0"), vec![]);
    }
    if let Some((lo, hi)) = f.amount {
        w.and("json_extract(doc, '$.amount') between ? and ?", vec![V::Integer(lo), V::Integer(hi)]);
    }
    if let Some(cur) = f.currency {
        w.and("json_extract(doc, '$.currency') = ?", vec![V::Text(cur.code().into())]);
    }
    if let Some((from, to)) = f.created {
        w.and("created_at between ? and ?", vec![V::Integer(from.unix()), V::Integer(to.unix())]);
    }
    if let Some(t) = &f.source_type {
        w.and("json_extract(doc, '$.source.type') = ?", vec![V::Text(t.clone())]);
    }
    if let Some(code) = &f.failure_code {
        w.and("json_extract(doc, '$.failure_code') = ?", vec![V::Text(code.clone())]);
    }
    let q = q.clone();
    store
        .scan(move |c| {
            let docs = w.page(c, "charges", &q)?;
            Ok(Page { items: parse_docs(docs.items)?, total: docs.total })
        })
        .await
}

pub(super) async fn search_refunds(
    store: &SqliteStore,
    scope: &Scope,
    q: &SearchQuery,
) -> StoreResult<Page<RefundRecord>> {
    let mut w = Where::new(scope);
    for word in &q.words {
        w.and("(id = ? or charge_id = ?)", vec![V::Text(word.clone()), V::Text(word.clone())]);
    }
    let f = &q.filters;
    if let Some((lo, hi)) = f.amount {
        w.and("json_extract(doc, '$.refund.amount') between ? and ?", vec![V::Integer(lo), V::Integer(hi)]);
    }
    if let Some(cur) = f.currency {
        w.and("json_extract(doc, '$.currency') = ?", vec![V::Text(cur.code().into())]);
    }
    if let Some((from, to)) = f.created {
        w.and("created_at between ? and ?", vec![V::Integer(from.unix()), V::Integer(to.unix())]);
    }
    if let Some(charge) = &f.charge {
        w.and("charge_id = ?", vec![V::Text(charge.clone())]);
    }
    let q = q.clone();
    store
        .scan(move |c| {
            let docs = w.page(c, "refunds", &q)?;
            Ok(Page { items: parse_docs(docs.items)?, total: docs.total })
        })
        .await
}
