//! Canonical JSON: the one byte form in which every Vigil record is hashed and signed.
//!
//! The subset of RFC 8785 (JCS) that Vigil's records rely on:
//!
//! - object keys sorted by their UTF-8 bytes (the same order as RFC 8785's UTF-16 order for every
//!   key Vigil writes, which are ASCII);
//! - no whitespace between tokens;
//! - strings escaped as serde_json escapes them: `"` and `\` and control characters only (the
//!   short forms `\b \f \n \r \t`, others as `\u00xx` with lowercase hex), everything else as
//!   raw UTF-8, exactly as in RFC 8785;
//! - integers in plain decimal. Floats appear only in latitude and longitude, printed as the
//!   shortest string that reads back to the same number (RFC 8785 differs only for exponents,
//!   `1e21` against `1e+21`, which coordinates never need).
//!
//! # Reading
//!
//! A record is accepted only in exactly these bytes. [`parse`] reads JSON strictly (an object
//! that names a key twice is refused, since two readers could take different values from it),
//! encodes what it read, and refuses the record unless that gives back the very bytes it was
//! given. Nothing is ever "re-canonicalised": a record that arrives in another form is refused,
//! never rewritten into the form that would verify. Because canonical encoding is compositional,
//! a value nested inside a canonical record encodes to exactly its own bytes within the record,
//! which is how signed records nested in others (an invitation inside a certificate) are checked.
//!
//! ```
//! use vigil_ledger::canonical;
//!
//! let doc = serde_json::json!({"b": [1, "two"], "a": {"y": null, "x": true}});
//! let bytes = canonical::encode(&doc);
//! assert_eq!(bytes, br#"{"a":{"x":true,"y":null},"b":[1,"two"]}"#);
//! assert_eq!(canonical::parse("a note", &bytes).unwrap(), doc);
//!
//! // The same document with a space, or a key named twice, is not the signed record.
//! let spaced = br#"{"a": {"x":true,"y":null},"b":[1,"two"]}"#;
//! assert_eq!(canonical::parse("a note", spaced).unwrap_err().code(), "not_canonical");
//! let twice = br#"{"a":1,"a":2}"#;
//! assert_eq!(canonical::parse("a note", twice).unwrap_err().code(), "duplicate_key");
//! ```

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::{LedgerError, Result};

/// Where canonical bytes go: a buffer, or a comparison with bytes already at hand.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Compares what is written with `expected`, without keeping a copy (a record may be large).
struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
    same: bool,
}

impl Sink for Compare<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if !self.same {
            return;
        }
        let end = self.at + bytes.len();
        if self.expected.get(self.at..end) == Some(bytes) {
            self.at = end;
        } else {
            self.same = false;
        }
    }
}

/// The canonical bytes of a JSON value.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

/// Whether `bytes` are exactly the canonical encoding of `value`.
pub fn is_encoding_of(value: &Value, bytes: &[u8]) -> bool {
    let mut cmp = Compare {
        expected: bytes,
        at: 0,
        same: true,
    };
    write_value(value, &mut cmp);
    cmp.same && cmp.at == bytes.len()
}

/// The canonical bytes of anything serde can turn into JSON.
pub fn encode_serialize<T: Serialize>(what: &str, item: &T) -> Result<Vec<u8>> {
    let value =
        serde_json::to_value(item).map_err(|e| LedgerError::malformed(what, e.to_string()))?;
    Ok(encode(&value))
}

fn write_value(value: &Value, out: &mut impl Sink) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.put(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_string(k, out);
                out.put(b":");
                if let Some(v) = map.get(k) {
                    write_value(v, out);
                }
            }
            out.put(b"}");
        }
        Value::Array(items) => {
            out.put(b"[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_value(v, out);
            }
            out.put(b"]");
        }
        Value::String(s) => write_string(s, out),
        // null, booleans and numbers: serde_json's own compact printing (shortest round trip).
        other => out.put(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut impl Sink) {
    // serde_json's escaping of a lone string is fixed and minimal.
    let mut buf = Vec::with_capacity(s.len() + 2);
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut buf, s);
    out.put(&buf);
}

/// Marks the error a duplicate key raises inside serde, to tell it apart from others.
const DUPLICATE: &str = "vigil:duplicate-key:";

