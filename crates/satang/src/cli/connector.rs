//! `satang connector …` (an account's live acquirer) and `satang simulator …`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;

use crate::config::DatabaseArgs;
use crate::connector::antom::{client, sign};
use crate::connector::vault::MasterKey;
use crate::simulator::antom::{Faults, SimConfig, Simulator};
use crate::store::connectors::ConnectorRecord;

#[derive(Debug, Subcommand)]
pub enum SimulatorCommand {
    /// Run an Antom (Alipay+) compatible server on loopback, with a wallet page, signed notifications and
    /// faults on demand.
    Antom(AntomSimArgs),
}

#[derive(Debug, clap::Args)]
pub struct AntomSimArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// The simulator's own (Antom's) private key: PKCS#8 PEM, RSA 2048. It signs responses and
    /// notifications.
    #[arg(long)]
    pub antom_private_key_file: PathBuf,
    /// The merchant's public key (SPKI PEM): requests must be signed with its private half.
    #[arg(long)]
    pub merchant_public_key_file: PathBuf,
    /// Accept only this client id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Milliseconds between a payer's decision and the notification (Antom: 3–5 s).
    #[arg(long, default_value_t = 3000)]
    pub notify_delay_ms: u64,
    /// Multiplies Antom's notification retry schedule (0/2m/10m/10m/1h/2h/6h/15h), e.g. 0.001 for tests.
    #[arg(long, default_value_t = 1.0)]
    pub notify_scale: f64,
    /// A fault: slow:MS, 5xx:N, u:N, bad-signature:N, drop-notify, refuse-refund:CODE (repeatable).
    #[arg(long = "fault")]
    pub faults: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Write two RSA-2048 key pairs (PKCS#8 private, SPKI public, PEM) into DIR: the merchant's
    /// (merchant_private.pem, merchant_public.pem) and, for the simulator, Antom's (antom_private.pem,
    /// antom_public.pem). With a real Antom account, upload merchant_public.pem to Antom and download
    /// Antom's public key instead.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Configure the account's live mode: its live charges are paid through this acquirer. The private
    /// key is stored encrypted with SATANG_MASTER_KEY.
    Set {
        #[arg(long)]
        account: String,
        /// The acquirer: `antom` (Alipay+, for alipay and alipay_hk).
        #[arg(long)]
        provider: String,
        /// The client id Antom gave the merchant; one starting `SANDBOX_` uses Antom's sandbox paths.
        #[arg(long)]
        client_id: String,
        /// The merchant's private key: PKCS#8 PEM, RSA 2048.
        #[arg(long)]
        private_key_file: PathBuf,
        /// Antom's public key: SPKI PEM.
        #[arg(long)]
        antom_public_key_file: PathBuf,
        /// Antom's host; http:// only for a loopback host (a simulator).
        #[arg(long, default_value = crate::connector::antom::client::DEFAULT_ENDPOINT)]
        endpoint: String,
        /// The version of the merchant's key registered with Antom.
        #[arg(long, default_value_t = 1)]
        key_version: u32,
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
    /// Show the account's connector, without secrets.
    Show {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
    /// Remove the account's connector: its live charges are refused from then on.
    Remove {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn simulator(cmd: SimulatorCommand) -> anyhow::Result<()> {
    let SimulatorCommand::Antom(args) = cmd;
    if !args.listen.ip().is_loopback() {
        anyhow::bail!("--listen {}: the simulator listens on loopback only", args.listen);
    }
    let antom_key = sign::private_key_from_pem(&read(&args.antom_private_key_file)?)
        .map_err(|e| anyhow::anyhow!("--antom-private-key-file: {e}"))?;
    let merchant_key = sign::public_key_from_pem(&read(&args.merchant_public_key_file)?)
        .map_err(|e| anyhow::anyhow!("--merchant-public-key-file: {e}"))?;
    let mut faults = Faults::default();
    for f in &args.faults {
        faults.apply(f).map_err(|e| anyhow::anyhow!(e))?;
    }
    let config = SimConfig {
        antom_key,
        merchant_key,
        client_id: args.client_id,
        notify_delay: Duration::from_millis(args.notify_delay_ms),
        notify_scale: args.notify_scale,
        faults,
    };
    let sim = Simulator::start(args.listen, config).await?;
    println!("antom simulator listening on {}", sim.url());
    crate::startup::shutdown_signal().await;
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub async fn connector(cmd: ConnectorCommand) -> anyhow::Result<()> {
    match cmd {
        ConnectorCommand::Keygen { out } => keygen(&out),
        ConnectorCommand::Set {
            account,
            provider,
            client_id,
            private_key_file,
            antom_public_key_file,
            endpoint,
            key_version,
            database,
            json,
        } => {
            let account: satang_domain::AccountId = account.parse().map_err(|e| anyhow::anyhow!("--account: {e}"))?;
            if provider != "antom" {
                anyhow::bail!("--provider {provider}: the only provider is antom");
            }
            let client_id = client_id.trim().to_string();
            if client_id.is_empty() || client_id.len() > 64 || !client_id.bytes().all(|b| b.is_ascii_graphic()) {
                anyhow::bail!("--client-id must be 1 to 64 printable characters");
            }
            let private_pem = read(&private_key_file)?;
            sign::private_key_from_pem(&private_pem).map_err(|e| anyhow::anyhow!("--private-key-file: {e}"))?;
            let public_pem = read(&antom_public_key_file)?;
            sign::public_key_from_pem(&public_pem).map_err(|e| anyhow::anyhow!("--antom-public-key-file: {e}"))?;
            let endpoint = endpoint.trim_end_matches('/').to_string();
            client::check_endpoint(&endpoint).map_err(|e| anyhow::anyhow!("--endpoint {e}"))?;
            let master = MasterKey::from_env()?;
            let record = ConnectorRecord {
                merchant_key_sealed: master.seal(account.as_str(), private_pem.as_bytes())?,
                account,
                provider,
                client_id,
                endpoint,
                key_version,
                provider_public_key: public_pem,
                updated_at: satang_domain::Clock::now(&satang_domain::SystemClock),
            };
            let store = database.open().await?;
            store.set_connector(&record).await?;
            print_connector(&record, json);
            Ok(())
        }
        ConnectorCommand::Show { account, database, json } => {
            let account: satang_domain::AccountId = account.parse().map_err(|e| anyhow::anyhow!("--account: {e}"))?;
            let store = database.open().await?;
            match store.get_connector(&account).await? {
                Some(r) => {
                    print_connector(&r, json);
                    Ok(())
                }
                None => anyhow::bail!("account {account} has no connector: its live charges are refused"),
            }
        }
        ConnectorCommand::Remove { account, database } => {
            let account: satang_domain::AccountId = account.parse().map_err(|e| anyhow::anyhow!("--account: {e}"))?;
            let store = database.open().await?;
            if store.remove_connector(&account).await? {
                println!("removed the connector of {account}: its live charges are refused from now on");
                Ok(())
            } else {
                anyhow::bail!("account {account} has no connector")
            }
        }
    }
}

/// What `set` and `show` print: never the private key, sealed or not.
pub fn connector_json(r: &ConnectorRecord) -> serde_json::Value {
    use sha2::Digest as _;
    let fingerprint = hex::encode(sha2::Sha256::digest(r.provider_public_key.trim().as_bytes()));
    serde_json::json!({
        "account": r.account,
        "provider": r.provider,
        "client_id": r.client_id,
        "endpoint": r.endpoint,
        "sandbox": crate::connector::antom::wire::is_sandbox(&r.client_id),
        "key_version": r.key_version,
        "methods": ["alipay", "alipay_hk"],
        "antom_public_key_sha256": fingerprint,
        "updated_at": r.updated_at.iso(),
    })
}

fn print_connector(r: &ConnectorRecord, json: bool) {
    let v = connector_json(r);
    if json {
        println!("{v}");
    } else {
        println!("connector of {} ({}): client id {}", r.account, r.provider, r.client_id);
        println!("  endpoint {}{}", r.endpoint, if v["sandbox"] == true { " (sandbox paths)" } else { "" });
        println!("  key version {}, methods alipay, alipay_hk", r.key_version);
        println!("  Antom public key sha256 {}", v["antom_public_key_sha256"].as_str().unwrap_or(""));
        println!("  merchant private key: stored encrypted");
    }
}

fn keygen(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let names = ["merchant_private.pem", "merchant_public.pem", "antom_private.pem", "antom_public.pem"];
    for n in names {
        if out.join(n).exists() {
            anyhow::bail!("{} exists; not overwriting keys", out.join(n).display());
        }
    }
    for side in ["merchant", "antom"] {
        let (private, public) = sign::generate_pair()?;
        write_private(&out.join(format!("{side}_private.pem")), &private)?;
        std::fs::write(out.join(format!("{side}_public.pem")), public)?;
    }
    println!("wrote {} in {}", names.join(", "), out.display());
    Ok(())
}

fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(pem.as_bytes())?;
    Ok(())
}
