//! The background work of a node: the webhook delivery worker, the expiry sweeper and the periodic
//! inquiry of live orders handed to an acquirer ([`crate::live::run_checks`]). `satang serve` runs
//! it beside the API (unless `--no-worker`); `satang worker` runs only this, so API and worker nodes scale
//! separately. Both tasks are safe to run on any number of nodes at once.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::sweeper;
use crate::webhooks::worker::{Worker, WorkerConfig};

pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    pub worker: std::sync::Arc<Worker>,
}

/// Starts the webhook worker and the sweeper on `app`.
pub fn start(app: AppState, sweep_interval: Duration, config: WorkerConfig) -> anyhow::Result<Background> {
    let (stop, stopped) = watch::channel(false);
    let worker = Worker::new(app.clone(), config)?;
    let tasks = vec![
        tokio::spawn(worker.clone().run(stopped.clone())),
        tokio::spawn(sweeper::run(app.clone(), sweep_interval, stopped.clone())),
        tokio::spawn(crate::live::run_checks(app, sweep_interval, stopped)),
    ];
    Ok(Background { stop, tasks, worker })
}

impl Background {
    /// Stops both tasks, letting webhook sends in flight finish and be recorded.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
