//! The five payment endpoints of the simulator, as Antom answers them (alipay-antom.md §3.2, §3.4).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{DEFAULT_CLOSE_AFTER, Payment, RefundRecord, Sim, SimState, Status, result};
use crate::connector::antom::sign;
use crate::connector::antom::wire::{Api, PayRequest, PaymentRef, RefundRef, RefundRequest};

fn iso(unix: i64) -> String {
    satang_domain::Timestamp::from_unix(unix).iso().replace('Z', "+00:00")
}

pub async fn handle(State(sim): State<SimState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let Some(api) = Api::from_path(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let client_id = header("client-id");
    *sim.lock().stats.calls.entry(api.name()).or_default() += 1;

    let (slow, fail_500) = {
        let mut f = sim.faults();
        let fail = f.http_500 > 0;
        if fail {
            f.http_500 -= 1;
        }
        (f.slow_ms, fail)
    };
    if slow > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(slow)).await;
    }
    if fail_500 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated failure").into_response();
    }

    let content = sign::content("POST", &path, &client_id, &header("request-time"), &body);
    let signature = headers.get("signature").and_then(|v| v.to_str().ok());
    if sign::verify(&sim.config.merchant_key, &content, signature).is_err() {
        return sim.answer(&path, &client_id, &result("F", "INVALID_SIGNATURE", "The signature is invalid."));
    }
    if sim.config.client_id.as_deref().is_some_and(|c| c != client_id) {
        return sim.answer(&path, &client_id, &result("F", "INVALID_CLIENT", "The client ID is invalid."));
    }

    let mut value = carry_out(&sim, api, &client_id, &body);
    let slow_answer = sim.faults().slow_answer_ms;
    if slow_answer > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(slow_answer)).await;
    }

    let unknown = {
        let mut f = sim.faults();
        let u = f.unknown > 0;
        if u {
            f.unknown -= 1;
        }
        u
    };
    if unknown {
        value = result("U", "UNKNOWN_EXCEPTION", "An API calling is failed, which is caused by unknown reasons.");
    }
    sim.answer(&path, &client_id, &value)
}

/// Parses, checks idempotency and does the work; the answer to sign.
fn carry_out(sim: &Sim, api: Api, client_id: &str, body: &[u8]) -> serde_json::Value {
    let illegal = |m: &str| result("F", "PARAM_ILLEGAL", m);
    let request_id = match api {
        Api::Pay | Api::InquiryPayment | Api::Cancel => {
            serde_json::from_slice::<PaymentRef>(body).map(|r| r.payment_request_id)
        }
        Api::Refund | Api::InquiryRefund => serde_json::from_slice::<RefundRef>(body).map(|r| r.refund_request_id),
    };
    let Ok(request_id) = request_id else {
        return illegal("the request id is missing");
    };
    if request_id.is_empty() || request_id.len() > 64 {
        return illegal("the request id must have 1 to 64 characters");
    }
    let writes = matches!(api, Api::Pay | Api::Cancel | Api::Refund);
    let mut st = sim.lock();
    if let Some((seen, answer)) = st.replies.get(&(api, request_id.clone())).filter(|_| writes) {
        return if seen.as_slice() == body {
            answer.clone()
        } else {
            result("F", "REPEAT_REQ_INCONSISTENT", "Repeated requests are inconsistent.")
        };
    }
    let now = Sim::now();
    let answer = match api {
        Api::Pay => match serde_json::from_slice::<PayRequest>(body) {
            Ok(req) => pay(sim, &mut st, req, client_id, now),
            Err(e) => illegal(&format!("the pay request is not valid: {e}")),
        },
        Api::InquiryPayment => match st.payments.get(&request_id) {
            None => result("F", "ORDER_NOT_EXIST", "The order does not exist."),
            Some(p) => inquiry(p),
        },
        Api::Cancel => match st.payments.get_mut(&request_id) {
            None => result("F", "ORDER_NOT_EXIST", "The order does not exist."),
            Some(p) => match p.status {
                Status::Success => result("F", "CANCEL_WINDOW_EXCEED", "The order has been paid."),
                Status::Processing => {
                    p.status = Status::Cancelled;
                    cancelled(p, now)
                }
                _ => cancelled(p, now),
            },
        },
        Api::Refund => match serde_json::from_slice::<RefundRequest>(body) {
            Ok(req) => refund(sim, &mut st, req),
            Err(e) => illegal(&format!("the refund request is not valid: {e}")),
        },
        Api::InquiryRefund => match st.refunds.get(&request_id) {
            None => result("F", "ORDER_NOT_EXIST", "The refund does not exist."),
            Some(r) => {
                let currency = st
                    .payments
                    .get(&r.payment_request_id)
                    .map(|p| p.request.payment_amount.currency.clone())
                    .unwrap_or_default();
                let mut v = result("S", "SUCCESS", "success");
                v["refundRequestId"] = json!(r.refund_request_id);
                v["refundId"] = json!(r.refund_id);
                v["refundStatus"] = json!("SUCCESS");
                v["refundAmount"] = json!({"currency": currency, "value": r.amount.to_string()});
                v
            }
        },
    };
    let inconclusive = answer["result"]["resultStatus"] == "U" && api != Api::Pay;
    if writes && !inconclusive {
        st.replies.insert((api, request_id), (body.to_vec(), answer.clone()));
    }
    answer
}

