//! Object IDs in Omise's wire form: `chrg_test_5fzcso1ns6fh4cf2ijz` (omise-wire.md §1.1).
//!
//! An ID is `<prefix>[_test]_<19 lowercase base36 chars>`. The first 8 characters are the creation time in
//! milliseconds, base36 (so new rows land at the right edge of the primary-key index and IDs sort by age);
//! the other 11 are random (about 57 bits). Each ID type is a newtype with a private field; parsing checks
//! the prefix, so a handler that takes a `ChargeId` never sees a refund ID, and a malformed ID is
//! rejected before any SQL runs.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngExt;

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const SUFFIX_LEN: usize = 19;
const TIME_LEN: usize = 8;

/// The string is not an ID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{id:?} is not a valid {object} id")]
pub struct BadId {
    pub object: &'static str,
    pub id: String,
}

/// `len` random lowercase base36 characters from the thread's CSPRNG.
pub fn random_base36(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..36)] as char).collect()
}

fn time_prefixed_suffix() -> String {
    let mut ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let mut time = [b'0'; TIME_LEN];
    for slot in time.iter_mut().rev() {
        *slot = ALPHABET[(ms % 36) as usize];
        ms /= 36;
    }
    let mut s = String::with_capacity(SUFFIX_LEN);
    s.push_str(std::str::from_utf8(&time).unwrap_or("00000000"));
    s.push_str(&random_base36(SUFFIX_LEN - TIME_LEN));
    s
}

fn check(prefix: &str, object: &'static str, s: &str) -> Result<bool, BadId> {
    let bad = || BadId { object, id: s.to_string() };
    let rest = s.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')).ok_or_else(bad)?;
    let (live, suffix) = match rest.strip_prefix("test_") {
        Some(suffix) => (false, suffix),
        None => (true, rest),
    };
    let ok = !suffix.is_empty()
        && suffix.len() <= 64
        && suffix.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    if ok { Ok(live) } else { Err(bad()) }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $object:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        /// As the plain string. (Not serde's `into = "String"`, which cloned every ID into a new `String`
        /// each time a document was written.)
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            pub const OBJECT: &'static str = $object;

            /// A new, time-prefixed ID; test-mode IDs carry `_test_`.
            pub fn generate(livemode: bool) -> Self {
                let mode = if livemode { "" } else { "test_" };
                $name(format!("{}_{}{}", $prefix, mode, time_prefixed_suffix()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the ID is a live-mode one (no `_test_`).
            pub fn is_live(&self) -> bool {
                !self.0.starts_with(concat!($prefix, "_test_"))
            }
        }

        impl std::str::FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                check($prefix, $object, s).map(|_| $name(s.to_string()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = BadId;
            fn try_from(s: String) -> Result<Self, BadId> {
                check($prefix, $object, &s).map(|_| $name(s))
            }
        }


        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A merchant account (`acct_…`); accounts have no mode, their keys do.
    AccountId, "acct", "account"
);
id_type!(ChargeId, "chrg", "charge");
id_type!(SourceId, "src", "source");
id_type!(EventId, "evnt", "event");
id_type!(RefundId, "rfnd", "refund");
id_type!(
    /// A ledger entry (`trxn_…`): a successful charge's credit or a refund's debit.
    TransactionId, "trxn", "transaction"
);
id_type!(
    /// One webhook delivery attempt (`whdl_…`, the docs' `webhook_deliveries[].id`).
    DeliveryId, "whdl", "webhook_delivery"
);
id_type!(
    /// A merchant's webhook endpoint (`whep_…`).
    EndpointId, "whep", "webhook_endpoint"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_have_omise_shape() {
        let id = ChargeId::generate(false);
        assert!(id.as_str().starts_with("chrg_test_"), "{id}");
        assert_eq!(id.as_str().len(), "chrg_test_".len() + 19);
        assert!(!id.is_live());
        let live = SourceId::generate(true);
        assert!(live.as_str().starts_with("src_") && !live.as_str().contains("test"));
        assert!(live.is_live());
    }

    #[test]
    fn real_omise_ids_parse() {
        for s in ["chrg_test_5fzcso1ns6fh4cf2ijz", "chrg_5fzcso1ns6fh4cf2ijz"] {
            assert_eq!(s.parse::<ChargeId>().unwrap().as_str(), s);
        }
        assert!("src_test_5fzcsnvd3zc7po133ho".parse::<SourceId>().is_ok());
    }

    #[test]
    fn wrong_prefix_case_or_characters_are_rejected() {
        for s in ["src_test_5fzcso1ns6fh4cf2ijz", "chrg_test_", "chrg_test_ABC", "chrg", "chrg_test_a-b", "chrgx_1"] {
            assert!(s.parse::<ChargeId>().is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = EventId::generate(false);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = EventId::generate(false);
        assert!(a.as_str()[..18] <= b.as_str()[..18]);
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(live in any::<bool>()) {
            let id = RefundId::generate(live);
            prop_assert_eq!(id.to_string().parse::<RefundId>().unwrap(), id.clone());
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(&json, &format!("\"{id}\""), "an ID is written as its plain string");
            prop_assert_eq!(serde_json::from_str::<RefundId>(&json).unwrap(), id);
        }
    }
}
