//! One story through the `Store` interface, run on both backends: a SQLite file, and a fresh PostgreSQL
//! database (skipped with a printed reason when none is reachable; a failure under `SATANG_REQUIRE_ALL=1`).
//! Accounts, sources, charges, transitions racing, refunds racing, events, the webhook outbox, endpoints,
//! expiry batches and account isolation; account settings and fee schedules with their audit rows.

mod common;

use std::collections::HashMap;

use satang::accounts;
use satang::ops::snapshot_events;
use satang::store::{
    AttemptRecord, ChargeRef, ClaimRequest, DeliveryOutcome, DynStore, ListQuery, NewEvent, Order, Refusal, Scope,
    StoreError, WebhookEndpoint,
};
use satang_domain::{
    Charge, ChargeRequest, ChargeStatus, Currency, DeliveryId, EndpointId, EventId, EventKey, FailureCode, Source,
    SourceRequest, Timestamp,
};
use serde_json::Map;

const T0: i64 = 1_714_532_400; // 2024-05-01T03:00:00Z

fn t(offset: i64) -> Timestamp {
    Timestamp::from_unix(T0 + offset)
}

fn source(kind: &str, amount: i64, currency: &str, live: bool) -> Source {
    Source::create(
        SourceRequest {
            kind: Some(kind.into()),
            amount: Some(amount),
            currency: Some(currency.into()),
            ..Default::default()
        },
        live,
        t(0),
    )
    .unwrap()
}

fn charge(scope: &Scope, src: Source, urls: Vec<String>) -> Charge {
    charge_at(scope, src, urls, t(0))
}

fn charge_at(scope: &Scope, src: Source, urls: Vec<String>, at: Timestamp) -> Charge {
    let fees = src.method.limit(src.currency).unwrap().default_fees;
    Charge::create(
        scope.account.clone(),
        ChargeRequest {
            amount: Some(src.amount.subunits()),
            currency: Some(src.currency.code().into()),
            source: src,
            return_uri: Some("https://shop.example/r".into()),
            description: None,
            metadata: Map::new(),
            expires_at: None,
            ip: None,
            webhook_endpoints: urls,
        },
        fees,
        scope.livemode,
        at,
    )
    .unwrap()
}

