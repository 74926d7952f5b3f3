//! # satang-domain: the rules of the gateway, with no HTTP and no SQL
//!
//! This crate depends on neither axum nor a database driver: its `Cargo.toml` is the guard that business
//! rules stay testable on their own. The `satang` crate parses wire input into these types, calls their
//! methods, and stores the results.
//!
//! | module | owns |
//! |---|---|
//! | [`money`] | `Amount` (i64 subunits, checked arithmetic) and `Currency` (closed set, exponent, formatting) |
//! | [`clock`] | `Timestamp` (UTC seconds, ISO 8601) and the injectable `Clock` |
//! | [`id`] | `chrg_test_…`-style IDs, one newtype per object |
//! | [`methods`] | the payment-method registry: flows, currencies, limits, lifetimes, refund windows, default fees |
//! | [`fees`] | fee schedules and the fee/VAT/net breakdown, half-up on the subunit |
//! | [`rules`] | validation rules and how their messages read |
//! | [`source`] | sources (`POST /sources`) |
//! | [`charge`] | charges, their state machine and refunds |
//! | [`event`] | event keys (`charge.create`, …) |
//! | [`ledger`] | the merchant's ledger: credits for payments, debits for refunds |

pub mod charge;
pub mod clock;
pub mod event;
pub mod fees;
pub mod id;
pub mod ledger;
pub mod methods;
pub mod money;
pub mod rules;
pub mod source;

pub use charge::{Charge, ChargeRequest, ChargeStatus, FailureCode, Refund, RefundError, Settled, TransitionError};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use event::EventKey;
pub use fees::{FeeBreakdown, FeeSchedule, Percent};
pub use id::{AccountId, BadId, ChargeId, DeliveryId, EndpointId, EventId, RefundId, SourceId, TransactionId};
pub use ledger::{Direction, LedgerEntry, Origin};
pub use methods::{Flow, PaymentMethod, PlatformType, REGISTRY};
pub use money::{Amount, Currency};
pub use rules::{Rule, Violations};
pub use source::{PayerDetails, Source, SourceRequest};
