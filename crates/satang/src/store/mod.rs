//! Persistence: one [`Store`] trait, one implementation per database (`sqlite`, `postgres`).
//!
//! Methods are named for intent (`create_charge`, `update_charge`), never for tables. Every method takes
//! the caller's [`Scope`] (account + mode) so a test key can never reach a live object or another
//! account's (omise-wire.md §1.1): isolation is in the `where` clause, not in handler discipline.
//!
//! A state change and everything it implies are one transaction: `update_charge` loads the charge, lets a
//! domain closure change it, and writes the charge, its events, their webhook outbox rows, refund rows and
//! ledger entries together. If any part fails, nothing is written. Refund rows and ledger entries are
//! derived from the change (`satang_domain::ledger::entries_for_change`), so no caller can forget them.

pub mod connectors;
pub mod idempotency;
pub mod migrate;
pub mod postgres;
pub mod search;
pub mod sqlite;
pub mod users;

use std::sync::Arc;

use async_trait::async_trait;
use satang_domain::{
    AccountId, Charge, ChargeId, Currency, DeliveryId, EndpointId, EventId, EventKey, FeeSchedule, LedgerEntry, Refund,
    RefundError, RefundId, Source, SourceId, Timestamp, TransactionId, TransitionError,
};
use serde::{Deserialize, Serialize};

/// Whose objects a request may see: one account, in one mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub account: AccountId,
    pub livemode: bool,
}

/// Public or secret half of a key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Public,
    Secret,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Public => "public",
            KeyKind::Secret => "secret",
        }
    }
}

/// One API key as stored: only its SHA-256 is kept for secret keys.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub hash: String,
    pub kind: KeyKind,
    pub livemode: bool,
    /// The full key, for public keys only (they are shown in the dashboard and safe to keep).
    pub public_key: Option<String>,
    /// The first characters, so an operator can tell keys apart without the secret.
    pub hint: String,
}

/// What a key grants.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    pub account: AccountId,
    pub account_name: String,
    pub livemode: bool,
    pub kind: KeyKind,
    /// The account's default `Omise-Version` for this key's mode.
    pub api_version: String,
    /// After a roll, when this key stops working.
    pub expires_at: Option<Timestamp>,
}

/// A key as the dashboard lists it: never a secret key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kind: KeyKind,
    pub livemode: bool,
    pub hint: String,
    pub public_key: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: AccountId,
    pub name: String,
    pub created_at: Timestamp,
    pub api_version: String,
    pub keys: Vec<KeyRecord>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: Timestamp,
    pub api_version: String,
    pub checkout: CheckoutSettings,
}

/// How the account's checkout meets browsers (src/checkout) and what payer pages show about the shop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutSettings {
    /// Web origins (`https://shop.example`) allowed to use the public key; empty means any.
    pub allowed_origins: Vec<String>,
    /// The shop's home page: payer pages link back to it.
    pub shop_url: Option<String>,
    /// An image shown beside the merchant's name on payer pages.
    pub logo_url: Option<String>,
    /// Where a payer asks the shop for help: payer pages link to it ("Need help? Contact <shop>").
    pub support_url: Option<String>,
}

/// What an owner or admin changes on the dashboard's settings page, written together
/// ([`Store::set_account_settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// Shown to payers and in `GET /account`.
    pub name: String,
    /// The default `Omise-Version`: API requests without the header, and webhook payloads, use it.
    pub api_version: String,
    pub checkout: CheckoutSettings,
}

impl CheckoutSettings {
    /// The allow-list as stored: space-separated, null for "any origin".
    pub fn origins_column(&self) -> Option<String> {
        (!self.allowed_origins.is_empty()).then(|| self.allowed_origins.join(" "))
    }

    pub fn from_columns(
        origins: Option<String>,
        shop_url: Option<String>,
        logo_url: Option<String>,
        support_url: Option<String>,
    ) -> Self {
        CheckoutSettings {
            allowed_origins: origins.unwrap_or_default().split_whitespace().map(str::to_string).collect(),
            shop_url,
            logo_url,
            support_url,
        }
    }

