//! The expiry sweeper: a background task in `satang serve` (and `satang worker`) that expires pending
//! charges once their `expires_at` passes, writing `charge.expire` with the charge's final state.
//!
//! It finds due charges through the partial index `charges_pending_by_expiry` (only pending rows are in
//! it, ordered by deadline), in batches of [`BATCH`], so a million pending charges cost one index range
//! scan per batch, not a table scan. It is idempotent and safe on several nodes at once: each charge is
//! re-checked in its own transaction (see [`ops::expire_due`]).
//!
//! Each round also runs the store's housekeeping (on PostgreSQL, folding the list count deltas).

use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::ops::{self, Swept};

/// Charges expired per round trip to the store.
pub const BATCH: u64 = 500;

/// Sweeps until no due charge is left (or none of those found could be expired).
pub async fn sweep(app: &App) -> Result<Swept, crate::api::error::ApiError> {
    let mut total = Swept::default();
    loop {
        let round = ops::expire_due(app, BATCH).await?;
        total.due += round.due;
        total.expired += round.expired;
        total.failed += round.failed;
        if (round.due as u64) < BATCH || round.expired == 0 {
            return Ok(total);
        }
    }
}

/// Runs [`sweep`] every `interval` until `stop` turns true.
pub async fn run(app: std::sync::Arc<App>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        match sweep(&app).await {
            Ok(s) if s.expired > 0 => tracing::info!(expired = s.expired, "expired pending charges past expires_at"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error.message = %e, "expiry sweep failed; retrying next round"),
        }
        if let Err(e) = app.store.housekeeping().await {
            tracing::warn!(error.message = %e, "store housekeeping failed; retrying next round");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