fn cancelled(p: &Payment, now: i64) -> serde_json::Value {
    let mut v = result("S", "SUCCESS", "success");
    v["paymentRequestId"] = json!(p.request.payment_request_id);
    v["paymentId"] = json!(p.payment_id);
    v["cancelTime"] = json!(iso(now));
    v
}

fn pay(sim: &Sim, st: &mut super::State, req: PayRequest, client_id: &str, now: i64) -> serde_json::Value {
    let illegal = |m: &str| result("F", "PARAM_ILLEGAL", m);
    if req.product_code != "CASHIER_PAYMENT" {
        return illegal("productCode must be CASHIER_PAYMENT");
    }
    let method = req.payment_method.payment_method_type.as_str();
    if !matches!(method, "ALIPAY_CN" | "ALIPAY_HK") {
        return result("F", "UNAVAILABLE_PAYMENT_METHOD", "The payment method is not available.");
    }
    match req.payment_amount.value.parse::<i64>() {
        Ok(v) if v > 0 && req.payment_amount.value == v.to_string() => {}
        _ => return illegal("paymentAmount.value must be a positive integer in minor units"),
    }
    if !matches!(req.env.terminal_type.as_str(), "WEB" | "WAP" | "APP") {
        return illegal("env.terminalType must be WEB, WAP or APP");
    }
    let expires_at = match &req.payment_expiry_time {
        Some(t) => match satang_domain::Timestamp::parse(t) {
            Ok(t) => t.unix(),
            Err(_) => return illegal("paymentExpiryTime is not ISO-8601"),
        },
        None => now + DEFAULT_CLOSE_AFTER,
    };
    st.next += 1;
    let payment_id = format!("2026{:012}{:016}", now, st.next);
    let normal_url = format!("{}/wallet/{payment_id}", sim.base_url);
    let mut v = result("U", "PAYMENT_IN_PROCESS", "payment in process");
    v["paymentRequestId"] = json!(req.payment_request_id);
    v["paymentId"] = json!(payment_id);
    v["paymentCreateTime"] = json!(iso(now));
    v["paymentAmount"] = json!(req.payment_amount);
    v["normalUrl"] = json!(normal_url);
    v["redirectActionForm"] = json!({"method": "GET", "redirectUrl": normal_url});
    let image = |size: &str| format!("{normal_url}?picSize={size}");
    v["orderCodeForm"] = json!({"expireTime": iso(expires_at), "codeDetails": [
        {"displayType": "TEXT", "codeValue": normal_url},
        {"displayType": "BIGIMAGE", "codeValue": image("L")},
        {"displayType": "MIDDLEIMAGE", "codeValue": image("M")},
        {"displayType": "SMALLIMAGE", "codeValue": image("S")},
    ]});
    if req.env.terminal_type != "WEB" {
        v["applinkUrl"] = json!(format!("{normal_url}?via=applink"));
        if method == "ALIPAY_HK" {
            v["appIdentifier"] = json!("hk.alipay.wallet");
        }
    }
    st.by_payment_id.insert(payment_id.clone(), req.payment_request_id.clone());
    st.payments.insert(
        req.payment_request_id.clone(),
        Payment {
            request: req,
            client_id: client_id.to_string(),
            payment_id,
            status: Status::Processing,
            created_at: now,
            expires_at,
            paid_at: None,
            refunded: 0,
        },
    );
    v
}

