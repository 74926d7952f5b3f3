//! Antom's JSON, field for field (alipay-antom.md §3.2). Names are Antom's (camelCase); optional fields
//! satang does not send are absent rather than null. Response types accept fields they do not know, and
//! every response field is optional: what a response lacks is decided by whoever reads it, not by serde.

use serde::{Deserialize, Serialize};

/// The paths, after `/ams/api/v1/` (or `/ams/sandbox/api/v1/` for `SANDBOX_` client ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Pay,
    InquiryPayment,
    Cancel,
    Refund,
    InquiryRefund,
}

impl Api {
    pub const ALL: [Api; 5] = [Api::Pay, Api::InquiryPayment, Api::Cancel, Api::Refund, Api::InquiryRefund];

    pub fn name(self) -> &'static str {
        match self {
            Api::Pay => "payments/pay",
            Api::InquiryPayment => "payments/inquiryPayment",
            Api::Cancel => "payments/cancel",
            Api::Refund => "payments/refund",
            Api::InquiryRefund => "payments/inquiryRefund",
        }
    }

    /// The full path; the SDKs switch to the sandbox paths for client ids starting `SANDBOX_`.
    pub fn path(self, client_id: &str) -> String {
        if is_sandbox(client_id) {
            format!("/ams/sandbox/api/v1/{}", self.name())
        } else {
            format!("/ams/api/v1/{}", self.name())
        }
    }

    /// The endpoint a path names, sandbox or not.
    pub fn from_path(path: &str) -> Option<Api> {
        let rest = path.strip_prefix("/ams/api/v1/").or_else(|| path.strip_prefix("/ams/sandbox/api/v1/"))?;
        Api::ALL.into_iter().find(|a| a.name() == rest)
    }
}

pub fn is_sandbox(client_id: &str) -> bool {
    client_id.starts_with("SANDBOX_")
}

/// `{"currency":"HKD","value":"100"}`: value in minor units, as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub currency: String,
    pub value: String,
}

/// `result` of every response: the call's outcome, not the payment's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultInfo {
    pub result_code: String,
    /// `S`, `F` or `U`.
    pub result_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
}

impl ResultInfo {
    pub fn new(status: &str, code: &str, message: &str) -> Self {
        ResultInfo {
            result_code: code.to_string(),
            result_status: status.to_string(),
            result_message: Some(message.to_string()),
        }
    }
}

/// The exact body a merchant answers a notification with.
pub const NOTIFY_ACK: &str = r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub reference_order_id: String,
    pub order_description: String,
    pub order_amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    /// `ALIPAY_CN`, `ALIPAY_HK`, …
    pub payment_method_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Env {
    /// `WEB`, `WAP`, `APP`.
    pub terminal_type: String,
    /// `IOS` or `ANDROID`, with WAP and APP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
}

/// `POST payments/pay`, cashier payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    /// Always `CASHIER_PAYMENT`.
    pub product_code: String,
    /// ≤ 64 characters; Antom's idempotency key for this attempt.
    pub payment_request_id: String,
    pub order: Order,
    pub payment_amount: Money,
    pub payment_method: PaymentMethod,
    pub payment_redirect_url: String,
    pub payment_notify_url: String,
    /// ISO-8601 with offset; Antom closes the order then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_expiry_time: Option<String>,
    pub env: Env,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedirectActionForm {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub redirect_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeDetail {
    /// `TEXT`, `BIGIMAGE`, `MIDDLEIMAGE`, `SMALLIMAGE`.
    pub display_type: String,
    pub code_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCodeForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default)]
    pub code_details: Vec<CodeDetail>,
}

impl OrderCodeForm {
    /// The `TEXT` code value: what a QR code on satang's page encodes.
    pub fn text(&self) -> Option<&str> {
        self.code_details.iter().find(|c| c.display_type == "TEXT").map(|c| c.code_value.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayResponse {
    pub result: Option<ResultInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_action_form: Option<RedirectActionForm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_code_form: Option<OrderCodeForm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applink_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme_url: Option<String>,
}

/// `POST payments/inquiryPayment` and `payments/cancel` name the attempt the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRef {
    pub payment_request_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InquiryResponse {
    pub result: Option<ResultInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `SUCCESS`, `FAIL`, `PROCESSING`, `CANCELLED`, `PENDING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_result_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_result_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_time: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelResponse {
    pub result: Option<ResultInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_time: Option<String>,
}

/// `POST payments/refund`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// satang's refund id: Antom's idempotency key for the refund.
    pub refund_request_id: String,
    pub payment_id: String,
    pub refund_amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_notify_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundResponse {
    pub result: Option<ResultInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRef {
    pub refund_request_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InquiryRefundResponse {
    pub result: Option<ResultInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// `SUCCESS`, `PROCESSING`, `FAIL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_time: Option<String>,
}

/// `notifyPayment`, Antom → satang.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentNotification {
    /// `PAYMENT_RESULT` or `PAYMENT_PENDING`.
    pub notify_type: String,
    pub result: ResultInfo,
    pub payment_request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_time: Option<String>,
}

/// `notifyRefund`, Antom → satang.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundNotification {
    /// `REFUND_RESULT`.
    pub notify_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultInfo>,
    pub refund_request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// `SUCCESS` or `FAIL`.
    pub refund_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_client_id() {
        assert_eq!(Api::Pay.path("2188120000000000"), "/ams/api/v1/payments/pay");
        assert_eq!(Api::InquiryRefund.path("SANDBOX_5Y"), "/ams/sandbox/api/v1/payments/inquiryRefund");
        for api in Api::ALL {
            assert_eq!(Api::from_path(&api.path("x")), Some(api));
            assert_eq!(Api::from_path(&api.path("SANDBOX_x")), Some(api));
        }
        assert_eq!(Api::from_path("/ams/api/v1/payments/consult"), None);
    }

    #[test]
    fn the_documented_pay_response_sample_parses() {
        let sample = r#"{"result":{"resultCode":"PAYMENT_IN_PROCESS","resultStatus":"U","resultMessage":"payment in process"},
 "paymentRequestId":"r1","paymentId":"2024011519401080010018864029828344","paymentCreateTime":"2024-01-15T01:20:46-08:00",
 "paymentAmount":{"currency":"HKD","value":"100"},
 "normalUrl":"https://open-sea.alipayplus.com/x","redirectActionForm":{"method":"GET","redirectUrl":"https://open-sea.alipayplus.com/x"},
 "paymentActionForm":"{\"method\":\"GET\"}",
 "orderCodeForm":{"expireTime":"2024-01-15T01:34:45-08:00","codeDetails":[
    {"displayType":"TEXT","codeValue":"https://global.alipay.com/281002040090bbmm"},
    {"displayType":"BIGIMAGE","codeValue":"https://global.alipay.com/merchant/order/showQrImage.htm?code=x&picSize=L"}]}}"#;
        let r: PayResponse = serde_json::from_str(sample).unwrap();
        assert_eq!(r.result.unwrap().result_status, "U");
        assert_eq!(r.order_code_form.unwrap().text(), Some("https://global.alipay.com/281002040090bbmm"));
        assert_eq!(r.payment_amount.unwrap().value, "100");
    }

    #[test]
    fn the_acknowledgement_is_antoms_exact_body() {
        let v: serde_json::Value = serde_json::from_str(NOTIFY_ACK).unwrap();
        assert_eq!(v["result"]["resultCode"], "SUCCESS");
        assert_eq!(v["result"]["resultStatus"], "S");
        assert_eq!(v["result"]["resultMessage"], "success");
    }
}
