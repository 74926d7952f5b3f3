//! The developer CLI: commands a developer runs against a satang (usually `serve --dev`) with a secret key,
//! through its HTTP API like any client. `listen` forwards the account's events to an app as webhooks,
//! `trigger` makes an event happen, `logs tail` shows the account's API requests as they are served.

pub mod listen;
pub mod logs;
pub mod trigger;

use satang_domain::Clock as _;

/// Where the API is and the key to call it with; shared by every developer command.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The satang to talk to.
    #[arg(long, env = "SATANG_API_BASE", default_value = "http://127.0.0.1:8080")]
    pub api_base: String,

    /// A secret key of the account (default: the fixed key of `serve --dev`).
    #[arg(long, env = "SATANG_SECRET_KEY", default_value = crate::accounts::DEV_SECRET_KEY, hide_env_values = true)]
    pub secret_key: String,
}

impl ApiArgs {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }
}

/// Now, as the lines the commands print show it.
pub fn now_iso() -> String {
    satang_domain::SystemClock.now().iso()
}

/// An error answer of the API as one line (`401 authentication_failure: …`).
pub async fn api_error(res: reqwest::Response) -> anyhow::Error {
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    anyhow::anyhow!(
        "{} {}: {}",
        status.as_u16(),
        body["code"].as_str().unwrap_or("error"),
        body["message"].as_str().unwrap_or("the server answered with an error")
    )
}
