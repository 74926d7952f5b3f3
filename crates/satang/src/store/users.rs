//! What the dashboard keeps about its users (see [`crate::dashboard`]): users of one account with a role,
//! their sessions (only a hash of the cookie), login attempts (for the rate limit), and the audit log of
//! every change made as a user, written in the same transaction as the change.

use satang_domain::{AccountId, Timestamp};

/// What a user may do. A viewer reads; an admin also refunds and changes webhooks; an owner also manages
/// keys and account settings and reads the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub account: AccountId,
    /// Lowercased.
    pub email: String,
    pub role: Role,
    /// argon2id, in PHC string form.
    pub password_hash: String,
    pub created_at: Timestamp,
    /// Made with a one-time password: the dashboard asks for a new one before anything else.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 (hex) of the cookie's value: a database dump holds no usable session.
    pub token_hash: String,
    pub user_id: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub account: AccountId,
    /// The user's email, or `cli`.
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub created_at: Timestamp,
}

tokio::task_local! {
    /// The audit row of the dashboard action being served, if any. As with `Idempotency-Key`
    /// ([`super::idempotency`]), a task-local rather than a parameter: the operations (`ops.rs`) are shared
    /// with the API, the payer pages and the sweeper, which write no audit row. `update_charge` inserts it
    /// in the charge's own transaction, so a refund without its audit row (or the reverse) cannot exist;
    /// the endpoint writes and the account settings writes (`set_account_settings`,
    /// `set_checkout_settings`, `set_fee_schedule`) do the same.
    pub static PENDING_AUDIT: AuditEntry;
}

/// The pending audit row of the current task, if any.
pub fn pending_audit() -> Option<AuditEntry> {
    PENDING_AUDIT.try_with(|a| a.clone()).ok()
}
