//! `satang connector …` (an account's live acquirer) and `satang simulator …`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;

use crate::connector::antom::sign;
use crate::simulator::antom::{Faults, SimConfig, Simulator};

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