fn event(c: &Charge, key: EventKey, at: Timestamp) -> NewEvent {
    NewEvent {
        id: EventId::generate(c.livemode()),
        key,
        created_at: at,
        data: format!(r#"{{"object":"charge","id":"{}"}}"#, c.id),
        charge: Some(c.id.clone()),
        webhook_urls: c.webhook_endpoints.clone(),
    }
}

fn doc(c: &Charge) -> String {
    serde_json::to_string(c).unwrap()
}

fn all() -> ListQuery {
    ListQuery {
        from: Timestamp::EPOCH,
        to: t(10_000_000),
        offset: 0,
        limit: 100,
        order: Order::Chronological,
        whole: true,
    }
}

async fn account(store: &DynStore) -> (Scope, accounts::CreatedAccount) {
    let (rec, shown) = accounts::new_account("Conformance", t(0));
    store.create_account(rec).await.unwrap();
    (Scope { account: shown.id.parse().unwrap(), livemode: false }, shown)
}

async fn new_charge(store: &DynStore, scope: &Scope, amount: i64, urls: Vec<String>) -> Charge {
    let c = charge(scope, source("alipay", amount, "THB", scope.livemode), urls);
    store.create_charge(scope, &c, doc(&c), true, vec![event(&c, EventKey::ChargeCreate, t(0))]).await.unwrap();
    c
}

async fn story(store: DynStore) {
    // Accounts and keys: only hashes are looked up.
    let (scope, shown) = account(&store).await;
    let (other, _) = account(&store).await;
    assert_eq!(store.count_accounts().await.unwrap(), 2);
    let grant = store.find_key(&accounts::hash_key(&shown.test_secret_key)).await.unwrap().unwrap();
    assert_eq!((grant.account.clone(), grant.livemode), (scope.account.clone(), false));
    assert!(store.find_key(&accounts::hash_key("skey_test_nope")).await.unwrap().is_none());
    assert!(store.find_key(&shown.test_secret_key).await.unwrap().is_none(), "keys are not stored in clear");

    // A commit that writes an event bumps the events signal (what `GET /events/stream` waits on).
    let mut woken = store.events_signal().subscribe();
    woken.mark_unchanged();
    let (third, _) = account(&store).await;
    new_charge(&store, &third, 10_000, vec![]).await;
    tokio::time::timeout(std::time::Duration::from_secs(5), woken.changed())
        .await
        .expect("the events signal is bumped after the commit")
        .unwrap();

    // Sources: one charge per source, even when two race for it.
    let src = source("alipay_hk", 150_000, "SGD", false);
    store.insert_source(&scope, &src).await.unwrap();
    assert_eq!(store.get_source(&scope, &src.id).await.unwrap(), (src.clone(), None));
    assert!(matches!(store.get_source(&other, &src.id).await, Err(StoreError::NotFound { .. })));
    let (a, b) = (charge(&scope, src.clone(), vec![]), charge(&scope, src.clone(), vec![]));
    let (ra, rb) = tokio::join!(
        store.create_charge(&scope, &a, doc(&a), false, vec![event(&a, EventKey::ChargeCreate, t(0))]),
        store.create_charge(&scope, &b, doc(&b), false, vec![event(&b, EventKey::ChargeCreate, t(0))]),
    );
    assert!(ra.is_ok() ^ rb.is_ok(), "exactly one charge gets the source: {ra:?} {rb:?}");
    let used = if ra.is_ok() { &a } else { &b };
    assert!(matches!(ra.err().or(rb.err()), Some(StoreError::SourceUsed { .. })));
    assert_eq!(store.get_source(&scope, &src.id).await.unwrap().1.as_deref(), Some("pending"));
    assert_eq!(store.get_charge(&scope, &used.id).await.unwrap(), *used);
    assert!(matches!(store.get_charge(&other, &used.id).await, Err(StoreError::NotFound { .. })));
    assert_eq!(store.find_charge(&used.id).await.unwrap().id, used.id);

    // Lists: order, paging, totals, and isolation.
    let mut ids = vec![used.id.clone()];
    for i in 0..4 {
        ids.push(new_charge(&store, &scope, 100_000 + i, vec![]).await.id);
    }
    let page = store.list_charges(&scope, ListQuery { offset: 1, limit: 2, ..all() }).await.unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(page.items.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), ids[1..3].to_vec());
    let rev =
        store.list_charges(&scope, ListQuery { order: Order::ReverseChronological, limit: 1, ..all() }).await.unwrap();
    assert_eq!(rev.items[0].id, ids[4]);
    assert_eq!(store.list_charges(&other, all()).await.unwrap().total, 0);
    // The whole list's total (a counter, not a count) agrees with counting a window, and holds across
    // housekeeping, which on PostgreSQL folds the counter's deltas, and across inserts after it.
    let windowed = store.list_charges(&scope, ListQuery { whole: false, ..all() }).await.unwrap();
    assert_eq!(windowed.total, 5);
    store.housekeeping().await.unwrap();
    assert_eq!(store.list_charges(&scope, all()).await.unwrap().total, 5);
    let elsewhere = new_charge(&store, &other, 100_000, vec![]).await;
    store.housekeeping().await.unwrap();
    let (mine, theirs) = (store.list_charges(&scope, all()).await.unwrap(), store.list_charges(&other, all()).await);
    assert_eq!((mine.total, theirs.unwrap().total), (5, 1));
    // The bulk loader's finishing step (on PostgreSQL a fold plus VACUUM, which must run outside a
    // transaction) leaves the lists as they were.
    store.after_bulk_load().await.unwrap();
    assert_eq!(store.list_charges(&scope, all()).await.unwrap().total, 5);
    assert!(!mine.items.iter().any(|c| c.id == elsewhere.id));

    // Transitions racing on one charge: exactly one wins, the others are refused and change nothing.
    let racer = ids[1].clone();
    let attempts = (0..6).map(|i| {
        store.update_charge(
            ChargeRef::Scoped(scope.clone(), racer.clone()),
            Box::new(move |c: &mut Charge| {
                let s = if i % 2 == 0 { c.pay(t(10))? } else { c.fail(FailureCode::InsufficientFund, t(10))? };
                snapshot_events(c, &s.events(), t(10))
            }),
        )
    });
    let results = futures::future::join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, StoreError::Refused(Refusal::Transition(_))), "{e:?}");
        }
    }
    let settled = store.get_charge(&scope, &racer).await.unwrap();
    assert!(settled.status.is_final());
    let events = store.list_events(&scope, Some(&racer), all()).await.unwrap();
    assert_eq!(
        events.items.iter().map(|e| e.key).collect::<Vec<_>>(),
        vec![EventKey::ChargeCreate, EventKey::ChargeComplete]
    );
    assert_eq!(store.get_event(&scope, &events.items[1].id).await.unwrap().id, events.items[1].id);
    assert!(store.get_event(&other, &events.items[1].id).await.is_err());
    // The account's whole event list (five creates, one completion) has a counted total, which agrees with
    // counting a window before and after housekeeping; the other account's charge is counted apart.
    let every = store.list_events(&scope, None, all()).await.unwrap();
    let windowed = store.list_events(&scope, None, ListQuery { whole: false, ..all() }).await.unwrap();
    assert_eq!((every.total, windowed.total, every.items.len()), (6, 6, 6));
    store.housekeeping().await.unwrap();
    let after = store.list_events(&scope, None, ListQuery { limit: 2, ..all() }).await.unwrap();
    assert_eq!((after.total, after.items.len()), (6, 2));
    assert_eq!(store.list_events(&other, None, all()).await.unwrap().total, 1);

    // Refunds racing on a paid charge never exceed it; each books a refund row and a ledger debit.
    let paid = ids[2].clone();
    store
        .update_charge(
            ChargeRef::Scoped(scope.clone(), paid.clone()),
            Box::new(|c: &mut Charge| {
                c.pay(t(20))?;
                Ok(vec![])
            }),
        )
        .await
        .unwrap();
    let refunds = (0..20).map(|_| {
        store.update_charge(
            ChargeRef::Scoped(scope.clone(), paid.clone()),
            Box::new(|c: &mut Charge| {
                c.refund(9_000, Map::new(), t(30))?;
                Ok(vec![])
            }),
        )
    });
    let granted = futures::future::join_all(refunds).await.into_iter().filter(|r| r.is_ok()).count() as i64;
    let c = store.get_charge(&scope, &paid).await.unwrap();
    assert!(c.amount.subunits() >= granted * 9_000);
    assert_eq!(c.refunded_amount().subunits(), granted * 9_000);
    assert_eq!(store.list_refunds(&scope, Some(&paid), all()).await.unwrap().total as i64, granted);
    let ledger = store.list_transactions(&scope, all()).await.unwrap();
    let racer_paid = matches!(settled.status, ChargeStatus::Successful { .. }) as i64;
    assert_eq!(ledger.total as i64, 1 + racer_paid + granted, "a credit per payment and a debit per refund");
    let balance = store.balances(&scope).await.unwrap();
    let racer_net = racer_paid * settled.fees.net.subunits();
    assert_eq!(balance[0].total, c.fees.net.subunits() + racer_net - granted * 9_000);
    assert!(store.balances(&other).await.unwrap().is_empty());

    // Webhook endpoints, and the outbox filled in the event's transaction.
    let ep = WebhookEndpoint {
        id: EndpointId::generate(false),
        account: scope.account.clone(),
        livemode: false,
        url: "http://127.0.0.1:9/a".into(),
        secret: satang::webhooks::sign::new_secret(),
        previous_secret: None,
        previous_until: None,
        created_at: t(0),
    };
    store.create_endpoint(&ep).await.unwrap();
    assert_eq!(store.list_endpoints(&scope.account, Some(false)).await.unwrap(), vec![ep.clone()]);
    assert!(store.list_endpoints(&scope.account, Some(true)).await.unwrap().is_empty());
    let rolled = store.roll_endpoint_secret(&ep.id, "bmV3".into(), t(86_400)).await.unwrap();
    assert_eq!((rolled.secret.as_str(), rolled.previous_secret.as_deref()), ("bmV3", Some(ep.secret.as_str())));
    let hooked = new_charge(&store, &scope, 100_000, vec![]).await;
    let own = new_charge(&store, &scope, 100_000, vec!["http://127.0.0.1:9/own".into()]).await;
    let _ = (hooked, own);
    let claim = |now: Timestamp, busy: HashMap<String, usize>| ClaimRequest {
        now,
        limit: 10,
        per_target: 1,
        busy,
        lease_now: now,
        lease_until: now.plus_seconds(60),
    };
    // Two workers claiming at once: each delivery goes to one of them.
    let (c1, c2) = tokio::join!(
        store.claim_deliveries(claim(t(40), HashMap::new())),
        store.claim_deliveries(claim(t(40), HashMap::new()))
    );
    let (c1, c2) = (c1.unwrap(), c2.unwrap());
    let mut seqs: Vec<i64> = c1.iter().chain(&c2).map(|d| d.seq).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), c1.len() + c2.len(), "no delivery claimed twice");
    assert_eq!(seqs.len(), 2, "one per target (per_target = 1): the endpoint and the charge's own URL");
    let claimed: Vec<_> = c1.into_iter().chain(c2).collect();
    let to_ep = claimed.iter().find(|d| d.endpoint.as_ref() == Some(&ep.id)).unwrap();
    assert_eq!(to_ep.secret, "bmV3");
    assert_eq!(to_ep.previous_secret.as_deref(), Some(ep.secret.as_str()), "the old secret signs during the roll");
    let to_own = claimed.iter().find(|d| d.endpoint.is_none()).unwrap();
    assert_eq!(to_own.url, "http://127.0.0.1:9/own");
    assert_eq!(to_own.secret, store.signing_secret(&scope, t(40)).await.unwrap().secret);
    // Leased rows are not claimed again until the lease runs out.
    assert!(store.claim_deliveries(claim(t(41), HashMap::new())).await.unwrap().iter().all(|d| !seqs.contains(&d.seq)));
    let attempt = |d: &satang::store::ClaimedDelivery, status| AttemptRecord {
        id: DeliveryId::generate(false),
        event: d.event.id.clone(),
        url: d.url.clone(),
        status: Some(status),
        error: None,
        duration_ms: 3,
        payload: "{}".into(),
        response: (status == 200).then(|| "{\"ok\":true}\n␀".to_string()),
        created_at: t(42),
    };
    store.finish_attempt(to_ep.seq, attempt(to_ep, 500), DeliveryOutcome::RetryAt(t(100))).await.unwrap();
    store.finish_attempt(to_own.seq, attempt(to_own, 200), DeliveryOutcome::Delivered).await.unwrap();
    let later = store.claim_deliveries(claim(t(100), HashMap::new())).await.unwrap();
    assert!(later.iter().any(|d| d.seq == to_ep.seq), "retried when due");
    assert!(later.iter().all(|d| d.seq != to_own.seq), "delivered is done");
    assert_eq!(later.iter().find(|d| d.seq == to_ep.seq).unwrap().attempts, 1);
    let log = store.list_attempts(&[to_ep.event.id.clone(), to_own.event.id.clone()]).await.unwrap();
    assert_eq!(log.len(), 2);
    let kept = |status| log.iter().find(|a| a.status == Some(status)).unwrap().response.clone();
    assert_eq!(kept(200).as_deref(), Some("{\"ok\":true}\n␀"), "the receiver's answer is kept");
    assert_eq!(kept(500), None);
    assert_eq!(store.redeliver(&scope, &to_own.event.id, t(200)).await.unwrap(), 1);
    assert!(store.redeliver(&other, &to_own.event.id, t(200)).await.is_err());
    store.delete_endpoint(&ep.id, t(300)).await.unwrap();
    assert!(store.get_endpoint(&ep.id).await.is_err());

    // Expiry batches: due charges, oldest deadline first, limited; expiring is idempotent.
    let due = store.due_charges(t(86_400), 2).await.unwrap();
    assert_eq!(due.len(), 2);
    let all_due = store.due_charges(t(86_400), 1_000).await.unwrap();
    assert!(all_due.len() >= 4);
    assert!(store.due_charges(t(86_399), 1_000).await.unwrap().is_empty(), "nothing is due before expires_at");
    for id in &all_due {
        for _ in 0..2 {
            store
                .update_charge(
                    ChargeRef::Unscoped(id.clone()),
                    Box::new(move |c: &mut Charge| {
                        let keys = c.expire_if_due(t(86_400));
                        snapshot_events(c, &keys, t(86_400))
                    }),
                )
                .await
                .unwrap();
        }
        let expired = store.find_charge(id).await.unwrap();
        assert!(matches!(expired.status, ChargeStatus::Expired { .. }));
        let keys: Vec<_> = store
            .list_events(&Scope { account: expired.account.clone(), livemode: false }, Some(id), all())
            .await
            .unwrap()
            .items;
        assert_eq!(keys.iter().filter(|e| e.key == EventKey::ChargeExpire).count(), 1, "expired once");
    }
    // Only the Alipay HK charge (7 days, not 24 hours) is left, due later.
    assert_eq!(store.due_charges(t(10_000_000), 1_000).await.unwrap(), vec![used.id.clone()]);

    // The outbox as /metrics reports it: a new delivery adds one, queued when its event was written.
    let (depth, _) = store.outbox_stats().await.unwrap();
    let (fourth, _) = account(&store).await;
    let c = charge(&fourth, source("alipay", 10_000, "THB", false), vec!["https://hooks.example/a".into()]);
    store.create_charge(&fourth, &c, doc(&c), true, vec![event(&c, EventKey::ChargeCreate, t(-5_000))]).await.unwrap();
    let (after, oldest) = store.outbox_stats().await.unwrap();
    assert_eq!((after, oldest), (depth + 1, Some(t(-5_000))), "the oldest is the new one, queued earliest");
}