    /// Whether a browser on `origin` may use the public key.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// An event ready to be written: `data` is the object's wire JSON (2019-05-29 shape) at that moment.
/// Writing it also queues one webhook delivery per target, in the same transaction: the charge's own
/// `webhook_urls` when it has any (they replace the account's endpoints for that charge, as Omise's
/// `webhook_endpoints` charge parameter does), else every endpoint of the account and mode.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: EventId,
    pub key: EventKey,
    pub created_at: Timestamp,
    pub data: String,
    pub charge: Option<ChargeId>,
    pub webhook_urls: Vec<String>,
}

/// A merchant's webhook endpoint and its signing secret (base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: EndpointId,
    pub account: AccountId,
    pub livemode: bool,
    pub url: String,
    pub secret: String,
    /// The secret before the last roll, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// The secret that signs deliveries to a charge's own URLs, one per account and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecret {
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<Timestamp>,
}

/// What a worker asks for when it claims deliveries.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now: Timestamp,
    /// At most this many deliveries in all.
    pub limit: usize,
    /// At most this many in flight per URL, counting those the worker already has (`busy`).
    pub per_target: usize,
    pub busy: std::collections::HashMap<String, usize>,
    /// The wall-clock time now, and until when the claimed rows are leased to this worker: a crashed
    /// worker's lease runs out. Leases are operational timeouts, so they use the machine's clock even when
    /// `now` (which decides what is due) comes from a test's clock.
    pub lease_now: Timestamp,
    pub lease_until: Timestamp,
}

/// A delivery leased to a worker, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub seq: i64,
    pub event: StoredEvent,
    pub account: AccountId,
    /// The account's default `Omise-Version`, which the payload is written in.
    pub api_version: String,
    pub url: String,
    pub endpoint: Option<EndpointId>,
    /// Attempts made before this one.
    pub attempts: u32,
    pub queued_at: Timestamp,
    pub secret: String,
    /// Still valid: the previous secret during a roll's grace period.
    pub previous_secret: Option<String>,
}

/// One attempt, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: DeliveryId,
    pub event: EventId,
    pub url: String,
    /// The receiver's HTTP status; `None` when it gave none (refused, timed out, TLS failure, …).
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub payload: String,
    /// What the receiver answered: the start of its body ([`crate::webhooks::worker::response_excerpt`]);
    /// `None` when it gave no answer (or for attempts logged before excerpts were kept).
    pub response: Option<String>,
    pub created_at: Timestamp,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    RetryAt(Timestamp),
    GaveUp,
}

/// A counter bumped after every commit that wrote events (by this process; on PostgreSQL also when another
/// node's commit queued webhook deliveries). Event streams wait on it instead of polling; a spurious bump
/// costs a stream one read.
#[derive(Debug, Clone)]
pub struct EventsSignal(Arc<tokio::sync::watch::Sender<u64>>);

impl Default for EventsSignal {
    fn default() -> Self {
        EventsSignal(Arc::new(tokio::sync::watch::Sender::new(0)))
    }
}

impl EventsSignal {
    pub fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// An event as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: EventId,
    pub key: EventKey,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub data: String,
}

/// A refund with what its wire object needs of its charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundRecord {
    pub charge: ChargeId,
    pub currency: Currency,
    pub refund: Refund,
}

/// One currency's balance of one account and mode, in subunits (negative when refunds exceed credits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub currency: Currency,
    pub total: i64,
}

/// One day's money of one currency, for the dashboard's chart: what payments booked that day brought in
/// (`gross`), the fees and VAT taken from them (`fees`), what refunds booked that day took out (`refunds`),
/// and the change of the balance (`net` = payments' net − refunds). Days are counted in a zone of the
/// caller's choosing (the merchant's), as whole days since 1970-01-01 in that zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyTotal {
    pub day: i64,
    pub currency: Currency,
    pub gross: i64,
    pub fees: i64,
    pub refunds: i64,
    pub net: i64,
}

