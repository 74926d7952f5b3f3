//! The PostgreSQL store: the same [`Store`] as SQLite, for several satang nodes on one database.
//!
//! * A connection pool (deadpool) of configurable size; every connection runs with a `statement_timeout`,
//!   and checkouts and connects time out, so a database outage answers with Omise-shaped 503s instead of
//!   hanging, and the pool reconnects by itself once the database is back.
//! * Each method is one transaction. A charge change locks its row (`select … for update`) while the
//!   domain closure runs, so transitions and refunds racing on one charge from any number of nodes are
//!   applied one after the other and can never over-refund.
//! * Webhook deliveries are claimed with `for update skip locked` plus a lease, so each attempt happens on
//!   exactly one node; every commit that queues deliveries also sends `NOTIFY satang_outbox`, which wakes
//!   the workers of all nodes through a dedicated `LISTEN` connection.
//!
//! This module holds [`PgStore`] itself, its migrations, and `impl Store for PgStore`, whose methods only
//! forward to the module of their concern. Each table is read and written in exactly one module:
//!
//! | module       | owns |
//! |--------------|------|
//! | [`pool`]     | [`PgOptions`], the connection settings and the pool |
//! | [`notify`]   | `LISTEN`/`NOTIFY satang_outbox`: waking the webhook workers of every node |
//! | [`accounts`] | `accounts`, `api_keys`, `fee_schedules` |
//! | [`charges`]  | `sources`, `charges`: create, get, list, update (under a row lock), the expiry due-list |
//! | [`ledger`]   | `refunds`, `ledger` (the API's transactions), `balances`: what a charge change books |
//! | [`events`]   | `events`, and the webhook deliveries each new event queues |
//! | [`webhooks`] | `webhook_endpoints`, `webhook_signing`, claiming `webhook_deliveries`, `webhook_attempts` |
//! | [`lists`]    | `list_count_deltas`, `list_counts` and `list_marks` (housekeeping folds and writes them), and the paging every scoped list shares |
//! | [`idempotency`] | `idempotency_keys`: a request's key, recorded in its effect's transaction |
//! | [`connectors`] | `connectors`, `provider_calls`, `payment_attempts`, `refund_intents`: live acquirers |
//!
//! A new concern gets a new module beside these and one-line forwarders in the impl below.

mod accounts;
mod charges;
mod connectors;
mod events;
mod idempotency;
mod ledger;
mod lists;
mod notify;
mod pool;
mod search;
mod users;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use satang_domain::{
    AccountId, Charge, ChargeId, Currency, EndpointId, EventId, FeeSchedule, LedgerEntry, RefundId, Source, SourceId,
    Timestamp, TransactionId,
};
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;

use self::notify::{listen, notifier};
pub use self::pool::PgOptions;
use super::migrate::POSTGRES;
use super::search::{Browse, Browsed, SearchQuery};
use super::*;

pub struct PgStore {
    pool: Pool,
    /// Wakes this node's webhook worker.
    outbox: Arc<Notify>,
    /// Bumped after this node's commits that wrote events, and on other nodes' `NOTIFY satang_outbox`.
    events: crate::store::EventsSignal,
    /// Asks the notifier task to wake every node's workers (`NOTIFY satang_outbox`).
    cluster: Arc<Notify>,
    /// [`PgOptions::list_mark_spacing`], at least 2.
    mark_spacing: i64,
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!("database connection lost: {e}"));
    }
    match e.code() {
        Some(c)
            if *c == SqlState::QUERY_CANCELED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW =>
        {
            StoreError::Unavailable(e.to_string())
        }
        Some(c) if c.code().starts_with("08") => StoreError::Unavailable(e.to_string()),
        Some(_) => StoreError::Other(anyhow::Error::new(e)),
        // No SQL state: an I/O or protocol failure talking to the server.
        None => StoreError::Unavailable(e.to_string()),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(e).context("stored document does not parse"))
}

fn bad_id(e: satang_domain::BadId) -> StoreError {
    StoreError::Other(e.into())
}

fn parse_doc<T: serde::de::DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(json_err)
}

type Tx<'a> = deadpool_postgres::Transaction<'a>;

impl PgStore {
    pub async fn open(url: &str, opts: PgOptions) -> anyhow::Result<Self> {
        let (cfg, pool) = pool::connect(url, &opts)?;
        let store = PgStore {
            pool,
            outbox: Arc::new(Notify::new()),
            cluster: Arc::new(Notify::new()),
            events: crate::store::EventsSignal::default(),
            mark_spacing: i64::try_from(opts.list_mark_spacing).unwrap_or(i64::MAX).max(2),
        };
        store.migrate().await?;
        tokio::spawn(listen(cfg.clone(), store.outbox.clone(), store.events.clone()));
        tokio::spawn(notifier(cfg, store.cluster.clone()));
        Ok(store)
    }

    /// Applies the migrations not yet recorded, under an advisory lock so nodes starting together take turns.
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.batch_execute(
            "select pg_advisory_xact_lock(7263470); \
             create table if not exists schema_migrations (version bigint primary key, name text not null, applied_at bigint not null)",
        )
        .await?;
        for m in POSTGRES {
            let done = tx.query_opt("select version from schema_migrations where version = $1", &[&m.version]).await?;
            if done.is_none() {
                tx.batch_execute(m.sql)
                    .await
                    .map_err(|e| anyhow::anyhow!("migration {} {}: {e}", m.version, m.name))?;
                tx.execute(
                    "insert into schema_migrations (version, name, applied_at) values ($1, $2, extract(epoch from now())::bigint)",
                    &[&m.version, &m.name],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.query_one("select 1", &[]).await.map_err(pg_err)?;
        Ok(())
    }

    async fn housekeeping(&self) -> StoreResult<()> {
        lists::housekeeping(self).await?;
        idempotency::prune(self).await
    }

    async fn after_bulk_load(&self) -> StoreResult<()> {
        lists::after_bulk_load(self).await
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
