//! The Antom simulator and an account's connector to it, for the live-mode tests (antom_live.rs,
//! antom_crash.rs).

use std::net::SocketAddr;
use std::time::Duration;

use satang::connector::antom::sign;
use satang::simulator::antom::{Faults, SimConfig, Simulator};

pub const CLIENT_ID: &str = "SANDBOX_5YEZ8S2YCTNN05215";
pub const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The key files (in `dir`), the simulator, and the private keys of both sides.
pub struct World {
    pub dir: tempfile::TempDir,
    pub sim: Simulator,
    pub antom_private: String,
    pub merchant_private: String,
}

/// Fresh key pairs for both sides and a simulator that knows them.
pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (merchant_private, merchant_public) = sign::generate_pair().unwrap();
    let (antom_private, antom_public) = sign::generate_pair().unwrap();
    std::fs::write(dir.path().join("merchant_private.pem"), &merchant_private).unwrap();
    std::fs::write(dir.path().join("antom_public.pem"), &antom_public).unwrap();
    let sim = Simulator::start(
        "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        SimConfig {
            antom_key: sign::private_key_from_pem(&antom_private).unwrap(),
            merchant_key: sign::public_key_from_pem(&merchant_public).unwrap(),
            client_id: Some(CLIENT_ID.into()),
            notify_delay: Duration::from_millis(0),
            notify_scale: 0.001,
            faults: Faults::default(),
        },
    )
    .await
    .unwrap();
    World { dir, sim, antom_private, merchant_private }
}

/// `satang connector set` for `account`, pointed at the simulator.
pub fn connector_set(w: &World, db: &str, account: &str) {
    let out = std::process::Command::new(super::satang_bin())
        .args(["connector", "set", "--account", account, "--provider", "antom", "--client-id", CLIENT_ID])
        .arg("--private-key-file")
        .arg(w.dir.path().join("merchant_private.pem"))
        .arg("--antom-public-key-file")
        .arg(w.dir.path().join("antom_public.pem"))
        .args(["--endpoint", &w.sim.url(), "--database", db])
        .env("SATANG_MASTER_KEY", MASTER)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
