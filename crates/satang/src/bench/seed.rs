//! `satang bench seed`: fills a database with charges fast, through the store (not over HTTP), many writes in
//! flight so they commit in large groups. Each charge is a real one: its source, the charge, and its
//! `charge.create` event with the charge's JSON, exactly as `POST /charges` would write them. At the end the
//! store does what its own maintenance would soon after a bulk load (see `Store::after_bulk_load`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use satang_domain::{Charge, ChargeRequest, Clock, EventKey, Source, SourceRequest, SystemClock};

use crate::ops::snapshot_events;
use crate::store::{DynStore, NewEvent, Scope};

/// A pending Alipay charge of `amount` for `scope`, with its `charge.create` event.
pub fn charge_with_event(app: &crate::app::App, scope: &Scope, amount: i64) -> anyhow::Result<(Charge, NewEvent)> {
    let now = SystemClock.now();
    let src = Source::create(
        SourceRequest {
            kind: Some("alipay".into()),
            amount: Some(amount),
            currency: Some("THB".into()),
            ..Default::default()
        },
        scope.livemode,
        now,
    )
    .map_err(|v| anyhow::anyhow!("{v}"))?;
    let fees = src.method.limit(src.currency).map(|l| l.default_fees).ok_or_else(|| anyhow::anyhow!("no THB limit"))?;
    let charge = Charge::create(
        scope.account.clone(),
        ChargeRequest {
            amount: Some(amount),
            currency: Some("THB".into()),
            source: src,
            return_uri: Some("https://shop.example/orders/1/complete".into()),
            description: Some("seeded".into()),
            metadata: Default::default(),
            expires_at: None,
            ip: None,
            webhook_endpoints: vec![],
        },
        fees,
        scope.livemode,
        now,
    )
    .map_err(|v| anyhow::anyhow!("{v}"))?;
    let _ = app;
    let event = snapshot_events(&charge, &[EventKey::ChargeCreate], now)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no event"))?;
    Ok((charge, event))
}

/// Writes `n` charges for `scope`, `in_flight` at a time. Returns the seconds it took.
pub async fn seed(store: DynStore, scope: Scope, n: u64, in_flight: usize) -> anyhow::Result<f64> {
    let app = crate::app::App::new(store.clone(), Arc::new(SystemClock), "http://127.0.0.1:8080");
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..in_flight.max(1) {
        let (app, scope, next) = (app.clone(), scope.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                let (charge, event) = charge_with_event(&app, &scope, 2_000 + (i as i64 % 1_000_000))?;
                let doc = event.data.clone();
                app.store.create_charge(&scope, &charge, doc, true, vec![event]).await?;
                if (i + 1) % 100_000 == 0 {
                    eprintln!("  seeded {} charges", i + 1);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    store.after_bulk_load().await?;
    Ok(started.elapsed().as_secs_f64())
}
