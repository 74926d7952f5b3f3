//! Antom's result codes and what each does to a satang charge or refund: ONE table ([`TABLE`]).
//!
//! A code's effect decides the charge; the seed's four failure codes (`payment_rejected`,
//! `failed_processing`, `invalid_account`, `insufficient_fund`) are the only ones a payer or merchant sees.
//! Codes absent from the table are treated as [`Effect::Retry`] when their status is `U` and as a
//! `failed_processing` failure when `F`: an unknown code never makes money appear.

use satang_domain::FailureCode;

/// What a result code means for the charge (or refund) it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Paid / refunded / cancelled: the call did what it asked.
    Success,
    /// The order is open and the payer may still pay (`pay`'s normal answer): the charge stays pending.
    InProcess,
    /// Nothing is known yet: retry with the same request id, then ask with an inquiry.
    Retry,
    /// The payment failed; the charge fails with this code.
    Fail(FailureCode),
    /// Antom closed the order unpaid: the charge expires if past `expires_at`, else fails.
    Closed,
    /// Antom has no such order (an inquiry for a `pay` that never arrived).
    NotFound,
    /// A refund or cancel Antom will not do; nothing changes on the charge.
    Refused,
    /// satang's connector setup is wrong (keys, client id, contract); the charge cannot be paid through
    /// it. Logged for the operator; the charge fails with `failed_processing`.
    Misconfigured,
}

use Effect::*;
use FailureCode::*;

/// `(resultCode, effect)` for every code alipay-antom.md §3.2 lists.
pub const TABLE: &[(&str, Effect)] = &[
    ("SUCCESS", Success),
    ("PAYMENT_IN_PROCESS", InProcess),
    ("REQUEST_TRAFFIC_EXCEED_LIMIT", Retry),
    ("UNKNOWN_EXCEPTION", Retry),
    ("USER_BALANCE_NOT_ENOUGH", Fail(InsufficientFund)),
    ("USER_AMOUNT_EXCEED_LIMIT", Fail(InsufficientFund)),
    ("PAYMENT_AMOUNT_EXCEED_LIMIT", Fail(PaymentRejected)),
    ("PAYMENT_COUNT_EXCEED_LIMIT", Fail(PaymentRejected)),
    ("RISK_REJECT", Fail(PaymentRejected)),
    ("REGULATION_RESTRICTION", Fail(PaymentRejected)),
    ("USER_PAYMENT_VERIFICATION_FAILED", Fail(PaymentRejected)),
    ("INVALID_CODE", Fail(PaymentRejected)),
    ("USER_NOT_EXIST", Fail(InvalidAccount)),
    ("USER_STATUS_ABNORMAL", Fail(InvalidAccount)),
    ("USER_KYC_NOT_QUALIFIED", Fail(InvalidAccount)),
    ("PROCESS_FAIL", Fail(FailedProcessing)),
    ("CURRENCY_NOT_SUPPORT", Fail(FailedProcessing)),
    ("BUSINESS_NOT_SUPPORT", Fail(FailedProcessing)),
    ("UNAVAILABLE_PAYMENT_METHOD", Fail(FailedProcessing)),
    ("PARAM_ILLEGAL", Fail(FailedProcessing)),
    ("REPEAT_REQ_INCONSISTENT", Fail(FailedProcessing)),
    ("ORDER_IS_CLOSED", Closed),
    ("EXPIRED_CODE", Closed),
    ("ORDER_NOT_EXIST", NotFound),
    ("REFUND_AMOUNT_EXCEED", Refused),
    ("REFUND_WINDOW_EXCEED", Refused),
    ("CANCEL_WINDOW_EXCEED", Refused),
    ("ACCESS_DENIED", Misconfigured),
    ("INVALID_CLIENT", Misconfigured),
    ("INVALID_CONTRACT", Misconfigured),
    ("INVALID_SIGNATURE", Misconfigured),
    ("INVALID_TOKEN", Misconfigured),
    ("KEY_NOT_FOUND", Misconfigured),
    ("MEDIA_TYPE_NOT_ACCEPTABLE", Misconfigured),
    ("MERCHANT_NOT_REGISTERED", Misconfigured),
    ("METHOD_NOT_SUPPORTED", Misconfigured),
    ("NO_INTERFACE_DEF", Misconfigured),
];

/// The effect of a `result` (code and status).
pub fn effect(code: &str, status: &str) -> Effect {
    match TABLE.iter().find(|(c, _)| *c == code) {
        Some((_, e)) => *e,
        None if status == "S" => Success,
        None if status == "F" => Fail(FailedProcessing),
        None => Retry,
    }
}

/// The failure code a charge gets for a code (for `Closed` before `expires_at` and `Misconfigured`, too).
pub fn failure_code(code: &str, status: &str) -> FailureCode {
    match effect(code, status) {
        Fail(f) => f,
        Closed => PaymentRejected,
        _ => FailedProcessing,
    }
}

/// Every failure code Antom sends that a payer can cause, for the simulator's wallet page and tests.
pub fn payer_failures() -> impl Iterator<Item = &'static str> {
    TABLE.iter().filter(|(_, e)| matches!(e, Fail(_))).map(|(c, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_appears_once() {
        let mut seen = std::collections::HashSet::new();
        for (c, _) in TABLE {
            assert!(seen.insert(*c), "{c} twice");
        }
    }

    #[test]
    fn the_seed_failure_codes_are_reached() {
        assert_eq!(effect("USER_BALANCE_NOT_ENOUGH", "F"), Fail(InsufficientFund));
        assert_eq!(effect("RISK_REJECT", "F"), Fail(PaymentRejected));
        assert_eq!(effect("USER_NOT_EXIST", "F"), Fail(InvalidAccount));
        assert_eq!(effect("PROCESS_FAIL", "F"), Fail(FailedProcessing));
        for f in FailureCode::ALL {
            assert!(TABLE.iter().any(|(_, e)| *e == Fail(f)), "{f:?} is never reached");
        }
    }

    #[test]
    fn unknown_codes_never_succeed_by_accident() {
        assert_eq!(effect("SOMETHING_NEW", "U"), Retry);
        assert_eq!(effect("SOMETHING_NEW", "F"), Fail(FailedProcessing));
        assert_eq!(effect("PAYMENT_IN_PROCESS", "U"), InProcess);
        assert_eq!(failure_code("ORDER_IS_CLOSED", "F"), PaymentRejected);
    }
}
