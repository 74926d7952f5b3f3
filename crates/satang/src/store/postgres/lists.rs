//! What the scoped lists share: the counters of the counted lists (charges, events), kept as
//! `list_count_deltas` rows that housekeeping folds into `list_counts`; the list marks (0017 migration)
//! that take a deep page of a whole counted list straight to its rows; and [`page`], one page of a list by
//! time window.
//!
//! Why marks rather than numbering the rows as SQLite does (its 0004 positions): a number per row needs one
//! counter row that every insert of the account locks, which halved creates across nodes (0004). Marks are
//! written by housekeeping only, every [`PgOptions::list_mark_spacing`] rows, and kept exact by a trigger
//! on the fold's delete (0018 migration, so that any node's fold keeps them, whatever its version), so an
//! insert pays for nothing but the key it already writes into its delta row.
//!
//! [`PgOptions::list_mark_spacing`]: super::PgOptions::list_mark_spacing

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
    let order = format!("order by created_at {dir}, seq {dir}");
    let counted_total: Option<i64> = match counted.filter(|_| q.whole) {
        Some(list) => {
            // Folded count plus the deltas not yet folded, in one snapshot (see the 0005 migration).
            let st = c
                .prepare_cached(
                    "select coalesce((select n from list_counts where account_id = $1 and livemode = $2 and list = $3), 0) \
                     + (select count(*) from list_count_deltas where account_id = $1 and livemode = $2 and list = $3)",
                )
                .await
                .map_err(pg_err)?;
            Some(c.query_one(&st, &[&account, &scope.livemode, &list]).await.map_err(pg_err)?.get(0))
        }
        None => None,
    };
    if let (Some(total), None) = (counted_total, filter) {
        // A page of a whole counted list (the newest page of charges or events, the one every dashboard
        // and client asks for first) has no window to plan for: prepared once per connection, as the deep
        // page is, its generic plan walks the list's index (see `deep_page`). Planning it on every request
        // cost more than running it.
        let sql = format!(
            "select {columns} from {table} where seq in \
             (select seq from {table} where account_id = $1 and livemode = $2 {order} limit $3 offset $4) {order}"
        );
        let st =
            c.prepare_typed_cached(&sql, &[Type::TEXT, Type::BOOL, Type::INT8, Type::INT8]).await.map_err(pg_err)?;
        let items = c.query(&st, &[&account, &scope.livemode, &limit, &offset]).await.map_err(pg_err)?;
        return Ok(Page { items, total: total as u64 });
    }
    let mut cond = String::from("account_id = $1 and livemode = $2 and created_at >= $3 and created_at <= $4");
    let mut args: Vec<(&(dyn ToSql + Sync), Type)> =
        vec![(&account, Type::TEXT), (&scope.livemode, Type::BOOL), (&from, Type::INT8), (&to, Type::INT8)];
    if let Some((col, val)) = &filter {
        cond.push_str(&format!(" and {col} = $5"));
        args.push((val, Type::TEXT));
    }
    let n = args.len();
    let total = match counted_total {
        Some(total) => total,
        None => {
            let sql = format!("select count(*) from {table} where {cond}");
            c.query_typed(&sql, &args).await.map_err(pg_err)?.first().map_or(0, |r| r.get(0))
        }
    };
    args.push((&limit, Type::INT8));
    args.push((&offset, Type::INT8));
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

impl PgStore {
    /// Whether a page is for [`deep_page`]: a whole counted list, at an offset at least a mark spacing
    /// deep (a shallower one walks as few entries from the list's end as the marks would).
    pub(super) fn marked(&self, q: &ListQuery) -> bool {
        q.whole && q.offset >= self.mark_spacing as u64
    }
}

