//! `GET /events/stream` on both backends: each committed event arrives at once (woken by the store's commit
//! signal, well before the stream's fallback read), as the webhook body.

use std::time::{Duration, Instant};

use crate::helpers::spawn_app;

async fn next_message(res: &mut reqwest::Response, buf: &mut String) -> String {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let msg = buf[..end].to_string();
            buf.drain(..end + 2);
            if msg.lines().any(|l| l.starts_with("data:")) {
                return msg;
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(8), res.chunk()).await.expect("a message in time");
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream is open")));
    }
}

#[tokio::test]
async fn the_event_stream_sends_each_event_as_it_is_committed() {
    let app = spawn_app().await;
    let mut res =
        app.client.get(format!("{}/events/stream", app.base)).basic_auth(app.skey(), Some("")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut buf = String::new();
    for _ in 0..2 {
        let started = Instant::now();
        let c = app.create_charge("alipay", 100_000, "THB").await;
        let msg = next_message(&mut res, &mut buf).await;
        // The fallback read is every 10 s: arriving sooner means the commit woke the stream.
        assert!(started.elapsed() < satang::api::stream::FALLBACK / 2, "took {:?}", started.elapsed());
        assert!(msg.contains("event: charge.create"), "{msg}");
        let data = msg.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        let event: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(event["object"], "event");
        assert_eq!(event["data"]["id"], c["id"], "{event}");
        let id = msg.lines().find_map(|l| l.strip_prefix("id: ")).unwrap();
        assert_eq!(event["id"], id);
    }
    // An unknown event key in the filter, and a Last-Event-ID that is not an event, are the client's errors.
    let bad = app
        .client
        .get(format!("{}/events/stream?events=charge.nope", app.base))
        .basic_auth(app.skey(), Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = app
        .client
        .get(format!("{}/events/stream", app.base))
        .basic_auth(app.skey(), Some(""))
        .header("Last-Event-ID", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
