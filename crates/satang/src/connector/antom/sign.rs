//! Antom's request, response and notification signatures (alipay-antom.md §3.2, "Signing").
//!
//! Every message is signed with RSA256 (SHA256withRSA, PKCS#1 v1.5) over
//! `POST <path>\n<client-id>.<time>.<body>`: `time` is the message's `request-time` or `response-time`
//! header as sent, `body` the exact bytes on the wire, `path` the path the request went to (for a
//! notification, satang's notify path as Antom called it). The signature is base64, then URL-encoded as
//! Python's `quote_plus` does, and travels in `signature: algorithm=RSA256,keyVersion=N,signature=…`.
//!
//! [`verify`] refuses a header that is missing, has another algorithm, or an empty `signature=` value: a
//! message that cannot be verified is never acted on (Alipay's Python SDK passes an empty value through
//! unverified; satang does not). The RSA arithmetic is the `rsa` crate's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::{PrivateKey, PublicKey};

/// Why a signature was not accepted (or a key not loaded). Says nothing about the key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify")]
    Mismatch,
    #[error("the key is not usable: {0}")]
    Key(String),
}

/// Antom keys are RSA 2048; smaller ones are refused when loaded.
pub const KEY_BITS: usize = 2048;

/// The exact bytes that are signed.
pub fn content(method: &str, path: &str, client_id: &str, time: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(method.len() + path.len() + client_id.len() + time.len() + body.len() + 4);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(client_id.as_bytes());
    out.push(b'.');
    out.extend_from_slice(time.as_bytes());
    out.push(b'.');
    out.extend_from_slice(body);
    out
}

/// The URL-encoded base64 signature of `content`.
pub fn sign(key: &PrivateKey, content: &[u8]) -> Result<String, SignError> {
    let sig = key.pkcs1v15_sign::<Sha256>(content).map_err(|e| SignError::Key(e.to_string()))?;
    Ok(form_urlencoded::byte_serialize(STANDARD.encode(sig).as_bytes()).collect())
}

/// The `signature` header value.
pub fn header(key_version: u32, signature: &str) -> String {
    format!("algorithm=RSA256,keyVersion={key_version},signature={signature}")
}

/// The parts of a `signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub key_version: Option<String>,
    /// Still URL-encoded, as sent.
    pub signature: String,
}

/// Parses a `signature` header; the value must be present and non-empty, and the algorithm RSA256.
pub fn parse_header(value: Option<&str>) -> Result<SignatureHeader, SignError> {
    let value = value.ok_or(SignError::Missing)?;
    let (mut algorithm, mut key_version, mut signature) = (None, None, None);
    for part in value.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(SignError::Malformed("a part has no '='"))?;
        match k.trim() {
            "algorithm" => algorithm = Some(v.trim()),
            "keyVersion" => key_version = Some(v.trim().to_string()),
            // The value is URL-encoded base64: it holds no ','; a raw one may end in '=' which split_once
            // kept.
            "signature" => signature = Some(v.trim().to_string()),
            _ => {}
        }
    }
    if algorithm != Some("RSA256") {
        return Err(SignError::Malformed("algorithm is not RSA256"));
    }
    match signature {
        Some(s) if !s.is_empty() => Ok(SignatureHeader { key_version, signature: s }),
        _ => Err(SignError::Malformed("the signature value is empty")),
    }
}

