//! The JSON writer for API bodies, event snapshots and stored documents: byte for byte what
//! `serde_json::to_writer` writes (compact), without scanning the keys of structs.
//!
//! Why: serde_json escapes every string it writes, struct keys included, by looking each byte up in a table.
//! A charge object has about a hundred static keys (its source, fees and refund list included), about half of
//! its 2.3 KB, and a list page twenty charges; that scan was 10.5 % of a list page's samples (perf:
//! `format_escaped_str_contents`).
//! A struct's keys are Rust identifiers (or `#[serde(rename)]`s) known when satang is compiled, so they are
//! written as they are. Values are escaped exactly as serde_json escapes them (the same table: `"`, `\`, the
//! C0 controls, `\u00XX` in lowercase hex for those without a short form), with a fast path for strings that
//! need no escape at all, integers go through the same `itoa`, and floats through serde_json itself.
//!
//! The wire structs keep `#[derive(Serialize)]`, so serde_json stays the reference: the tests below render
//! every wire object both ways and compare the bytes, and a property test does the same for arbitrary
//! strings and JSON values (metadata is merchant input).

use std::fmt::{self, Write as _};

use serde::ser::{self, Impossible, Serialize};

/// serde_json's name for the struct a `RawValue` serializes as; its one field is JSON written verbatim.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Why a value could not be written (only a map key that is not a string or a number, or a `Serialize`
/// impl's own error).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// So that callers written against serde_json's error keep their `?`.
impl From<Error> for serde_json::Error {
    fn from(e: Error) -> Self {
        <serde_json::Error as ser::Error>::custom(e.0)
    }
}

/// Appends `value` as compact JSON to `out`.
pub fn to_writer<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
}

/// `value` as compact JSON.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(2048);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// `value` as a compact JSON string.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    // Everything written is UTF-8: strings are copied whole or split only at ASCII bytes.
    String::from_utf8(to_vec(value)?).map_err(|e| Error(e.to_string()))
}

/// Whether any byte of `s` needs an escape. Written as a fold without early exit so it compiles to a few
/// vector instructions per 16 bytes.
#[inline]
fn needs_escape(s: &[u8]) -> bool {
    s.iter().fold(false, |acc, &b| acc | (b < 0x20) | (b == b'"') | (b == b'\\'))
}