/// One page of a whole counted list (`list`, kept in `table`), found from the list marks instead of by
/// walking the offset: the page's first row (its rank counted from the oldest; for the newest-first order
/// from the total) lies a known number of rows after the last mark before it, whose rank is its `base`
/// plus the unfolded deltas at or before it. So the walk is at most a spacing (plus the unfolded deltas)
/// whatever the offset. The total, the marks, the deltas and the rows are read in one statement, one
/// snapshot. When the marks cannot serve (none yet, a delta without a key, or more than seven spacings of
/// unfolded rows before the page), the walk starts at the list's beginning: slower, never wrong.
///
/// The rows carry `columns`, then the list key (two columns), then the total. Each row is fetched by its
/// `seq` in a lateral subquery that `offset 0` keeps from being flattened: the page's length is an
/// expression, which the planner guessed at 10,000 rows and answered with a hash join over the whole
/// table (70 ms for 20 rows of 300,000, against 1 ms).
pub(super) async fn deep_page(
    c: &deadpool_postgres::Client,
    table: &str,
    columns: &str,
    list: &str,
    scope: &Scope,
    q: &ListQuery,
) -> StoreResult<Page<Row>> {
    let (dir, newest_first) = match q.order {
        Order::Chronological => ("asc", false),
        Order::ReverseChronological => ("desc", true),
    };
    // An offset past any list is the same empty page; capped, `offset + limit` cannot overflow a bigint
    // (the API takes offsets up to i64::MAX).
    let (offset, limit) = (q.offset.min(1 << 52) as i64, q.limit.min(1 << 20) as i64);
    let sql = format!(
        "with d as materialized (select created_at, item_seq from list_count_deltas \
           where account_id = $1 and livemode = $2 and list = $3), \
         tot as (select coalesce((select n from list_counts where account_id = $1 and livemode = $2 and list = $3), 0) \
           + (select count(*) from d) as t), \
         want as (select case when $6 then greatest(t - $4 - $5 + 1, 1) else $4 + 1 end as lo, \
           case when $6 then t - $4 else $4 + $5 end as hi from tot), \
         cand as (select m.created_at, m.seq, m.base from list_marks m \
           where m.account_id = $1 and m.livemode = $2 and m.list = $3 and m.base < (select lo from want) \
           and not exists (select 1 from d where d.created_at is null) \
           order by m.created_at desc, m.seq desc limit 8), \
         ranked as (select m.created_at, m.seq, m.base + (select count(*) from d \
           where (d.created_at, d.item_seq) <= (m.created_at, m.seq)) as r from cand m), \
         best as (select created_at, seq, r from ranked where r < (select lo from want) \
           order by created_at desc, seq desc limit 1), \
         start as (select coalesce((select created_at from best), {MIN}) as c, \
           coalesce((select seq from best), 0) as q, coalesce((select r from best), 0) as r), \
         picked as (select t.seq from {table} t where t.account_id = $1 and t.livemode = $2 \
           and (t.created_at, t.seq) > ((select c from start), (select q from start)) \
           order by t.created_at, t.seq \
           offset (select lo - 1 - r from want, start) limit (select greatest(hi - lo + 1, 0) from want)) \
         select x.*, (select t from tot) from (select 1) as one left join lateral \
           (select r.* from picked p cross join lateral (select {columns}, created_at as list_at, \
             seq as list_seq from {table} where seq = p.seq offset 0) as r) as x on true \
         order by x.list_at {dir}, x.list_seq {dir}",
        MIN = i64::MIN,
    );
    // Prepared once per connection and kept, unlike `page`'s statements: planning it took three times as
    // long as running it (0.47 ms against 0.15 ms, `EXPLAIN (ANALYZE, SUMMARY)`), and a plan made for its
    // values gains nothing, because the values that shape the walk (where it starts, how far it goes) are
    // computed inside the statement. After five executions PostgreSQL keeps the generic plan, which was
    // checked to walk the list's index even among 3,000 small accounts, where the planner expects a few
    // rows per account (a sort would be cheaper for those few, and ruinous for a large one).
    let st = c
        .prepare_typed_cached(&sql, &[Type::TEXT, Type::BOOL, Type::TEXT, Type::INT8, Type::INT8, Type::BOOL])
        .await
        .map_err(pg_err)?;
    let account = scope.account.as_str();
    let rows =
        c.query(&st, &[&account, &scope.livemode, &list, &offset, &limit, &newest_first]).await.map_err(pg_err)?;
    let total = rows.first().map_or(0, |r| r.get::<_, i64>(r.len() - 1));
    // A page past the end is the one row of the left join with no list row in it.
    let items = rows.into_iter().filter(|r| r.get::<_, Option<i64>>(r.len() - 2).is_some()).collect();
    Ok(Page { items, total: total.max(0) as u64 })
}

/// Held (as a transaction-scoped advisory lock) by the writing of new marks and by every fold (taken by the
/// 0018 migration's trigger for a node that does not take it): a mark's `base` is computed from the
/// unfolded deltas it sees, which a fold running at the same time could be deleting (and would not add to a
/// mark it cannot see yet). The migration names the same number.
const MARKS_LOCK: i64 = 7_263_471;

