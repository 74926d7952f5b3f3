//! `satang bench --scenario dashboard`: the merchant dashboard's charge list at `--charges` stored charges
//! (1M by default), through a real `satang serve` and a logged-in session, as a shop's staff would use it.
//!
//! The database's busiest test-mode account is seeded up to the level (a new account if there is none), so a
//! database seeded once (`--database sqlite:big.db`) is measured again without seeding. A viewer user is
//! made for it and logs in through the login form (its CSRF cookie and token). Each page is measured flat out
//! and then at a steady 200/s (its p99 below saturation):
//!
//! | row | page |
//! |---|---|
//! | `dashboard newest` | `/dashboard`: the newest 25 |
//! | `dashboard older (deep)` | `/dashboard?older=<id>`: the page after the charge halfway down the list |
//! | `dashboard status=pending` | the rarest status of a shop's history (about 2 %) |
//! | `dashboard method+currency` | Alipay HK in SGD (about 20 %) |
//! | `dashboard search order_id` | a random seeded charge's `order_id` per request (one match each) |
//! | `dashboard search customer` | a customer's first name (about one charge in twelve) |
//! | `dashboard search no hits` | a misspelt name |

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use satang_domain::{AccountId, Clock, SystemClock};

use super::load::{self, MakeRequest, Pace};
use super::{Bench, Databases, LIGHT_LIST_RATE, Proc, What, seed, stored_count, with_rss};
use crate::dashboard::auth;
use crate::store::Scope;
use crate::store::users::Role;

/// The path of a page's `i`th request.
type PagePath = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// The default level.
pub const DEFAULT_CHARGES: u64 = 1_000_000;

/// Runs the scenario on the bench's database.
pub(super) async fn run(b: &mut Bench, dbs: &Databases) -> anyhow::Result<()> {
    let level = b.args.charges.unwrap_or(DEFAULT_CHARGES);
    let store = crate::store::open(&dbs.satang).await?;
    let (account, have) = match busiest_account(&dbs.satang).await? {
        Some((a, n)) => (a.parse::<AccountId>().map_err(|e| anyhow::anyhow!("{e}"))?, n),
        None => {
            let (rec, shown) = crate::accounts::new_account("Bench Shop", SystemClock.now());
            store.create_account(rec).await?;
            (shown.id.parse()?, 0)
        }
    };
    let scope = Scope { account: account.clone(), livemode: false };
    if level > have {
        eprintln!("seeding {} charges for {account}…", level - have);
        let secs = seed::seed(store.clone(), scope.clone(), level - have, 512, seed::Mix::Shop).await?;
        eprintln!("  {} charges in {secs:.1} s", level - have);
    }
    let stored = level.max(have);
    let email = format!("bench-{}@bench.example", satang_domain::id::random_base36(10));
    let password = satang_domain::id::random_base36(24);
    auth::create_user(&store, &account, &email, Role::Viewer, &password, SystemClock.now()).await?;
    let deep = deep_cursor(&dbs.satang, &account, stored / 2).await?;
    let orders = order_ids(&dbs.satang, &account).await?;
    drop(store);
    let total = stored_count(&dbs.satang).await?;
    eprintln!("{stored} charges in the account ({total} in the database); deep cursor {deep}");

    let server =
        Proc::start(&["serve", "--listen", "127.0.0.1:0", "--database", &dbs.satang, "--sweep-interval", "3600"], &[])?;
    let pid = Some(server.child.id());
    let addr = server.addr;
    let cookie = login(addr, &email, &password).await?;

    let first_name = seed::CUSTOMERS[0].split(' ').next().unwrap_or("Somchai").to_string();
    let fixed = |p: &str| -> PagePath {
        let p = p.to_string();
        Arc::new(move |_| p.clone())
    };
    let orders = Arc::new(orders);
    let pages: Vec<(&str, PagePath)> = vec![
        ("dashboard newest", fixed("/dashboard")),
        ("dashboard older (deep)", fixed(&format!("/dashboard?older={deep}"))),
        ("dashboard status=pending", fixed("/dashboard?status=pending")),
        ("dashboard method+currency", fixed("/dashboard?method=alipay_hk&currency=SGD")),
        (
            "dashboard search order_id",
            Arc::new(move |i| {
                let o = &orders[(i as usize) % orders.len().max(1)];
                format!("/dashboard?q={}", crate::dashboard::urlencode(o))
            }),
        ),
        ("dashboard search customer", fixed(&format!("/dashboard?q={first_name}"))),
        ("dashboard search no hits", fixed("/dashboard?q=Somchia")),
    ];
    for (name, path) in pages {
        for pace in [Pace::Closed, Pace::Open(LIGHT_LIST_RATE)] {
            let (host, cookie, path) = (addr.to_string(), cookie.clone(), path.clone());
            let n = Arc::new(AtomicU64::new(0));
            let make: MakeRequest = Arc::new(move |_, _| {
                let i = n.fetch_add(1, Ordering::Relaxed);
                load::get_with_cookie(&path(i), &host, &cookie)
            });
            let run = load::run(addr, b.args.connections, b.duration(), pace, make, false, None);
            let (o, rss) = with_rss(pid, run).await;
            let load = match pace {
                Pace::Closed => format!("closed {}", b.args.connections),
                Pace::Open(r) => format!("open {r:.0}/s"),
            };
            b.push(What { scenario: name, stored, load, baseline: None, note: String::new() }, &o, rss);
        }
    }
    drop(server);
    Ok(())
}

