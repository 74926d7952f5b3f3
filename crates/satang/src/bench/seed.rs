//! `satang bench seed`: fills a database with charges fast, through the store (not over HTTP), many writes in
//! flight so they commit in large groups. Each charge is a real one: its source, the charge, and its
//! `charge.create` event with the charge's JSON, exactly as `POST /charges` would write them; a settled one
//! then goes through the same transition as `mark_as_paid`, a payer's failure or `POST /charges/:id/expire`
//! (its events, and for a payment its ledger entries, in one transaction). At the end the store does what its
//! own maintenance would soon after a bulk load (see `Store::after_bulk_load`).
//!
//! The charges look like a shop's ([`Mix::Shop`]): an order number and a customer (from a small list, Thai and
//! English names) in the metadata, what was bought in the description, Alipay or Alipay HK (THB or SGD),
//! and mostly settled, so the dashboard's search and filters have real work to do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use satang_domain::{
    Charge, ChargeRequest, Clock, EventKey, FailureCode, Source, SourceRequest, SystemClock, Timestamp,
};
use serde_json::{Map, Value, json};

use crate::ops::snapshot_events;
use crate::store::{ChargeRef, DynStore, NewEvent, Scope};

/// What the seeded charges' statuses are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// A shop's history: 75 % successful, 15 % expired, 8 % failed, 2 % still pending.
    Shop,
    /// All pending (charges for `complete-and-deliver` to complete).
    Pending,
}

/// The customers a seeded charge is for: `customer` in its metadata, so one name matches about one charge in
/// twelve.
pub const CUSTOMERS: [&str; 12] = [
    "Somchai Jaidee",
    "Suda Rakthai",
    "Niran Wongsa",
    "Ploy Chaiyaporn",
    "Kittipong Srisuk",
    "Mali Boonmee",
    "Tan Wei Ming",
    "Lim Hui Min",
    "Anan Thongdee",
    "Wanida Kaewkla",
    "สมชาย ใจดี",
    "สุดา รักไทย",
];

const PRODUCTS: [&str; 10] = [
    "ข้าวมันไก่",
    "Pad Thai",
    "ชาไทยเย็น",
    "Mango sticky rice",
    "ต้มยำกุ้ง",
    "Green curry",
    "ส้มตำ",
    "Iced coffee",
    "ก๋วยเตี๋ยวเรือ",
    "Coconut ice cream",
];

/// What happens to a seeded charge after it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pending,
    Paid,
    Failed(FailureCode),
    Expired,
}

/// SplitMix64: a well-spread hash of the charge's number, so its fields vary independently of each other.
fn mix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `order_id` of the seeded charge numbered `n`: `ORD-` and the number.
pub fn order_id(n: u64) -> String {
    format!("ORD-{n}")
}

/// The `n`th charge of a seed for `scope` (its `charge.create` event with it) and what becomes of it.
fn shop_charge(scope: &Scope, n: u64, mix: Mix, now: Timestamp) -> anyhow::Result<(Charge, NewEvent, Fate)> {
    let h = mix64(n);
    let (kind, currency, amount) = match h % 10 {
        0..=6 => ("alipay", "THB", 2_000 + (h >> 8) as i64 % 500_000),
        7 | 8 => ("alipay_hk", "SGD", 100 + (h >> 8) as i64 % 50_000),
        _ => ("alipay_hk", "THB", 2_000 + (h >> 8) as i64 % 500_000),
    };
    let fate = match mix {
        Mix::Pending => Fate::Pending,
        Mix::Shop => match (h >> 32) % 100 {
            0..=74 => Fate::Paid,
            75..=89 => Fate::Expired,
            90..=97 => Fate::Failed(FailureCode::ALL[((h >> 40) % 4) as usize]),
            _ => Fate::Pending,
        },
    };
    let src = Source::create(
        SourceRequest {
            kind: Some(kind.into()),
            amount: Some(amount),
            currency: Some(currency.into()),
            platform_type: (kind == "alipay_hk").then(|| "WEB".into()),
            ..Default::default()
        },
        scope.livemode,
        now,
    )
    .map_err(|v| anyhow::anyhow!("{v}"))?;
    let fees = src.method.limit(src.currency).map(|l| l.default_fees).ok_or_else(|| anyhow::anyhow!("no limit"))?;
    let customer = CUSTOMERS[((h >> 16) % CUSTOMERS.len() as u64) as usize];
    let product = PRODUCTS[((h >> 24) % PRODUCTS.len() as u64) as usize];
    let mut metadata = Map::new();
    metadata.insert("order_id".into(), json!(order_id(n)));
    metadata.insert("customer".into(), json!(customer));
    metadata.insert("channel".into(), Value::from(["web", "line", "shop"][((h >> 48) % 3) as usize]));
    let charge = Charge::create(
        scope.account.clone(),
        ChargeRequest {
            amount: Some(amount),
            currency: Some(currency.into()),
            source: src,
            return_uri: Some(format!("https://shop.example/orders/{n}/complete")),
            description: Some(format!("{product} x{}", 1 + (h >> 56) % 20)),
            metadata,
            expires_at: None,
            ip: None,
            webhook_endpoints: vec![],
        },
        fees,
        scope.livemode,
        now,
    )
    .map_err(|v| anyhow::anyhow!("{v}"))?;
    let event = snapshot_events(&charge, &[EventKey::ChargeCreate], now)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no event"))?;
    Ok((charge, event, fate))
}

