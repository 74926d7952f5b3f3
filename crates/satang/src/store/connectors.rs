//! What the store keeps for live acquirers (see [`crate::connector`]): an account's connector, the log
//! of provider calls per charge, and the payment attempts handed to the acquirer.

use satang_domain::{AccountId, ChargeId, Timestamp};

use crate::connector::Handoff;

/// An account's connector as stored. `merchant_key_sealed` is encrypted ([`crate::connector::vault`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectorRecord {
    pub account: AccountId,
    /// `antom`.
    pub provider: String,
    pub client_id: String,
    pub endpoint: String,
    pub key_version: u32,
    pub merchant_key_sealed: String,
    /// The acquirer's public key (SPKI PEM): not secret.
    pub provider_public_key: String,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for ConnectorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorRecord")
            .field("account", &self.account)
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// The pay call is being (or was) sent; its answer is not stored. An inquiry settles what it did.
    Opening,
    /// The acquirer has an open order; the payer may pay it.
    Open,
    /// Nothing more will come of it: paid, failed, closed, or replaced.
    Closed,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Opening => "opening",
            AttemptState::Open => "open",
            AttemptState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> AttemptState {
        match s {
            "opening" => AttemptState::Opening,
            "open" => AttemptState::Open,
            _ => AttemptState::Closed,
        }
    }
}

/// One request id handed to the acquirer for a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAttempt {
    pub request_id: String,
    pub charge: ChargeId,
    /// 1, 2, …: a new attempt replaces an order the acquirer closed while the charge is still pending.
    pub attempt: u32,
    pub provider: String,
    pub handoff: Option<Handoff>,
    pub state: AttemptState,
    pub created_at: Timestamp,
    /// When the periodic inquiry should next ask about it.
    pub next_check_at: Timestamp,
}