/// `chronological` or `reverse_chronological` (omise-wire.md §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Chronological,
    ReverseChronological,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Chronological => "chronological",
            Order::ReverseChronological => "reverse_chronological",
        }
    }
}

/// A page request: objects created in `[from, to]`, in (created_at, insertion) order, skipping `offset`,
/// at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct ListQuery {
    pub from: Timestamp,
    pub to: Timestamp,
    pub offset: u64,
    pub limit: u64,
    pub order: Order,
    /// Neither `from` nor `to` was given: the list is all of the scope's objects, which a store may answer
    /// from positions and counters instead of walking the time window.
    pub whole: bool,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many objects lie in `[from, to]` in all.
    pub total: u64,
}

/// Why a domain closure refused a change; nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{object} {id} was not found")]
    NotFound { object: &'static str, id: String },
    #[error("source {source_id} has already been used by charge {charge}")]
    SourceUsed { source_id: SourceId, charge: String },
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Another change to the same row got there first (internal to optimistic stores, which retry).
    #[error("the object was changed concurrently")]
    Conflict,
    /// The request's `Idempotency-Key` was recorded by another request first; this write rolled back.
    #[error("another request with this Idempotency-Key was completed first")]
    KeyTaken,
    /// The database cannot be reached or is overloaded; worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    pub fn not_found(object: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound { object, id: id.to_string() }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The change a domain closure makes to a charge: it mutates the charge in place and returns the events to
/// write with it. A store may call it more than once (each time on a fresh copy of the stored charge) when
/// it applies changes optimistically and another change got there first; only the last call's result is
/// written.
pub type ChargeMutation = Box<dyn Fn(&mut Charge) -> Result<Vec<NewEvent>, Refusal> + Send + Sync>;

/// Which charge to load for an update: a merchant's (scoped), or the payer page's (by ID and token,
/// checked by the caller before the mutation runs).
#[derive(Debug, Clone)]
pub enum ChargeRef {
    Scoped(Scope, ChargeId),
    Unscoped(ChargeId),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Upkeep the sweeper runs every round on every node (on PostgreSQL, folding the list count deltas; see
    /// its 0005 migration). Safe on any number of nodes at once.
    async fn housekeeping(&self) -> StoreResult<()> {
        Ok(())
    }

    /// After a bulk load (`satang bench seed`): housekeeping to the end, and fresh planner statistics, as a
    /// database's own maintenance would have them in steady state.
    async fn after_bulk_load(&self) -> StoreResult<()> {
        self.housekeeping().await
    }

    async fn create_account(&self, account: NewAccount) -> StoreResult<()>;
    async fn count_accounts(&self) -> StoreResult<u64>;
    async fn get_account(&self, id: &AccountId) -> StoreResult<Account>;
    /// Replaces the account's checkout settings (`satang account set-checkout`), with the task's pending
    /// audit row ([`users::PENDING_AUDIT`]) if any, in one transaction.
    async fn set_checkout_settings(&self, id: &AccountId, settings: &CheckoutSettings) -> StoreResult<()>;
    /// Replaces the account's name, default `Omise-Version` and checkout settings (the dashboard's settings
    /// page), with the task's pending audit row if any, in one transaction.
    async fn set_account_settings(&self, id: &AccountId, settings: &AccountSettings) -> StoreResult<()>;
    /// The grant of the key whose SHA-256 is `hash`, if any (expired or not: the caller compares
    /// `expires_at` with its clock).
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyGrant>>;
    /// The account's keys, oldest first.
    async fn list_keys(&self, account: &AccountId) -> StoreResult<Vec<KeyInfo>>;
    /// Adds `new` (a secret key of its mode) and makes the mode's other live secret keys expire at
    /// `old_until` (or earlier, if they already expire sooner), with the audit row, in one transaction.
    async fn roll_secret_key(
        &self,
        account: &AccountId,
        new: &KeyRecord,
        now: Timestamp,
        old_until: Timestamp,
        audit: &users::AuditEntry,
    ) -> StoreResult<()>;

    /// The account's own fee schedule for a method and currency, if the operator set one.
    async fn fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
    ) -> StoreResult<Option<FeeSchedule>>;
    /// Sets the account's schedule for a method and currency, with the task's pending audit row if any, in
    /// one transaction.
    async fn set_fee_schedule(
        &self,
        account: &AccountId,
        method: &str,
        currency: Currency,
        schedule: FeeSchedule,
    ) -> StoreResult<()>;

    async fn insert_source(&self, scope: &Scope, source: &Source) -> StoreResult<()>;
    /// The source and, if a charge used it, that charge's status.
    async fn get_source(&self, scope: &Scope, id: &SourceId) -> StoreResult<(Source, Option<String>)>;

    /// Writes a new pending charge with its events. `doc` is the charge serialized (the caller has it for
    /// the `charge.create` snapshot already). `new_source` says whether the source was created inline
    /// (insert it) or by `POST /sources` (claim it; a source serves one charge only).
    async fn create_charge(
        &self,
        scope: &Scope,
        charge: &Charge,
        doc: String,
        new_source: bool,
        events: Vec<NewEvent>,
    ) -> StoreResult<()>;
    async fn get_charge(&self, scope: &Scope, id: &ChargeId) -> StoreResult<Charge>;
    /// A charge by ID alone, for the payer pages (which check the charge's token themselves).
    async fn find_charge(&self, id: &ChargeId) -> StoreResult<Charge>;
    async fn list_charges(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<Charge>>;
    /// Loads the charge, applies `mutation`, and writes the result with its events in one transaction.
    async fn update_charge(&self, which: ChargeRef, mutation: ChargeMutation) -> StoreResult<Charge>;
    /// Up to `limit` pending charges whose `expires_at` ≤ `now`, oldest deadline first.
    async fn due_charges(&self, now: Timestamp, limit: u64) -> StoreResult<Vec<ChargeId>>;

    /// Refunds of the account, or of one of its charges.
    async fn list_refunds(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<RefundRecord>>;
    async fn get_refund(&self, scope: &Scope, charge: &ChargeId, id: &RefundId) -> StoreResult<RefundRecord>;

    /// Charges matching a search ([`search`]), in (created_at, insertion) order; `total` counts all matches.
    async fn search_charges(&self, scope: &Scope, q: &search::SearchQuery) -> StoreResult<Page<Charge>>;
    /// The dashboard's charge list: a page of the charges matching a search, from a cursor, newest first
    /// ([`search::Browse`]). Its cost does not grow with the charges before the page.
    async fn browse_charges(&self, scope: &Scope, q: &search::Browse) -> StoreResult<search::Browsed<Charge>>;
    /// Refunds matching a search: each word is the refund's or its charge's ID.
    async fn search_refunds(&self, scope: &Scope, q: &search::SearchQuery) -> StoreResult<Page<RefundRecord>>;

    async fn list_transactions(&self, scope: &Scope, q: ListQuery) -> StoreResult<Page<LedgerEntry>>;
    async fn get_transaction(&self, scope: &Scope, id: &TransactionId) -> StoreResult<LedgerEntry>;
    /// The running balance per currency (only currencies with ledger entries).
    async fn balances(&self, scope: &Scope) -> StoreResult<Vec<Balance>>;
    /// Ledger totals per day and currency for entries booked in `[from, to)`, days counted in the zone
    /// `offset_secs` east of UTC, oldest first; days without entries are absent.
    async fn daily_totals(
        &self,
        scope: &Scope,
        from: Timestamp,
        to: Timestamp,
        offset_secs: i64,
    ) -> StoreResult<Vec<DailyTotal>>;

    async fn get_event(&self, scope: &Scope, id: &EventId) -> StoreResult<StoredEvent>;

    /// Woken after every commit that queued webhook deliveries, so the worker sends them at once.
    fn outbox_signal(&self) -> Arc<tokio::sync::Notify>;
    /// Bumped after every commit that wrote events, so `GET /events/stream` sends them at once.
    fn events_signal(&self) -> EventsSignal;
    async fn create_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// The account's endpoints, of one mode or both.
    async fn list_endpoints(&self, account: &AccountId, livemode: Option<bool>) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn get_endpoint(&self, id: &EndpointId) -> StoreResult<WebhookEndpoint>;
    /// Removes the endpoint; its deliveries still pending are marked failed.
    async fn delete_endpoint(&self, id: &EndpointId, now: Timestamp) -> StoreResult<()>;
    /// Replaces the secret; the old one keeps signing until `previous_until`.
    async fn roll_endpoint_secret(
        &self,
        id: &EndpointId,
        secret: String,
        previous_until: Timestamp,
    ) -> StoreResult<WebhookEndpoint>;
    /// The secret for a charge's own URLs, created on first use.
    async fn signing_secret(&self, scope: &Scope, now: Timestamp) -> StoreResult<SigningSecret>;
    async fn roll_signing_secret(
        &self,
        scope: &Scope,
        secret: String,
        previous_until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<SigningSecret>;
    /// Leases due deliveries to the caller (each to exactly one worker while the lease runs).
    async fn claim_deliveries(&self, req: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records an attempt in the log and moves the delivery on, releasing its lease.
    async fn finish_attempt(&self, seq: i64, attempt: AttemptRecord, outcome: DeliveryOutcome) -> StoreResult<()>;
    /// Deliveries waiting to be sent or retried, and when the oldest of them was queued (for `/metrics`).
    async fn outbox_stats(&self) -> StoreResult<(u64, Option<Timestamp>)>;
    /// The delivery log of these events (already scoped by the caller), oldest first.
    async fn list_attempts(&self, events: &[EventId]) -> StoreResult<Vec<AttemptRecord>>;
    /// Queues the event again for its targets, due now: each gets a new delivery unless it already has a
    /// fresh one waiting (queued, never tried, not in flight), so a client calling in a loop cannot pile up
    /// copies. Returns how many deliveries are now due. A dashboard redelivery's audit row
    /// ([`users::PENDING_AUDIT`]) is written in the same transaction as the outbox rows.
    async fn redeliver(&self, scope: &Scope, event: &EventId, now: Timestamp) -> StoreResult<usize>;
    async fn list_events(
        &self,
        scope: &Scope,
        charge: Option<&ChargeId>,
        q: ListQuery,
    ) -> StoreResult<Page<StoredEvent>>;

    /// Writes a dashboard user and its audit row together; an email already taken is refused.
    async fn create_user(&self, user: &users::User, audit: &users::AuditEntry) -> StoreResult<()>;
    /// The user with this (lowercased) email.
    async fn find_user(&self, email: &str) -> StoreResult<Option<users::User>>;
    async fn create_session(&self, session: &users::Session) -> StoreResult<()>;
    /// The session whose cookie hashes to `token_hash`, with its user, if it has not expired by `now`.
    async fn find_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(users::Session, users::User)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Sets a user's password hash and clears the one-time flag, ends every session of theirs but
    /// `keep_session` (a token hash), and writes the audit row, in one transaction.
    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: &str,
        audit: &users::AuditEntry,
    ) -> StoreResult<()>;
    async fn record_login(&self, email: &str, ok: bool, at: Timestamp) -> StoreResult<()>;
    /// Failed logins for this email since `since`.
    async fn failed_logins_since(&self, email: &str, since: Timestamp) -> StoreResult<u64>;
    /// The account's audit log, newest first.
    /// Appends an audit row on its own (for what is not a change of a stored object, such as a rolled key
    /// still in use); changes write theirs in their own transaction instead.
    async fn record_audit(&self, entry: &users::AuditEntry) -> StoreResult<()>;
    async fn list_audit(&self, account: &AccountId, limit: u64) -> StoreResult<Vec<users::AuditEntry>>;

    /// The response recorded under an `Idempotency-Key` of this scope no earlier than `since`
    /// (see [`idempotency`]: writes record their key themselves, in their transaction).
    async fn idempotent_response(
        &self,
        scope: &Scope,
        key: &str,
        since: Timestamp,
    ) -> StoreResult<Option<idempotency::StoredResponse>>;
    /// Records a response after its request, for routes whose write records none (a key already recorded
    /// is left as it is).
    async fn record_idempotent_response(&self, row: &idempotency::KeyRow) -> StoreResult<()>;

    /// Sets (or replaces) the account's connector; `NotFound` when the account does not exist.
    async fn set_connector(&self, record: &connectors::ConnectorRecord) -> StoreResult<()>;
    async fn get_connector(&self, account: &AccountId) -> StoreResult<Option<connectors::ConnectorRecord>>;
    /// Whether there was one to remove.
    async fn remove_connector(&self, account: &AccountId) -> StoreResult<bool>;
    /// How many accounts have a connector (`serve` refuses to start without the master key when any do).
    async fn count_connectors(&self) -> StoreResult<u64>;
    /// Appends to the charge's log of provider calls.
    async fn record_provider_calls(
        &self,
        charge: &ChargeId,
        calls: &[crate::connector::ProviderCall],
    ) -> StoreResult<()>;
    async fn list_provider_calls(&self, charge: &ChargeId) -> StoreResult<Vec<crate::connector::ProviderCall>>;
    /// Inserts an attempt unless its request id or its (charge, attempt number) exists: whether it did.
    async fn insert_payment_attempt(&self, attempt: &connectors::PaymentAttempt) -> StoreResult<bool>;
    /// Writes the attempt's handoff, state and next check, releasing any lease.
    async fn update_payment_attempt(&self, attempt: &connectors::PaymentAttempt) -> StoreResult<()>;
    async fn payment_attempt(&self, request_id: &str) -> StoreResult<Option<connectors::PaymentAttempt>>;
    async fn latest_payment_attempt(&self, charge: &ChargeId) -> StoreResult<Option<connectors::PaymentAttempt>>;
    /// Leases attempts that are not closed and due for an inquiry (`next_check_at` ≤ `now`) to the caller
    /// until `lease_until`, so that one node asks about each.
    async fn claim_payment_checks(
        &self,
        now: Timestamp,
        lease_now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> StoreResult<Vec<connectors::PaymentAttempt>>;
    /// Writes a refund intent (its own transaction) before the refund call.
    async fn insert_refund_intent(&self, intent: &connectors::RefundIntent) -> StoreResult<()>;
    /// Deletes a refund intent: booked, or known not to have happened. Deleting a missing one is no error.
    async fn delete_refund_intent(&self, refund: &RefundId) -> StoreResult<()>;
    /// Sets when the repair asks about an intent next, releasing any lease.
    async fn reschedule_refund_intent(&self, refund: &RefundId, next_check_at: Timestamp) -> StoreResult<()>;
    /// Leases refund intents due for the repair (`next_check_at` ≤ `now`) to the caller until
    /// `lease_until`, so that one node asks about each.
    async fn claim_refund_intents(
        &self,
        now: Timestamp,
        lease_now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> StoreResult<Vec<connectors::RefundIntent>>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens the store a URL names (`sqlite:path` or `postgres://…`) with default pool settings, and runs its
/// migrations.
pub async fn open(url: &str) -> anyhow::Result<DynStore> {
    open_with(url, postgres::PgOptions::default()).await
}

/// The same, with PostgreSQL pool and timeout settings (SQLite ignores them).
pub async fn open_with(url: &str, pg: postgres::PgOptions) -> anyhow::Result<DynStore> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::open(url, pg)
            .await
            .map_err(|e| anyhow::anyhow!("opening PostgreSQL at {}: {e:#}", redact_url(url)))?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!("unsupported database URL (expected sqlite:PATH or postgres://…): {}", redact_url(url))
    }
}

/// A database URL with any password replaced, safe for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_url("postgres://u:secret@host/db"), "postgres://u:***@host/db");
        assert_eq!(redact_url("postgres://host/db"), "postgres://host/db");
        assert_eq!(redact_url("sqlite:satang.db"), "sqlite:satang.db");
    }
}