/// Writes `n` charges for `scope` (see [`Mix`]), `in_flight` at a time, numbered from `first` (their order
/// numbers). Returns the seconds it took.
pub async fn seed(store: DynStore, scope: Scope, n: u64, in_flight: usize, mix: Mix) -> anyhow::Result<f64> {
    seed_from(store, scope, n, in_flight, mix, rand::random_range(1..900u64) * 10_000_000).await
}

/// [`seed`] with the first order number given.
pub async fn seed_from(
    store: DynStore,
    scope: Scope,
    n: u64,
    in_flight: usize,
    mix: Mix,
    first: u64,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // PostgreSQL's pool would keep most of many writers waiting past its acquire timeout on a busy machine.
    let in_flight = if store.backend() == "postgres" { in_flight.min(64) } else { in_flight };
    for _ in 0..in_flight.max(1) {
        let (store, scope, next) = (store.clone(), scope.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                let now = SystemClock.now();
                let (charge, event, fate) = shop_charge(&scope, first + i, mix, now)?;
                let doc = event.data.clone();
                store.create_charge(&scope, &charge, doc, true, vec![event]).await?;
                if fate != Fate::Pending {
                    let which = ChargeRef::Scoped(scope.clone(), charge.id.clone());
                    store
                        .update_charge(
                            which,
                            Box::new(move |c: &mut Charge| {
                                let keys = match fate {
                                    Fate::Paid => c.pay(now)?.events(),
                                    Fate::Failed(code) => c.fail(code, now)?.events(),
                                    Fate::Expired => c.expire(now)?,
                                    Fate::Pending => vec![],
                                };
                                snapshot_events(c, &keys, now)
                            }),
                        )
                        .await?;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_mix_has_every_status_method_and_customer() {
        let scope = Scope { account: satang_domain::AccountId::generate(true), livemode: false };
        let now = SystemClock.now();
        let mut fates = std::collections::HashMap::new();
        let mut kinds = std::collections::HashSet::new();
        let mut customers = std::collections::HashSet::new();
        for n in 0..2_000 {
            let (c, _, fate) = shop_charge(&scope, n, Mix::Shop, now).unwrap();
            *fates.entry(std::mem::discriminant(&fate)).or_insert(0) += 1;
            kinds.insert((c.source.method.name, c.currency));
            customers.insert(c.metadata["customer"].as_str().unwrap().to_string());
            assert_eq!(c.metadata["order_id"], json!(format!("ORD-{n}")));
        }
        assert_eq!(fates.len(), 4);
        assert_eq!(kinds.len(), 3);
        assert_eq!(customers.len(), CUSTOMERS.len());
        let pending = fates[&std::mem::discriminant(&Fate::Pending)];
        assert!((10..100).contains(&pending), "about 2 % pending: {pending}");
    }
}
