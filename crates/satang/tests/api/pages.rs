use crate::helpers::spawn_app;

#[tokio::test]
async fn authorize_uri_opens_a_page_and_a_tampered_token_does_not() {
    let app = spawn_app().await;
    let c = app.create_charge("alipay_hk", 150_000, "SGD").await;
    let uri = c["authorize_uri"].as_str().unwrap();
    let res = app.client.get(uri).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.contains("SGD 1,500.00"), "{html}");
    let last = if uri.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("{}{last}", &uri[..uri.len() - 1]);
    let res = app.client.get(&tampered).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
