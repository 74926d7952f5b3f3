//! Baseline (a): the fastest honest durable insert of a charge's JSON document into a bare table, served
//! over the same HTTP stack (axum on hyper, same process model) and with the same durability as satang:
//! SQLite in WAL mode with `synchronous=FULL` and commits batched by one writer thread; on PostgreSQL one
//! insert per request over a pool, `synchronous_commit` on. It does none of satang's work (auth, parsing,
//! validation, fees, events): it only answers "how fast can this machine durably take the same bytes".

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use tokio::sync::{mpsc, oneshot};

/// The same charge document satang returns for a bench charge.
pub fn sample_document() -> String {
    use satang_domain::{AccountId, Charge, ChargeRequest, Clock, Source, SourceRequest, SystemClock};
    let now = SystemClock.now();
    let src = Source::create(
        SourceRequest {
            kind: Some("alipay".into()),
            amount: Some(100_000),
            currency: Some("THB".into()),
            ..Default::default()
        },
        false,
        now,
    )
    .expect("source");
    let fees = src.method.limit(src.currency).expect("THB").default_fees;
    let charge = Charge::create(
        AccountId::generate(true),
        ChargeRequest {
            amount: Some(100_000),
            currency: Some("THB".into()),
            source: src,
            return_uri: Some("https://shop.example/orders/1/complete".into()),
            description: Some("bench".into()),
            metadata: Default::default(),
            expires_at: None,
            ip: None,
            webhook_endpoints: vec![],
        },
        fees,
        false,
        now,
    )
    .expect("charge");
    let ctx = crate::api::wire::RenderCtx { public_url: "http://127.0.0.1:8080", now };
    serde_json::to_string(&crate::api::wire::charge::ChargeObject::new(&charge, &ctx)).expect("render")
}

enum Sink {
    Sqlite(mpsc::Sender<(String, oneshot::Sender<Result<(), String>>)>),
    Postgres(deadpool_postgres::Pool),
}

struct Baseline {
    sink: Sink,
    doc: String,
}

async fn insert(State(b): State<Arc<Baseline>>, body: axum::body::Bytes) -> axum::response::Response {
    let _ = body; // Read like satang reads it; not parsed: the baseline does none of satang's work.
    let id = satang_domain::ChargeId::generate(false).to_string();
    let doc = b.doc.clone();
    let stored = match &b.sink {
        Sink::Sqlite(tx) => {
            let (reply, rx) = oneshot::channel();
            match tx.send((format!("{id}\u{0}{doc}"), reply)).await {
                Ok(()) => rx.await.unwrap_or_else(|_| Err("writer stopped".into())),
                Err(_) => Err("writer stopped".into()),
            }
        }
        Sink::Postgres(pool) => match pool.get().await {
            Ok(c) => match c.prepare_cached("insert into bench_docs (id, doc) values ($1, $2)").await {
                Ok(st) => c.execute(&st, &[&id, &doc]).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        },
    };
    match stored {
        Ok(()) => ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], doc).into_response(),
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// The SQLite writer: the same group commit as satang's store, one transaction per batch.
fn sqlite_writer(path: String, mut rx: mpsc::Receiver<(String, oneshot::Sender<Result<(), String>>)>) {
    let conn = match crate::store::sqlite::connect(std::path::Path::new(&path)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("baseline: {e:#}");
            return;
        }
    };
    let _ = conn.execute_batch(
        "create table if not exists bench_docs (seq integer primary key, id text not null unique, doc text not null)",
    );
    let mut batch = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < crate::store::sqlite::MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result = (|| {
            conn.execute_batch("begin immediate")?;
            {
                let mut st = conn.prepare_cached("insert into bench_docs (id, doc) values (?1, ?2)")?;
                for (item, _) in &batch {
                    let (id, doc) = item.split_once('\u{0}').unwrap_or(("", item));
                    st.execute(rusqlite::params![id, doc])?;
                }
            }
            conn.execute_batch("commit")
        })()
        .map_err(|e: rusqlite::Error| {
            let _ = conn.execute_batch("rollback");
            e.to_string()
        });
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(result.clone());
        }
    }
}

/// Runs the baseline server until the process is stopped, printing its address like `serve` does.
pub async fn serve(listen: SocketAddr, database: &str, pool_size: usize) -> anyhow::Result<()> {
    let sink = if let Some(path) = database.strip_prefix("sqlite:") {
        let (tx, rx) = mpsc::channel(crate::store::sqlite::MAX_BATCH * 4);
        let path = path.to_string();
        std::thread::spawn(move || sqlite_writer(path, rx));
        Sink::Sqlite(tx)
    } else {
        let cfg: tokio_postgres::Config = database.parse()?;
        let mgr = deadpool_postgres::Manager::new(cfg, tokio_postgres::NoTls);
        let pool = deadpool_postgres::Pool::builder(mgr).max_size(pool_size).build()?;
        pool.get()
            .await?
            .batch_execute("create table if not exists bench_docs (seq bigserial primary key, id text not null unique, doc text not null)")
            .await?;
        Sink::Postgres(pool)
    };
    let state = Arc::new(Baseline { sink, doc: sample_document() });
    let app = Router::new().route("/charges", post(insert)).with_state(state);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("satang listening on http://{} (baseline)", listener.local_addr()?);
    let stop = crate::startup::shutdown_signal();
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    Ok(())
}