/// Logs in through the login form as a browser would: the form's token and its cookie, then the session
/// cookie from the answer. Returns the `Cookie` header value.
async fn login(addr: SocketAddr, email: &str, password: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let page = client.get(format!("http://{addr}/dashboard/login")).send().await?;
    let form_cookie = set_cookie(&page, auth::LOGIN_CSRF_COOKIE).ok_or_else(|| anyhow::anyhow!("no form cookie"))?;
    let html = page.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).ok_or_else(|| anyhow::anyhow!("no form token"))? + marker.len();
    let token = &html[at..at + html[at..].find('"').unwrap_or(0)];
    let body = format!(
        "csrf={}&email={}&password={}",
        crate::dashboard::urlencode(token),
        crate::dashboard::urlencode(email),
        crate::dashboard::urlencode(password)
    );
    let res = client
        .post(format!("http://{addr}/dashboard/login"))
        .header("cookie", format!("{}={form_cookie}", auth::LOGIN_CSRF_COOKIE))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    let session =
        set_cookie(&res, auth::SESSION_COOKIE).ok_or_else(|| anyhow::anyhow!("login refused ({})", res.status()))?;
    Ok(format!("{}={session}", auth::SESSION_COOKIE))
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all("set-cookie").iter().find_map(|v| {
        let kv = v.to_str().ok()?.split(';').next()?;
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

/// The test-mode account with the most charges, and how many.
async fn busiest_account(url: &str) -> anyhow::Result<Option<(String, u64)>> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let conn = rusqlite::Connection::open(path)?;
        let sql = "select account_id, count(*) from charges where livemode = 0 group by account_id \
                   order by count(*) desc limit 1";
        let mut st = conn.prepare(sql)?;
        let mut rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.next().transpose()?)
    } else {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let sql = "select account_id, count(*) from charges where not livemode group by account_id \
                   order by count(*) desc limit 1";
        Ok(client.query_opt(sql, &[]).await?.map(|r| (r.get(0), r.get::<_, i64>(1) as u64)))
    }
}

/// The ID of the account's charge `skip` places down its list (newest first).
async fn deep_cursor(url: &str, account: &AccountId, skip: u64) -> anyhow::Result<String> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let conn = rusqlite::Connection::open(path)?;
        Ok(conn.query_row(
            "select id from charges where account_id = ?1 and livemode = 0 order by created_at desc, seq desc \
             limit 1 offset ?2",
            rusqlite::params![account.as_str(), skip as i64],
            |r| r.get(0),
        )?)
    } else {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let sql = "select id from charges where account_id = $1 and not livemode order by created_at desc, seq desc \
                   limit 1 offset $2";
        Ok(client.query_one(sql, &[&account.as_str(), &(skip as i64)]).await?.get(0))
    }
}

/// Up to 500 `order_id`s of the account's seeded charges, picked at random (about one charge in a hundred,
/// or any if that finds none).
async fn order_ids(url: &str, account: &AccountId) -> anyhow::Result<Vec<String>> {
    for one_in in [100, 1] {
        let ids: Vec<String> = if let Some(path) = url.strip_prefix("sqlite:") {
            let conn = rusqlite::Connection::open(path)?;
            let mut st = conn.prepare(
                "select json_extract(doc, '$.metadata.order_id') from charges where account_id = ?1 \
                 and livemode = 0 and abs(random()) % ?2 = 0 and json_extract(doc, '$.metadata.order_id') is not null \
                 limit 500",
            )?;
            st.query_map(rusqlite::params![account.as_str(), one_in], |r| r.get(0))?.collect::<Result<_, _>>()?
        } else {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            let sql = "select doc::jsonb #>> '{metadata,order_id}' from charges where account_id = $1 \
                       and not livemode and random() * $2 < 1 and doc::jsonb #>> '{metadata,order_id}' is not null \
                       limit 500";
            client.query(sql, &[&account.as_str(), &(one_in as f64)]).await?.iter().map(|r| r.get(0)).collect()
        };
        if !ids.is_empty() {
            return Ok(ids);
        }
    }
    anyhow::bail!("no seeded charge has an order_id")
}
