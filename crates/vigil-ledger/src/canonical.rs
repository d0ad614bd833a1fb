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

/// The most JSON values (objects, arrays, strings, numbers, literals) a record read into a
/// JSON tree ([`parse`]) may hold: a tree takes tens of bytes per value, so a record of tiny
/// values (`[0,0,0,…]`) would otherwise take many times its size in memory. Records read into
/// their types ([`decode`]) need no such bound.
pub const MAX_TREE_VALUES: usize = 200_000;

/// How deep values may nest (as in serde_json).
const MAX_DEPTH: usize = 128;

/// What [`check`] saw of a canonical record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// The keys of the top-level object, in order (empty if it is not an object).
    pub top_keys: Vec<String>,
    /// How many JSON values it holds, nested ones included.
    pub values: usize,
}

/// Checks that `bytes` are canonical JSON (see the module documentation), streaming over them
/// without building the value, so memory does not depend on what the record holds. Keys must
/// be in strictly increasing order, which also refuses a key named twice.
pub fn check(what: &str, bytes: &[u8]) -> Result<Shape> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(LedgerError::malformed(what, "not UTF-8 text"));
    }
    let mut v = Validator {
        b: bytes,
        i: 0,
        what,
        shape: Shape::default(),
    };
    v.value(0)?;
    if v.i != bytes.len() {
        return Err(match bytes[v.i] {
            b' ' | b'\n' | b'\r' | b'\t' => v.not_canonical(),
            _ => LedgerError::malformed(what, "bytes after the end of the record"),
        });
    }
    Ok(v.shape)
}

struct Validator<'a> {
    b: &'a [u8],
    i: usize,
    what: &'a str,
    shape: Shape,
}

impl Validator<'_> {
    fn malformed(&self, detail: &str) -> LedgerError {
        LedgerError::malformed(self.what, format!("{detail} at byte {}", self.i))
    }

    fn not_canonical(&self) -> LedgerError {
        LedgerError::NotCanonical {
            what: self.what.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Whatever JSON allows here that canonical form does not (whitespace) is `not_canonical`;
    /// what JSON does not allow is malformed.
    fn unexpected(&self) -> LedgerError {
        match self.peek() {
            Some(b' ' | b'\n' | b'\r' | b'\t') => self.not_canonical(),
            Some(_) => self.malformed("unexpected byte"),
            None => self.malformed("the record ends too soon"),
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn value(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(self.malformed("values nested too deep"));
        }
        self.shape.values += 1;
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string(false).map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.malformed("not a JSON value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<()> {
        self.expect(b'{')?;
        let mut previous: Option<String> = None;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.unexpected());
            }
            let key = self.string(true)?.unwrap_or_default();
            match &previous {
                Some(p) if p.as_bytes() == key.as_bytes() => {
                    return Err(LedgerError::DuplicateKey {
                        what: self.what.to_owned(),
                        key,
                    });
                }
                Some(p) if p.as_bytes() > key.as_bytes() => return Err(self.not_canonical()),
                _ => {}
            }
            if depth == 0 {
                self.shape.top_keys.push(key.clone());
            }
            previous = Some(key);
            self.expect(b':')?;
            self.value(depth + 1)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<()> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value(depth + 1)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// A string in canonical form: raw UTF-8 but for `"`, `\` and control characters, which are
    /// escaped as serde_json escapes them. With `keep`, the decoded text (for keys).
    fn string(&mut self, keep: bool) -> Result<Option<String>> {
        self.expect(b'"')?;
        let mut out = keep.then(String::new);
        let start = self.i;
        let mut run = start;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.malformed("a string does not end"));
            };
            match c {
                b'"' => {
                    if let Some(o) = out.as_mut() {
                        o.push_str(std::str::from_utf8(&self.b[run..self.i]).unwrap_or_default());
                    }
                    self.i += 1;
                    return Ok(out);
                }
                0x00..=0x1f => return Err(self.malformed("a control character in a string")),
                b'\\' => {
                    if let Some(o) = out.as_mut() {
                        o.push_str(std::str::from_utf8(&self.b[run..self.i]).unwrap_or_default());
                    }
                    let decoded = match self.b.get(self.i + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'/') => return Err(self.not_canonical()),
                        Some(b'u') => {
                            let hex = self
                                .b
                                .get(self.i + 2..self.i + 6)
                                .ok_or_else(|| self.malformed("a cut escape"))?;
                            if !hex.iter().all(|h| h.is_ascii_hexdigit()) {
                                return Err(self.malformed("a bad escape"));
                            }
                            // Only control characters without a short form are written \u00xx,
                            // in lower case.
                            let text = std::str::from_utf8(hex).unwrap_or("0000");
                            let n = u32::from_str_radix(text, 16).unwrap_or(u32::MAX);
                            if n >= 0x20
                                || matches!(n, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
                                || hex.iter().any(|h| h.is_ascii_uppercase())
                            {
                                return Err(self.not_canonical());
                            }
                            self.i += 4;
                            char::from_u32(n).unwrap_or('\0')
                        }
                        _ => return Err(self.malformed("a bad escape")),
                    };
                    if let Some(o) = out.as_mut() {
                        o.push(decoded);
                    }
                    self.i += 2;
                    run = self.i;
                }
                _ => self.i += 1,
            }
        }
    }

    /// A number exactly as serde_json prints it: an integer within i64 or u64 without leading
    /// zeros (and not `-0`), or a float in its shortest form that reads back the same.
    fn number(&mut self) -> Result<()> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.i += 1;
            } else {
                break;
            }
        }
        let token = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
        let integer = !token.contains(['.', 'e', 'E']);
        if integer {
            let digits = token.strip_prefix('-').unwrap_or(token);
            if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
                return Err(self.malformed("not a number"));
            }
            let fits = if token.starts_with('-') {
                token.parse::<i64>().is_ok()
            } else {
                token.parse::<u64>().is_ok()
            };
            if (digits.len() > 1 && digits.starts_with('0')) || token == "-0" || !fits {
                return Err(self.not_canonical());
            }
            return Ok(());
        }
        let x: f64 = token.parse().map_err(|_| self.malformed("not a number"))?;
        match Number::from_f64(x) {
            Some(n) if n.to_string() == token => Ok(()),
            Some(_) => Err(self.not_canonical()),
            None => Err(self.malformed("a number that is not finite")),
        }
    }
}

