//! `GET /openapi.json` against the real router: every documented operation is routed (not the fallback's
//! `not_found`, not `method_not_allowed`), and the document is served as JSON.

use std::sync::Arc;

use satang::api::openapi::{Auth, OPERATIONS};
use satang::startup::Application;
use satang_domain::SystemClock;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let store = satang::store::open(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    let (record, keys) = satang::accounts::new_account("Doc Shop", satang_domain::Clock::now(&SystemClock));
    store.create_account(record).await.unwrap();
    let app = Application::build(store, Arc::new(SystemClock), "127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let base = format!("http://{}", app.addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();

    let doc: serde_json::Value = client.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in OPERATIONS {
        assert!(doc["paths"][op.path][op.method].is_object(), "{} {} in the served document", op.method, op.path);
        let path: String =
            op.path.split('/').map(|s| if s.starts_with('{') { "zz_unknown" } else { s }).collect::<Vec<_>>().join("/");
        let mut req = client.request(op.method.to_uppercase().parse().unwrap(), format!("{base}{path}"));
        if op.auth != Auth::None {
            req = req.basic_auth(&keys.test_secret_key, Some(""));
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = if op.path.ends_with("/stream") { String::new() } else { res.text().await.unwrap() };
        assert_ne!(status, 405, "{} {} is not routed: {text}", op.method, op.path);
        assert!(
            !text.contains("the requested resource"),
            "{} {} fell through to the fallback: {text}",
            op.method,
            op.path
        );
    }
}