/// Checks a `signature` header against `content` with the signer's public key.
pub fn verify(key: &PublicKey, content: &[u8], header_value: Option<&str>) -> Result<(), SignError> {
    let parsed = parse_header(header_value)?;
    let decoded: String = form_urlencoded::parse(format!("s={}", parsed.signature).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let raw = STANDARD.decode(decoded.trim()).map_err(|_| SignError::Malformed("the signature is not base64"))?;
    key.pkcs1v15_verify::<Sha256>(content, &raw).map_err(|_| SignError::Mismatch)
}

/// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
pub fn private_key_from_pem(pem: &str) -> Result<PrivateKey, SignError> {
    let key =
        PrivateKey::from_pkcs8_pem(pem.trim()).map_err(|e| SignError::Key(format!("not a PKCS#8 RSA key: {e}")))?;
    check_size(rsa::traits::PublicKeyParts::size(&key))?;
    Ok(key)
}

/// Loads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`).
pub fn public_key_from_pem(pem: &str) -> Result<PublicKey, SignError> {
    let key =
        PublicKey::from_public_key_pem(pem.trim()).map_err(|e| SignError::Key(format!("not an SPKI RSA key: {e}")))?;
    check_size(rsa::traits::PublicKeyParts::size(&key))?;
    Ok(key)
}

fn check_size(bytes: usize) -> Result<(), SignError> {
    if bytes * 8 < KEY_BITS {
        return Err(SignError::Key(format!("RSA keys must have at least {KEY_BITS} bits")));
    }
    Ok(())
}

/// A new RSA-2048 pair as (PKCS#8 private PEM, SPKI public PEM), for `satang connector keygen`.
pub fn generate_pair() -> anyhow::Result<(String, String)> {
    let key = PrivateKey::new(&mut rand::rng(), KEY_BITS)?;
    let private = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
    let public = key.to_public_key().to_public_key_pem(LineEnding::LF)?;
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_content_is_method_path_then_client_time_body() {
        let c = content("POST", "/ams/api/v1/payments/pay", "SANDBOX_5Y", "1685599933871", br#"{"a":1}"#);
        assert_eq!(c, b"POST /ams/api/v1/payments/pay\nSANDBOX_5Y.1685599933871.{\"a\":1}".to_vec());
    }

    #[test]
    fn headers_without_a_usable_signature_are_refused() {
        assert_eq!(parse_header(None), Err(SignError::Missing));
        assert!(parse_header(Some("algorithm=RSA256,keyVersion=1,signature=")).is_err());
        assert!(parse_header(Some("algorithm=RSA256,keyVersion=1")).is_err());
        assert!(parse_header(Some("algorithm=MD5,keyVersion=1,signature=abc")).is_err());
        assert!(parse_header(Some("garbage")).is_err());
        let h = parse_header(Some("algorithm=RSA256,keyVersion=2,signature=ab%2Bc%3D")).unwrap();
        assert_eq!(h.signature, "ab%2Bc%3D");
        assert_eq!(h.key_version.as_deref(), Some("2"));
    }

    /// Signs with `openssl dgst -sha256 -sign` (an independent implementation) and compares: PKCS#1 v1.5
    /// is deterministic, so both must produce the same bytes, and each must verify the other's.
    #[test]
    fn signatures_match_openssl() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let public = dir.path().join("pub.pem");
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().expect("openssl is installed");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        let k = key.to_str().unwrap();
        let p = public.to_str().unwrap();
        run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k]);
        run(&["pkey", "-in", k, "-pubout", "-out", p]);
        let private = private_key_from_pem(&std::fs::read_to_string(&key).unwrap()).unwrap();
        let public_key = public_key_from_pem(&std::fs::read_to_string(&public).unwrap()).unwrap();

        let body = r#"{"productCode":"CASHIER_PAYMENT","paymentRequestId":"chrg_test_x","note":"ข้อความ + / ="}"#;
        let msg = content("POST", "/ams/api/v1/payments/pay", "SANDBOX_5YEZ", "1685599933871", body.as_bytes());
        let msg_file = dir.path().join("msg");
        std::fs::write(&msg_file, &msg).unwrap();
        let theirs = run(&["dgst", "-sha256", "-sign", k, msg_file.to_str().unwrap()]);
        let theirs_encoded: String = form_urlencoded::byte_serialize(STANDARD.encode(&theirs).as_bytes()).collect();

        let ours = sign(&private, &msg).unwrap();
        assert_eq!(ours, theirs_encoded);
        assert!(!ours.contains('+') && !ours.contains('/') && !ours.contains('='), "URL-encoded: {ours}");
        verify(&public_key, &msg, Some(&header(1, &theirs_encoded))).unwrap();

        // openssl verifies ours.
        let sig_file = dir.path().join("sig");
        let decoded: String = form_urlencoded::parse(format!("s={ours}").as_bytes()).next().unwrap().1.into_owned();
        std::fs::write(&sig_file, STANDARD.decode(decoded).unwrap()).unwrap();
        let out = run(&[
            "dgst",
            "-sha256",
            "-verify",
            p,
            "-signature",
            sig_file.to_str().unwrap(),
            msg_file.to_str().unwrap(),
        ]);
        assert!(String::from_utf8_lossy(&out).contains("Verified OK"));

        // One changed byte anywhere in the content, and it does not verify.
        let mut tampered = msg.clone();
        *tampered.last_mut().unwrap() = b' ';
        assert_eq!(verify(&public_key, &tampered, Some(&header(1, &ours))), Err(SignError::Mismatch));
        let other_path =
            content("POST", "/ams/api/v1/payments/refund", "SANDBOX_5YEZ", "1685599933871", body.as_bytes());
        assert_eq!(verify(&public_key, &other_path, Some(&header(1, &ours))), Err(SignError::Mismatch));
    }

    #[test]
    fn generated_pairs_load_and_sign() {
        let (private, public) = generate_pair().unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let k = private_key_from_pem(&private).unwrap();
        let p = public_key_from_pem(&public).unwrap();
        let sig = sign(&k, b"x").unwrap();
        verify(&p, b"x", Some(&header(1, &sig))).unwrap();
        assert!(private_key_from_pem(&public).is_err());
    }
}
