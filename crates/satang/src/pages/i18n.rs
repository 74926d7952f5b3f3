//! The payer pages' words in English and Thai (the seeds are Thai). The language comes from `?lang=`, then
//! the `satang_lang` cookie the switch sets, then `Accept-Language`.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use satang_domain::FailureCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Th,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Th => "th",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "th" => Some(Lang::Th),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Th,
            Lang::Th => Lang::En,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Th => &TH,
        }
    }

    /// `?lang=` wins, then the cookie, then the first of `th`/`en` in `Accept-Language` (by q-value).
    pub fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        if let Some(l) = cookie(headers, "satang_lang").and_then(|v| Lang::parse(&v)) {
            return l;
        }
        let accept = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = if tag == "th" || tag.starts_with("th-") {
                Lang::Th
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }
}

/// Why a wallet payment failed, in the payer's words (the API's `failure_message` is Omise's, which talks
/// about cards).
pub fn failure_reason(code: FailureCode, lang: Lang) -> &'static str {
    match (code, lang) {
        (FailureCode::PaymentRejected, Lang::En) => "The wallet declined this payment.",
        (FailureCode::PaymentRejected, Lang::Th) => "วอลเล็ตปฏิเสธการชำระเงินนี้",
        (FailureCode::FailedProcessing, Lang::En) => "The payment could not be processed.",
        (FailureCode::FailedProcessing, Lang::Th) => "ระบบไม่สามารถดำเนินการชำระเงินนี้ได้",
        (FailureCode::InvalidAccount, Lang::En) => "No wallet account that can make this payment was found.",
        (FailureCode::InvalidAccount, Lang::Th) => "ไม่พบบัญชีวอลเล็ตที่ใช้ชำระเงินนี้ได้",
        (FailureCode::InsufficientFund, Lang::En) => "The wallet's balance is not enough for this payment.",
        (FailureCode::InsufficientFund, Lang::Th) => "ยอดเงินในวอลเล็ตไม่เพียงพอสำหรับการชำระเงินนี้",
    }
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub struct Texts {
    pub lang_name: &'static str,
    pub merchant: &'static str,
    pub amount: &'static str,
    pub description: &'static str,
    pub method: &'static str,
    pub pay_before: &'static str,
    pub test_banner: &'static str,
    pub pay_button: &'static str,
    pub fail_label: &'static str,
    pub fail_button: &'static str,
    pub leave_button: &'static str,
    pub checkout_title: &'static str,
    pub scan_title: &'static str,
    pub scan_steps: &'static str,
    pub waiting: &'static str,
    pub check_status: &'static str,
    pub open_wallet_here: &'static str,
    pub open_wallet_page: &'static str,
    pub handoff_title: &'static str,
    pub handoff_body: &'static str,
    pub open_app: &'static str,
    pub no_app: &'static str,
    pub wallet_title: &'static str,
    pub wallet_app: &'static str,
    pub paid_title: &'static str,
    pub failed_title: &'static str,
    pub expired_title: &'static str,
    pub final_body: &'static str,
    pub back_to_shop: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub forbidden_title: &'static str,
    pub forbidden_body: &'static str,
    pub live_title: &'static str,
    pub live_body: &'static str,
    pub live_unavailable_title: &'static str,
    pub live_unavailable_body: &'static str,
    pub reference: &'static str,
    pub paid_at: &'static str,
    pub paid_next: &'static str,
    pub failed_next: &'static str,
    pub expired_next: &'static str,
    pub receipt_paid_next: &'static str,
    pub receipt_unpaid_next: &'static str,
    pub qr_fallback: &'static str,
    pub noscript_hint: &'static str,
    /// The countdown's words; `{}` is the time left.
    pub time_left: &'static str,
    /// Before the link to the shop's support page.
    pub need_help: &'static str,
    /// The link's words, before the shop's name.
    pub contact: &'static str,
}