/// Reads a record that must be canonical JSON into a JSON tree: [`check`]ed first, so its form is
/// proven before anything is built, and refused if it holds more than [`MAX_TREE_VALUES`]
/// values. For records read from outside, prefer [`decode`].
pub fn parse(what: &str, bytes: &[u8]) -> Result<Value> {
    let shape = check(what, bytes)?;
    if shape.values > MAX_TREE_VALUES {
        return Err(LedgerError::malformed(
            what,
            format!(
                "{} JSON values; a record holds at most {MAX_TREE_VALUES}",
                shape.values
            ),
        ));
    }
    parse_strict(what, bytes)
}

/// Reads a record that must be canonical JSON straight into its type ([`check`]ed first; the
/// type refuses unknown fields), without a JSON tree in between.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<(T, Shape)> {
    let shape = check(what, bytes)?;
    let typed =
        serde_json::from_slice(bytes).map_err(|e| LedgerError::malformed(what, e.to_string()))?;
    Ok((typed, shape))
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

    #[test]
    fn escapes_and_numbers_only_as_serde_json_writes_them() {
        for ok in [
            r#"["a\"b","\\","\n\t\r\b\f","\u0001","\u001f","é/<>","\u007f"]"#.as_bytes(),
            br#"[0,-1,18446744073709551615,-9223372036854775808,1.5,0.1,1e+21,-0.0]"#,
        ] {
            // Whatever serde_json itself prints, the checker takes.
            let v: Value = serde_json::from_slice(ok).unwrap();
            check("v", &encode(&v)).unwrap();
        }
        for (bad, code) in [
            (&br#"["\u00e9"]"#[..], "not_canonical"),
            (br#"["\/"]"#, "not_canonical"),
            (br#"["\u001F"]"#, "not_canonical"),
            (br#"["\u000a"]"#, "not_canonical"),
            (br#"[01]"#, "not_canonical"),
            (br#"[18446744073709551616]"#, "not_canonical"),
            (br#"[1.50]"#, "not_canonical"),
            (br#"[1E2]"#, "not_canonical"),
            (b"[\"\x01\"]", "record_malformed"),
            (br#"[tru]"#, "record_malformed"),
            (br#"["unterminated]"#, "record_malformed"),
            (br#"{"a" :1}"#, "not_canonical"),
        ] {
            assert_eq!(
                check("v", bad).unwrap_err().code(),
                code,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_record_of_tiny_values_is_never_built_into_a_tree() {
        // Two bytes a value on disk, tens of bytes a value in a tree: refused before building.
        let mut bomb = b"[".to_vec();
        for _ in 0..(MAX_TREE_VALUES + 1) {
            bomb.extend_from_slice(b"0,");
        }
        bomb.pop();
        bomb.push(b']');
        let shape = check("bomb", &bomb).unwrap();
        assert_eq!(shape.values, MAX_TREE_VALUES + 2);
        assert_eq!(parse("bomb", &bomb).unwrap_err().code(), "record_malformed");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            a: u8,
        }
        assert_eq!(
            decode::<Doc>("bomb", &bomb).unwrap_err().code(),
            "record_malformed"
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            check("deep", deep.as_bytes()).unwrap_err().code(),
            "record_malformed"
        );
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
        fn the_streaming_check_agrees_with_encoding(v in json()) {
            let bytes = encode(&v);
            let shape = check("v", &bytes).unwrap();
            prop_assert_eq!(shape.top_keys, v.as_object().map(|m| {
                let mut k: Vec<String> = m.keys().cloned().collect();
                k.sort();
                k
            }).unwrap_or_default());
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
