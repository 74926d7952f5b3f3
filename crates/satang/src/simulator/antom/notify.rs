//! `notifyPayment`: signed, sent `notify_delay` after the payer's decision (or the order's closing), tried
//! again on Antom's schedule ([`super::NOTIFY_SCHEDULE`] × `notify_scale`) until the merchant answers 200
//! with `resultStatus: S`.

use std::time::Duration;

use serde_json::json;

use super::{Sim, SimState, Status, result};

/// Closes open orders past their expiry (`ORDER_IS_CLOSED`) and notifies the merchant, every 250 ms.
pub async fn close_expired(sim: SimState) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Sim::now();
        let closed: Vec<String> = {
            let mut st = sim.lock();
            st.payments
                .values_mut()
                .filter(|p| p.status == Status::Processing && p.expires_at <= now)
                .map(|p| {
                    p.status = Status::Fail("ORDER_IS_CLOSED".into());
                    p.request.payment_request_id.clone()
                })
                .collect()
        };
        for id in closed {
            spawn(sim.clone(), id);
        }
    }
}

/// The notification of a payment's current state, or `None` while it is open.
pub fn body(sim: &Sim, payment_request_id: &str) -> Option<(String, String, Vec<u8>)> {
    let p = sim.payment(payment_request_id)?;
    let mut v = match &p.status {
        Status::Success => result("S", "SUCCESS", "success"),
        Status::Fail(code) => result("F", code, "The payment failed."),
        Status::Processing | Status::Cancelled => return None,
    };
    v["notifyType"] = json!("PAYMENT_RESULT");
    v["paymentRequestId"] = json!(p.request.payment_request_id);
    v["paymentId"] = json!(p.payment_id);
    v["paymentAmount"] = json!(p.request.payment_amount);
    v["paymentCreateTime"] = json!(satang_domain::Timestamp::from_unix(p.created_at).iso());
    if let Some(t) = p.paid_at {
        v["paymentTime"] = json!(satang_domain::Timestamp::from_unix(t).iso());
    }
    Some((p.request.payment_notify_url.clone(), p.client_id.clone(), serde_json::to_vec(&v).ok()?))
}

/// Sends the payment's notification in the background, with retries.
pub fn spawn(sim: SimState, payment_request_id: String) {
    tokio::spawn(async move {
        tokio::time::sleep(sim.config.notify_delay).await;
        let Some((url, client_id, body)) = body(&sim, &payment_request_id) else { return };
        if sim.faults().drop_notifications {
            sim.lock().stats.notifications_dropped += 1;
            return;
        }
        let path = reqwest::Url::parse(&url).map(|u| u.path().to_string()).unwrap_or_default();
        for wait in super::NOTIFY_SCHEDULE {
            tokio::time::sleep(wait.mul_f64(sim.config.notify_scale.max(0.0))).await;
            sim.lock().stats.notifications_sent += 1;
            let headers = sim.signed_headers(&path, &client_id, "request-time", &body);
            let sent = sim.http.post(&url).headers(headers).body(body.clone()).send().await;
            let acked = match sent {
                Ok(r) if r.status().is_success() => {
                    r.json::<serde_json::Value>().await.map(|v| v["result"]["resultStatus"] == "S").unwrap_or(false)
                }
                _ => false,
            };
            if acked {
                sim.lock().stats.notifications_acked += 1;
                return;
            }
        }
    });
}
