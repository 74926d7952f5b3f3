//! Waking webhook workers after a commit that queued deliveries: this node's at once, and every node's
//! through `NOTIFY satang_outbox` on one connection and `LISTEN satang_outbox` on another.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_postgres::NoTls;

use super::PgStore;

const OUTBOX_CHANNEL: &str = "satang_outbox";

impl PgStore {
    /// After a commit that queued deliveries: wake this node's worker now, and the other nodes' through the
    /// notifier. NOTIFY is not sent inside the transaction because PostgreSQL serializes the commits of
    /// notifying transactions, which would undo group commit.
    pub(super) fn wake_workers(&self) {
        self.outbox.notify_one();
        self.cluster.notify_one();
    }
}

/// Sends `NOTIFY satang_outbox` on its own connection when asked, at most once per couple of milliseconds
/// however many commits ask, so other nodes' workers wake within milliseconds of a commit.
pub(super) async fn notifier(cfg: tokio_postgres::Config, wanted: Arc<Notify>) {
    loop {
        match cfg.connect(NoTls).await {
            Ok((client, conn)) => {
                let driver = tokio::spawn(conn);
                loop {
                    wanted.notified().await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    if client.batch_execute(&format!("notify {OUTBOX_CHANNEL}")).await.is_err() {
                        break;
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error.message = %e, "NOTIFY connection failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Keeps a `LISTEN satang_outbox` connection open (reconnecting after failures) and turns each notification
/// into a wake-up of this node's webhook worker.
pub(super) async fn listen(cfg: tokio_postgres::Config, outbox: Arc<Notify>, events: crate::store::EventsSignal) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match cfg.connect(NoTls).await {
            Ok((client, mut conn)) => {
                backoff = Duration::from_millis(200);
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                            Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                                if tx.send(()).is_err() {
                                    return;
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => return,
                        }
                    }
                });
                if client.batch_execute(&format!("listen {OUTBOX_CHANNEL}")).await.is_ok() {
                    // A missed notification while reconnecting is covered by the worker's polling.
                    outbox.notify_one();
                    events.bump();
                    while rx.recv().await.is_some() {
                        outbox.notify_one();
                        events.bump();
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error.message = %e, "LISTEN connection failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