#[tokio::test]
async fn the_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = satang::store::open(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    story(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_on_postgres() {
    let Some(db) = common::pg_or_skip().await else { return };
    let store = satang::store::open(&db.url).await.unwrap();
    story(store).await;
}

/// Connectors, the provider-call log and payment attempts (migration 0007), refund intents (0008), on both
/// backends.
async fn connector_story(store: DynStore) {
    use satang::connector::{Handoff, ProviderCall};
    use satang::store::connectors::{AttemptState, ConnectorRecord, PaymentAttempt};
    let (scope, _) = account(&store).await;
    let record = ConnectorRecord {
        account: scope.account.clone(),
        provider: "antom".into(),
        client_id: "SANDBOX_1".into(),
        endpoint: "http://127.0.0.1:9090".into(),
        key_version: 2,
        merchant_key_sealed: "c2VhbGVk".into(),
        provider_public_key: "-----BEGIN PUBLIC KEY-----".into(),
        updated_at: t(0),
    };
    assert!(store.get_connector(&scope.account).await.unwrap().is_none());
    store.set_connector(&record).await.unwrap();
    assert_eq!(store.get_connector(&scope.account).await.unwrap(), Some(record.clone()));
    let replaced = ConnectorRecord { client_id: "2188".into(), key_version: 3, ..record.clone() };
    store.set_connector(&replaced).await.unwrap();
    assert_eq!(store.get_connector(&scope.account).await.unwrap(), Some(replaced));
    let stranger = ConnectorRecord { account: satang_domain::AccountId::generate(true), ..record.clone() };
    assert!(matches!(store.set_connector(&stranger).await, Err(StoreError::NotFound { .. })));
    assert!(store.remove_connector(&scope.account).await.unwrap());
    assert!(!store.remove_connector(&scope.account).await.unwrap());
    assert!(store.get_connector(&scope.account).await.unwrap().is_none());

    let c = new_charge(&store, &scope, 10_000, vec![]).await;
    let call = |endpoint: &str, n: u32| ProviderCall {
        endpoint: endpoint.into(),
        request_id: format!("{}_1", c.id),
        attempt: n,
        http_status: Some(200),
        result_code: Some("SUCCESS".into()),
        result_status: Some("S".into()),
        latency_ms: 12,
        error: None,
        at: t(n as i64),
    };
    store.record_provider_calls(&c.id, &[call("payments/pay", 1), call("payments/pay", 2)]).await.unwrap();
    store.record_provider_calls(&c.id, &[call("payments/inquiryPayment", 1)]).await.unwrap();
    let calls = store.list_provider_calls(&c.id).await.unwrap();
    let names: Vec<_> = calls.iter().map(|c| (c.endpoint.as_str(), c.attempt)).collect();
    assert_eq!(names, [("payments/pay", 1), ("payments/pay", 2), ("payments/inquiryPayment", 1)]);

    let first = PaymentAttempt {
        request_id: format!("{}_1", c.id),
        charge: c.id.clone(),
        attempt: 1,
        provider: "antom".into(),
        handoff: None,
        state: AttemptState::Opening,
        created_at: t(0),
        next_check_at: t(60),
    };
    assert!(store.insert_payment_attempt(&first).await.unwrap());
    assert!(!store.insert_payment_attempt(&first).await.unwrap(), "the same request id once");
    let same_number = PaymentAttempt { request_id: "other".into(), ..first.clone() };
    assert!(!store.insert_payment_attempt(&same_number).await.unwrap(), "one attempt per number per charge");
    let open = PaymentAttempt {
        state: AttemptState::Open,
        handoff: Some(Handoff {
            payment_id: Some("2026".into()),
            normal_url: Some("http://x".into()),
            ..Handoff::default()
        }),
        ..first.clone()
    };
    store.update_payment_attempt(&open).await.unwrap();
    assert_eq!(store.payment_attempt(&first.request_id).await.unwrap(), Some(open.clone()));
    let second =
        PaymentAttempt { request_id: format!("{}_2", c.id), attempt: 2, next_check_at: t(120), ..first.clone() };
    assert!(store.insert_payment_attempt(&second).await.unwrap());
    assert_eq!(store.latest_payment_attempt(&c.id).await.unwrap().unwrap().attempt, 2);

    // Claims: due and unleased only, each to one caller until its lease runs out.
    assert!(store.claim_payment_checks(t(59), t(0), t(30), 10).await.unwrap().is_empty());
    let claimed = store.claim_payment_checks(t(200), t(0), t(30), 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(store.claim_payment_checks(t(200), t(10), t(40), 10).await.unwrap().is_empty(), "leased");
    assert_eq!(store.claim_payment_checks(t(200), t(31), t(60), 10).await.unwrap().len(), 2, "lease ran out");
    store.update_payment_attempt(&PaymentAttempt { state: AttemptState::Closed, ..open }).await.unwrap();
    let left = store.claim_payment_checks(t(200), t(100), t(130), 10).await.unwrap();
    assert_eq!(left.iter().map(|a| a.attempt).collect::<Vec<_>>(), [2], "closed attempts are not asked about");

    // Refund intents: written before the refund call, claimed by one caller, rescheduled, deleted.
    use satang::store::connectors::RefundIntent;
    let mut metadata = Map::new();
    metadata.insert("order".into(), serde_json::json!("A-1"));
    let intent = |n: i64| RefundIntent {
        refund: satang_domain::RefundId::generate(true),
        charge: c.id.clone(),
        amount: 1000 + n,
        metadata: metadata.clone(),
        created_at: t(n),
        next_check_at: t(30 + n),
    };
    let (i1, i2) = (intent(1), intent(2));
    store.insert_refund_intent(&i1).await.unwrap();
    store.insert_refund_intent(&i2).await.unwrap();
    assert!(store.insert_refund_intent(&i1).await.is_err(), "one intent per refund ID");
    assert!(store.claim_refund_intents(t(30), t(0), t(60), 10).await.unwrap().is_empty(), "not due yet");
    assert_eq!(
        store.claim_refund_intents(t(31), t(0), t(60), 10).await.unwrap(),
        std::slice::from_ref(&i1),
        "due, as written"
    );
    assert_eq!(
        store.claim_refund_intents(t(100), t(10), t(60), 10).await.unwrap(),
        std::slice::from_ref(&i2),
        "i1 is leased"
    );
    assert!(store.claim_refund_intents(t(100), t(59), t(90), 10).await.unwrap().is_empty(), "both leased");
    store.reschedule_refund_intent(&i1.refund, t(500)).await.unwrap();
    assert!(store.claim_refund_intents(t(499), t(0), t(600), 10).await.unwrap().is_empty(), "rescheduled, i2 leased");
    let back = store.claim_refund_intents(t(500), t(0), t(600), 10).await.unwrap();
    assert_eq!(back, [RefundIntent { next_check_at: t(500), ..i1.clone() }], "lease released by reschedule");
    store.delete_refund_intent(&i1.refund).await.unwrap();
    store.delete_refund_intent(&i1.refund).await.unwrap();
    let rest = store.claim_refund_intents(t(1000), t(1000), t(1100), 10).await.unwrap();
    assert_eq!(rest.iter().map(|i| i.amount).collect::<Vec<_>>(), [1002], "deleted intents are gone");
}

#[tokio::test]
async fn connectors_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = satang::store::open(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    connector_story(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_on_postgres() {
    let Some(db) = common::pg_or_skip().await else { return };
    let store = satang::store::open(&db.url).await.unwrap();
    connector_story(store).await;
}

/// Account settings (name, default version, checkout URLs with 0011's support URL) and fee schedules: each
/// write carries the task's pending audit row in its own transaction, and none without one.
async fn settings_story(store: DynStore) {
    use satang::store::users::{AuditEntry, PENDING_AUDIT};
    use satang::store::{AccountSettings, CheckoutSettings};
    use satang_domain::{Amount, FeeSchedule, Percent};

    let (scope, _) = account(&store).await;
    let id = scope.account.clone();
    let audit = |action: &str| AuditEntry {
        account: id.clone(),
        actor: "owner@shop.example".into(),
        action: action.into(),
        detail: "detail".into(),
        created_at: t(5),
    };
    let wanted = AccountSettings {
        name: "Tea House".into(),
        api_version: "2017-11-02".into(),
        checkout: CheckoutSettings {
            allowed_origins: vec!["https://shop.example".into()],
            shop_url: Some("https://shop.example/".into()),
            logo_url: Some("https://shop.example/logo.png".into()),
            support_url: Some("https://shop.example/help".into()),
        },
    };
    PENDING_AUDIT.scope(audit("account.settings"), store.set_account_settings(&id, &wanted)).await.unwrap();
    let a = store.get_account(&id).await.unwrap();
    assert_eq!((a.name.as_str(), a.api_version.as_str(), &a.checkout), ("Tea House", "2017-11-02", &wanted.checkout));
    assert_eq!(store.list_audit(&id, 10).await.unwrap(), [audit("account.settings")]);

    // The CLI's checkout settings keep the support URL it does not set, and write no row outside a task.
    let mut cli = a.checkout.clone();
    cli.logo_url = None;
    store.set_checkout_settings(&id, &cli).await.unwrap();
    assert_eq!(
        store.get_account(&id).await.unwrap().checkout.support_url.as_deref(),
        Some("https://shop.example/help")
    );
    assert_eq!(store.list_audit(&id, 10).await.unwrap().len(), 1);

    let schedule = FeeSchedule {
        rate: Percent::from_units(25_000).unwrap(),
        vat_rate: Percent::ZERO,
        flat: Amount::new(100).unwrap(),
    };
    PENDING_AUDIT
        .scope(audit("fee_schedule.set"), store.set_fee_schedule(&id, "alipay", Currency::Thb, schedule))
        .await
        .unwrap();
    assert_eq!(store.fee_schedule(&id, "alipay", Currency::Thb).await.unwrap(), Some(schedule));
    assert_eq!(store.list_audit(&id, 10).await.unwrap()[0], audit("fee_schedule.set"));

    // An unknown account: nothing written, no row.
    let ghost = satang_domain::AccountId::generate(false);
    let missing = PENDING_AUDIT.scope(audit("account.settings"), store.set_account_settings(&ghost, &wanted)).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    let missing = PENDING_AUDIT
        .scope(audit("fee_schedule.set"), store.set_fee_schedule(&ghost, "alipay", Currency::Thb, schedule))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    assert_eq!(store.list_audit(&id, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn settings_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = satang::store::open(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    settings_story(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_on_postgres() {
    let Some(db) = common::pg_or_skip().await else { return };
    let store = satang::store::open(&db.url).await.unwrap();
    settings_story(store).await;
}

/// Charges written before migration 0016 (which moved the source type and currency out of the document
/// into columns, and on PostgreSQL made the search vector a column satang fills) are still filtered and,
/// on PostgreSQL, found by their words after the upgrade.
async fn upgraded_story(store: DynStore, scope: &Scope, old: &Charge, words_found: bool) {
    use satang::store::search::{SearchFilters, SearchQuery};
    let search = |words: &[&str], filters: SearchFilters| {
        let q = SearchQuery {
            words: words.iter().map(|w| w.to_string()).collect(),
            filters,
            order: Order::Chronological,
            offset: 0,
            limit: 10,
        };
        let store = store.clone();
        let scope = scope.clone();
        async move { store.search_charges(&scope, &q).await.unwrap().items.into_iter().map(|c| c.id).collect::<Vec<_>>() }
    };
    let by = |currency: Option<Currency>, source_type: Option<&str>| SearchFilters {
        currency,
        source_type: source_type.map(String::from),
        ..Default::default()
    };
    let new = new_charge(&store, scope, 50_000, vec![]).await;
    assert_eq!(search(&[], by(Some(Currency::Sgd), None)).await, vec![old.id.clone()]);
    assert_eq!(search(&[], by(None, Some("alipay_hk"))).await, vec![old.id.clone()]);
    assert_eq!(search(&[], by(Some(Currency::Thb), Some("alipay"))).await, vec![new.id.clone()]);
    assert!(search(&[], by(Some(Currency::Thb), Some("alipay_hk"))).await.is_empty());
    if words_found {
        assert_eq!(search(&["upgraded", "ORD-1601"], SearchFilters::default()).await, vec![old.id.clone()]);
        assert_eq!(search(&[old.id.as_str()], SearchFilters::default()).await, vec![old.id.clone()]);
    }
    // Changing the old charge keeps it where it was found.
    store
        .update_charge(
            ChargeRef::Scoped(scope.clone(), old.id.clone()),
            Box::new(|c: &mut Charge| {
                c.description = Some("changed".into());
                Ok(vec![])
            }),
        )
        .await
        .unwrap();
    assert_eq!(search(&["changed"], by(Some(Currency::Sgd), Some("alipay_hk"))).await, vec![old.id.clone()]);
}

/// A charge in `alipay_hk` and SGD, with a description and an order number, as its row was before 0016.
fn pre_0016_charge(scope: &Scope) -> Charge {
    let mut c = charge(scope, source("alipay_hk", 20_000, "SGD", false), vec![]);
    c.description = Some("upgraded order".into());
    c.metadata.insert("order_id".into(), "ORD-1601".into());
    c
}

#[tokio::test]
async fn an_upgrade_to_0016_on_sqlite_keeps_old_charges_filtered() {
    use satang::store::migrate::SQLITE;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let scope = Scope { account: satang_domain::AccountId::generate(false), livemode: false };
    let old = pre_0016_charge(&scope);
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        satang::store::sqlite::migrate(&mut conn, &SQLITE[..15]).unwrap();
        conn.execute(
            "insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc, pos) \
             values (?1, ?2, 0, 'pending', ?3, ?4, 1, ?5, 1)",
            rusqlite::params![
                old.id.as_str(),
                scope.account.as_str(),
                old.created_at.unix(),
                old.expires_at.unix(),
                doc(&old)
            ],
        )
        .unwrap();
        conn.execute(
            "insert into list_counters (account_id, livemode, list, n) values (?1, 0, 'charges', 1)",
            [scope.account.as_str()],
        )
        .unwrap();
    }
    let store = satang::store::open(&format!("sqlite:{}", path.display())).await.unwrap();
    // SQLite's search index has been written by satang since 0015, not by this hand-made row.
    upgraded_story(store, &scope, &old, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_to_0016_on_postgres_keeps_old_charges_found() {
    use satang::store::migrate::POSTGRES;
    let Some(db) = common::pg_or_skip().await else { return };
    let scope = Scope { account: satang_domain::AccountId::generate(false), livemode: false };
    let old = pre_0016_charge(&scope);
    {
        let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        for m in &POSTGRES[..15] {
            client.batch_execute(&format!("begin; {}; commit", m.sql)).await.unwrap();
        }
        client
            .batch_execute(
                "create table schema_migrations (version bigint primary key, name text not null, applied_at bigint not null)",
            )
            .await
            .unwrap();
        for m in &POSTGRES[..15] {
            client.execute("insert into schema_migrations values ($1, $2, 0)", &[&m.version, &m.name]).await.unwrap();
        }
        client
            .execute(
                "insert into charges (id, account_id, livemode, status, created_at, expires_at, version, doc) \
                 values ($1, $2, false, 'pending', $3, $4, 1, $5)",
                &[
                    &old.id.as_str(),
                    &scope.account.as_str(),
                    &old.created_at.unix(),
                    &old.expires_at.unix(),
                    &doc(&old),
                ],
            )
            .await
            .unwrap();
    }
    let store = satang::store::open(&db.url).await.unwrap();
    upgraded_story(store, &scope, &old, true).await;
}

/// Deep pages of the whole charge and event lists on PostgreSQL are found from list marks (0017): every
/// page at every offset, in both orders, is the list walked in full, while deltas wait to be folded, after
/// charges created with earlier times than marks already written (and with equal times), and around a
/// delta without a key (an older node's); after each fold every mark's `base` is its row's rank.
/// Creates a charge (and its `charge.create` event) at `at` and notes it in `made`: (created_at offset,
/// insertion number, ID); the list's order is (created_at, insertion).
async fn create_at(store: &DynStore, scope: &Scope, made: &mut Vec<(i64, usize, String)>, at: i64) {
    let c = charge_at(scope, source("alipay", 2_000, "THB", false), vec![], t(at));
    store.create_charge(scope, &c, doc(&c), true, vec![event(&c, EventKey::ChargeCreate, t(at))]).await.unwrap();
    made.push((at, made.len(), c.id.to_string()));
}

/// Every page (both orders, limits 1 and 5, every offset) of the scope's charge and event lists is the
/// slice of `made` in list order, with the right total.
async fn check_pages(store: &DynStore, scope: &Scope, made: &[(i64, usize, String)], when: &str) {
    let mut want = made.to_vec();
    want.sort();
    let ids: Vec<&str> = want.iter().map(|w| w.2.as_str()).collect();
    for order in [Order::Chronological, Order::ReverseChronological] {
        let mut expected = ids.clone();
        if matches!(order, Order::ReverseChronological) {
            expected.reverse();
        }
        for limit in [1usize, 5] {
            for offset in 0..=ids.len() + 1 {
                let q = ListQuery { offset: offset as u64, limit: limit as u64, order, ..all() };
                let page: Vec<String> = expected.iter().skip(offset).take(limit).map(|s| s.to_string()).collect();
                let charges = store.list_charges(scope, q).await.unwrap();
                let got: Vec<String> = charges.items.iter().map(|c| c.id.to_string()).collect();
                assert_eq!(got, page, "{when}: charges, {order:?}, offset {offset}, limit {limit}");
                assert_eq!(charges.total, ids.len() as u64, "{when}: charges total");
                let events = store.list_events(scope, None, q).await.unwrap();
                let got: Vec<String> = events
                    .items
                    .iter()
                    .map(|e| {
                        serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["id"].as_str().unwrap().to_string()
                    })
                    .collect();
                assert_eq!(got, page, "{when}: events, {order:?}, offset {offset}, limit {limit}");
                assert_eq!(events.total, ids.len() as u64, "{when}: events total");
            }
        }
    }
}

/// Once everything is folded, each mark's base is the number of its list's rows up to its key. Returns
/// how many marks there are.
async fn marks_exact(client: &tokio_postgres::Client) -> i64 {
    let rows = client
        .query(
            "select m.list, m.base, case m.list \
               when 'charges' then (select count(*) from charges c where c.account_id = m.account_id \
                 and c.livemode = m.livemode and (c.created_at, c.seq) <= (m.created_at, m.seq)) \
               else (select count(*) from events e where e.account_id = m.account_id \
                 and e.livemode = m.livemode and (e.created_at, e.seq) <= (m.created_at, m.seq)) end \
             from list_marks m",
            &[],
        )
        .await
        .unwrap();
    for r in &rows {
        assert_eq!(r.get::<_, i64>(1), r.get::<_, i64>(2), "the {} mark's base is its rank", r.get::<_, &str>(0));
    }
    rows.len() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_pages_on_postgres_come_from_exact_list_marks() {
    let Some(db) = common::pg_or_skip().await else { return };
    let opts = satang::store::postgres::PgOptions { list_mark_spacing: 4, ..Default::default() };
    let store = satang::store::open_with(&db.url, opts).await.unwrap();
    let (mut client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let (scope, _) = account(&store).await;
    let (other, _) = account(&store).await;
    // (created_at offset, insertion number, ID): the list's order is (created_at, insertion).
    let mut made: Vec<(i64, usize, String)> = Vec::new();
    for i in 0..22 {
        create_at(&store, &scope, &mut made, i * 10).await;
    }
    create_at(&store, &other, &mut Vec::new(), 5).await;
    check_pages(&store, &scope, &made, "no marks yet, nothing folded").await;
    store.housekeeping().await.unwrap();
    // 22 charges and 22 events, a mark every 4: five of each.
    assert_eq!(marks_exact(&client).await, 10, "marks of the two lists");
    check_pages(&store, &scope, &made, "marked and folded").await;

    // The state a mark is written in when its own row's delta is not folded yet (rows committed between a
    // fold and the marks): the six newest rows, the last mark's among them, go back to deltas.
    for (list, table) in [("charges", "charges"), ("events", "events")] {
        let sql = format!(
            "with moved as (select created_at, seq from {table} where account_id = $1 and livemode = false \
               order by created_at desc, seq desc limit 6), \
             queued as (insert into list_count_deltas (account_id, livemode, list, created_at, item_seq) \
               select $1, false, '{list}', created_at, seq from moved), \
             counted as (update list_counts set n = n - (select count(*) from moved) \
               where account_id = $1 and livemode = false and list = '{list}') \
             update list_marks m set base = m.base - (select count(*) from moved v \
               where (v.created_at, v.seq) <= (m.created_at, m.seq)) \
             where m.account_id = $1 and m.livemode = false and m.list = '{list}'"
        );
        assert_eq!(client.execute(&sql, &[&scope.account.as_str()]).await.unwrap(), 5, "{list} marks");
    }
    check_pages(&store, &scope, &made, "the newest rows, a marked one among them, not folded").await;
    store.housekeeping().await.unwrap();
    assert_eq!(marks_exact(&client).await, 10, "the same marks, folded");

    // Newer rows and earlier ones (between marks, before the first, at an existing time), left unfolded.
    for at in [300, 310, 15, -40, 70, 70, 125, 320] {
        create_at(&store, &scope, &mut made, at).await;
    }
    check_pages(&store, &scope, &made, "late rows not folded yet").await;
    store.housekeeping().await.unwrap();
    let marks = marks_exact(&client).await;
    assert!(marks >= 12, "more marks after the fold: {marks}");
    check_pages(&store, &scope, &made, "late rows folded").await;

    // Folds by nodes of older versions, still running during a rolling upgrade, keep the marks exact too
    // (the 0018 trigger): one from before 0017, which knows nothing of marks, and one of 0017's, which
    // adjusted the marks itself under the marks lock (the trigger must not add the rows again).
    for (when, lock, fold) in
        [("a fold of a node before 0017", false, FOLD_0005), ("a fold of a 0017 node", true, FOLD_0017)]
    {
        for at in [12, 95, 95, 330, 135] {
            create_at(&store, &scope, &mut made, at).await;
        }
        let tx = client.transaction().await.unwrap();
        if lock {
            tx.execute("select pg_advisory_xact_lock(7263471)", &[]).await.unwrap();
        }
        let folded: i64 = tx.query_one(fold, &[&10_000i64]).await.unwrap().get(0);
        tx.commit().await.unwrap();
        assert_eq!(folded, 10, "{when}: the charges' and events' deltas");
        assert!(marks_exact(&client).await >= 12, "{when}");
        check_pages(&store, &scope, &made, when).await;
    }

    // An older node's delta carries no key: readers walk, and the fold drops the list's marks, which the
    // same round writes again.
    create_at(&store, &scope, &mut made, 45).await;
    let unkeyed = client
        .execute(
            "update list_count_deltas set created_at = null, item_seq = null \
             where list = 'charges' and seq = (select max(seq) from list_count_deltas where list = 'charges')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(unkeyed, 1);
    check_pages(&store, &scope, &made, "a delta without a key").await;
    store.housekeeping().await.unwrap();
    assert!(marks_exact(&client).await >= 12, "marks written again");
    check_pages(&store, &scope, &made, "marks written again").await;
    // Past the end, however far: an empty page with the total.
    for order in [Order::Chronological, Order::ReverseChronological] {
        for offset in [made.len() as u64 + 4, i64::MAX as u64, u64::MAX] {
            let q = ListQuery { offset, limit: 20, order, ..all() };
            let page = store.list_charges(&scope, q).await.unwrap();
            assert!(page.items.is_empty(), "charges at offset {offset}, {order:?}");
            assert_eq!(page.total, made.len() as u64);
            let page = store.list_events(&scope, None, q).await.unwrap();
            assert!(page.items.is_empty(), "events at offset {offset}, {order:?}");
            assert_eq!(page.total, made.len() as u64);
        }
    }
}

/// The fold statement of satang before 0017 (counts only), as a node of that version still runs it. Kept
/// here verbatim rather than taken from `store/postgres/lists.rs`, whose fold is the same text today: this
/// is the older version's statement, which the current one may leave.
const FOLD_0005: &str = "with upto as (select max(seq) as s from \
       (select seq from list_count_deltas order by seq limit $1) as b), \
     gone as (delete from list_count_deltas where seq <= (select s from upto) \
       returning account_id, livemode, list), \
     sums as (select account_id, livemode, list, count(*) as n from gone \
       group by account_id, livemode, list order by account_id, livemode, list), \
     added as (insert into list_counts (account_id, livemode, list, n) \
       select account_id, livemode, list, n from sums \
       on conflict (account_id, livemode, list) do update set n = list_counts.n + excluded.n) \
     select count(*) from gone";

/// The fold statement of 0017's satang, which adjusted the marks itself (run under the marks lock).
const FOLD_0017: &str = "with upto as (select max(seq) as s from \
       (select seq from list_count_deltas order by seq limit $1) as b), \
     gone as (delete from list_count_deltas where seq <= (select s from upto) \
       returning account_id, livemode, list, created_at, item_seq), \
     sums as (select account_id, livemode, list, count(*) as n from gone \
       group by account_id, livemode, list order by account_id, livemode, list), \
     added as (insert into list_counts (account_id, livemode, list, n) \
       select account_id, livemode, list, n from sums \
       on conflict (account_id, livemode, list) do update set n = list_counts.n + excluded.n), \
     unkeyed as (select distinct account_id, livemode, list from gone where created_at is null), \
     dropped as (delete from list_marks m using unkeyed u \
       where m.account_id = u.account_id and m.livemode = u.livemode and m.list = u.list), \
     tops as (select s.account_id, s.livemode, s.list, l.created_at, l.seq \
       from (select distinct account_id, livemode, list from gone) s \
       cross join lateral (select created_at, seq from list_marks m where m.account_id = s.account_id \
         and m.livemode = s.livemode and m.list = s.list order by created_at desc, seq desc limit 1) l), \
     late as (select g.account_id, g.livemode, g.list, g.created_at, g.item_seq from gone g join tops t \
       on t.account_id = g.account_id and t.livemode = g.livemode and t.list = g.list \
       where (g.created_at, g.item_seq) <= (t.created_at, t.seq) and not exists (select 1 from unkeyed u \
         where u.account_id = g.account_id and u.livemode = g.livemode and u.list = g.list)), \
     bumps as (select m.account_id, m.livemode, m.list, m.created_at, m.seq, count(*) as n \
       from late g join list_marks m on m.account_id = g.account_id and m.livemode = g.livemode \
         and m.list = g.list and (m.created_at, m.seq) >= (g.created_at, g.item_seq) \
       group by m.account_id, m.livemode, m.list, m.created_at, m.seq), \
     bumped as (update list_marks m set base = m.base + b.n from bumps b \
       where m.account_id = b.account_id and m.livemode = b.livemode and m.list = b.list \
       and m.created_at = b.created_at and m.seq = b.seq) \
     select count(*) from gone";

/// Nodes folding and writing marks at the same moment as charges are created, late ones among them, and
/// nodes of older versions folding with their own statements (a rolling upgrade): once all is folded,
/// every mark is still exact and every page is right. The folds, the marks lock and the 0018 trigger are
/// what keep them so; the interleavings differ from run to run, the end state may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_marks_stay_exact_while_nodes_fold_at_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(db) = common::pg_or_skip().await else { return };
    let opts = || satang::store::postgres::PgOptions { list_mark_spacing: 4, ..Default::default() };
    let nodes = [
        satang::store::open_with(&db.url, opts()).await.unwrap(),
        satang::store::open_with(&db.url, opts()).await.unwrap(),
    ];
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let (scope, _) = account(&nodes[0]).await;
    let mut made: Vec<(i64, usize, String)> = Vec::new();
    for i in 0..40 {
        create_at(&nodes[0], &scope, &mut made, i * 20).await;
    }
    nodes[0].housekeeping().await.unwrap();
    assert_eq!(marks_exact(&client).await, 20, "ten marks of each list to start from");

    let done = Arc::new(AtomicBool::new(false));
    let mut folders = Vec::new();
    for node in &nodes {
        let (node, done) = (node.clone(), done.clone());
        folders.push(tokio::spawn(async move {
            let mut rounds = 0;
            // Each folds at least once: a deadlock may have aborted every round it began before the end.
            while rounds == 0 || !done.load(Ordering::Relaxed) {
                // A fold of a node older than 0017 can deadlock with this one (see the 0018 migration):
                // PostgreSQL aborts one of the two, which folds again next round.
                match node.housekeeping().await {
                    Ok(()) => rounds += 1,
                    Err(e) => assert!(format!("{e:?}").contains("deadlock"), "housekeeping: {e:?}"),
                }
            }
            rounds
        }));
    }
    for (fold, lock) in [(FOLD_0005, false), (FOLD_0017, true)] {
        let (url, done) = (db.url.clone(), done.clone());
        folders.push(tokio::spawn(async move {
            let (mut c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let mut rounds = 0;
            while rounds == 0 || !done.load(Ordering::Relaxed) {
                let tx = c.transaction().await.unwrap();
                let locked = if lock { tx.execute("select pg_advisory_xact_lock(7263471)", &[]).await } else { Ok(0) };
                let folded = match locked {
                    Ok(_) => tx.query_one(fold, &[&3i64]).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                match folded {
                    Ok(_) => {
                        tx.commit().await.unwrap();
                        rounds += 1;
                    }
                    // The deadlock of a pre-0017 fold with the others (see the 0018 migration).
                    Err(e) => {
                        assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED), "{e}");
                    }
                }
            }
            rounds
        }));
    }
    // Two writers, each with times of its own (even and odd, so the order is the times' order), spread
    // over and beyond the marked rows: most of them late.
    let mut writers = Vec::new();
    for k in 0..2i64 {
        let (node, scope) = (nodes[k as usize].clone(), scope.clone());
        writers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..60i64 {
                let at = 2 * ((i * 37 + k * 11) % 600) + k - 100;
                create_at(&node, &scope, &mut mine, at).await;
            }
            mine
        }));
    }
    for w in writers {
        for (at, _, id) in w.await.unwrap() {
            let n = made.len();
            made.push((at, n, id));
        }
    }
    done.store(true, Ordering::Relaxed);
    for f in folders {
        f.await.unwrap();
    }
    nodes[1].housekeeping().await.unwrap();
    let unfolded: i64 = client.query_one("select count(*) from list_count_deltas", &[]).await.unwrap().get(0);
    assert_eq!(unfolded, 0, "all folded");
    let marks = marks_exact(&client).await;
    assert!(marks > 20, "marks after the rows newer than the first ones: {marks}");
    check_pages(&nodes[0], &scope, &made, "after folds at once").await;
}