/// Writes the contents of a JSON string (no quotes), escaped as serde_json escapes them.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short == b'u' {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Escapes what a `Display` impl writes, piece by piece (`collect_str`: `Concat`, `Iso`), without building a
/// `String` first.
struct EscapingWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for EscapingWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// Floats (only in merchant metadata) are handed to serde_json itself, so that they are formatted by whatever
/// algorithm it uses (it has changed between versions) and non-finite ones become `null` as there.
fn write_float<F: Serialize>(out: &mut Vec<u8>, v: F) -> Result<(), Error> {
    serde_json::to_writer(out, &v).map_err(|e| Error(e.to_string()))
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// Where an array, map or struct being written is.
#[derive(PartialEq, Eq)]
enum State {
    /// Declared empty: opened and closed at once, as serde_json does; `end` writes nothing.
    Closed,
    /// No element yet: no comma before the next.
    First,
    /// After an element: a comma before the next.
    Rest,
    /// serde_json's `RawValue`: its one field is copied verbatim, with no brackets.
    Raw,
}

pub struct Compound<'w, 'a> {
    w: &'w mut Writer<'a>,
    state: State,
}

impl<'w, 'a> Compound<'w, 'a> {
    fn open(w: &'w mut Writer<'a>, bracket: u8, len: Option<usize>, close: u8) -> Self {
        w.out.push(bracket);
        if len == Some(0) {
            w.out.push(close);
            return Compound { w, state: State::Closed };
        }
        Compound { w, state: State::First }
    }

    fn comma(&mut self) {
        match self.state {
            State::First => self.state = State::Rest,
            State::Rest => self.w.out.push(b','),
            State::Closed | State::Raw => {}
        }
    }

    fn end_with(&mut self, close: u8) {
        if matches!(self.state, State::First | State::Rest) {
            self.w.out.push(close);
        }
    }
}

macro_rules! integers {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, v: $t) -> Result<(), Error> {
            self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            Ok(())
        })*
    };
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_float(self.out, v)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_float(self.out, v)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        // serde_json writes bytes as an array of numbers.
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        Ok(Compound::open(self, b'[', len, b']'))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        self.serialize_seq(Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        Ok(Compound::open(self, b'{', len, b'}'))
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'w, 'a>, Error> {
        if name == RAW_VALUE_TOKEN {
            return Ok(Compound { w: self, state: State::Raw });
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        self.serialize_map(Some(len))
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(b'"');
        write!(EscapingWriter(self.out), "{value}").map_err(|e| Error(e.to_string()))?;
        self.out.push(b'"');
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.w)
    }

    fn end(mut self) -> Result<(), Error> {
        self.end_with(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(mut self) -> Result<(), Error> {
        self.end_with(b']');
        self.w.out.push(b'}');
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(KeyWriter { out: self.w.out })?;
        self.w.out.push(b':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.w)
    }

    fn end(mut self) -> Result<(), Error> {
        self.end_with(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if self.state == State::Raw {
            // serde_json's `RawValue`: its one field is JSON to be copied as it is.
            return value.serialize(RawWriter { out: self.w.out });
        }
        self.comma();
        // The point of this module: a struct's key is a compile-time identifier; no escape to look for.
        debug_assert!(!needs_escape(key.as_bytes()), "struct key {key:?} needs escaping");
        self.w.out.push(b'"');
        self.w.out.extend_from_slice(key.as_bytes());
        self.w.out.extend_from_slice(b"\":");
        value.serialize(&mut *self.w)
    }

    fn end(mut self) -> Result<(), Error> {
        self.end_with(b'}');
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(mut self) -> Result<(), Error> {
        self.end_with(b'}');
        self.w.out.push(b'}');
        Ok(())
    }
}

/// The `Serializer` methods a restricted writer (a map key, a `RawValue`'s field) refuses, each returning
/// `$err()`, and its `Impossible` compound types.
macro_rules! refuse {
    ($err:ident; $($m:ident)*) => {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Impossible<(), Error>;
        type SerializeTuple = Impossible<(), Error>;
        type SerializeTupleStruct = Impossible<(), Error>;
        type SerializeTupleVariant = Impossible<(), Error>;
        type SerializeMap = Impossible<(), Error>;
        type SerializeStruct = Impossible<(), Error>;
        type SerializeStructVariant = Impossible<(), Error>;
        $(refuse!(@ $m $err);)*
    };
    (@ bool $e:ident) => { fn serialize_bool(self, _: bool) -> Result<(), Error> { Err($e()) } };
    (@ ints $e:ident) => {
        fn serialize_i8(self, _: i8) -> Result<(), Error> { Err($e()) }
        fn serialize_i16(self, _: i16) -> Result<(), Error> { Err($e()) }
        fn serialize_i32(self, _: i32) -> Result<(), Error> { Err($e()) }
        fn serialize_i64(self, _: i64) -> Result<(), Error> { Err($e()) }
        fn serialize_u8(self, _: u8) -> Result<(), Error> { Err($e()) }
        fn serialize_u16(self, _: u16) -> Result<(), Error> { Err($e()) }
        fn serialize_u32(self, _: u32) -> Result<(), Error> { Err($e()) }
        fn serialize_u64(self, _: u64) -> Result<(), Error> { Err($e()) }
    };
    (@ char $e:ident) => { fn serialize_char(self, _: char) -> Result<(), Error> { Err($e()) } };
    (@ newtype_struct $e:ident) => {
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<(), Error> {
            Err($e())
        }
    };
    (@ unit_variant $e:ident) => {
        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Error> {
            Err($e())
        }
    };
    (@ others $e:ident) => {
        fn serialize_f32(self, _: f32) -> Result<(), Error> { Err($e()) }
        fn serialize_f64(self, _: f64) -> Result<(), Error> { Err($e()) }
        fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> { Err($e()) }
        fn serialize_none(self) -> Result<(), Error> { Err($e()) }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> { Err($e()) }
        fn serialize_unit(self) -> Result<(), Error> { Err($e()) }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> { Err($e()) }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), Error> {
            Err($e())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> { Err($e()) }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> { Err($e()) }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
            Err($e())
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Error> {
            Err($e())
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> { Err($e()) }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> { Err($e()) }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Error> {
            Err($e())
        }
    };
}

/// A map key: a string as is; integers (and bools) quoted, as serde_json does; anything else an error.
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
}

fn key_must_be_a_string() -> Error {
    Error("key must be a string".into())
}

macro_rules! quoted_integers {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, v: $t) -> Result<(), Error> {
            self.out.push(b'"');
            self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            self.out.push(b'"');
            Ok(())
        })*
    };
}

impl ser::Serializer for KeyWriter<'_> {
    refuse!(key_must_be_a_string; others);

    quoted_integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_u128: u128);

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(b'"');
        write!(EscapingWriter(self.out), "{value}").map_err(|e| Error(e.to_string()))?;
        self.out.push(b'"');
        Ok(())
    }
}

/// The field of a `RawValue`: a string of JSON written verbatim.
struct RawWriter<'a> {
    out: &'a mut Vec<u8>,
}

