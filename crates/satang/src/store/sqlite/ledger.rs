//! Refunds, ledger entries (the API's transactions) and balances: the `refunds`, `ledger` and `balances`
//! tables. All three are written only by [`book_change`], from a charge's change, in the charge's write job.

use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::{Amount, Charge, ChargeId, Direction, LedgerEntry, Origin, RefundId, Timestamp, TransactionId};

use super::lists::page;
use super::{SqliteStore, json_err, parse_doc, parse_docs, sql_err};
use crate::store::{Balance, DailyTotal, ListQuery, Page, RefundRecord, Scope, StoreError, StoreResult};

/// Writes what a charge change books besides the charge itself: new refund rows, ledger entries and
/// the balance they move.
pub(super) fn book_change(c: &Connection, scope: &Scope, before: &Charge, after: &Charge) -> StoreResult<()> {
    for r in after.refunds.iter().skip(before.refunds.len()) {
        let rec = RefundRecord { charge: after.id.clone(), currency: after.currency, refund: r.clone() };
        let doc = serde_json::to_string(&rec).map_err(json_err)?;
        c.prepare_cached(
            "insert into refunds (id, account_id, livemode, charge_id, created_at, doc) values (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut st| {
            st.execute(params![r.id.as_str(), scope.account.as_str(), scope.livemode, after.id.as_str(), r.created_at.unix(), doc])
        })
        .map_err(sql_err)?;
    }
    for e in satang_domain::ledger::entries_for_change(before, after) {
        let (charge_id, refund_id) = match &e.origin {
            Origin::Charge(id) => (Some(id.as_str()), None),
            Origin::Refund(id) => (None, Some(id.as_str())),
        };
        c.prepare_cached(
            "insert into ledger (id, account_id, livemode, direction, amount, currency, charge_id, refund_id, created_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut st| {
            st.execute(params![
                e.id.as_str(),
                scope.account.as_str(),
                scope.livemode,
                e.direction.as_str(),
                e.amount.subunits(),
                e.currency.code(),
                charge_id,
                refund_id,
                e.created_at.unix()
            ])
        })
        .map_err(sql_err)?;
        c.prepare_cached(
            "insert into balances (account_id, livemode, currency, total, updated_at) values (?1, ?2, ?3, ?4, ?5) \
             on conflict (account_id, livemode, currency) do update set total = total + excluded.total, \
             updated_at = excluded.updated_at",
        )
        .and_then(|mut st| {
            st.execute(params![
                scope.account.as_str(),
                scope.livemode,
                e.currency.code(),
                e.direction.signed(e.amount),
                e.created_at.unix()
            ])
        })
        .map_err(sql_err)?;
    }
    Ok(())
}

/// A ledger row's columns, in [`LEDGER_COLUMNS`] order.
type LedgerRow = (String, String, i64, String, Option<String>, Option<String>, i64);

fn ledger_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

const LEDGER_COLUMNS: &str = "id, direction, amount, currency, charge_id, refund_id, created_at";

fn ledger_entry(row: LedgerRow) -> StoreResult<LedgerEntry> {
    let (id, direction, amount, currency, charge, refund, created) = row;
    let other = |m: String| StoreError::Other(anyhow::anyhow!(m));
    let origin = match (charge, refund) {
        (Some(c), None) => Origin::Charge(ChargeId::try_from(c).map_err(|e| other(e.to_string()))?),
        (None, Some(r)) => Origin::Refund(RefundId::try_from(r).map_err(|e| other(e.to_string()))?),
        _ => return Err(other(format!("ledger entry {id} points at neither one charge nor one refund"))),
    };
    Ok(LedgerEntry {
        id: TransactionId::try_from(id).map_err(|e| other(e.to_string()))?,
        direction: if direction == "credit" { Direction::Credit } else { Direction::Debit },
        amount: Amount::new(amount).map_err(|e| other(e.to_string()))?,
        currency: currency.parse().map_err(|e: satang_domain::money::UnknownCurrency| other(e.to_string()))?,
        origin,
        created_at: Timestamp::from_unix(created),
    })
}

pub(super) async fn list_refunds(
    store: &SqliteStore,
    scope: &Scope,
    charge: Option<&ChargeId>,
    q: ListQuery,
) -> StoreResult<Page<RefundRecord>> {
    let (scope, charge) = (scope.clone(), charge.map(|c| c.to_string()));
    store
        .scan(move |c| {
            let filter = charge.as_deref().map(|id| ("charge_id", id));
            let docs = page(c, "refunds", "doc", &scope, filter, &q, None, |r| r.get::<_, String>(0))?;
            Ok(Page { items: parse_docs(docs.items)?, total: docs.total })
        })
        .await
}

