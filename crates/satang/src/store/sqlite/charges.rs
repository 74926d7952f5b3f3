//! Sources and charges: the `sources` and `charges` tables, and the due-list of expiring charges. A
//! charge change books its refunds and ledger entries ([`super::ledger`]) and writes its events
//! ([`super::events`]) in the same write job.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::{Charge, ChargeId, Source, SourceId, Timestamp};

use super::events::insert_event;
use super::idempotency;
use super::ledger::book_change;
use super::lists::{count_insert, list_total, page};
use super::search::index_charge;
use super::users::insert_audit;
use super::{SqliteStore, json_err, parse_docs, sql_err};
use crate::store::idempotency::{Written, pending_key};
use crate::store::search::{charge_text, text_changed};
use crate::store::{ChargeMutation, ChargeRef, ListQuery, NewEvent, Order, Page, Scope, StoreError, StoreResult};

/// Optimistic attempts of a charge change before it runs inside the writer.
const OPTIMISTIC_TRIES: usize = 3;

fn load_charge(conn: &Connection, which: &ChargeRef) -> StoreResult<(i64, Charge)> {
    load_charge_versioned(conn, which).map(|(seq, _, c)| (seq, c))
}

/// The charge with its row's `seq` and `version`.
fn load_charge_versioned(conn: &Connection, which: &ChargeRef) -> StoreResult<(i64, i64, Charge)> {
    let row: Option<(i64, i64, String)> = match which {
        ChargeRef::Scoped(scope, id) => conn
            .prepare_cached("select seq, version, doc from charges where id = ?1 and account_id = ?2 and livemode = ?3")
            .and_then(|mut st| {
                st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
            }),
        ChargeRef::Unscoped(id) => {
            conn.prepare_cached("select seq, version, doc from charges where id = ?1").and_then(|mut st| {
                st.query_row(params![id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()
            })
        }
    }
    .map_err(sql_err)?;
    let id = match which {
        ChargeRef::Scoped(_, id) | ChargeRef::Unscoped(id) => id,
    };
    let (seq, version, doc) = row.ok_or_else(|| StoreError::not_found("charge", id))?;
    Ok((seq, version, serde_json::from_str(&doc).map_err(json_err)?))
}

/// A source from its own document, or (`inline`) from the document of the charge it was created with.
pub(crate) fn source_from(doc: &str, inline: bool) -> StoreResult<Source> {
    if inline {
        let charge: Charge = serde_json::from_str(doc).map_err(json_err)?;
        Ok(charge.source)
    } else {
        serde_json::from_str(doc).map_err(json_err)
    }
}

pub(super) async fn insert_source(store: &SqliteStore, scope: &Scope, source: &Source) -> StoreResult<()> {
    let doc = serde_json::to_string(source).map_err(json_err)?;
    let pending = pending_key();
    let key = idempotency::render(&pending, Written::Source(source))?;
    let (scope, id, created) = (scope.clone(), source.id.clone(), source.created_at);
    let written = store
        .write(move |c| {
            c.prepare_cached(
                "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values (?1, ?2, ?3, null, ?4, ?5)",
            )
            .and_then(|mut st| st.execute(params![id.as_str(), scope.account.as_str(), scope.livemode, created.unix(), doc]))
            .map_err(sql_err)?;
            idempotency::insert_rendered(c, &key)
        })
        .await;
    idempotency::note_taken(&pending, written)
}

pub(super) async fn get_source(
    store: &SqliteStore,
    scope: &Scope,
    id: &SourceId,
) -> StoreResult<(Source, Option<String>)> {
    let (scope, id) = (scope.clone(), id.clone());
    store
        .read(move |c| {
            let row: Option<(Option<String>, Option<String>, bool)> = c
                .prepare_cached(
                    "select case when s.doc = '' then ch.doc else s.doc end, ch.status, s.doc = '' \
                 from sources s left join charges ch on ch.id = s.charge_id \
                 where s.id = ?1 and s.account_id = ?2 and s.livemode = ?3",
                )
                .and_then(|mut st| {
                    st.query_row(params![id.as_str(), scope.account.as_str(), scope.livemode], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()
                })
                .map_err(sql_err)?;
            let (doc, status, inline) = row.ok_or_else(|| StoreError::not_found("source", &id))?;
            let doc = doc.ok_or_else(|| StoreError::Other(anyhow::anyhow!("source {id} has no document")))?;
            Ok((source_from(&doc, inline)?, status))
        })
        .await
}

pub(super) async fn create_charge(
    store: &SqliteStore,
    scope: &Scope,
    charge: &Charge,
    doc: String,
    new_source: bool,
    events: Vec<NewEvent>,
) -> StoreResult<()> {
    // An inline source lives inside its charge's document; its own row only marks it used (doc '').
    let source_doc = if new_source { Some(String::new()) } else { None };
    let scope = scope.clone();
    let (id, source_id, created, expires) =
        (charge.id.clone(), charge.source.id.clone(), charge.created_at, charge.expires_at);
    let (status, method, currency) = (charge.status.name(), charge.source.method.name, charge.currency.code());
    let pending = pending_key();
    let key = idempotency::render(&pending, Written::Charge(charge))?;
    let text = charge_text(charge);
    let written = store.write(move |c| {
        match &source_doc {
            Some(sdoc) => {
                c.prepare_cached(
                    "insert into sources (id, account_id, livemode, charge_id, created_at, doc) values (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        source_id.as_str(),
                        scope.account.as_str(),
                        scope.livemode,
                        id.as_str(),
                        created.unix(),
                        sdoc
                    ])
                })
                .map_err(sql_err)?;
            }
            None => {
                let n = c
                    .prepare_cached(
                        "update sources set charge_id = ?1 where id = ?2 and account_id = ?3 and livemode = ?4 \
                         and charge_id is null",
                    )
                    .and_then(|mut st| {
                        st.execute(params![id.as_str(), source_id.as_str(), scope.account.as_str(), scope.livemode])
                    })
                    .map_err(sql_err)?;
                if n == 0 {
                    let used: Option<Option<String>> = c
                        .query_row(
                            "select charge_id from sources where id = ?1 and account_id = ?2 and livemode = ?3",
                            params![source_id.as_str(), scope.account.as_str(), scope.livemode],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(sql_err)?;
                    return Err(match used {
                        Some(Some(charge)) => StoreError::SourceUsed { source_id: source_id.clone(), charge },
                        _ => StoreError::not_found("source", &source_id),
                    });
                }
            }
        }
        let pos = count_insert(c, &scope, "charges")?;
        c.prepare_cached(
            "insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc, pos, \
             method, currency) values (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut st| {
            st.execute(params![
                id.as_str(),
                scope.account.as_str(),
                scope.livemode,
                status,
                created.unix(),
                expires.unix(),
                doc,
                pos,
                method,
                currency
            ])
        })
        .map_err(sql_err)?;
        index_charge(c.last_insert_rowid(), text.clone());
        for e in &events {
            insert_event(c, &scope, e)?;
        }
        idempotency::insert_rendered(c, &key)
    })
    .await;
    idempotency::note_taken(&pending, written)
}

