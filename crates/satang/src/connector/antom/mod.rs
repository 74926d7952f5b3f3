//! Alipay+ / Antom (AMS API v1): the connector for `alipay` (`ALIPAY_CN`) and `alipay_hk` (`ALIPAY_HK`).
//!
//! | module | owns |
//! |---|---|
//! | [`sign`] | the RSA256 signature of requests, responses and notifications; PEM keys |
//! | [`wire`] | Antom's JSON types and paths, field for field |
//! | [`codes`] | the one table from Antom result codes to what happens to the charge |
//! | [`client`] | HTTP: timeouts, retries with the same request id, response verification |
//! | this file | [`AntomConnector`]: satang's [`Connector`] in Antom's terms |
//!
//! Currencies: Antom's samples show HKD for `ALIPAY_HK` and CNY/USD-settled for `ALIPAY_CN`; satang's
//! charges are THB or SGD and are sent as they are (amount in subunits, as a string). Which currencies
//! each Antom method takes is inferred, not verified, and recorded as such in [`METHODS`]: a currency
//! Antom refuses comes back as `CURRENCY_NOT_SUPPORT` and fails the charge with `failed_processing`.

pub mod client;
pub mod codes;
pub mod sign;
pub mod wire;

use async_trait::async_trait;

use self::client::{AntomClient, Credentials, RetryPolicy};
use self::codes::Effect;
use self::wire::*;
use crate::connector::{
    CancelOutcome, Connector, ConnectorError, Handoff, Inbound, Notification, Os, PayOrder, PayOutcome, PaymentState,
    ProviderCall, RefundOrder, RefundState, Terminal,
};

/// How long satang asks Antom to keep an order open (`paymentExpiryTime`), at most. INFERRED: Antom
/// closes orders after about 14 minutes by default and its docs say a custom expiry must lie within 10
/// minutes for wallet methods, so a charge that lives longer (Omise's Alipay charges live days) gets a new
/// order when the payer comes back after the first one closed.
pub const MAX_ORDER_SECONDS: i64 = 600;

/// One satang method as Antom knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AntomMethod {
    /// satang's `source[type]`.
    pub method: &'static str,
    /// Antom's `paymentMethodType`.
    pub antom_type: &'static str,
    /// The currencies Antom is believed to take for it. INFERRED, not verified: Antom's samples show HKD
    /// for ALIPAY_HK and CNY-priced orders for ALIPAY_CN; satang's THB and SGD charges are sent as they
    /// are, and a currency Antom refuses comes back as `CURRENCY_NOT_SUPPORT` (`failed_processing`).
    pub believed_currencies: &'static [&'static str],
}

/// The methods this connector offers.
pub const METHODS: &[AntomMethod] = &[
    AntomMethod {
        method: "alipay",
        antom_type: "ALIPAY_CN",
        believed_currencies: &["CNY", "USD", "HKD", "THB", "SGD"],
    },
    AntomMethod { method: "alipay_hk", antom_type: "ALIPAY_HK", believed_currencies: &["HKD", "USD", "THB", "SGD"] },
];

/// Antom's `paymentMethodType` of a satang method.
pub fn method_type(method: &str) -> Option<&'static str> {
    METHODS.iter().find(|m| m.method == method).map(|m| m.antom_type)
}

/// `env` of a pay request.
pub fn env(terminal: Terminal) -> Env {
    let os = |o: Os| {
        Some(match o {
            Os::Ios => "IOS".to_string(),
            Os::Android => "ANDROID".to_string(),
        })
    };
    match terminal {
        Terminal::Web => Env { terminal_type: "WEB".into(), os_type: None },
        Terminal::Wap(o) => Env { terminal_type: "WAP".into(), os_type: os(o) },
        Terminal::App(o) => Env { terminal_type: "APP".into(), os_type: os(o) },
    }
}

/// The pay request for an order (pinned against the doc's field list in the tests).
pub fn pay_request(order: &PayOrder) -> Result<PayRequest, ConnectorError> {
    let method = method_type(&order.method)
        .ok_or_else(|| ConnectorError::Misconfigured(format!("Antom does not offer {}", order.method)))?;
    let amount = Money { currency: order.currency.clone(), value: order.amount.to_string() };
    Ok(PayRequest {
        product_code: "CASHIER_PAYMENT".into(),
        payment_request_id: order.request_id.clone(),
        order: Order {
            reference_order_id: order.charge.clone(),
            order_description: order.description.clone(),
            order_amount: amount.clone(),
        },
        payment_amount: amount,
        payment_method: PaymentMethod { payment_method_type: method.into() },
        payment_redirect_url: order.redirect_url.clone(),
        payment_notify_url: order.notify_url.clone(),
        payment_expiry_time: Some(order.expires_at.iso().replace('Z', "+00:00")),
        env: env(order.terminal),
    })
}