fn inquiry(p: &Payment) -> serde_json::Value {
    let mut v = result("S", "SUCCESS", "success");
    v["paymentRequestId"] = json!(p.request.payment_request_id);
    v["paymentId"] = json!(p.payment_id);
    v["paymentAmount"] = json!(p.request.payment_amount);
    v["paymentCreateTime"] = json!(iso(p.created_at));
    match &p.status {
        Status::Processing => v["paymentStatus"] = json!("PROCESSING"),
        Status::Success => {
            v["paymentStatus"] = json!("SUCCESS");
            v["paymentResultCode"] = json!("SUCCESS");
            v["paymentTime"] = json!(iso(p.paid_at.unwrap_or(p.created_at)));
        }
        Status::Fail(code) => {
            v["paymentStatus"] = json!("FAIL");
            v["paymentResultCode"] = json!(code);
        }
        Status::Cancelled => v["paymentStatus"] = json!("CANCELLED"),
    }
    v
}

fn refund(sim: &Sim, st: &mut super::State, req: RefundRequest) -> serde_json::Value {
    if let Some(code) = sim.faults().refuse_refund.take() {
        return result("F", &code, "The refund is refused (simulated).");
    }
    let Some(prid) = st.by_payment_id.get(&req.payment_id).cloned() else {
        return result("F", "ORDER_NOT_EXIST", "The order does not exist.");
    };
    let Some(p) = st.payments.get_mut(&prid) else {
        return result("F", "ORDER_NOT_EXIST", "The order does not exist.");
    };
    if p.status != Status::Success {
        return result("F", "PROCESS_FAIL", "The payment has not succeeded.");
    }
    if req.refund_amount.currency != p.request.payment_amount.currency {
        return result("F", "CURRENCY_NOT_SUPPORT", "The refund currency differs from the payment's.");
    }
    let paid: i64 = p.request.payment_amount.value.parse().unwrap_or(0);
    let amount = match req.refund_amount.value.parse::<i64>() {
        Ok(a) if a > 0 => a,
        _ => return result("F", "PARAM_ILLEGAL", "refundAmount.value must be a positive integer"),
    };
    match p.refunded.checked_add(amount) {
        Some(total) if total <= paid => p.refunded = total,
        _ => return result("F", "REFUND_AMOUNT_EXCEED", "The total refund amount exceeds the payment amount."),
    }
    st.next += 1;
    let refund_id = format!("2026{:028}", st.next);
    st.refunds.insert(
        req.refund_request_id.clone(),
        RefundRecord {
            refund_request_id: req.refund_request_id.clone(),
            refund_id: refund_id.clone(),
            payment_request_id: prid,
            amount,
        },
    );
    let mut v = result("S", "SUCCESS", "success");
    v["refundRequestId"] = json!(req.refund_request_id);
    v["refundId"] = json!(refund_id);
    v["paymentId"] = json!(req.payment_id);
    v["refundAmount"] = json!(req.refund_amount);
    v["refundTime"] = json!(iso(Sim::now()));
    v
}
