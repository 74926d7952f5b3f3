//! Opening the acquirer's order for a live charge when the payer opens `authorize_uri`, and reusing it on
//! later visits (see the module docs of [`crate::live`] for why then).

use satang_domain::{Charge, ChargeStatus, PlatformType};

use crate::app::App;
use crate::connector::{ConnectorError, Handoff, Os, PayOrder, PaymentState, Terminal};
use crate::store::connectors::{AttemptState, PaymentAttempt};

/// The device, from `platform_type` (the merchant's app) or else the browser.
pub fn terminal(charge: &Charge, user_agent: &str) -> Terminal {
    let os_of_browser =
        || if ["iPhone", "iPad", "iPod"].iter().any(|m| user_agent.contains(m)) { Os::Ios } else { Os::Android };
    match charge.source.platform_type {
        Some(PlatformType::Ios) => Terminal::App(Os::Ios),
        Some(PlatformType::Android) => Terminal::App(Os::Android),
        Some(PlatformType::Web) => Terminal::Web,
        None if crate::pages::is_mobile(user_agent) => Terminal::Wap(os_of_browser()),
        None => Terminal::Web,
    }
}

/// What the payer page shows for a live charge.
#[derive(Debug)]
pub enum LivePage {
    /// Pay here: the order's links.
    Open(Handoff),
    /// The charge became final while opening (the acquirer had a result already).
    Final(Box<Charge>),
    /// The acquirer could not be reached or gave no usable answer: try again shortly.
    Unavailable,
}

/// The pay request of an attempt. Everything in it derives from the charge and the stored attempt, so a
/// request sent again (after a crash or a timeout) is byte for byte the same, as Antom's idempotency
/// requires.
fn order(app: &App, charge: &Charge, attempt: &PaymentAttempt, terminal: Terminal, max_open: i64) -> PayOrder {
    let request_id = attempt.request_id.as_str();
    let expires_at = match attempt.created_at.unix().checked_add(max_open) {
        Some(cap) if cap < charge.expires_at.unix() => satang_domain::Timestamp::from_unix(cap),
        _ => charge.expires_at,
    };
    PayOrder {
        request_id: request_id.to_string(),
        charge: charge.id.to_string(),
        description: charge.description.clone().unwrap_or_else(|| format!("Charge {}", charge.id)),
        amount: charge.amount.subunits(),
        currency: charge.currency.code().to_string(),
        method: charge.source.method.name.to_string(),
        redirect_url: format!("{}/antom/return/{}", app.public_url, charge.id),
        notify_url: format!("{}/antom/notify", app.public_url),
        terminal,
        expires_at,
    }
}

/// The open order of a pending live charge, opening one (`pay`) when there is none.
pub async fn open(app: &App, charge: &Charge, user_agent: &str) -> LivePage {
    match open_inner(app, charge, user_agent).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(charge.id = %charge.id, error.message = %e, "the live order could not be opened");
            LivePage::Unavailable
        }
    }
}

async fn open_inner(app: &App, charge: &Charge, user_agent: &str) -> Result<LivePage, ConnectorError> {
    let store_err = |e: crate::store::StoreError| ConnectorError::Indeterminate(e.to_string());
    let Some(conn) = app.connectors.for_account(&app.store, &charge.account).await? else {
        return Ok(LivePage::Unavailable);
    };
    // At most a few rounds: each either returns or closes an attempt and opens the next.
    for _ in 0..3 {
        let latest = app.store.latest_payment_attempt(&charge.id).await.map_err(store_err)?;
        let attempt = match latest {
            Some(a) if a.state == AttemptState::Open && a.handoff.is_some() => {
                return Ok(LivePage::Open(a.handoff.unwrap_or_default()));
            }
            Some(a) if a.state != AttemptState::Closed => a,
            other => {
                let n = other.map(|a| a.attempt + 1).unwrap_or(1);
                let now = app.now();
                let fresh = PaymentAttempt {
                    request_id: format!("{}_{n}", charge.id),
                    charge: charge.id.clone(),
                    attempt: n,
                    provider: conn.provider().to_string(),
                    handoff: Some(Handoff { terminal: Some(terminal(charge, user_agent)), ..Handoff::default() }),
                    state: AttemptState::Opening,
                    created_at: now,
                    next_check_at: now.plus_seconds(app.connectors.inquiry_every()),
                };
                // Written before the call (see the crash table): a racing visit that lost the insert
                // takes the winner's attempt on the next round.
                app.store.insert_payment_attempt(&fresh).await.map_err(store_err)?;
                continue;
            }
        };
        let device = attempt.handoff.as_ref().and_then(|h| h.terminal).unwrap_or_else(|| terminal(charge, user_agent));
        let mut calls = Vec::new();
        let answer = conn.pay(&order(app, charge, &attempt, device, conn.max_order_seconds()), &mut calls).await;
        super::record(app, &charge.id, &calls).await;
        let out = answer?;
        match out.state {
            PaymentState::Open => {
                let mut handoff = out.handoff.unwrap_or_default();
                handoff.terminal = Some(device);
                let opened = PaymentAttempt { state: AttemptState::Open, handoff: Some(handoff.clone()), ..attempt };
                app.store.update_payment_attempt(&opened).await.map_err(store_err)?;
                return Ok(LivePage::Open(handoff));
            }
            state => {
                let after =
                    super::apply(app, &attempt, &state).await.map_err(|e| ConnectorError::Indeterminate(e.message))?;
                if !matches!(after.status, ChargeStatus::Pending) {
                    return Ok(LivePage::Final(Box::new(after)));
                }
                // Closed unpaid while the charge is pending: the next round opens a new attempt.
            }
        }
    }
    Ok(LivePage::Unavailable)
}