pub struct AntomConnector {
    client: AntomClient,
}

impl AntomConnector {
    pub fn new(creds: Credentials, retry: RetryPolicy) -> Result<Self, ConnectorError> {
        Ok(AntomConnector { client: AntomClient::new(creds, retry)? })
    }

    pub fn client_id(&self) -> &str {
        &self.client.credentials().client_id
    }
}

fn result_of(r: Option<&ResultInfo>) -> (&str, &str) {
    r.map(|r| (r.result_code.as_str(), r.result_status.as_str())).unwrap_or(("", "U"))
}

/// A payment result code (from a notification or an inquiry's `paymentResultCode`) as a state.
fn failed_state(code: &str) -> PaymentState {
    match codes::effect(code, "F") {
        Effect::Closed => PaymentState::Closed { provider_code: code.to_string() },
        _ => PaymentState::Failed { code: codes::failure_code(code, "F"), provider_code: code.to_string() },
    }
}

#[async_trait]
impl Connector for AntomConnector {
    fn provider(&self) -> &'static str {
        "antom"
    }

    fn offers(&self, method: &str) -> bool {
        method_type(method).is_some()
    }

    fn max_order_seconds(&self) -> i64 {
        MAX_ORDER_SECONDS
    }

    async fn pay(&self, order: &PayOrder, calls: &mut Vec<ProviderCall>) -> Result<PayOutcome, ConnectorError> {
        let req = pay_request(order)?;
        let resp: PayResponse = self.client.call(Api::Pay, &order.request_id, &req, calls).await?;
        let (code, status) = result_of(resp.result.as_ref());
        let state = match codes::effect(code, status) {
            Effect::InProcess => PaymentState::Open,
            Effect::Success => PaymentState::Succeeded { payment_id: resp.payment_id.clone() },
            Effect::Closed => PaymentState::Closed { provider_code: code.to_string() },
            Effect::Misconfigured => return Err(ConnectorError::Misconfigured(format!("Antom answered {code}"))),
            Effect::Retry => return Err(ConnectorError::Indeterminate(code.to_string())),
            Effect::Fail(_) | Effect::NotFound | Effect::Refused => {
                PaymentState::Failed { code: codes::failure_code(code, status), provider_code: code.to_string() }
            }
        };
        let handoff = (state == PaymentState::Open).then(|| Handoff {
            payment_id: resp.payment_id.clone(),
            normal_url: resp
                .normal_url
                .clone()
                .or_else(|| resp.redirect_action_form.as_ref().and_then(|f| f.redirect_url.clone())),
            applink_url: resp.applink_url.clone(),
            scheme_url: resp.scheme_url.clone(),
            code_value: resp.order_code_form.as_ref().and_then(|f| f.text()).map(str::to_string),
            terminal: Some(order.terminal),
        });
        Ok(PayOutcome { state, handoff })
    }

    async fn inquire(&self, request_id: &str, calls: &mut Vec<ProviderCall>) -> Result<PaymentState, ConnectorError> {
        let req = PaymentRef { payment_request_id: request_id.to_string() };
        let resp: InquiryResponse = self.client.call(Api::InquiryPayment, request_id, &req, calls).await?;
        let (code, status) = result_of(resp.result.as_ref());
        match codes::effect(code, status) {
            Effect::Success => {}
            Effect::NotFound => return Ok(PaymentState::NotFound),
            Effect::Misconfigured => return Err(ConnectorError::Misconfigured(format!("Antom answered {code}"))),
            _ => return Err(ConnectorError::Indeterminate(format!("inquiryPayment answered {code}"))),
        }
        Ok(match resp.payment_status.as_deref() {
            Some("SUCCESS") => PaymentState::Succeeded { payment_id: resp.payment_id },
            Some("FAIL") => failed_state(resp.payment_result_code.as_deref().unwrap_or("PROCESS_FAIL")),
            Some("CANCELLED") => PaymentState::Closed { provider_code: "CANCELLED".into() },
            Some("PROCESSING") | Some("PENDING") => PaymentState::Open,
            other => return Err(ConnectorError::Indeterminate(format!("unknown paymentStatus {other:?}"))),
        })
    }

    async fn cancel(&self, request_id: &str, calls: &mut Vec<ProviderCall>) -> Result<CancelOutcome, ConnectorError> {
        let req = PaymentRef { payment_request_id: request_id.to_string() };
        let resp: CancelResponse = self.client.call(Api::Cancel, request_id, &req, calls).await?;
        let (code, status) = result_of(resp.result.as_ref());
        match codes::effect(code, status) {
            // An order Antom never opened cannot be paid either.
            Effect::Success | Effect::NotFound | Effect::Closed => Ok(CancelOutcome::Cancelled),
            Effect::Misconfigured => Err(ConnectorError::Misconfigured(format!("Antom answered {code}"))),
            Effect::Retry | Effect::InProcess => Err(ConnectorError::Indeterminate(code.to_string())),
            Effect::Refused | Effect::Fail(_) => Ok(CancelOutcome::Refused { provider_code: code.to_string() }),
        }
    }

    async fn refund(&self, order: &RefundOrder, calls: &mut Vec<ProviderCall>) -> Result<RefundState, ConnectorError> {
        let req = RefundRequest {
            refund_request_id: order.request_id.clone(),
            payment_id: order.payment_id.clone(),
            refund_amount: Money { currency: order.currency.clone(), value: order.amount.to_string() },
            refund_reason: None,
            refund_notify_url: order.notify_url.clone(),
        };
        let resp: RefundResponse = self.client.call(Api::Refund, &order.request_id, &req, calls).await?;
        let (code, status) = result_of(resp.result.as_ref());
        match codes::effect(code, status) {
            Effect::Success => Ok(RefundState::Succeeded { refund_id: resp.refund_id }),
            Effect::InProcess => Ok(RefundState::Processing),
            Effect::Retry => Err(ConnectorError::Indeterminate(code.to_string())),
            Effect::Misconfigured => Err(ConnectorError::Misconfigured(format!("Antom answered {code}"))),
            Effect::Refused | Effect::Fail(_) | Effect::Closed | Effect::NotFound => Ok(RefundState::Refused {
                provider_code: code.to_string(),
                message: resp.result.and_then(|r| r.result_message),
            }),
        }
    }

    async fn inquire_refund(
        &self,
        request_id: &str,
        calls: &mut Vec<ProviderCall>,
    ) -> Result<RefundState, ConnectorError> {
        let req = RefundRef { refund_request_id: request_id.to_string() };
        let resp: InquiryRefundResponse = self.client.call(Api::InquiryRefund, request_id, &req, calls).await?;
        let (code, status) = result_of(resp.result.as_ref());
        match codes::effect(code, status) {
            Effect::Success => {}
            Effect::NotFound => return Ok(RefundState::NotFound),
            Effect::Misconfigured => return Err(ConnectorError::Misconfigured(format!("Antom answered {code}"))),
            _ => return Err(ConnectorError::Indeterminate(format!("inquiryRefund answered {code}"))),
        }
        Ok(match resp.refund_status.as_deref() {
            Some("SUCCESS") => RefundState::Succeeded { refund_id: resp.refund_id },
            Some("FAIL") => RefundState::Refused { provider_code: "FAIL".into(), message: None },
            Some("PROCESSING") => RefundState::Processing,
            other => return Err(ConnectorError::Indeterminate(format!("unknown refundStatus {other:?}"))),
        })
    }

    fn parse_notification(&self, inbound: Inbound<'_>) -> Result<Notification, ConnectorError> {
        let creds = self.client.credentials();
        let header = |name: &str| inbound.headers.get(name).and_then(|v| v.to_str().ok());
        let bad = |m: &str| ConnectorError::BadNotification(m.to_string());
        let client_id = header("client-id").ok_or_else(|| bad("client-id header missing"))?;
        if client_id != creds.client_id {
            return Err(bad("client-id is not this connector's"));
        }
        let time = header("request-time").ok_or_else(|| bad("request-time header missing"))?;
        let content = sign::content("POST", inbound.path, client_id, time, inbound.body);
        sign::verify(&creds.antom_key, &content, header("signature"))
            .map_err(|e| ConnectorError::BadNotification(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_slice(inbound.body).map_err(|_| bad("not JSON"))?;
        match value.get("notifyType").and_then(|v| v.as_str()) {
            Some("PAYMENT_RESULT") | Some("PAYMENT_PENDING") => {
                let n: PaymentNotification = serde_json::from_value(value).map_err(|e| bad(&e.to_string()))?;
                let state = if n.notify_type == "PAYMENT_PENDING" {
                    PaymentState::Open
                } else if n.result.result_status == "S" {
                    PaymentState::Succeeded { payment_id: n.payment_id.clone() }
                } else if n.result.result_status == "F" {
                    failed_state(&n.result.result_code)
                } else {
                    PaymentState::Open
                };
                Ok(Notification::Payment { request_id: n.payment_request_id, state })
            }
            Some("REFUND_RESULT") => {
                let n: RefundNotification = serde_json::from_value(value).map_err(|e| bad(&e.to_string()))?;
                let state = match n.refund_status.as_str() {
                    "SUCCESS" => RefundState::Succeeded { refund_id: n.refund_id },
                    "FAIL" => RefundState::Refused { provider_code: "FAIL".into(), message: None },
                    _ => RefundState::Processing,
                };
                Ok(Notification::Refund { request_id: n.refund_request_id, state })
            }
            _ => Err(bad("unknown notifyType")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satang_domain::Timestamp;

    fn order(method: &str, terminal: Terminal) -> PayOrder {
        PayOrder {
            request_id: "chrg_test_5x1".into(),
            charge: "chrg_test_5x".into(),
            description: "Order 42".into(),
            amount: 12345,
            currency: "THB".into(),
            method: method.into(),
            redirect_url: "https://pay.example/antom/return/chrg_test_5x".into(),
            notify_url: "https://pay.example/antom/notify".into(),
            terminal,
            expires_at: Timestamp::from_unix(1_700_000_000),
        }
    }

    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    /// The pay request's fields, pinned against alipay-antom.md §3.2's `pay` request (the optional
    /// `settlementStrategy` is left to the contract's default).
    #[test]
    fn the_pay_request_has_the_documented_fields() {
        let v = serde_json::to_value(pay_request(&order("alipay_hk", Terminal::Web)).unwrap()).unwrap();
        assert_eq!(
            keys(&v),
            [
                "env",
                "order",
                "paymentAmount",
                "paymentExpiryTime",
                "paymentMethod",
                "paymentNotifyUrl",
                "paymentRedirectUrl",
                "paymentRequestId",
                "productCode"
            ]
        );
        assert_eq!(v["productCode"], "CASHIER_PAYMENT");
        assert_eq!(v["paymentAmount"], serde_json::json!({"currency": "THB", "value": "12345"}));
        assert_eq!(keys(&v["order"]), ["orderAmount", "orderDescription", "referenceOrderId"]);
        assert_eq!(v["order"]["referenceOrderId"], "chrg_test_5x");
        assert_eq!(v["paymentMethod"]["paymentMethodType"], "ALIPAY_HK");
        assert_eq!(v["env"], serde_json::json!({"terminalType": "WEB"}));
        assert_eq!(v["paymentExpiryTime"], "2023-11-14T22:13:20+00:00");
        let cn = serde_json::to_value(pay_request(&order("alipay", Terminal::Wap(Os::Ios))).unwrap()).unwrap();
        assert_eq!(cn["paymentMethod"]["paymentMethodType"], "ALIPAY_CN");
        assert_eq!(cn["env"], serde_json::json!({"terminalType": "WAP", "osType": "IOS"}));
        let app = serde_json::to_value(pay_request(&order("alipay", Terminal::App(Os::Android))).unwrap()).unwrap();
        assert_eq!(app["env"], serde_json::json!({"terminalType": "APP", "osType": "ANDROID"}));
        assert!(pay_request(&order("paypal", Terminal::Web)).is_err());
    }

    #[test]
    fn refund_and_inquiry_requests_have_the_documented_fields() {
        let r = serde_json::to_value(RefundRequest {
            refund_request_id: "rfnd_x".into(),
            payment_id: "2024".into(),
            refund_amount: Money { currency: "THB".into(), value: "100".into() },
            refund_reason: None,
            refund_notify_url: Some("https://pay.example/antom/notify".into()),
        })
        .unwrap();
        assert_eq!(keys(&r), ["paymentId", "refundAmount", "refundNotifyUrl", "refundRequestId"]);
        let q = serde_json::to_value(PaymentRef { payment_request_id: "p".into() }).unwrap();
        assert_eq!(keys(&q), ["paymentRequestId"]);
        let q = serde_json::to_value(RefundRef { refund_request_id: "p".into() }).unwrap();
        assert_eq!(keys(&q), ["refundRequestId"]);
    }
}