/// Takes [`MARKS_LOCK`] until `tx` ends, saying (the transaction's `satang.marks_by`) that the 0018
/// trigger adjusts the marks for what this transaction folds, unlike a fold of 0017's version.
async fn lock_marks(tx: &super::Tx<'_>) -> StoreResult<()> {
    tx.query_typed(
        "select pg_advisory_xact_lock($1), set_config('satang.marks_by', 'trigger', true)",
        &[(&MARKS_LOCK, Type::INT8)],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// Marks written per housekeeping round at most, so a first round on a large database does not hold the
/// marks lock (and the fold) for long; each is a walk of one spacing's index entries.
const MARKS_PER_ROUND: usize = 1_000;

pub(super) async fn housekeeping(store: &PgStore) -> StoreResult<()> {
    fold(store).await?;
    mark_lists(store).await?;
    Ok(())
}

/// Folds the list count deltas into `list_counts`. The list marks after each folded delta's key are kept
/// exact by the `list_marks_fold` trigger (0018 migration), which runs in the same transaction, under the
/// marks lock, whichever node's statement deleted the deltas.
async fn fold(store: &PgStore) -> StoreResult<()> {
    // Each batch is one statement, so one transaction: the deltas it deletes are exactly the ones it
    // adds, and it upserts the counts in key order.
    const BATCH: i64 = 10_000;
    let mut c = store.client().await?;
    // The oldest deltas, up to BATCH of them, go as one range of `seq`. Not a join of the batch to the
    // table (or `seq in (…)`): planned with statistics from a quiet moment (the table nearly empty) that
    // was a nested loop over every delta for each of the batch's 10,000, which ran for minutes after
    // `satang bench seed` left 250,000 deltas. A range is an index range or one pass whatever the plan.
    // A delta of a transaction still in flight below the bound is not visible yet and is folded next
    // round. The marks lock is taken first, as a 0017 node does, so that two folds never wait for each
    // other's rows and the lock in opposite orders (see the migration).
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
        let tx = c.transaction().await.map_err(pg_err)?;
        lock_marks(&tx).await?;
        let rows = tx.query_typed(FOLD, &[(&BATCH, Type::INT8)]).await.map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
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

/// The table of a counted list.
fn table_of(list: &str) -> Option<&'static str> {
    match list {
        "charges" => Some("charges"),
        "events" => Some("events"),
        _ => None,
    }
}

/// Writes the marks that are due: one more after the last mark of a counted list (or its start) each time
/// a spacing's rows lie beyond it, up to [`MARKS_PER_ROUND`]. Returns how many were written.
async fn mark_lists(store: &PgStore) -> StoreResult<usize> {
    let spacing = store.mark_spacing;
    let mut c = store.client().await?;
    // Lists whose folded count has passed their last mark's by a spacing (a cheap first look: the walk
    // below decides).
    let due = c
        .query_typed(
            "select lc.account_id, lc.livemode, lc.list from list_counts lc \
             where lc.list in ('charges', 'events') and lc.n >= $1 + coalesce((select m.base from list_marks m \
               where m.account_id = lc.account_id and m.livemode = lc.livemode and m.list = lc.list \
               order by m.created_at desc, m.seq desc limit 1), 0)",
            &[(&spacing, Type::INT8)],
        )
        .await
        .map_err(pg_err)?;
    if due.is_empty() {
        return Ok(0);
    }
    let tx = c.transaction().await.map_err(pg_err)?;
    lock_marks(&tx).await?;
    // The walk must follow the list's index. Planned with no statistics (a table filled since its last
    // analyze, as after `satang bench seed`, or where autovacuum is off), it was a bitmap scan of the
    // whole account and a sort, which ran into the statement timeout at 1M charges; without sorts and
    // bitmap scans the only plan left is the index walk (7 ms for 10,000 entries there).
    tx.batch_execute("set local enable_sort = off; set local enable_bitmapscan = off").await.map_err(pg_err)?;
    let mut written = 0;
    'lists: for row in &due {
        let (account, livemode, list): (&str, bool, &str) = (row.get(0), row.get(1), row.get(2));
        let Some(table) = table_of(list) else { continue };
        // The row a spacing after the last mark, walked from that mark; its base is the last mark's plus
        // the spacing, less the unfolded deltas between the two (which are counted by readers instead).
        // Each statement is one snapshot, in which rows and their deltas appear together. No mark while
        // the list has a delta without a key (see the 0017 migration).
        let sql = format!(
            "with last as (select created_at, seq, base from list_marks \
               where account_id = $1 and livemode = $2 and list = $3 order by created_at desc, seq desc limit 1), \
             s as (select coalesce((select created_at from last), {MIN}) as c, \
               coalesce((select seq from last), 0) as q, coalesce((select base from last), 0) as b), \
             nxt as (select t.created_at, t.seq from {table} t \
               where t.account_id = $1 and t.livemode = $2 and (t.created_at, t.seq) > ((select c from s), (select q from s)) \
               order by t.created_at, t.seq offset $4 - 1 limit 1) \
             insert into list_marks (account_id, livemode, list, created_at, seq, base) \
             select $1, $2, $3, n.created_at, n.seq, s.b + $4 - (select count(*) from list_count_deltas d \
               where d.account_id = $1 and d.livemode = $2 and d.list = $3 \
               and (d.created_at, d.item_seq) > (s.c, s.q) and (d.created_at, d.item_seq) <= (n.created_at, n.seq)) \
             from nxt n, s \
             where not exists (select 1 from list_count_deltas d \
               where d.account_id = $1 and d.livemode = $2 and d.list = $3 and d.created_at is null)",
            MIN = i64::MIN,
        );
        loop {
            if written >= MARKS_PER_ROUND {
                break 'lists;
            }
            let n = tx
                .execute_typed(
                    &sql,
                    &[(&account, Type::TEXT), (&livemode, Type::BOOL), (&list, Type::TEXT), (&spacing, Type::INT8)],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 {
                break;
            }
            written += 1;
        }
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(written)
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
    vacuumed.map_err(pg_err)?;
    // Then every mark the load made due (after the vacuum, so the walks are index-only).
    while mark_lists(store).await? == MARKS_PER_ROUND {}
    Ok(())
}
