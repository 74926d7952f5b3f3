//! What the scoped lists share: the `list_counters` of the counted lists (charges, events), and [`page`],
//! one page of a list by time window.

use rusqlite::{Connection, OptionalExtension, params};

use super::sql_err;
use crate::store::{ListQuery, Order, Page, Scope, StoreResult};

/// Counts one more row in a counted list (see [`list_total`]) and returns the new count, which for charges
/// is also the new row's position.
pub(super) fn count_insert(conn: &Connection, scope: &Scope, list: &str) -> StoreResult<i64> {
    conn.prepare_cached(
        "insert into list_counters (account_id, livemode, list, n) values (?1, ?2, ?3, 1) \
         on conflict (account_id, livemode, list) do update set n = n + 1 returning n",
    )
    .and_then(|mut st| st.query_row(params![scope.account.as_str(), scope.livemode, list], |r| r.get(0)))
    .map_err(sql_err)
}

/// How many rows a counted list (`charges` since 0004, `events` since 0005) holds in the scope: a counter
/// row kept in the same transaction as every insert, so the whole list's total costs no count.
pub(super) fn list_total(c: &Connection, scope: &Scope, list: &str) -> StoreResult<i64> {
    c.prepare_cached("select n from list_counters where account_id = ?1 and livemode = ?2 and list = ?3")
        .and_then(|mut st| st.query_row(params![scope.account.as_str(), scope.livemode, list], |r| r.get(0)).optional())
        .map_err(sql_err)
        .map(|n| n.unwrap_or(0))
}

/// One page of a scoped list: rows of `table` in the caller's account and mode, created in `[from, to]`,
/// optionally narrowed by `column = value`, in (created_at, seq) order; and how many rows match in all.
/// Both walk the (account, mode, created_at) index range, without loading the skipped rows. The total of a
/// whole list (no from/to) named in `counted` is read from its counter instead (see [`list_total`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn page<T>(
    c: &Connection,
    table: &str,
    columns: &str,
    scope: &Scope,
    filter: Option<(&str, &str)>,
    q: &ListQuery,
    counted: Option<&str>,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    use rusqlite::types::Value as V;
    let dir = match q.order {
        Order::Chronological => "asc",
        Order::ReverseChronological => "desc",
    };
    let mut args = vec![
        V::Text(scope.account.to_string()),
        V::Integer(scope.livemode as i64),
        V::Integer(q.from.unix()),
        V::Integer(q.to.unix()),
    ];
    let mut cond = String::from("account_id = ?1 and livemode = ?2 and created_at >= ?3 and created_at <= ?4");
    if let Some((col, val)) = filter {
        cond.push_str(&format!(" and {col} = ?5"));
        args.push(V::Text(val.to_string()));
    }
    let n = args.len();
    let total: i64 = match counted.filter(|_| q.whole) {
        Some(list) => list_total(c, scope, list)?,
        None => c
            .prepare_cached(&format!("select count(*) from {table} where {cond}"))
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
            .map_err(sql_err)?,
    };
    args.push(V::Integer(q.offset as i64));
    // (created_at, seq): the order of the (account, mode, created_at) indexes, which end in the rowid, seq.
    // The limit is a literal (see the module docs).
    let sql = format!(
        "select {columns} from {table} where {cond} order by created_at {dir}, seq {dir} limit {} offset ?{}",
        q.limit,
        n + 1
    );
    let items = c
        .prepare_cached(&sql)
        .and_then(|mut st| st.query_map(rusqlite::params_from_iter(args.iter()), map)?.collect::<Result<Vec<_>, _>>())
        .map_err(sql_err)?;
    Ok(Page { items, total: total as u64 })
}