pub(super) async fn get_charge(store: &SqliteStore, scope: &Scope, id: &ChargeId) -> StoreResult<Charge> {
    let which = ChargeRef::Scoped(scope.clone(), id.clone());
    store.read(move |c| load_charge(c, &which).map(|(_, ch)| ch)).await
}

pub(super) async fn find_charge(store: &SqliteStore, id: &ChargeId) -> StoreResult<Charge> {
    let which = ChargeRef::Unscoped(id.clone());
    store.read(move |c| load_charge(c, &which).map(|(_, ch)| ch)).await
}

/// A page of the whole list is an index range of at most `limit` rows at any depth, so it is read on the
/// calling thread like a lookup ([`SqliteStore::read`]): handing it to the blocking pool cost two context
/// switches per page (`finish_task_switch` and the wake-ups were 15 % of a list's profile). A page within a
/// `from`/`to` window walks its offset, however deep, so it stays a scan on the blocking pool.
pub(super) async fn list_charges(store: &SqliteStore, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>> {
    let scope = scope.clone();
    if q.whole {
        return store.read(move |c| whole_list_page(c, &scope, q)).await;
    }
    store
        .scan(move |c| {
            let docs = page(c, "charges", "doc", &scope, None, &q, None, |r| r.get::<_, String>(0))?;
            Ok(Page { items: parse_docs(docs.items)?, total: docs.total })
        })
        .await
}

/// A page of an account's whole charge list: positions 1..=n, so a page at any depth is an index range.
fn whole_list_page(c: &Connection, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>> {
    let total = list_total(c, scope, "charges")?;
    // The limit is written into the statement (see the module docs).
    let (sql, bound) = match q.order {
        Order::Chronological => (
            format!(
                "select doc from charges where account_id = ?1 and livemode = ?2 and pos > ?3 order by pos limit {}",
                q.limit
            ),
            q.offset as i64,
        ),
        Order::ReverseChronological => (
            format!(
                "select doc from charges where account_id = ?1 and livemode = ?2 and pos <= ?3 order by pos desc limit {}",
                q.limit
            ),
            total - q.offset as i64,
        ),
    };
    let docs = c
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![scope.account.as_str(), scope.livemode, bound], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    Ok(Page { items: parse_docs(docs)?, total: total as u64 })
}

/// Optimistic first: load and change the charge on the calling thread, then let the writer check that
/// nobody changed it meanwhile (`version`) and write. That keeps the domain work and the JSON off the
/// single writer thread. After [`OPTIMISTIC_TRIES`] lost races (many refunds at once on one charge) the
/// change runs inside the writer, where it cannot lose.
pub(super) async fn update_charge(
    store: &SqliteStore,
    which: ChargeRef,
    mutation: ChargeMutation,
) -> StoreResult<Charge> {
    let mutation = Arc::new(mutation);
    let pending = pending_key();
    let audit = crate::store::users::pending_audit();
    for _ in 0..OPTIMISTIC_TRIES {
        let w = which.clone();
        let (seq, version, before) = store.read(move |c| load_charge_versioned(c, &w)).await?;
        let mut charge = before.clone();
        let events = mutation(&mut charge)?;
        let doc = crate::json::to_string(&charge).map_err(|e| json_err(e.into()))?;
        let key = idempotency::render(&pending, Written::Charge(&charge))?;
        let after = charge.clone();
        let text = text_changed(&before, &after).then(|| charge_text(&after));
        let audit = audit.clone();
        let written = store
            .write(move |c| {
                let n = c
                    .prepare_cached(
                        "update charges set doc = ?1, status = ?2, expires_at = ?3, version = version + 1 \
                         where seq = ?4 and version = ?5",
                    )
                    .and_then(|mut st| {
                        st.execute(params![doc, after.status.name(), after.expires_at.unix(), seq, version])
                    })
                    .map_err(sql_err)?;
                if n == 0 {
                    return Err(StoreError::Conflict);
                }
                if let Some(text) = &text {
                    index_charge(seq, text.clone());
                }
                let scope = Scope { account: after.account.clone(), livemode: after.livemode() };
                book_change(c, &scope, &before, &after)?;
                for e in &events {
                    insert_event(c, &scope, e)?;
                }
                if let Some(a) = &audit {
                    insert_audit(c, a)?;
                }
                idempotency::insert_rendered(c, &key)
            })
            .await;
        match idempotency::note_taken(&pending, written) {
            Ok(()) => return Ok(charge),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    let p = pending.clone();
    let written = store
        .write(move |c| {
            let (seq, _, mut charge) = load_charge_versioned(c, &which)?;
            let before = charge.clone();
            let events = mutation(&mut charge)?;
            let scope = Scope { account: charge.account.clone(), livemode: charge.livemode() };
            book_change(c, &scope, &before, &charge)?;
            let doc = crate::json::to_string(&charge).map_err(|e| json_err(e.into()))?;
            c.prepare_cached(
                "update charges set doc = ?1, status = ?2, expires_at = ?3, version = version + 1 where seq = ?4",
            )
            .and_then(|mut st| st.execute(params![doc, charge.status.name(), charge.expires_at.unix(), seq]))
            .map_err(sql_err)?;
            if text_changed(&before, &charge) {
                index_charge(seq, charge_text(&charge));
            }
            for e in &events {
                insert_event(c, &scope, e)?;
            }
            if let Some(a) = &audit {
                insert_audit(c, a)?;
            }
            idempotency::insert_rendered(c, &idempotency::render(&p, Written::Charge(&charge))?)?;
            Ok(charge)
        })
        .await;
    idempotency::note_taken(&pending, written)
}

pub(super) async fn due_charges(store: &SqliteStore, now: Timestamp, limit: u64) -> StoreResult<Vec<ChargeId>> {
    store
        .scan(move |c| {
            let ids = c
                .prepare_cached(
                    &format!(
                        "select id from charges where status = 'pending' and expires_at <= ?1 order by expires_at limit {limit}"
                    ),
                )
                .and_then(|mut st| {
                    st.query_map(params![now.unix()], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            ids.into_iter().map(|s| ChargeId::try_from(s).map_err(|e| StoreError::Other(e.into()))).collect()
        })
        .await
}
