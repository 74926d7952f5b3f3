//! What the scoped lists share: the counters of the counted lists (charges, events), kept as
//! `list_count_deltas` rows that housekeeping folds into `list_counts`, and [`page`], one page of a list by
//! time window.

use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::{PgStore, pg_err};
use crate::store::{ListQuery, Order, Page, Scope, Store, StoreResult};

/// One page of a scoped list (see the SQLite store's `page`), in (created_at, seq) order, the order of the
/// `*_by_scope_time_seq` indexes, so the newest page is a short index walk. The offset is walked in an inner
/// query that reads only `seq` (an index-only scan once vacuum has marked the pages visible) and the page's
/// rows are fetched after it, so a deep page does not read every skipped row from the heap. The total of a
/// whole list (no from/to) named in `counted` comes from its counter (0005 migration); other totals count
/// the rows.
pub(super) async fn page(
    c: &deadpool_postgres::Client,
    table: &str,
    columns: &str,
    scope: &Scope,
    filter: Option<(&str, &str)>,
    q: &ListQuery,
    counted: Option<&str>,
) -> StoreResult<Page<Row>> {
    let dir = match q.order {
        Order::Chronological => "asc",
        Order::ReverseChronological => "desc",
    };
    let (from, to, limit, offset) = (q.from.unix(), q.to.unix(), q.limit as i64, q.offset as i64);
    let account = scope.account.as_str();
    let mut cond = String::from("account_id = $1 and livemode = $2 and created_at >= $3 and created_at <= $4");
    let mut args: Vec<(&(dyn ToSql + Sync), Type)> =
        vec![(&account, Type::TEXT), (&scope.livemode, Type::BOOL), (&from, Type::INT8), (&to, Type::INT8)];
    if let Some((col, val)) = &filter {
        cond.push_str(&format!(" and {col} = $5"));
        args.push((val, Type::TEXT));
    }
    let n = args.len();
    let total: i64 = match counted.filter(|_| q.whole) {
        Some(list) => {
            // Folded count plus the deltas not yet folded, in one snapshot (see the 0005 migration).
            let st = c
                .prepare_cached(
                    "select coalesce((select n from list_counts where account_id = $1 and livemode = $2 and list = $3), 0) \
                     + (select count(*) from list_count_deltas where account_id = $1 and livemode = $2 and list = $3)",
                )
                .await
                .map_err(pg_err)?;
            c.query_one(&st, &[&scope.account.as_str(), &scope.livemode, &list]).await.map_err(pg_err)?.get(0)
        }
        None => {
            let sql = format!("select count(*) from {table} where {cond}");
            c.query_typed(&sql, &args).await.map_err(pg_err)?.first().map_or(0, |r| r.get(0))
        }
    };
    args.push((&limit, Type::INT8));
    args.push((&offset, Type::INT8));
    let order = format!("order by created_at {dir}, seq {dir}");
    let sql = format!(
        "select {columns} from {table} where seq in \
         (select seq from {table} where {cond} {order} limit ${} offset ${}) {order}",
        n + 1,
        n + 2
    );
    // An unnamed statement (Parse, Bind and Execute in one round trip) is planned for its values every
    // time: a generic plan, made once for any account and time window, chose a sort of the whole
    // account over the index walk, 100 times slower. Other statements are prepared and keep their plans.
    let items = c.query_typed(&sql, &args).await.map_err(pg_err)?;
    Ok(Page { items, total: total as u64 })
}

pub(super) async fn housekeeping(store: &PgStore) -> StoreResult<()> {
    // Each batch is one statement, so one transaction: the deltas it deletes are exactly the ones it
    // adds, and it upserts the counts in key order.
    const BATCH: i64 = 10_000;
    let c = store.client().await?;
    // The oldest deltas, up to BATCH of them, go as one range of `seq`. Not a join of the batch to the
    // table (or `seq in (…)`): planned with statistics from a quiet moment (the table nearly empty) that
    // was a nested loop over every delta for each of the batch's 10,000, which ran for minutes after
    // `satang bench seed` left 250,000 deltas. A range is an index range or one pass whatever the plan.
    // Nodes folding at once: a range another node is deleting waits for it, then finds those rows gone;
    // each statement counts exactly the rows it deleted. A delta of a transaction still in flight below
    // the bound is not visible yet and is folded next round.
    const FOLD: &str = "with upto as (select max(seq) as s from \
               (select seq from list_count_deltas order by seq limit $1) as b), \
             gone as (delete from list_count_deltas where seq <= (select s from upto) \
               returning account_id, livemode, list), \
             sums as (select account_id, livemode, list, count(*) as n from gone \
               group by account_id, livemode, list order by account_id, livemode, list), \
             added as (insert into list_counts (account_id, livemode, list, n) \
               select account_id, livemode, list, n from sums \
               on conflict (account_id, livemode, list) do update set n = list_counts.n + excluded.n) \
             select count(*) from gone";
    let mut total = 0;
    loop {
        let rows = c.query_typed(FOLD, &[(&BATCH, Type::INT8)]).await.map_err(pg_err)?;
        let folded: i64 = rows.first().map_or(0, |r| r.get(0));
        total += folded;
        if folded < BATCH {
            break;
        }
    }
    // Every folded delta leaves a dead row, and a list's total walks the deltas' index over them until a
    // vacuum clears them: 176,000 dead rows after a minute at 3,000 charges/s made the newest page of
    // the charge list 5 times slower (861/s against 4,341/s once vacuumed). Autovacuum comes a minute
    // later at best, and is off on some servers, so the table that churns is vacuumed here, after any
    // round that folded a thousand deltas; it is small, so that takes milliseconds. `skip_locked`: when
    // another node is vacuuming it, this one does not wait. `truncate false`: giving the emptied pages
    // back needs an exclusive lock, which every insert of a charge would queue behind; the bench saw the
    // attempt run into the statement timeout (the pages are reused by the next inserts anyway).
    if total >= 1000 {
        c.batch_execute("vacuum (skip_locked, truncate false) list_count_deltas").await.map_err(pg_err)?;
    }
    Ok(())
}

pub(super) async fn after_bulk_load(store: &PgStore) -> StoreResult<()> {
    store.housekeeping().await?;
    // What autovacuum would do soon after: statistics for the planner and the visibility map that makes
    // deep list offsets index-only. Vacuum may outlast the statement timeout, so it runs without one; it
    // cannot run in a transaction, and several statements in one simple query are one, so each is sent
    // on its own.
    let c = store.client().await?;
    c.batch_execute("set statement_timeout = 0").await.map_err(pg_err)?;
    let vacuumed = c.batch_execute("vacuum (analyze) charges, sources, events, list_count_deltas").await;
    c.batch_execute("reset statement_timeout").await.map_err(pg_err)?;
    vacuumed.map_err(pg_err)
}
