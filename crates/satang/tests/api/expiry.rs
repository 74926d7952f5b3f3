//! The expiry sweeper at the exact `expires_at` edge, idempotent, concurrent and batched.

use satang::sweeper;
use satang_domain::Timestamp;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn ts(v: &Value) -> Timestamp {
    Timestamp::parse(v.as_str().unwrap()).unwrap()
}

async fn expire_events(app: &TestApp) -> usize {
    let mut n = 0;
    let mut offset = 0;
    loop {
        let page = app.get(&format!("/events?limit=100&offset={offset}"), app.skey()).await.ok();
        let data = page["data"].as_array().unwrap();
        n += data.iter().filter(|e| e["key"] == "charge.expire").count();
        offset += data.len();
        if data.is_empty() {
            return n;
        }
    }
}

#[tokio::test]
async fn the_sweeper_expires_a_charge_exactly_at_expires_at() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay", 100_000, "THB").await;
    let id = c["id"].as_str().unwrap();
    let deadline = ts(&c["expires_at"]);
    app.clock.set(deadline.plus_seconds(-1));
    assert_eq!(sweeper::sweep(&app.state).await.unwrap().expired, 0);
    assert_eq!(app.charge(id).await["status"], "pending");
    app.clock.set(deadline);
    assert_eq!(sweeper::sweep(&app.state).await.unwrap().expired, 1);
    let after = app.charge(id).await;
    assert_eq!(after["status"], "expired");
    assert_eq!(after["expired"], true);
    assert_eq!(after["expired_at"], c["expires_at"]);
    let events = app.get(&format!("/charges/{id}/events"), app.skey()).await.ok();
    assert_eq!(events["data"][1]["key"], "charge.expire");
    assert_eq!(events["data"][1]["data"]["status"], "expired");
    assert_eq!(events["data"][1]["data"]["expired_at"], c["expires_at"]);
    // Sweeping again finds nothing to do.
    app.clock.advance(3600);
    assert_eq!(sweeper::sweep(&app.state).await.unwrap(), satang::ops::Swept { due: 0, expired: 0, failed: 0 });
    assert_eq!(expire_events(&app).await, 1);
}

#[tokio::test]
async fn a_merchant_chosen_expires_at_is_honoured() {
    let app = spawn_app().await;
    let src = app.create_source("alipay_hk", 150_000, "SGD").await;
    let at = {
        use satang_domain::Clock;
        app.clock.now().plus_seconds(120)
    };
    let c = app
        .post_json(
            "/charges",
            app.skey(),
            json!({"amount": 150000, "currency": "SGD", "source": src["id"], "return_uri": "https://s.example/r", "expires_at": at.iso()}),
        )
        .await
        .ok();
    app.clock.set(at);
    sweeper::sweep(&app.state).await.unwrap();
    assert_eq!(app.charge(c["id"].as_str().unwrap()).await["status"], "expired");
}

#[tokio::test]
async fn settled_charges_are_left_alone_and_concurrent_sweeps_expire_once() {
    let app = spawn_app().await;
    let mut pending = Vec::new();
    for i in 0..30 {
        let c = app.create_charge("alipay", 100_000, "THB").await;
        if i % 3 == 0 {
            app.mark_as_paid(c["id"].as_str().unwrap()).await;
        } else {
            pending.push(c["id"].as_str().unwrap().to_string());
        }
    }
    app.clock.advance(86_400);
    let sweeps = futures::future::join_all((0..4).map(|_| sweeper::sweep(&app.state))).await;
    let total: usize = sweeps.into_iter().map(|s| s.unwrap().expired).sum();
    assert_eq!(total, pending.len(), "each pending charge expired by exactly one sweep");
    assert_eq!(expire_events(&app).await, pending.len());
    for id in &pending {
        assert_eq!(app.charge(id).await["status"], "expired");
    }
    let paid = app.get("/charges?limit=100", app.skey()).await.ok();
    let successful = paid["data"].as_array().unwrap().iter().filter(|c| c["status"] == "successful").count();
    assert_eq!(successful, 10);
}

#[tokio::test]
async fn more_due_charges_than_a_batch_are_all_swept() {
    let app = spawn_app().await;
    let n = sweeper::BATCH as usize * 2 + 37;
    for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
        futures::future::join_all(chunk.iter().map(|_| {
            app.post_json(
                "/charges",
                app.skey(),
                json!({"amount": 100000, "currency": "THB", "return_uri": "https://s.example/r", "source": {"type": "alipay"}}),
            )
        }))
        .await
        .into_iter()
        .for_each(|r| {
            r.ok();
        });
    }
    app.clock.advance(86_400);
    let swept = sweeper::sweep(&app.state).await.unwrap();
    assert_eq!(swept.expired, n);
    assert_eq!(app.get("/charges?limit=1", app.skey()).await.ok()["total"], n);
    let pending_left = app.store.due_charges(Timestamp::from_unix(i64::MAX / 2), 10).await.unwrap();
    assert!(pending_left.is_empty());
}
