//! Refunds, ledger entries (the API's transactions) and balances: the `refunds`, `ledger` and `balances`
//! tables. All three are written only with a charge's change, by the charge's own statement
//! ([`super::charges`], `UPDATE_CHARGE`).
//!
//! A balance is split over rows per key (`shard`, the 0004 migration) so that concurrent changes of one
//! account do not queue on one row lock until their commits; readers add the rows up. A change adds to the
//! shard of its database connection, `pg_backend_pid() % 64`: two transactions in flight at once are on two
//! connections, whose backend process IDs differ (and mostly by small steps, so their shards differ too,
//! across nodes as well). A random one of 16 shards, as before, made 64 concurrent completions wait on each
//! other's rows: sampling `pg_locks` every 0.2 s through `satang bench --scenario complete-and-deliver`
//! found 18 and 25 waits on a transaction ID in two runs, and none in two runs with the connection's shard.

use satang_domain::{Amount, ChargeId, Direction, LedgerEntry, Origin, RefundId, Timestamp, TransactionId};
use tokio_postgres::Row;

use super::lists::page;
use super::{PgStore, bad_id, parse_doc, pg_err};
use crate::store::{Balance, DailyTotal, ListQuery, Page, RefundRecord, Scope, StoreError, StoreResult};

const LEDGER_COLUMNS: &str = "id, direction, amount, currency, charge_id, refund_id, created_at";

fn ledger_from(row: &Row) -> StoreResult<LedgerEntry> {
    let id: String = row.get(0);
    let other = |m: String| StoreError::Other(anyhow::anyhow!(m));
    let origin = match (row.get::<_, Option<String>>(4), row.get::<_, Option<String>>(5)) {
        (Some(c), None) => Origin::Charge(ChargeId::try_from(c).map_err(bad_id)?),
        (None, Some(r)) => Origin::Refund(RefundId::try_from(r).map_err(bad_id)?),
        _ => return Err(other(format!("ledger entry {id} points at neither one charge nor one refund"))),
    };
    let direction: String = row.get(1);
    let currency: String = row.get(3);
    Ok(LedgerEntry {
        id: TransactionId::try_from(id).map_err(bad_id)?,
        direction: if direction == "credit" { Direction::Credit } else { Direction::Debit },
        amount: Amount::new(row.get(2)).map_err(|e| other(e.to_string()))?,
        currency: currency.parse().map_err(|e: satang_domain::money::UnknownCurrency| other(e.to_string()))?,
        origin,
        created_at: Timestamp::from_unix(row.get(6)),
    })
}

pub(super) async fn list_refunds(
    store: &PgStore,
    scope: &Scope,
    charge: Option<&ChargeId>,
    q: ListQuery,
) -> StoreResult<Page<RefundRecord>> {
    let c = store.client().await?;
    let rows = page(&c, "refunds", "doc", scope, charge.map(|id| ("charge_id", id.as_str())), &q, None).await?;
    let items = rows.items.iter().map(|r| parse_doc(r.get::<_, &str>(0))).collect::<StoreResult<_>>()?;
    Ok(Page { items, total: rows.total })
}

pub(super) async fn get_refund(
    store: &PgStore,
    scope: &Scope,
    charge: &ChargeId,
    id: &RefundId,
) -> StoreResult<RefundRecord> {
    let row = store
        .client()
        .await?
        .query_opt(
            "select doc from refunds where id = $1 and charge_id = $2 and account_id = $3 and livemode = $4",
            &[&id.as_str(), &charge.as_str(), &scope.account.as_str(), &scope.livemode],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("refund", id))?;
    parse_doc(row.get::<_, &str>(0))
}

pub(super) async fn list_transactions(store: &PgStore, scope: &Scope, q: ListQuery) -> StoreResult<Page<LedgerEntry>> {
    let c = store.client().await?;
    let rows = page(&c, "ledger", LEDGER_COLUMNS, scope, None, &q, None).await?;
    Ok(Page { items: rows.items.iter().map(ledger_from).collect::<StoreResult<_>>()?, total: rows.total })
}

pub(super) async fn get_transaction(store: &PgStore, scope: &Scope, id: &TransactionId) -> StoreResult<LedgerEntry> {
    let row = store
        .client()
        .await?
        .query_opt(
            &format!("select {LEDGER_COLUMNS} from ledger where id = $1 and account_id = $2 and livemode = $3"),
            &[&id.as_str(), &scope.account.as_str(), &scope.livemode],
        )
        .await
        .map_err(pg_err)?
        .ok_or_else(|| StoreError::not_found("transaction", id))?;
    ledger_from(&row)
}

pub(super) async fn balances(store: &PgStore, scope: &Scope) -> StoreResult<Vec<Balance>> {
    let rows = store
        .client()
        .await?
        .query(
            "select currency, sum(total)::bigint from balances where account_id = $1 and livemode = $2 \
             group by currency order by currency",
            &[&scope.account.as_str(), &scope.livemode],
        )
        .await
        .map_err(pg_err)?;
    rows.iter()
        .map(|r| {
            let cur: String = r.get(0);
            let currency =
                cur.parse().map_err(|e: satang_domain::money::UnknownCurrency| StoreError::Other(e.into()))?;
            Ok(Balance { currency, total: r.get(1) })
        })
        .collect()
}

/// The dashboard chart's days: one grouped scan of the ledger in the window, each payment's gross and fees
/// read from its charge document. `sum` of bigints is a numeric here; the cast back to bigint fails on
/// overflow, so a total is exact or an error.
pub(super) async fn daily_totals(
    store: &PgStore,
    scope: &Scope,
    from: Timestamp,
    to: Timestamp,
    offset_secs: i64,
) -> StoreResult<Vec<DailyTotal>> {
    let rows = store
        .client()
        .await?
        .query(
            "select floor((l.created_at + $3)::numeric / 86400)::bigint as day, l.currency, \
               coalesce(sum(case when l.direction = 'credit' then coalesce((c.doc::jsonb ->> 'amount')::bigint, 0) \
                            else 0 end), 0)::bigint, \
               coalesce(sum(case when l.direction = 'credit' then coalesce((c.doc::jsonb #>> '{fees,fee}')::bigint, 0) \
                                 + coalesce((c.doc::jsonb #>> '{fees,fee_vat}')::bigint, 0) else 0 end), 0)::bigint, \
               coalesce(sum(case when l.direction = 'debit' then l.amount else 0 end), 0)::bigint, \
               coalesce(sum(case when l.direction = 'credit' then l.amount else -l.amount end), 0)::bigint \
             from ledger l left join charges c on c.id = l.charge_id \
             where l.account_id = $1 and l.livemode = $2 and l.created_at >= $4 and l.created_at < $5 \
             group by day, l.currency order by day, l.currency",
            &[&scope.account.as_str(), &scope.livemode, &offset_secs, &from.unix(), &to.unix()],
        )
        .await
        .map_err(pg_err)?;
    rows.iter()
        .map(|r| {
            let cur: String = r.get(1);
            let currency =
                cur.parse().map_err(|e: satang_domain::money::UnknownCurrency| StoreError::Other(e.into()))?;
            Ok(DailyTotal {
                day: r.get(0),
                currency,
                gross: r.get(2),
                fees: r.get(3),
                refunds: r.get(4),
                net: r.get(5),
            })
        })
        .collect()
}
