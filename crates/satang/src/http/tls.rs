//! TLS in process, for operators who do not put satang behind a terminating proxy: `--tls-cert` (a PEM chain,
//! leaf first) and `--tls-key` (a PEM private key: PKCS#8, PKCS#1 or SEC1), served with rustls. Only HTTP/1.1
//! is offered by ALPN, as the official clients all speak it.
//!
//! `--redirect-http ADDR` (off by default) also listens on plain HTTP and answers every request with a 308
//! to the same path under the public URL; nothing else is served there, so no key or body crosses it in the
//! clear by satang's doing.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub type Acceptor = tokio_rustls::TlsAcceptor;

/// Reads the certificate chain and key and builds the acceptor; errors name the file and what is wrong.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<Acceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("--tls-cert {}: cannot read it", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("--tls-cert {}: not a PEM certificate chain", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("--tls-cert {}: no CERTIFICATE block found", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("--tls-key {}: not a PEM private key", key.display()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("--tls-cert and --tls-key do not make a usable certificate (does the key match?)")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The plain-HTTP redirect service: 308 to `public_url` + the request's path and query.
pub fn redirect_router(public_url: String) -> axum::Router {
    axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let public_url = public_url.clone();
        async move {
            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let target = format!("{}{}", public_url.trim_end_matches('/'), path);
            let mut res: Response = StatusCode::PERMANENT_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&target) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
    })
}