fn raw_value_must_be_a_string() -> Error {
    Error("a RawValue holds a string of JSON".into())
}

impl ser::Serializer for RawWriter<'_> {
    refuse!(raw_value_must_be_a_string; bool ints char newtype_struct unit_variant others);

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::{Value, json};

    use satang_domain::{
        AccountId, Charge, ChargeRequest, FailureCode, PayerDetails, Source, SourceRequest, Timestamp,
    };

    use crate::api::wire::charge::ChargeObject;
    use crate::api::wire::refund::RefundObject;
    use crate::api::wire::source::SourceObject;
    use crate::api::wire::{ListObject, RenderCtx};

    /// The point of the module: the same bytes as serde_json.
    fn same_as_serde<T: Serialize + ?Sized>(value: &T) {
        let reference = serde_json::to_vec(value).expect("serde_json renders it");
        let ours = super::to_vec(value).expect("the fast writer renders it");
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&reference));
    }

    /// Strings that need each kind of escape, and some that need none.
    const AWKWARD: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "controls \u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\u{1f} and DEL \u{7f}",
        "ร้านขนม 🍰 — “smart quotes”",
        "\u{2028}\u{2029} line separators stay as they are",
        "ends with an escape\n",
        "\"",
    ];

    fn awkward_metadata() -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        for (i, s) in AWKWARD.iter().enumerate() {
            m.insert(format!("k{i} {s}"), Value::String(s.to_string()));
        }
        m.insert("numbers".into(), json!([0, -1, 1.5, 1e300, -0.0, 12345678901234567890u64, i64::MIN, 0.1]));
        m.insert("nested".into(), json!({"a": {"b": [null, true, false, {}, []]}, "": ""}));
        m
    }

    fn charge(description: &str, livemode: bool) -> Charge {
        let now = Timestamp::from_unix(1_714_532_400);
        let src = Source::create(
            SourceRequest {
                kind: Some("alipay_hk".into()),
                amount: Some(20_000),
                currency: Some("THB".into()),
                platform_type: Some("ios".into()),
                details: PayerDetails {
                    ip: Some("203.0.113.7".into()),
                    email: Some("payer\"@example.com".into()),
                    name: Some("สมชาย \\ ใจดี".into()),
                    phone_number: Some("+66\n812345678".into()),
                    mobile_number: None,
                    billing: Some(json!({"city": "กรุงเทพ\t"})),
                    shipping: None,
                    items: vec![json!({"sku": "A\u{1}", "quantity": 2}), json!("loose")],
                    promotion_code: Some("PROMO\"1".into()),
                },
            },
            livemode,
            now,
        )
        .expect("a valid source");
        let fees = src.method.limit(src.currency).unwrap().default_fees;
        Charge::create(
            AccountId::generate(livemode),
            ChargeRequest {
                amount: Some(20_000),
                currency: Some("THB".into()),
                source: src,
                return_uri: Some("https://shop.example/return?a=1&b=\"2\"".into()),
                description: Some(description.into()),
                metadata: awkward_metadata(),
                expires_at: None,
                ip: Some("198.51.100.9".into()),
                webhook_endpoints: vec![],
            },
            fees,
            livemode,
            now,
        )
        .expect("a valid charge")
    }

    /// A charge in each status (two refunds on the paid one), rendered at a time inside its refund window.
    fn charges() -> Vec<Charge> {
        let at = |s: i64| Timestamp::from_unix(1_714_532_400 + s);
        let mut out = Vec::new();
        for (i, d) in AWKWARD.iter().enumerate() {
            out.push(charge(d, i % 2 == 1));
        }
        let mut paid = charge("paid", false);
        paid.pay(at(60)).unwrap();
        paid.refund(5_000, awkward_metadata(), at(120)).unwrap();
        paid.refund(1_000, serde_json::Map::new(), at(180)).unwrap();
        out.push(paid);
        let mut failed = charge("failed", false);
        failed.fail(FailureCode::InsufficientFund, at(60)).unwrap();
        out.push(failed);
        let mut expired = charge("expired", true);
        expired.expire(at(30)).unwrap();
        out.push(expired);
        out
    }

    #[test]
    fn every_wire_object_renders_as_serde_json_renders_it() {
        let ctx = RenderCtx { public_url: "https://pay.example/\"x\"", now: Timestamp::from_unix(1_714_600_000) };
        let charges = charges();
        for c in &charges {
            // The stored document too (its status is a flattened enum: keys through `serialize_key`).
            same_as_serde(c);
            same_as_serde(&ChargeObject::new(c, &ctx));
            same_as_serde(&SourceObject::new(&c.source, Some(c.status.name())));
            for r in &c.refunds {
                same_as_serde(&RefundObject::new(&c.id, c.currency, r));
            }
        }
        let q = crate::store::ListQuery {
            from: Timestamp::from_unix(0),
            to: ctx.now,
            offset: 40,
            limit: 20,
            order: crate::store::Order::ReverseChronological,
            whole: true,
        };
        let page: Vec<_> = charges.iter().map(|c| ChargeObject::new(c, &ctx)).collect();
        same_as_serde(&ListObject::new(page, 42, &q, "/charges".into()));
        let empty: Vec<ChargeObject> = Vec::new();
        same_as_serde(&ListObject::new(empty, 0, &q, "/charges".into()));
    }

    /// An event renders its snapshot in place (`EventData`): the same `data` as the object rendered on its
    /// own at the event's time, and the same bytes from both writers.
    #[test]
    fn events_render_their_snapshot_at_the_events_time() {
        use crate::api::wire::event::EventObject;
        use crate::store::{RefundRecord, StoredEvent};
        use satang_domain::{EventId, EventKey};
        let url = "https://pay.example";
        for c in charges() {
            let at = c.created_at.plus_seconds(3_600);
            let e = StoredEvent {
                id: EventId::generate(c.livemode()),
                key: EventKey::ChargeCreate,
                livemode: c.livemode(),
                created_at: at,
                data: serde_json::to_string(&c).unwrap(),
            };
            let obj = EventObject::new(&e, Vec::new(), url).unwrap();
            same_as_serde(&obj);
            let alone = ChargeObject::new(&c, &RenderCtx { public_url: url, now: at });
            assert_eq!(serde_json::to_value(&obj).unwrap()["data"], serde_json::to_value(&alone).unwrap());
            for r in &c.refunds {
                let rec = RefundRecord { charge: c.id.clone(), currency: c.currency, refund: r.clone() };
                let e = StoredEvent {
                    key: EventKey::RefundCreate,
                    data: serde_json::to_string(&rec).unwrap(),
                    ..e.clone()
                };
                let obj = EventObject::new(&e, Vec::new(), url).unwrap();
                same_as_serde(&obj);
                let alone = RefundObject::from_record(&rec);
                assert_eq!(serde_json::to_value(&obj).unwrap()["data"], serde_json::to_value(&alone).unwrap());
            }
        }
    }

    #[test]
    fn a_raw_value_is_copied_verbatim() {
        #[derive(Serialize)]
        struct Event {
            key: &'static str,
            data: Box<serde_json::value::RawValue>,
            after: Option<u8>,
        }
        let data = serde_json::value::RawValue::from_string(r#"{"object":"charge","s":"a\"b\u0001"}"#.into()).unwrap();
        same_as_serde(&Event { key: "charge.create", data, after: None });
    }

    #[test]
    fn enums_tuples_and_empty_containers_match() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(i32),
            Tuple(u8, &'static str),
            EmptyTuple(),
            Struct { a: bool, b: Option<f32> },
            EmptyStruct {},
        }
        #[derive(Serialize)]
        struct Tup(i8, char, (), [u8; 0]);
        same_as_serde(&[E::Unit, E::New(-3), E::Tuple(1, "\""), E::EmptyTuple(), E::EmptyStruct {}]);
        same_as_serde(&E::Struct { a: true, b: Some(f32::NAN) });
        same_as_serde(&Tup(-1, '\n', (), []));
        same_as_serde(&(Vec::<u8>::new(), std::collections::BTreeMap::<u32, bool>::from([(7, true)]), f64::INFINITY));
        same_as_serde(serde_bytes_like(&[0, 255]));
    }

    /// `serialize_bytes` through a `Serialize` impl that calls it (serde has none for `[u8]` itself).
    fn serde_bytes_like(b: &'static [u8]) -> &'static impl Serialize {
        struct Bytes(&'static [u8]);
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Box::leak(Box::new(Bytes(b)))
    }

    #[test]
    fn a_map_key_that_is_not_a_string_or_number_is_refused_like_serde_json_refuses_it() {
        let m = std::collections::BTreeMap::from([((1, 2), "pair")]);
        assert!(serde_json::to_vec(&m).is_err());
        assert!(super::to_vec(&m).is_err());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::String),
            "[\\x00-\\x7f]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_value_renders_as_serde_json_renders_it(v in json_value()) {
            prop_assert_eq!(super::to_vec(&v).unwrap(), serde_json::to_vec(&v).unwrap());
        }

        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in any::<String>(), ascii in "[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(super::to_vec(&s).unwrap(), serde_json::to_vec(&s).unwrap());
            prop_assert_eq!(super::to_vec(&ascii).unwrap(), serde_json::to_vec(&ascii).unwrap());
        }
    }
}
