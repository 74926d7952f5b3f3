//! The SQLite store: one file in WAL mode, durable on acknowledge, with a single writer thread that
//! commits in groups. Other processes (`satang account create` while `serve` runs) use the same file with
//! a busy timeout.
//!
//! This module holds [`SqliteStore`] itself: opening the file ([`connect`]), applying the migrations
//! ([`migrate`]), and `impl Store for SqliteStore`, whose methods only forward to the module of their
//! concern. Each table is read and written in exactly one module:
//!
//! | module       | owns |
//! |--------------|------|
//! | [`writer`]   | the machinery: the group-commit writer thread and its jobs, the reader connections |
//! | [`accounts`] | `accounts`, `api_keys`, `fee_schedules` |
//! | [`charges`]  | `sources`, `charges`: create, get, list, update, the expiry due-list |
//! | [`ledger`]   | `refunds`, `ledger` (the API's transactions), `balances`: what a charge change books |
//! | [`events`]   | `events`, and the webhook deliveries each new event queues |
//! | [`webhooks`] | `webhook_endpoints`, `webhook_signing`, claiming `webhook_deliveries`, `webhook_attempts` |
//! | [`lists`]    | `list_counters`, and the paging every scoped list shares |
//! | [`idempotency`] | `idempotency_keys`: a request's key, recorded in its effect's write job |
//! | [`connectors`] | `connectors`, `provider_calls`, `payment_attempts`, `refund_intents`: live acquirers |
//!
//! A new concern gets a new module beside these and one-line forwarders in the impl below.
//!
//! **Every `LIMIT` is written into its statement as a number, never bound as a parameter.** SQLite (3.50)
//! marks a statement whose `LIMIT` is a parameter to be compiled again whenever that parameter is bound,
//! so a cached statement was re-parsed and re-planned on every execution (`sqlite3Reprepare`, 8 % of the
//! CPU of a charge list page in perf). The limits are integers satang chose or validated (an API `limit`
//! is 1–100), so the text is safe, and each limit is one cached statement.

mod accounts;
mod charges;
mod connectors;
mod events;
mod idempotency;
mod ledger;
mod lists;
mod search;
mod users;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use satang_domain::{
    AccountId, Charge, ChargeId, Currency, EndpointId, EventId, FeeSchedule, LedgerEntry, RefundId, Source, SourceId,
    Timestamp, TransactionId,
};
use tokio::sync::{Notify, Semaphore, mpsc};

pub(crate) use self::charges::source_from;
pub use self::writer::MAX_BATCH;
use self::writer::{Checkpoints, READERS, Readers, WriteJob, checkpointer_loop, writer_loop};
use super::migrate::{Migration, SQLITE};
use super::search::{Browse, Browsed, SearchQuery};
use super::*;

const BUSY_TIMEOUT_MS: u64 = 10_000;

/// Page cache per connection, in KiB (negative in the pragma): 32 MiB instead of SQLite's 2 MiB, so the
/// upper levels of the indexes of a million charges stay in memory. With the writer and a reader per
/// thread this keeps satang well inside its memory budget.
const CACHE_KIB: i64 = -32_000;

/// Prepared statements kept per connection (rusqlite keeps 16): the store has more distinct statements
/// than that (a write batch alone uses a dozen, the dashboard's lists more), and a statement pushed out
/// is parsed and planned again at its next use.
const STATEMENTS_CACHED: usize = 256;

/// Every connection's settings beyond the pragmas: the statement cache's size, and SQLite's query planner
/// stability guarantee (QPSG). Without QPSG, a statement whose plan might depend on a bound value is
/// marked to be compiled again when that value is rebound: every `livemode = ?` (a 0 or 1, which the
/// planner's boolean-column heuristic looks at), and rusqlite clears a statement's bindings when it goes
/// back to the cache, which expires such a statement outright. So every scoped lookup and list was
/// parsed and planned on each execution (`sqlite3Reprepare`, 7 % of the CPU of a list page in perf).
/// With QPSG a statement is planned once, without looking at the values; satang's indexes all begin with
/// `(account_id, livemode)`, so the plans are the ones the values would have chosen.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

pub struct SqliteStore {
    jobs: mpsc::Sender<Box<dyn WriteJob>>,
    readers: Arc<Readers>,
    read_permits: Arc<Semaphore>,
    outbox: Arc<Notify>,
    events: crate::store::EventsSignal,
    /// When old idempotency keys were last pruned (unix seconds).
    pruned: std::sync::atomic::AtomicI64,
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(anyhow::Error::new(e)),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(e).context("stored document does not parse"))
}

/// Opens a read-write connection with satang's settings.
pub fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening SQLite database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    // FULL: the WAL is fsynced on every commit, so an acknowledged write survives power loss.
    conn.pragma_update(None, "synchronous", "full")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    configure(&conn)?;
    Ok(conn)
}

