//! The simulated wallet at `normalUrl`: a person pays, fails with any Antom failure code, or leaves; the
//! browser then goes back to the merchant's `paymentRedirectUrl`, and the notification follows.

use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{Sim, SimState, Status};
use crate::connector::antom::codes;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub async fn page(State(sim): State<SimState>, Path(payment_id): Path<String>) -> Response {
    let found = {
        let st = sim.lock();
        st.by_payment_id.get(&payment_id).and_then(|id| st.payments.get(id)).cloned()
    };
    let Some(p) = found else {
        return (StatusCode::NOT_FOUND, "no such order").into_response();
    };
    let state = match &p.status {
        Status::Processing => "open".to_string(),
        Status::Success => "paid".to_string(),
        Status::Fail(c) => format!("failed: {c}"),
        Status::Cancelled => "cancelled".to_string(),
    };
    let options: String = codes::payer_failures().map(|c| format!("<option value=\"{c}\">{c}</option>")).collect();
    let open = p.status == Status::Processing;
    let buttons = if open {
        format!(
            r#"<form method="post"><input type="hidden" name="action" value="pay"><button id="pay">Pay</button></form>
<form method="post"><input type="hidden" name="action" value="fail"><label for="code">Failure</label>
<select id="code" name="code">{options}</select><button id="fail">Fail</button></form>
<form method="post"><input type="hidden" name="action" value="leave"><button id="leave">Leave</button></form>"#
        )
    } else {
        String::new()
    };
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Antom simulator wallet</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>
<h1>{method} (simulated wallet)</h1>
<p>Order <span id="order">{order}</span>: <span id="amount">{value} {currency}</span> (minor units)</p>
<p>Status: <span id="status">{state}</span></p>{buttons}</main></body></html>"#,
        method = escape(&p.request.payment_method.payment_method_type),
        order = escape(&p.request.order.reference_order_id),
        value = escape(&p.request.payment_amount.value),
        currency = escape(&p.request.payment_amount.currency),
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
pub struct Decision {
    action: String,
    code: Option<String>,
}

pub async fn decide(State(sim): State<SimState>, Path(payment_id): Path<String>, Form(d): Form<Decision>) -> Response {
    let decided = {
        let mut st = sim.lock();
        let Some(id) = st.by_payment_id.get(&payment_id).cloned() else {
            return (StatusCode::NOT_FOUND, "no such order").into_response();
        };
        let Some(p) = st.payments.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such order").into_response();
        };
        let open = p.status == Status::Processing && p.expires_at > Sim::now();
        match d.action.as_str() {
            "pay" if open => {
                p.status = Status::Success;
                p.paid_at = Some(Sim::now());
            }
            "fail" if open => {
                let code = d.code.unwrap_or_else(|| "PROCESS_FAIL".into());
                if !codes::payer_failures().any(|c| c == code) {
                    return (StatusCode::BAD_REQUEST, "unknown failure code").into_response();
                }
                p.status = Status::Fail(code);
            }
            "pay" | "fail" => return (StatusCode::CONFLICT, "the order is no longer open").into_response(),
            "leave" => {}
            _ => return (StatusCode::BAD_REQUEST, "action must be pay, fail or leave").into_response(),
        }
        (d.action != "leave").then(|| (id, p.request.payment_redirect_url.clone()))
    };
    let back = match decided {
        Some((id, url)) => {
            super::notify::spawn(sim.clone(), id);
            url
        }
        None => {
            let st = sim.lock();
            st.by_payment_id
                .get(&payment_id)
                .and_then(|id| st.payments.get(id))
                .map(|p| p.request.payment_redirect_url.clone())
                .unwrap_or_default()
        }
    };
    (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
}