pub static EN: Texts = Texts {
    lang_name: "English",
    merchant: "Merchant",
    amount: "Amount",
    description: "Description",
    method: "Payment method",
    pay_before: "Pay before",
    test_banner: "Test mode: no real money moves. Choose how this payment ends.",
    pay_button: "Pay",
    fail_label: "Or make the payment fail, as the wallet would, with:",
    fail_button: "Fail the payment",
    leave_button: "Back to the shop without paying",
    checkout_title: "Alipay checkout",
    scan_title: "Scan to pay with AlipayHK",
    scan_steps: "Open the AlipayHK app on your phone, tap Scan, and point it at this QR code.",
    waiting: "Waiting for your payment. This page moves on by itself once you have paid.",
    check_status: "I have paid",
    open_wallet_here: "No phone at hand? Open the simulated wallet in this browser",
    open_wallet_page: "No phone at hand? Pay on the wallet's page in this browser",
    handoff_title: "Continue in the AlipayHK app",
    handoff_body: "We are opening the AlipayHK app so you can confirm the payment.",
    open_app: "Open AlipayHK",
    no_app: "App not opening? Pay in the browser instead",
    wallet_title: "Confirm payment",
    wallet_app: "Simulated wallet",
    paid_title: "Payment successful",
    failed_title: "Payment failed",
    expired_title: "Payment expired",
    final_body: "This payment is finished and cannot be changed.",
    back_to_shop: "Return to the shop",
    not_found_title: "Payment link not found",
    not_found_body: "This payment link is unknown or has been altered. Ask the shop for a new one.",
    forbidden_title: "This form has expired",
    forbidden_body: "Reload the payment page and try again.",
    live_title: "Payment not available",
    live_body: "This payment cannot be made here yet, and you were not charged. Go back to the shop to choose another way to pay.",
    live_unavailable_title: "The wallet cannot be reached",
    live_unavailable_body: "The payment could not be started just now. Nothing has been charged: reload this page in a moment.",
    reference: "Reference",
    paid_at: "Paid on",
    paid_next: "The shop has been told of your payment. Return to the shop to see your order.",
    failed_next: "You were not charged. Go back to the shop to try again or to choose another way to pay.",
    expired_next: "The time to pay ran out and you were not charged. Go back to the shop to start again.",
    receipt_paid_next: "Done. The page on your computer moves on by itself; you can close this page.",
    receipt_unpaid_next: "You were not charged. Continue on your computer.",
    qr_fallback: "This payment was made for the AlipayHK app on a phone. Scan this code with AlipayHK on your phone to pay.",
    noscript_hint: "After paying on your phone, press “I have paid”.",
    time_left: "{} left",
    need_help: "Need help?",
    contact: "Contact",
};
pub static TH: Texts = Texts {
    lang_name: "ภาษาไทย",
    merchant: "ร้านค้า",
    amount: "จำนวนเงิน",
    description: "รายละเอียด",
    method: "ช่องทางการชำระเงิน",
    pay_before: "ชำระเงินภายใน",
    test_banner: "โหมดทดสอบ: ไม่มีการตัดเงินจริง เลือกผลลัพธ์ของการชำระเงินนี้",
    pay_button: "ชำระเงิน",
    fail_label: "หรือจำลองการชำระเงินไม่สำเร็จด้วยเหตุผล:",
    fail_button: "ชำระเงินไม่สำเร็จ",
    leave_button: "กลับไปยังร้านค้าโดยไม่ชำระเงิน",
    checkout_title: "หน้าชำระเงินอาลีเพย์",
    scan_title: "สแกนเพื่อชำระเงินด้วย AlipayHK",
    scan_steps: "เปิดแอปพลิเคชัน AlipayHK บนมือถือ แตะสแกน แล้วสแกนคิวอาร์โค้ดนี้",
    waiting: "กำลังรอการชำระเงิน หน้านี้จะไปต่อเองเมื่อชำระเงินเรียบร้อยแล้ว",
    check_status: "ฉันชำระเงินแล้ว",
    open_wallet_here: "ไม่มีโทรศัพท์? เปิดวอลเล็ตจำลองในเบราว์เซอร์นี้",
    open_wallet_page: "ไม่มีโทรศัพท์? ชำระเงินผ่านหน้าเว็บของวอลเล็ตในเบราว์เซอร์นี้",
    handoff_title: "ดำเนินการต่อในแอป AlipayHK",
    handoff_body: "ระบบกำลังเปิดแอป AlipayHK เพื่อให้คุณยืนยันการชำระเงิน",
    open_app: "เปิด AlipayHK",
    no_app: "เปิดแอปไม่ได้? ชำระเงินผ่านเบราว์เซอร์แทน",
    wallet_title: "ยืนยันการชำระเงิน",
    wallet_app: "วอลเล็ตจำลอง",
    paid_title: "ชำระเงินสำเร็จ",
    failed_title: "การชำระเงินไม่สำเร็จ",
    expired_title: "รายการชำระเงินหมดอายุ",
    final_body: "รายการนี้เสร็จสิ้นแล้วและไม่สามารถเปลี่ยนแปลงได้",
    back_to_shop: "กลับไปยังร้านค้า",
    not_found_title: "ไม่พบลิงก์ชำระเงิน",
    not_found_body: "ไม่พบลิงก์ชำระเงินนี้หรือลิงก์ถูกแก้ไข กรุณาติดต่อร้านค้าเพื่อขอลิงก์ใหม่",
    forbidden_title: "แบบฟอร์มนี้หมดอายุแล้ว",
    forbidden_body: "กรุณาโหลดหน้าชำระเงินใหม่แล้วลองอีกครั้ง",
    live_title: "ไม่สามารถชำระเงินได้",
    live_body: "ยังไม่สามารถชำระเงินรายการนี้ได้ที่นี่ และคุณยังไม่ถูกตัดเงิน กลับไปยังร้านค้าเพื่อเลือกวิธีชำระเงินอื่น",
    live_unavailable_title: "ไม่สามารถติดต่อวอลเล็ตได้",
    live_unavailable_body: "ไม่สามารถเริ่มการชำระเงินได้ในขณะนี้ และยังไม่มีการตัดเงิน กรุณาโหลดหน้านี้ใหม่อีกครั้งในอีกสักครู่",
    reference: "หมายเลขอ้างอิง",
    paid_at: "ชำระเมื่อ",
    paid_next: "ร้านค้าได้รับแจ้งการชำระเงินแล้ว กลับไปยังร้านค้าเพื่อดูคำสั่งซื้อของคุณ",
    failed_next: "คุณยังไม่ถูกตัดเงิน กลับไปยังร้านค้าเพื่อลองอีกครั้งหรือเลือกวิธีชำระเงินอื่น",
    expired_next: "หมดเวลาชำระเงินและคุณยังไม่ถูกตัดเงิน กลับไปยังร้านค้าเพื่อเริ่มใหม่",
    receipt_paid_next: "เรียบร้อย หน้าจอบนคอมพิวเตอร์ของคุณจะไปต่อเอง คุณปิดหน้านี้ได้เลย",
    receipt_unpaid_next: "คุณยังไม่ถูกตัดเงิน ดำเนินการต่อบนคอมพิวเตอร์ของคุณ",
    qr_fallback: "รายการนี้สร้างไว้สำหรับแอป AlipayHK บนมือถือ สแกนคิวอาร์โค้ดนี้ด้วย AlipayHK บนมือถือเพื่อชำระเงิน",
    noscript_hint: "เมื่อชำระเงินบนมือถือแล้ว กด “ฉันชำระเงินแล้ว”",
    time_left: "เหลือเวลา {}",
    need_help: "ต้องการความช่วยเหลือ?",
    contact: "ติดต่อ",
};
#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::pick(None, &headers(&[("accept-language", "th-TH,th;q=0.9,en;q=0.8")])), Lang::Th);
        assert_eq!(Lang::pick(None, &headers(&[("accept-language", "en-US,en;q=0.9,th;q=0.5")])), Lang::En);
        assert_eq!(Lang::pick(None, &headers(&[("accept-language", "fr, th;q=0.4")])), Lang::Th);
        assert_eq!(Lang::pick(None, &headers(&[("accept-language", "ja")])), Lang::En);
        assert_eq!(Lang::pick(None, &headers(&[])), Lang::En);
    }

    #[test]
    fn query_then_cookie_override_the_header() {
        let h = headers(&[("accept-language", "th"), ("cookie", "a=b; satang_lang=en")]);
        assert_eq!(Lang::pick(None, &h), Lang::En);
        assert_eq!(Lang::pick(Some("th"), &h), Lang::Th);
    }
}