/// Applies the migrations not yet recorded in `schema_migrations`.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> anyhow::Result<()> {
    conn.execute_batch(
        "create table if not exists schema_migrations (version integer primary key, name text not null, applied_at integer not null)",
    )?;
    for m in migrations {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row("select version from schema_migrations where version = ?1", [m.version], |r| r.get(0))
            .optional()?;
        if done.is_none() {
            tx.execute_batch(m.sql).with_context(|| format!("migration {} {}", m.version, m.name))?;
            tx.execute(
                "insert into schema_migrations (version, name, applied_at) values (?1, ?2, strftime('%s','now'))",
                params![m.version, m.name],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

fn parse_docs<T: serde::de::DeserializeOwned>(docs: Vec<String>) -> StoreResult<Vec<T>> {
    docs.iter().map(|d| serde_json::from_str(d).map_err(json_err)).collect()
}

fn parse_doc<T: serde::de::DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(json_err)
}

impl SqliteStore {
    pub async fn open(path: &str) -> anyhow::Result<Self> {
        if path.is_empty() || path.starts_with(":memory:") {
            anyhow::bail!("satang needs a SQLite file (e.g. sqlite:satang.db), not an in-memory database");
        }
        let path = PathBuf::from(path);
        let p = path.clone();
        let (conn, checkpointer) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Connection, Connection)> {
            let mut conn = connect(&p)?;
            migrate(&mut conn, SQLITE)?;
            let checkpointer = connect(&p)?;
            // It reads pages only to copy them: no cache to speak of.
            checkpointer.pragma_update(None, "cache_size", -1024)?;
            Ok((conn, checkpointer))
        })
        .await??;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>(MAX_BATCH * 4);
        let outbox = Arc::new(Notify::new());
        let signal = outbox.clone();
        let events = crate::store::EventsSignal::default();
        let written = events.clone();
        let checkpoints = Arc::new(Checkpoints::default());
        let c = checkpoints.clone();
        std::thread::Builder::new()
            .name("satang-sqlite-checkpoint".into())
            .spawn(move || checkpointer_loop(checkpointer, c))?;
        std::thread::Builder::new()
            .name("satang-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, signal, written, checkpoints))?;
        Ok(SqliteStore {
            jobs: tx,
            readers: Arc::new(Readers { path, idle: Mutex::new(Vec::new()) }),
            read_permits: Arc::new(Semaphore::new(READERS)),
            outbox,
            events,
            pruned: std::sync::atomic::AtomicI64::new(0),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("select 1", [], |_| Ok(())).map_err(sql_err)).await
    }

    async fn housekeeping(&self) -> StoreResult<()> {
        idempotency::prune(self, &self.pruned).await
    }

    async fn create_account(&self, a: NewAccount) -> StoreResult<()> {
        accounts::create_account(self, a).await
    }

    async fn count_accounts(&self) -> StoreResult<u64> {
        accounts::count_accounts(self).await
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Account> {
        accounts::get_account(self, id).await
    }

    async fn set_checkout_settings(&self, id: &AccountId, settings: &CheckoutSettings) -> StoreResult<()> {
        accounts::set_checkout_settings(self, id, settings).await
    }

    async fn set_account_settings(&self, id: &AccountId, settings: &AccountSettings) -> StoreResult<()> {
        accounts::set_account_settings(self, id, settings).await
    }

    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyGrant>> {
        accounts::find_key(self, hash).await
    }

    async fn fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
    ) -> StoreResult<Option<FeeSchedule>> {
        accounts::fee_schedule(self, account, method, currency).await
    }

    async fn set_fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
        schedule: FeeSchedule,
    ) -> StoreResult<()> {
        accounts::set_fee_schedule(self, account, method, currency, schedule).await
    }

    async fn insert_source(&self, scope: &Scope, source: &Source) -> StoreResult<()> {
        charges::insert_source(self, scope, source).await
    }

    async fn get_source(&self, scope: &Scope, id: &SourceId) -> StoreResult<(Source, Option<String>)> {
        charges::get_source(self, scope, id).await
    }

    async fn create_charge(
        &self,
        scope: &Scope,
        charge: &Charge,
        doc: String,
        new_source: bool,
        events: Vec<NewEvent>,
    ) -> StoreResult<()> {
        charges::create_charge(self, scope, charge, doc, new_source, events).await
    }

    async fn get_charge(&self, scope: &Scope, id: &ChargeId) -> StoreResult<Charge> {
        charges::get_charge(self, scope, id).await
    }

    async fn find_charge(&self, id: &ChargeId) -> StoreResult<Charge> {
        charges::find_charge(self, id).await
    }

    async fn list_charges(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>> {
        charges::list_charges(self, scope, q).await
    }

    async fn update_charge(&self, which: ChargeRef, mutation: ChargeMutation) -> StoreResult<Charge> {
        charges::update_charge(self, which, mutation).await
    }

    async fn due_charges(&self, now: Timestamp, limit: u64) -> StoreResult<Vec<ChargeId>> {
        charges::due_charges(self, now, limit).await
    }

    async fn get_event(&self, scope: &Scope, id: &EventId) -> StoreResult<StoredEvent> {
        events::get_event(self, scope, id).await
    }

    async fn list_events(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<StoredEvent>> {
        events::list_events(self, scope, charge, q).await
    }

    async fn create_user(&self, user: &super::users::User, audit: &super::users::AuditEntry) -> StoreResult<()> {
        users::create_user(self, user, audit).await
    }

    async fn find_user(&self, email: &str) -> StoreResult<Option<super::users::User>> {
        users::find_user(self, email).await
    }

    async fn create_session(&self, session: &super::users::Session) -> StoreResult<()> {
        users::create_session(self, session).await
    }

    async fn find_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(super::users::Session, super::users::User)>> {
        users::find_session(self, token_hash, now).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        users::delete_session(self, token_hash).await
    }

    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: &str,
        audit: &super::users::AuditEntry,
    ) -> StoreResult<()> {
        users::change_password(self, user_id, password_hash, keep_session, audit).await
    }

    async fn record_login(&self, email: &str, ok: bool, at: Timestamp) -> StoreResult<()> {
        users::record_login(self, email, ok, at).await
    }

    async fn failed_logins_since(&self, email: &str, since: Timestamp) -> StoreResult<u64> {
        users::failed_logins_since(self, email, since).await
    }

    async fn record_audit(&self, entry: &super::users::AuditEntry) -> StoreResult<()> {
        users::record_audit(self, entry).await
    }

    async fn list_audit(&self, account: &AccountId, limit: u64) -> StoreResult<Vec<super::users::AuditEntry>> {
        users::list_audit(self, account, limit).await
    }

    async fn list_keys(&self, account: &AccountId) -> StoreResult<Vec<KeyInfo>> {
        accounts::list_keys(self, account).await
    }

    async fn roll_secret_key(
        &self,
        account: &AccountId,
        new: &KeyRecord,
        now: Timestamp,
        old_until: Timestamp,
        audit: &super::users::AuditEntry,
    ) -> StoreResult<()> {
        accounts::roll_secret_key(self, account, new, now, old_until, audit).await
    }

    async fn search_charges(&self, scope: &Scope, q: &SearchQuery) -> StoreResult<Page<Charge>> {
        search::search_charges(self, scope, q).await
    }

    async fn browse_charges(&self, scope: &Scope, q: &Browse) -> StoreResult<Browsed<Charge>> {
        search::browse_charges(self, scope, q).await
    }

    async fn search_refunds(&self, scope: &Scope, q: &SearchQuery) -> StoreResult<Page<RefundRecord>> {
        search::search_refunds(self, scope, q).await
    }

    async fn list_refunds(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<RefundRecord>> {
        ledger::list_refunds(self, scope, charge, q).await
    }

    async fn get_refund(&self, scope: &Scope, charge: &ChargeId, id: &RefundId) -> StoreResult<RefundRecord> {
        ledger::get_refund(self, scope, charge, id).await
    }

    async fn list_transactions(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<LedgerEntry>> {
        ledger::list_transactions(self, scope, q).await
    }

    async fn get_transaction(&self, scope: &Scope, id: &TransactionId) -> StoreResult<LedgerEntry> {
        ledger::get_transaction(self, scope, id).await
    }

    async fn balances(&self, scope: &Scope) -> StoreResult<Vec<Balance>> {
        ledger::balances(self, scope).await
    }

    async fn daily_totals(
        &self,
        scope: &Scope,
        from: Timestamp,
        to: Timestamp,
        offset_secs: i64,
    ) -> StoreResult<Vec<DailyTotal>> {
        ledger::daily_totals(self, scope, from, to, offset_secs).await
    }

    fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    fn events_signal(&self) -> crate::store::EventsSignal {
        self.events.clone()
    }

    async fn create_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<()> {
        webhooks::create_endpoint(self, ep).await
    }

    async fn list_endpoints(&self, account: &AccountId, livemode: Option<bool>) -> StoreResult<Vec<WebhookEndpoint>> {
        webhooks::list_endpoints(self, account, livemode).await
    }

    async fn get_endpoint(&self, id: &EndpointId) -> StoreResult<WebhookEndpoint> {
        webhooks::get_endpoint(self, id).await
    }

    async fn delete_endpoint(&self, id: &EndpointId, now: Timestamp) -> StoreResult<()> {
        webhooks::delete_endpoint(self, id, now).await
    }

    async fn roll_endpoint_secret(
        &self,
        id: &EndpointId,
        secret: String,
        previous_until: Timestamp,
    ) -> StoreResult<WebhookEndpoint> {
        webhooks::roll_endpoint_secret(self, id, secret, previous_until).await
    }

    async fn signing_secret(&self, scope: &Scope, now: Timestamp) -> StoreResult<SigningSecret> {
        webhooks::signing_secret(self, scope, now).await
    }

    async fn roll_signing_secret(
        &self,
        scope: &Scope,
        secret: String,
        previous_until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<SigningSecret> {
        webhooks::roll_signing_secret(self, scope, secret, previous_until, now).await
    }

    async fn claim_deliveries(&self, req: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>> {
        webhooks::claim_deliveries(self, req).await
    }

    async fn finish_attempt(&self, seq: i64, a: AttemptRecord, outcome: DeliveryOutcome) -> StoreResult<()> {
        webhooks::finish_attempt(self, seq, a, outcome).await
    }

    async fn outbox_stats(&self) -> StoreResult<(u64, Option<Timestamp>)> {
        webhooks::outbox_stats(self).await
    }

    async fn list_attempts(&self, events: &[EventId]) -> StoreResult<Vec<AttemptRecord>> {
        webhooks::list_attempts(self, events).await
    }

    async fn redeliver(&self, scope: &Scope, event: &EventId, now: Timestamp) -> StoreResult<usize> {
        webhooks::redeliver(self, scope, event, now).await
    }

    async fn idempotent_response(
        &self,
        scope: &Scope,
        key: &str,
        since: Timestamp,
    ) -> StoreResult<Option<super::idempotency::StoredResponse>> {
        idempotency::lookup(self, scope, key, since).await
    }

    async fn record_idempotent_response(&self, row: &super::idempotency::KeyRow) -> StoreResult<()> {
        idempotency::record_after(self, row).await
    }

    async fn set_connector(&self, record: &crate::store::connectors::ConnectorRecord) -> StoreResult<()> {
        connectors::set(self, record).await
    }
    async fn get_connector(
        &self,
        account: &AccountId,
    ) -> StoreResult<Option<crate::store::connectors::ConnectorRecord>> {
        connectors::get(self, account).await
    }
    async fn remove_connector(&self, account: &AccountId) -> StoreResult<bool> {
        connectors::remove(self, account).await
    }
    async fn count_connectors(&self) -> StoreResult<u64> {
        connectors::count(self).await
    }
    async fn record_provider_calls(
        &self,
        charge: &ChargeId,
        calls: &[crate::connector::ProviderCall],
    ) -> StoreResult<()> {
        connectors::record_calls(self, charge, calls).await
    }
    async fn list_provider_calls(&self, charge: &ChargeId) -> StoreResult<Vec<crate::connector::ProviderCall>> {
        connectors::list_calls(self, charge).await
    }
    async fn insert_payment_attempt(&self, attempt: &crate::store::connectors::PaymentAttempt) -> StoreResult<bool> {
        connectors::insert_attempt(self, attempt).await
    }
    async fn update_payment_attempt(&self, attempt: &crate::store::connectors::PaymentAttempt) -> StoreResult<()> {
        connectors::update_attempt(self, attempt).await
    }
    async fn payment_attempt(&self, request_id: &str) -> StoreResult<Option<crate::store::connectors::PaymentAttempt>> {
        connectors::get_attempt(self, request_id).await
    }
    async fn latest_payment_attempt(
        &self,
        charge: &ChargeId,
    ) -> StoreResult<Option<crate::store::connectors::PaymentAttempt>> {
        connectors::latest_attempt(self, charge).await
    }
    async fn claim_payment_checks(
        &self,
        now: Timestamp,
        lease_now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> StoreResult<Vec<crate::store::connectors::PaymentAttempt>> {
        connectors::claim_checks(self, now, lease_now, lease_until, limit).await
    }
    async fn insert_refund_intent(&self, intent: &crate::store::connectors::RefundIntent) -> StoreResult<()> {
        connectors::insert_refund_intent(self, intent).await
    }
    async fn delete_refund_intent(&self, refund: &satang_domain::RefundId) -> StoreResult<()> {
        connectors::delete_refund_intent(self, refund).await
    }
    async fn reschedule_refund_intent(
        &self,
        refund: &satang_domain::RefundId,
        next_check_at: Timestamp,
    ) -> StoreResult<()> {
        connectors::reschedule_refund_intent(self, refund, next_check_at).await
    }
    async fn claim_refund_intents(
        &self,
        now: Timestamp,
        lease_now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> StoreResult<Vec<crate::store::connectors::RefundIntent>> {
        connectors::claim_refund_intents(self, now, lease_now, lease_until, limit).await
    }
}
