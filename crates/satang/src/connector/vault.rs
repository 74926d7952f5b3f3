//! The merchant's private key at rest: sealed with XChaCha20-Poly1305 (the `chacha20poly1305` crate)
//! under the master key from `SATANG_MASTER_KEY` (base64 of 32 bytes), with the account ID as associated
//! data so a sealed key cannot be moved to another account. Stored as base64 of `nonce (24) || ciphertext`.
//! The master key is never stored; losing it means running `connector set` again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

pub const MASTER_KEY_ENV: &str = "SATANG_MASTER_KEY";

/// How to make a master key, for error messages.
pub const HOW_TO_MAKE_ONE: &str = "make one with `openssl rand -base64 32` (or `head -c 32 /dev/urandom | base64`), \
    export it as SATANG_MASTER_KEY, and keep it: every node needs the same one, and a lost key means setting \
    the connector again";

pub struct MasterKey(XChaCha20Poly1305);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// Reads `SATANG_MASTER_KEY`; the error says how to make one.
    pub fn from_env() -> anyhow::Result<MasterKey> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => MasterKey::parse(&v),
            _ => anyhow::bail!(
                "{MASTER_KEY_ENV} is not set: live connectors keep their private keys encrypted with it; {HOW_TO_MAKE_ONE}"
            ),
        }
    }

    pub fn parse(b64: &str) -> anyhow::Result<MasterKey> {
        let raw = STANDARD
            .decode(b64.trim())
            .map_err(|_| anyhow::anyhow!("{MASTER_KEY_ENV} is not base64; {HOW_TO_MAKE_ONE}"))?;
        if raw.len() != 32 {
            anyhow::bail!("{MASTER_KEY_ENV} must be 32 bytes (it is {}); {HOW_TO_MAKE_ONE}", raw.len());
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&raw).map_err(|_| anyhow::anyhow!("bad master key length"))?;
        Ok(MasterKey(cipher))
    }

    pub fn seal(&self, account: &str, secret: &[u8]) -> anyhow::Result<String> {
        let nonce = XNonce::generate();
        let ct = self
            .0
            .encrypt(&nonce, Payload { msg: secret, aad: account.as_bytes() })
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, account: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let raw = STANDARD.decode(sealed).map_err(|_| anyhow::anyhow!("the sealed key is not base64"))?;
        if raw.len() < 24 + 16 {
            anyhow::bail!("the sealed key is too short");
        }
        let nonce = XNonce::try_from(&raw[..24]).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        self.0.decrypt(&nonce, Payload { msg: &raw[24..], aad: account.as_bytes() }).map_err(|_| {
            anyhow::anyhow!(
                "the connector's private key cannot be decrypted with this {MASTER_KEY_ENV} (another key sealed it?)"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_the_same_master_key_and_account() {
        let k = MasterKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = k.seal("acct_1", b"-----BEGIN PRIVATE KEY-----").unwrap();
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(k.open("acct_1", &sealed).unwrap(), b"-----BEGIN PRIVATE KEY-----");
        assert!(k.open("acct_2", &sealed).is_err());
        let other = MasterKey::parse(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open("acct_1", &sealed).is_err());
        assert_ne!(sealed, k.seal("acct_1", b"-----BEGIN PRIVATE KEY-----").unwrap(), "fresh nonce each time");
    }

    #[test]
    fn bad_master_keys_say_how_to_make_one() {
        for bad in ["", "not base64!", &STANDARD.encode([1u8; 16])] {
            let e = MasterKey::parse(bad).unwrap_err().to_string();
            assert!(e.contains("openssl rand -base64 32"), "{e}");
        }
    }
}
