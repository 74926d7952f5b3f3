//! Search ([`crate::store::search`]) on PostgreSQL: words through the `charges.search` vector and its GIN
//! index (0010; since 0016 written by the charge's own statement from `store::search::charge_text`),
//! filters on the row's columns and its JSON document.

use tokio_postgres::types::ToSql;

use super::{PgStore, parse_doc, pg_err};
use crate::store::search::{Browse, Browsed, Cursor, SearchFilters, SearchQuery};
use crate::store::{Charge, Order, Page, RefundRecord, Scope, StoreResult};

type Arg = Box<dyn ToSql + Sync + Send>;

fn args(a: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    a.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// Below this many full-text matches, the dashboard's list reads its page from the matches themselves
/// (see [`browse_charges`]).
const FEW_MATCHES: i64 = 20_000;

/// A `where` clause being built, with its numbered arguments.
struct Where {
    cond: String,
    args: Vec<Arg>,
}

impl Where {
    fn new(scope: &Scope) -> Self {
        Where {
            cond: "account_id = $1 and livemode = $2".into(),
            args: vec![Box::new(scope.account.to_string()), Box::new(scope.livemode)],
        }
    }

    /// Appends `and <sql>`, where each `?` in `sql` takes the next of `values`.
    fn and(&mut self, sql: &str, values: Vec<Arg>) {
        let mut out = String::new();
        let mut values = values.into_iter();
        for ch in sql.chars() {
            if ch == '?' {
                self.args.push(values.next().expect("one value per placeholder"));
                out.push_str(&format!("${}", self.args.len()));
            } else {
                out.push(ch);
            }
        }
        self.cond.push_str(" and ");
        self.cond.push_str(&out);
    }

    /// The documents of the page of `table` matching, with the total.
    async fn page(mut self, store: &PgStore, table: &str, q: &SearchQuery) -> StoreResult<Page<String>> {
        let c = store.client().await?;
        let sql = format!("select count(*) from {table} where {}", self.cond);
        let total: i64 = c.query_one(sql.as_str(), &args(&self.args)).await.map_err(pg_err)?.get(0);
        let dir = match q.order {
            Order::Chronological => "asc",
            Order::ReverseChronological => "desc",
        };
        let n = self.args.len();
        self.args.push(Box::new(q.limit as i64));
        self.args.push(Box::new(q.offset as i64));
        let sql = format!(
            "select doc from {table} where {} order by created_at {dir}, seq {dir} limit ${} offset ${}",
            self.cond,
            n + 1,
            n + 2
        );
        let rows = c.query(sql.as_str(), &args(&self.args)).await.map_err(pg_err)?;
        Ok(Page { items: rows.iter().map(|r| r.get::<_, String>(0)).collect(), total: total as u64 })
    }
}

/// The conditions of a charge search: its words through the `search` vector, its filters on the row's
/// columns and its JSON document.
fn charge_where(scope: &Scope, words: &[String], f: &SearchFilters) -> Where {
    let mut w = Where::new(scope);
    for word in words {
        w.and("search @@ phraseto_tsquery('simple', ?)", vec![Box::new(word.clone())]);
    }
    if let Some(status) = &f.status {
        w.and("status = ?", vec![Box::new(status.clone())]);
    }
    if let Some(ok) = f.successful {
        w.and(if ok { "status = 'successful'" } else { "status <> 'successful'" }, vec![]);
    }
    if let Some(refunded) = f.refunded {
        let op = if refunded { ">" } else { "=" };
        w.and(&format!("jsonb_array_length(coalesce(doc::jsonb -> 'refunds', '[]')) {op} 0"), vec![]);
    }
    if let Some((lo, hi)) = f.amount {
        w.and("(doc::jsonb ->> 'amount')::bigint between ? and ?", vec![Box::new(lo), Box::new(hi)]);
    }
    if let Some(cur) = f.currency {
        w.and("currency = ?", vec![Box::new(cur.code().to_string())]);
    }
    if let Some((from, to)) = f.created {
        w.and("created_at between ? and ?", vec![Box::new(from.unix()), Box::new(to.unix())]);
    }
    if let Some(t) = &f.source_type {
        w.and("method = ?", vec![Box::new(t.clone())]);
    }
    if let Some(code) = &f.failure_code {
        w.and("doc::jsonb ->> 'failure_code' = ?", vec![Box::new(code.clone())]);
    }
    w
}

pub(super) async fn search_charges(store: &PgStore, scope: &Scope, q: &SearchQuery) -> StoreResult<Page<Charge>> {
    let w = charge_where(scope, &q.words, &q.filters);
    let docs = w.page(store, "charges", q).await?;
    Ok(Page { items: docs.items.iter().map(|d| parse_doc(d)).collect::<StoreResult<_>>()?, total: docs.total })
}

/// The dashboard's list ([`Browse`]): the cursor's charge is looked up in the scope, then the page is the
/// `(account_id, livemode, created_at, seq)` index range just past it, read in the page's direction, one row
/// more than the page to know whether there are more.
///
/// Words are looked up first through the GIN index alone. If they match few charges, the page is read from
/// those matches and sorted (its order is written `created_at + 0` so the planner cannot walk the list's
/// index instead, probing every charge of the account when the words match almost none: an order number,
/// a misspelt name); if many, the list's index is walked, as the page fills after a few charges.
pub(super) async fn browse_charges(store: &PgStore, scope: &Scope, q: &Browse) -> StoreResult<Browsed<Charge>> {
    let mut w = charge_where(scope, &q.words, &q.filters);
    let c = store.client().await?;
    let mut plus = "";
    if !q.words.is_empty() {
        let words = charge_where(scope, &q.words, &SearchFilters::default());
        let sql = format!("select count(*) from (select 1 from charges where {} limit {FEW_MATCHES}) as m", words.cond);
        let few: i64 = c.query_one(sql.as_str(), &args(&words.args)).await.map_err(pg_err)?.get(0);
        if few < FEW_MATCHES {
            plus = " + 0";
        }
    }
    let count = if q.count_up_to == 0 {
        0
    } else {
        let sql = format!(
            "select count(*) from (select 1 from charges where {} limit ${}) as page",
            w.cond,
            w.args.len() + 1
        );
        let mut a = args(&w.args);
        let cap = q.count_up_to as i64;
        a.push(&cap);
        c.query_one(sql.as_str(), &a).await.map_err(pg_err)?.get::<_, i64>(0) as u64
    };
    let (id, older) = match &q.cursor {
        None => (None, true),
        Some(Cursor::Older(id)) => (Some(id), true),
        Some(Cursor::Newer(id)) => (Some(id), false),
    };
    let at: Option<(i64, i64)> = match id {
        None => None,
        Some(id) => {
            let st = c
                .prepare_cached(
                    "select created_at, seq from charges where id = $1 and account_id = $2 and livemode = $3",
                )
                .await
                .map_err(pg_err)?;
            c.query_opt(&st, &[&id.as_str(), &scope.account.as_str(), &scope.livemode])
                .await
                .map_err(pg_err)?
                .map(|r| (r.get(0), r.get(1)))
        }
    };
    let older = older || at.is_none();
    if let Some((created, seq)) = at {
        let op = if older { "<" } else { ">" };
        w.and(&format!("(created_at, seq) {op} (?, ?)"), vec![Box::new(created), Box::new(seq)]);
    }
    let dir = if older { "desc" } else { "asc" };
    w.args.push(Box::new(q.limit as i64 + 1));
    let sql = format!(
        "select doc from charges where {} order by created_at{plus} {dir}, seq{plus} {dir} limit ${}",
        w.cond,
        w.args.len()
    );
    let rows = c.query(sql.as_str(), &args(&w.args)).await.map_err(pg_err)?;
    let mut docs: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let more = docs.len() as u64 > q.limit;
    docs.truncate(q.limit as usize);
    if !older {
        docs.reverse();
    }
    let items = docs.iter().map(|d| parse_doc(d)).collect::<StoreResult<_>>()?;
    Ok(Browsed { items, more, count, cursor_found: at.is_some() })
}

pub(super) async fn search_refunds(store: &PgStore, scope: &Scope, q: &SearchQuery) -> StoreResult<Page<RefundRecord>> {
    let mut w = Where::new(scope);
    for word in &q.words {
        w.and("(id = ? or charge_id = ?)", vec![Box::new(word.clone()), Box::new(word.clone())]);
    }
    let f = &q.filters;
    if let Some((lo, hi)) = f.amount {
        w.and("(doc::jsonb #>> '{refund,amount}')::bigint between ? and ?", vec![Box::new(lo), Box::new(hi)]);
    }
    if let Some(cur) = f.currency {
        w.and("doc::jsonb ->> 'currency' = ?", vec![Box::new(cur.code().to_string())]);
    }
    if let Some((from, to)) = f.created {
        w.and("created_at between ? and ?", vec![Box::new(from.unix()), Box::new(to.unix())]);
    }
    if let Some(charge) = &f.charge {
        w.and("charge_id = ?", vec![Box::new(charge.clone())]);
    }
    let docs = w.page(store, "refunds", q).await?;
    Ok(Page { items: docs.items.iter().map(|d| parse_doc(d)).collect::<StoreResult<_>>()?, total: docs.total })
}
