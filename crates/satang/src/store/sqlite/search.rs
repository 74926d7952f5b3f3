//! Search ([`crate::store::search`]) on SQLite: words through the `charges_search` FTS5 table (written by
//! [`index_charge`] in the charge's own transaction), filters on the row's columns and its JSON document.

use rusqlite::types::Value as V;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, parse_docs, sql_err};
use crate::store::search::{Browse, Browsed, Cursor, SearchFilters, SearchQuery, fts5_match};
use crate::store::{Charge, Order, Page, RefundRecord, Scope, StoreResult};

/// The search rows of the charges in the JSON array `?1` of `[seq, text]` pairs, the text being
/// [`charge_text`](crate::store::search::charge_text), as on PostgreSQL.
const INDEX_CHARGES: &str = "insert or replace into charges_search (rowid, body) \
     select value ->> 0, value ->> 1 from json_each(?1)";

thread_local! {
    /// The charges the writer's current batch has asked to index (the writer thread's): `[seq, text]` each.
    static TO_INDEX: std::cell::RefCell<Vec<(i64, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// (Re)writes the search row of the charge at `seq`, `text` being its
/// [`charge_text`](crate::store::search::charge_text), at the end of the write batch, just before its
/// commit, so a search finds the charge as soon as its write is acknowledged.
///
/// Not a trigger, as the 0010 migration had it, and one statement for the whole batch: FTS5 writes its
/// pending terms to disk at every statement savepoint, and a trigger on `charges` (like any statement
/// writing several rows) gives its statement one, so each charge left a tiny index segment to merge.
/// Those flushes, the statement journal and the merges were about a fifth of the CPU of creating a charge
/// (perf under `satang bench --scenario external`). Callers index a charge when it is created and when
/// its description or metadata change, not on every status change. A pair left over from a job that was
/// rolled back (or a whole batch that failed) is harmless: its `seq` names no row, and a charge that later
/// takes that `seq` asks for its own pair after it, which the statement applies last (`json_each` keeps
/// the array's order, `insert or replace` keeps the last).
///
/// The text comes from the caller, computed from the charge it has in hand off the writer thread: until
/// 2026-12-03 the statement read each charge's row again and took its text apart with `json_extract` and
/// `json_tree` on the writer, the only thread that writes (5 % of its samples under create load). One
/// difference from that: `true`/`false` in metadata are no longer indexed as the words 1 and 0.
pub(super) fn index_charge(seq: i64, text: String) {
    TO_INDEX.with(|t| t.borrow_mut().push((seq, text)));
    // Each job asks; the first request run takes every charge of the batch.
    super::writer::before_commit(|c| {
        let rows = TO_INDEX.with(|t| std::mem::take(&mut *t.borrow_mut()));
        if rows.is_empty() {
            return Ok(());
        }
        let json = serde_json::to_string(&rows).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        c.prepare_cached(INDEX_CHARGES)?.execute([json]).map(|_| ())
    });
}

/// Below this many full-text matches, the dashboard's list reads its page from the matches themselves
/// (see [`browse_charges`]).
const FEW_MATCHES: i64 = 20_000;

/// A `where` clause being built, with its numbered arguments.
#[derive(Clone)]
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
        self.args.push(V::Integer(q.offset as i64));
        // A literal limit (see the module docs).
        let sql = format!(
            "select doc from {table} where {} order by created_at {dir}, seq {dir} limit {} offset ?{}",
            self.cond,
            q.limit,
            self.args.len()
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

/// The conditions of a charge search: its words through the FTS5 table, its filters on the row's columns
/// and its JSON document.
fn charge_where(scope: &Scope, words: &[String], f: &SearchFilters) -> Where {
    let mut w = Where::new(scope);
    if !words.is_empty() {
        w.and(
            "seq in (select rowid from charges_search where charges_search match ?)",
            vec![V::Text(fts5_match(words))],
        );
    }
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
        w.and("currency = ?", vec![V::Text(cur.code().into())]);
    }
    if let Some((from, to)) = f.created {
        w.and("created_at between ? and ?", vec![V::Integer(from.unix()), V::Integer(to.unix())]);
    }
    if let Some(t) = &f.source_type {
        w.and("method = ?", vec![V::Text(t.clone())]);
    }
    if let Some(code) = &f.failure_code {
        w.and("json_extract(doc, '$.failure_code') = ?", vec![V::Text(code.clone())]);
    }
    w
}

pub(super) async fn search_charges(store: &SqliteStore, scope: &Scope, q: &SearchQuery) -> StoreResult<Page<Charge>> {
    let w = charge_where(scope, &q.words, &q.filters);
    let q = q.clone();
    store
        .scan(move |c| {
            let docs = w.page(c, "charges", &q)?;
            Ok(Page { items: parse_docs(docs.items)?, total: docs.total })
        })
        .await
}

/// The dashboard's list ([`Browse`]): the cursor's charge is looked up in the scope, then the page is the
/// index range just past its (created_at, seq), read in the page's direction, one row more than the page to
/// know whether there are more.
///
/// Words are looked up first in the full-text index alone (a few milliseconds even for a common word). If
/// they match few charges, those are read by rowid and sorted: walking the list's index and probing each
/// charge against the matches would read every charge of the account when the words match almost none
/// (an order number, a misspelt name). If they match many, the list's index is walked, as the page fills
/// after a few charges.
pub(super) async fn browse_charges(store: &SqliteStore, scope: &Scope, q: &Browse) -> StoreResult<Browsed<Charge>> {
    let mut w = charge_where(scope, &q.words, &q.filters);
    let (scope, q) = (scope.clone(), q.clone());
    store
        .scan(move |c| {
            if !q.words.is_empty() {
                let few: i64 = c
                    .prepare_cached(&format!(
                        "select count(*) from (select rowid from charges_search where charges_search match ?1 \
                         limit {FEW_MATCHES})"
                    ))
                    .and_then(|mut st| st.query_row(params![fts5_match(&q.words)], |r| r.get(0)))
                    .map_err(sql_err)?;
                if few < FEW_MATCHES {
                    // `+` keeps the planner off the (account, mode, …) indexes, so it reads the matches by rowid.
                    w.cond =
                        w.cond.replacen("account_id = ?1 and livemode = ?2", "+account_id = ?1 and +livemode = ?2", 1);
                }
            }
            let count = if q.count_up_to == 0 {
                0
            } else {
                let sql =
                    format!("select count(*) from (select 1 from charges where {} limit {})", w.cond, q.count_up_to);
                c.prepare_cached(&sql)
                    .and_then(|mut st| st.query_row(rusqlite::params_from_iter(w.args.iter()), |r| r.get::<_, i64>(0)))
                    .map_err(sql_err)? as u64
            };
            let (id, older) = match &q.cursor {
                None => (None, true),
                Some(Cursor::Older(id)) => (Some(id), true),
                Some(Cursor::Newer(id)) => (Some(id), false),
            };
            let at: Option<(i64, i64)> = match id {
                None => None,
                Some(id) => c
                    .prepare_cached(
                        "select created_at, seq from charges where id = ?1 and account_id = ?2 and livemode = ?3",
                    )
                    .and_then(|mut st| {
                        st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .optional()
                    })
                    .map_err(sql_err)?,
            };
            let older = older || at.is_none();
            let mut w = w;
            if let Some((created, seq)) = at {
                let op = if older { "<" } else { ">" };
                w.and(&format!("(created_at, seq) {op} (?, ?)"), vec![V::Integer(created), V::Integer(seq)]);
            }
            let dir = if older { "desc" } else { "asc" };
            let sql = format!(
                "select doc from charges where {} order by created_at {dir}, seq {dir} limit {}",
                w.cond,
                q.limit + 1
            );
            let mut docs = c
                .prepare_cached(&sql)
                .and_then(|mut st| {
                    st.query_map(rusqlite::params_from_iter(w.args.iter()), |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            let more = docs.len() as u64 > q.limit;
            docs.truncate(q.limit as usize);
            if !older {
                docs.reverse();
            }
            Ok(Browsed { items: parse_docs(docs)?, more, count, cursor_found: at.is_some() })
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

#[cfg(test)]
mod tests {
    use super::INDEX_CHARGES;

    /// What [`super::index_charge`] relies on when a rolled-back job left its pair in the batch: a later
    /// pair for the same `seq` is the one kept, and every word of it is found.
    #[test]
    fn the_last_pair_for_a_seq_is_the_one_indexed() {
        // The search table as the migrations make it.
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::super::migrate(&mut c, crate::store::migrate::SQLITE).unwrap();
        let pairs =
            serde_json::json!([[7, "chrg_old rolled back"], [8, "chrg_b kept"], [7, "chrg_new \"quoted\" ไทย"]]);
        c.execute(INDEX_CHARGES, [pairs.to_string()]).unwrap();
        let body = |seq: i64| {
            c.query_row("select body from charges_search where rowid = ?1", [seq], |r| r.get::<_, String>(0)).unwrap()
        };
        assert_eq!(body(7), "chrg_new \"quoted\" ไทย");
        assert_eq!(body(8), "chrg_b kept");
        let found: Vec<i64> = c
            .prepare("select rowid from charges_search where charges_search match 'ไทย' order by rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(found, vec![7]);
        let gone: i64 = c
            .query_row("select count(*) from charges_search where charges_search match 'rolled'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(gone, 0);
    }
}