/// A JSON value read strictly: an object naming a key twice is an error.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Reads JSON strictly: not JSON, trailing bytes, or a key named twice in one object are
/// refused. The bytes need not be canonical; see [`parse`] for records.
pub fn parse_strict(what: &str, bytes: &[u8]) -> Result<Value> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(v)) => Ok(v),
        Err(e) => {
            let text = e.to_string();
            match text.find(DUPLICATE) {
                Some(at) => {
                    let rest = &text[at + DUPLICATE.len()..];
                    // serde_json appends " at line L column C".
                    let key = rest.rsplit_once(" at line ").map_or(rest, |(k, _)| k);
                    Err(LedgerError::DuplicateKey {
                        what: what.to_owned(),
                        key: key.to_owned(),
                    })
                }
                None => Err(LedgerError::malformed(what, format!("not JSON: {e}"))),
            }
        }
    }
}

/// Reads a record that must be canonical JSON: strictly ([`parse_strict`]), and only if its
/// bytes are exactly the canonical encoding of what they hold.
pub fn parse(what: &str, bytes: &[u8]) -> Result<Value> {
    let value = parse_strict(what, bytes)?;
    if !is_encoding_of(&value, bytes) {
        return Err(LedgerError::NotCanonical {
            what: what.to_owned(),
        });
    }
    Ok(value)
}

/// [`parse`], then the typed form of the value (unknown fields are for the type to refuse).
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<(T, Value)> {
    let value = parse(what, bytes)?;
    let typed = T::deserialize(&value).map_err(|e| LedgerError::malformed(what, e.to_string()))?;
    Ok((typed, value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_vector() {
        let v: Value = serde_json::from_str(
            r#"{ "z": 1, "a": [true, false, null, -7, 12345678901234],
                 "é": "quote \" backslash \\ tab \t nl \n bell \u0007 кириллица 😀",
                 "lat": 42.8746, "lon": 74.5698, "n": {"b": {}, "a": []} }"#,
        )
        .unwrap();
        let got = String::from_utf8(encode(&v)).unwrap();
        assert_eq!(
            got,
            "{\"a\":[true,false,null,-7,12345678901234],\"lat\":42.8746,\"lon\":74.5698,\
             \"n\":{\"a\":[],\"b\":{}},\"z\":1,\
             \"é\":\"quote \\\" backslash \\\\ tab \\t nl \\n bell \\u0007 кириллица 😀\"}"
        );
        assert_eq!(parse("v", got.as_bytes()).unwrap(), v, "a fixed point");
    }

    #[test]
    fn other_forms_of_the_same_value_are_refused() {
        for (bytes, code) in [
            (&br#"{"b":1,"a":2}"#[..], "not_canonical"),
            (br#"{"a":2, "b":1}"#, "not_canonical"),
            (br#"{"a":2,"b":1} "#, "not_canonical"),
            (br#"{"a":"\u0041"}"#, "not_canonical"),
            (br#"{"a":1.50}"#, "not_canonical"),
            (br#"{"a":1e2}"#, "not_canonical"),
            (br#"{"a":-0}"#, "not_canonical"),
            (br#"{"a":123456789012345678901234567890}"#, "not_canonical"),
            (br#"{"a":1,"a":1}"#, "duplicate_key"),
            (br#"{"x":{"k":[{"d":1,"d":2}]}}"#, "duplicate_key"),
            (br#"{"a":1}{"#, "record_malformed"),
            (b"\xff", "record_malformed"),
            (b"", "record_malformed"),
        ] {
            let e = parse("v", bytes).unwrap_err();
            assert_eq!(e.code(), code, "{}", String::from_utf8_lossy(bytes));
        }
        match parse("v", br#"{"x":{"dup":1,"dup":2}}"#).unwrap_err() {
            LedgerError::DuplicateKey { key, .. } => assert_eq!(key, "dup"),
            other => panic!("{other:?}"),
        }
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            (-180.0f64..180.0).prop_map(|f| serde_json::json!(f)),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_value_reads_back_from_its_canonical_bytes(v in json()) {
            let bytes = encode(&v);
            prop_assert_eq!(parse("v", &bytes).unwrap(), v);
        }

        #[test]
        fn pretty_printed_objects_are_never_canonical(v in json()) {
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            if pretty != encode(&v) {
                prop_assert!(parse("v", &pretty).is_err());
            }
        }
    }
}
