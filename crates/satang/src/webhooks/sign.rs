//! Webhook signatures (omise-wire.md §6): `Omise-Signature` is the lowercase hex HMAC-SHA256 of
//! `<timestamp>.<raw body>`, keyed with the base64-decoded endpoint secret; `Omise-Signature-Timestamp` is
//! the Unix time in seconds. During a secret roll the header carries the new and the old signature,
//! comma-separated, and either may match. Pure functions, checked against a fixed test vector.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A new signing secret: 32 random bytes, base64 (standard alphabet, padded), as shown to merchants.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The secret is not valid base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook secret is not valid base64")]
pub struct BadSecret;

fn key(secret_b64: &str) -> Result<Vec<u8>, BadSecret> {
    base64::engine::general_purpose::STANDARD.decode(secret_b64.trim()).map_err(|_| BadSecret)
}

/// `hex(HMAC-SHA256(base64decode(secret), "<timestamp>.<body>"))`.
pub fn signature(secret_b64: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let mut mac = HmacSha256::new_from_slice(&key(secret_b64)?).map_err(|_| BadSecret)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// The `Omise-Signature` header value: the current secret's signature, then the previous secret's while a
/// roll is in its grace period.
pub fn header(current: &str, previous: Option<&str>, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let mut sig = signature(current, timestamp, body)?;
    if let Some(prev) = previous {
        sig.push(',');
        sig.push_str(&signature(prev, timestamp, body)?);
    }
    Ok(sig)
}

/// Whether any of the comma-separated signatures in `header` matches (compared in constant time).
pub fn verify(secret_b64: &str, timestamp: i64, body: &[u8], header: &str) -> Result<bool, BadSecret> {
    let mut mac = HmacSha256::new_from_slice(&key(secret_b64)?).map_err(|_| BadSecret)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    Ok(header.split(',').map(str::trim).any(|sig| {
        hex::decode(sig).is_ok_and(|given| {
            given.len() == expected.len()
                && given.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        })
    }))
}

/// The test vector printed in the README and checked here and by the README's own snippets.
pub mod vector {
    pub const SECRET: &str = "c2F0YW5nLXdlYmhvb2stdGVzdC12ZWN0b3Itc2VjcmV0IQ==";
    pub const TIMESTAMP: i64 = 1_700_000_000;
    pub const BODY: &str = r#"{"object":"event","id":"evnt_test_5xyz","key":"charge.complete"}"#;
    pub const SIGNATURE: &str = "6499677870b048255057a7d3945b4bbfd8d494c05f35d8e74ba6865054d67977";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_test_vector_holds() {
        let sig = signature(vector::SECRET, vector::TIMESTAMP, vector::BODY.as_bytes()).unwrap();
        assert_eq!(sig, vector::SIGNATURE);
        assert!(verify(vector::SECRET, vector::TIMESTAMP, vector::BODY.as_bytes(), vector::SIGNATURE).unwrap());
    }

    #[test]
    fn an_independent_hmac_agrees() {
        // HMAC-SHA256 by its definition (RFC 2104), not through the hmac crate.
        use sha2::Digest;
        let key = base64::engine::general_purpose::STANDARD.decode(vector::SECRET).unwrap();
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(&key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let msg = format!("{}.{}", vector::TIMESTAMP, vector::BODY);
        let inner = Sha256::digest([ipad.as_slice(), msg.as_bytes()].concat());
        let outer = Sha256::digest([opad.as_slice(), inner.as_slice()].concat());
        assert_eq!(hex::encode(outer), signature(vector::SECRET, vector::TIMESTAMP, vector::BODY.as_bytes()).unwrap());
    }

    #[test]
    fn either_signature_of_a_roll_verifies() {
        let (old, new) = (new_secret(), new_secret());
        let h = header(&new, Some(&old), 42, b"{}").unwrap();
        assert!(verify(&new, 42, b"{}", &h).unwrap());
        assert!(verify(&old, 42, b"{}", &h).unwrap());
        assert!(!verify(&new_secret(), 42, b"{}", &h).unwrap());
        assert!(!verify(&new, 43, b"{}", &h).unwrap(), "the timestamp is signed");
        assert!(!verify(&new, 42, b"{ }", &h).unwrap(), "the exact body is signed");
    }

    #[test]
    fn secrets_are_32_random_bytes_in_base64() {
        let s = new_secret();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(&s).unwrap().len(), 32);
        assert_ne!(s, new_secret());
        assert_eq!(signature("not base64!", 1, b""), Err(BadSecret));
    }
}