pub(super) async fn get_refund(
    store: &SqliteStore,
    scope: &Scope,
    charge: &ChargeId,
    id: &RefundId,
) -> StoreResult<RefundRecord> {
    let (scope, charge, id) = (scope.clone(), charge.clone(), id.clone());
    store
        .read(move |c| {
            let doc: Option<String> = c
                .prepare_cached(
                    "select doc from refunds where id = ?1 and charge_id = ?2 and account_id = ?3 and livemode = ?4",
                )
                .and_then(|mut st| {
                    st.query_row(params![id.as_str(), charge.as_str(), scope.account.as_str(), scope.livemode], |r| {
                        r.get(0)
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            parse_doc(&doc.ok_or_else(|| StoreError::not_found("refund", &id))?)
        })
        .await
}

pub(super) async fn list_transactions(
    store: &SqliteStore,
    scope: &Scope,
    q: ListQuery,
) -> StoreResult<Page<LedgerEntry>> {
    let scope = scope.clone();
    store
        .scan(move |c| {
            let rows = page(c, "ledger", LEDGER_COLUMNS, &scope, None, &q, None, ledger_row)?;
            Ok(Page { items: rows.items.into_iter().map(ledger_entry).collect::<StoreResult<_>>()?, total: rows.total })
        })
        .await
}

pub(super) async fn get_transaction(
    store: &SqliteStore,
    scope: &Scope,
    id: &TransactionId,
) -> StoreResult<LedgerEntry> {
    let (scope, id) = (scope.clone(), id.clone());
    store
        .read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "select {LEDGER_COLUMNS} from ledger where id = ?1 and account_id = ?2 and livemode = ?3"
                ))
                .and_then(|mut st| {
                    st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], ledger_row).optional()
                })
                .map_err(sql_err)?;
            ledger_entry(row.ok_or_else(|| StoreError::not_found("transaction", &id))?)
        })
        .await
}

pub(super) async fn balances(store: &SqliteStore, scope: &Scope) -> StoreResult<Vec<Balance>> {
    let scope = scope.clone();
    store
        .read(move |c| {
            let rows = c
                .prepare_cached(
                    "select currency, total from balances where account_id = ?1 and livemode = ?2 order by currency",
                )
                .and_then(|mut st| {
                    st.query_map(params![scope.account.as_str(), scope.livemode], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(cur, total)| {
                    let currency =
                        cur.parse().map_err(|e: satang_domain::money::UnknownCurrency| StoreError::Other(e.into()))?;
                    Ok(Balance { currency, total })
                })
                .collect()
        })
        .await
}

/// The dashboard chart's days: one grouped scan of the ledger in the window (its scope-and-time index),
/// each payment's gross and fees read from its charge document. SQLite's `sum` of integers fails on
/// overflow instead of turning to a real, so a total is exact or an error.
pub(super) async fn daily_totals(
    store: &SqliteStore,
    scope: &Scope,
    from: Timestamp,
    to: Timestamp,
    offset_secs: i64,
) -> StoreResult<Vec<DailyTotal>> {
    let scope = scope.clone();
    store
        .read(move |c| {
            let rows = c
                .prepare_cached(
                    "select (l.created_at + ?3) / 86400 as day, l.currency, \
                       sum(case when l.direction = 'credit' then coalesce(json_extract(c.doc, '$.amount'), 0) else 0 end), \
                       sum(case when l.direction = 'credit' then coalesce(json_extract(c.doc, '$.fees.fee'), 0) \
                                                   + coalesce(json_extract(c.doc, '$.fees.fee_vat'), 0) else 0 end), \
                       sum(case when l.direction = 'debit' then l.amount else 0 end), \
                       sum(case when l.direction = 'credit' then l.amount else -l.amount end) \
                     from ledger l left join charges c on c.id = l.charge_id \
                     where l.account_id = ?1 and l.livemode = ?2 and l.created_at >= ?4 and l.created_at < ?5 \
                     group by day, l.currency order by day, l.currency",
                )
                .and_then(|mut st| {
                    st.query_map(
                        params![scope.account.as_str(), scope.livemode, offset_secs, from.unix(), to.unix()],
                        |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, i64>(3)?,
                                r.get::<_, i64>(4)?,
                                r.get::<_, i64>(5)?,
                            ))
                        },
                    )?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            rows.into_iter()
                .map(|(day, cur, gross, fees, refunds, net)| {
                    let currency =
                        cur.parse().map_err(|e: satang_domain::money::UnknownCurrency| StoreError::Other(e.into()))?;
                    Ok(DailyTotal { day, currency, gross, fees, refunds, net })
                })
                .collect()
        })
        .await
}
