//! Attribute values of every DynamoDB type, their validation from the wire form, their size
//! and their ordering.
//!
//! [`RawValue`] is the value as decoded (any combination of type keys, unchecked strings);
//! [`Value`] is a checked value: exactly one type, numbers in range, sets non-empty, unique and
//! kept sorted (DynamoDB promises no set order, so we choose the canonical one).

use crate::error::{Error, Result};
use crate::limits::NESTING_DEPTH_MAX;
use crate::types::number::Number;
use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Value {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, Value>),
    L(Vec<Value>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
}

/// The type of a value, as named on the wire and by `attribute_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::S => "S",
            ValueType::N => "N",
            ValueType::B => "B",
            ValueType::Bool => "BOOL",
            ValueType::Null => "NULL",
            ValueType::M => "M",
            ValueType::L => "L",
            ValueType::Ss => "SS",
            ValueType::Ns => "NS",
            ValueType::Bs => "BS",
        }
    }

    pub fn from_name(name: &str) -> Option<ValueType> {
        Some(match name {
            "S" => ValueType::S,
            "N" => ValueType::N,
            "B" => ValueType::B,
            "BOOL" => ValueType::Bool,
            "NULL" => ValueType::Null,
            "M" => ValueType::M,
            "L" => ValueType::L,
            "SS" => ValueType::Ss,
            "NS" => ValueType::Ns,
            "BS" => ValueType::Bs,
            _ => return None,
        })
    }
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::S(_) => ValueType::S,
            Value::N(_) => ValueType::N,
            Value::B(_) => ValueType::B,
            Value::Bool(_) => ValueType::Bool,
            Value::Null => ValueType::Null,
            Value::M(_) => ValueType::M,
            Value::L(_) => ValueType::L,
            Value::Ss(_) => ValueType::Ss,
            Value::Ns(_) => ValueType::Ns,
            Value::Bs(_) => ValueType::Bs,
        }
    }

    pub fn s(text: impl Into<String>) -> Value {
        Value::S(text.into())
    }

    pub fn n(text: &str) -> Value {
        Value::N(Number::parse(text).expect("valid number literal"))
    }

    /// Bytes this value counts for in an item's size (`dynamodb-facts.md` §1.6).
    pub fn size_bytes(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            Value::N(n) => n.size_bytes(),
            Value::B(b) => b.len(),
            Value::Bool(_) | Value::Null => 1,
            Value::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, v)| k.len() + v.size_bytes() + 1)
                    .sum::<usize>()
            }
            Value::L(l) => 3 + l.iter().map(|v| v.size_bytes() + 1).sum::<usize>(),
            Value::Ss(set) => set.iter().map(String::len).sum(),
            Value::Ns(set) => set.iter().map(Number::size_bytes).sum(),
            Value::Bs(set) => set.iter().map(Vec::len).sum(),
        }
    }

    /// Ordering as DynamoDB compares values in conditions and keys: numbers numerically,
    /// strings and binaries by unsigned bytes; other types, or different types, do not order.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::N(a), Value::N(b)) => Some(a.cmp(b)),
            (Value::B(a), Value::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Depth of nested maps and lists: a scalar is 0, a list of scalars 1.
    pub fn depth(&self) -> usize {
        match self {
            Value::M(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            Value::L(l) => 1 + l.iter().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::S(s) => write!(f, "{{S:{s}}}"),
            Value::N(n) => write!(f, "{{N:{n}}}"),
            Value::B(b) => write!(
                f,
                "{{B:{}}}",
                base64::engine::general_purpose::STANDARD.encode(b)
            ),
            Value::Bool(b) => write!(f, "{{BOOL:{b}}}"),
            Value::Null => write!(f, "{{NULL:true}}"),
            Value::M(m) => {
                write!(f, "{{M:{{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{k}={v:?}")?;
                }
                write!(f, "}}}}")
            }
            Value::L(l) => write!(f, "{{L:{l:?}}}"),
            Value::Ss(s) => write!(f, "{{SS:{s:?}}}"),
            Value::Ns(s) => write!(
                f,
                "{{NS:[{}]}}",
                s.iter().map(Number::render).collect::<Vec<_>>().join(",")
            ),
            Value::Bs(s) => write!(f, "{{BS:{} members}}", s.len()),
        }
    }
}

/// How DynamoDB prints a value inside messages: `AttributeValue: {N:1}`.
pub fn describe(value: &Value) -> String {
    format!("AttributeValue: {value:?}")
}

/// An attribute value as decoded from the wire, before any check.
#[derive(Deserialize, Debug, Default, Clone)]
pub struct RawValue {
    #[serde(rename = "S")]
    pub s: Option<String>,
    #[serde(rename = "N")]
    pub n: Option<String>,
    #[serde(rename = "B")]
    pub b: Option<String>,
    #[serde(rename = "BOOL")]
    pub bool: Option<bool>,
    #[serde(rename = "NULL")]
    pub null: Option<bool>,
    #[serde(rename = "M")]
    pub m: Option<BTreeMap<String, RawValue>>,
    #[serde(rename = "L")]
    pub l: Option<Vec<RawValue>>,
    #[serde(rename = "SS")]
    pub ss: Option<Vec<String>>,
    #[serde(rename = "NS")]
    pub ns: Option<Vec<String>>,
    #[serde(rename = "BS")]
    pub bs: Option<Vec<String>>,
}

/// Decodes B and BS text, refusing what AWS's JSON framework refuses, in its order (dynalite
/// recorded the messages): a length that is not a multiple of 4, a character outside the
/// alphabet (or padding followed by anything but padding), then non-zero bits after the last
/// character (text that does not encode back to itself).
fn decode_base64(text: &str) -> Result<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return Err(Error::base64_length_invalid(text));
    }
    let bytes = text.as_bytes();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
    let bad = bytes.iter().enumerate().find(|&(i, &b)| {
        !alphabet(b) || (b == b'=' && bytes.get(i + 1).is_some_and(|&next| next != b'='))
    });
    if let Some((i, _)) = bad {
        let character = text[i..].chars().next().unwrap_or('=');
        return Err(Error::base64_character_invalid(text, character));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Error::base64_last_character_invalid(text))
}

impl RawValue {
    /// Checks a wire value: exactly one type, DynamoDB's rules for each, nesting depth. The
    /// item the value belongs to counts as the first of the [`NESTING_DEPTH_MAX`] levels, so a
    /// value holds at most 31 levels of maps and lists (obs 2026-06, docs/compatibility.md).
    pub fn check(&self) -> Result<Value> {
        self.check_at(2)
    }

    fn check_at(&self, depth: usize) -> Result<Value> {
        let set_count = [
            self.s.is_some(),
            self.n.is_some(),
            self.b.is_some(),
            self.bool.is_some(),
            self.null.is_some(),
            self.m.is_some(),
            self.l.is_some(),
            self.ss.is_some(),
            self.ns.is_some(),
            self.bs.is_some(),
        ]
        .iter()
        .filter(|&&set| set)
        .count();
        if set_count == 0 {
            return Err(Error::attribute_value_empty());
        }
        if set_count > 1 {
            return Err(Error::attribute_value_many_types());
        }
        if let Some(s) = &self.s {
            return Ok(Value::S(s.clone()));
        }
        if let Some(n) = &self.n {
            return Ok(Value::N(Number::parse(n)?));
        }
        if let Some(b) = &self.b {
            return Ok(Value::B(decode_base64(b)?));
        }
        if let Some(b) = self.bool {
            return Ok(Value::Bool(b));
        }
        if let Some(null) = self.null {
            if !null {
                return Err(Error::null_value_false());
            }
            return Ok(Value::Null);
        }
        if let Some(m) = &self.m {
            if depth > NESTING_DEPTH_MAX {
                return Err(Error::nesting_too_deep());
            }
            let mut out = BTreeMap::new();
            for (k, v) in m {
                out.insert(k.clone(), v.check_at(depth + 1)?);
            }
            return Ok(Value::M(out));
        }
        if let Some(l) = &self.l {
            if depth > NESTING_DEPTH_MAX {
                return Err(Error::nesting_too_deep());
            }
            return Ok(Value::L(
                l.iter()
                    .map(|v| v.check_at(depth + 1))
                    .collect::<Result<_>>()?,
            ));
        }
        if let Some(ss) = &self.ss {
            if ss.is_empty() {
                return Err(Error::string_set_empty());
            }
            let mut sorted = ss.clone();
            sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            sorted.dedup();
            if sorted.len() != ss.len() {
                return Err(Error::set_duplicates(&ss.join(", ")));
            }
            return Ok(Value::Ss(sorted));
        }
        if let Some(ns) = &self.ns {
            if ns.is_empty() {
                return Err(Error::number_set_empty());
            }
            let mut numbers = ns
                .iter()
                .map(|n| Number::parse(n))
                .collect::<Result<Vec<_>>>()?;
            numbers.sort();
            numbers.dedup();
            if numbers.len() != ns.len() {
                return Err(Error::number_set_duplicates());
            }
            return Ok(Value::Ns(numbers));
        }
        if let Some(bs) = &self.bs {
            if bs.is_empty() {
                return Err(Error::binary_set_empty());
            }
            let mut members = bs
                .iter()
                .map(|b| decode_base64(b))
                .collect::<Result<Vec<_>>>()?;
            members.sort();
            members.dedup();
            if members.len() != bs.len() {
                return Err(Error::binary_set_duplicates(&bs.join(", ")));
            }
            return Ok(Value::Bs(members));
        }
        unreachable!("exactly one type key is set")
    }
}

/// Sorts and deduplicates set members into the canonical order.
pub fn canonical_string_set(mut members: Vec<String>) -> Vec<String> {
    members.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    members.dedup();
    members
}

struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

struct Numbers<'a>(&'a [Number]);

impl Serialize for Numbers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for n in self.0 {
            seq.serialize_element(&n.render())?;
        }
        seq.end()
    }
}

struct Binaries<'a>(&'a [Vec<u8>]);

impl Serialize for Binaries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for b in self.0 {
            seq.serialize_element(&Base64(b))?;
        }
        seq.end()
    }
}

/// Values serialize in DynamoDB's wire form: `{"S": "x"}`, `{"N": "1"}`, ….
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Value::S(s) => map.serialize_entry("S", s)?,
            Value::N(n) => map.serialize_entry("N", &n.render())?,
            Value::B(b) => map.serialize_entry("B", &Base64(b))?,
            Value::Bool(b) => map.serialize_entry("BOOL", b)?,
            Value::Null => map.serialize_entry("NULL", &true)?,
            Value::M(m) => map.serialize_entry("M", m)?,
            Value::L(l) => map.serialize_entry("L", l)?,
            Value::Ss(s) => map.serialize_entry("SS", s)?,
            Value::Ns(s) => map.serialize_entry("NS", &Numbers(s))?,
            Value::Bs(s) => map.serialize_entry("BS", &Binaries(s))?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawValue {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn checks_type_count_and_sets() {
        assert!(raw("{}").check().unwrap_err().message.contains("is empty"));
        assert!(
            raw(r#"{"S":"a","N":"1"}"#)
                .check()
                .unwrap_err()
                .message
                .contains("more than one")
        );
        assert!(
            raw(r#"{"NULL":false}"#)
                .check()
                .unwrap_err()
                .message
                .contains("must have the value of true")
        );
        assert!(
            raw(r#"{"SS":[]}"#)
                .check()
                .unwrap_err()
                .message
                .contains("An string set  may not be empty")
        );
        assert_eq!(
            raw(r#"{"SS":["a","a"]}"#).check().unwrap_err().message,
            "One or more parameter values were invalid: Input collection [a, a] contains duplicates."
        );
        assert!(
            raw(r#"{"NS":["1","1.0"]}"#)
                .check()
                .unwrap_err()
                .message
                .contains("duplicates")
        );
        assert_eq!(
            raw(r#"{"SS":["b","a"]}"#).check().unwrap(),
            Value::Ss(vec!["a".into(), "b".into()])
        );
        assert_eq!(raw(r#"{"S":""}"#).check().unwrap(), Value::S(String::new()));
    }

    #[test]
    fn nesting_stops_at_32_levels_counting_the_item() {
        let nest = |levels: usize| {
            let mut json = r#"{"S":"x"}"#.to_string();
            for _ in 0..levels {
                json = format!(r#"{{"L":[{json}]}}"#);
            }
            raw(&json)
        };
        let mut deep = nest(31);
        assert_eq!(deep.check().unwrap().depth(), 31);
        deep = nest(32);
        assert!(deep.check().unwrap_err().message.contains("Nesting Levels"));
    }

    #[test]
    fn sizes_follow_the_documented_rules() {
        // {"shirt-color":"R","shirt-size":"M"} is 23 bytes (doc).
        let size: usize = [("shirt-color", "R"), ("shirt-size", "M")]
            .iter()
            .map(|(k, v)| k.len() + Value::s(*v).size_bytes())
            .sum();
        assert_eq!(size, 23);
        assert_eq!(Value::M(BTreeMap::new()).size_bytes(), 3);
        assert_eq!(Value::L(vec![Value::Null]).size_bytes(), 5);
    }

    #[test]
    fn serializes_in_wire_form() {
        let v = raw(r#"{"M":{"a":{"N":"1.50"},"b":{"BS":["AQ=="]},"c":{"NULL":true}}}"#)
            .check()
            .unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"M":{"a":{"N":"1.5"},"b":{"BS":["AQ=="]},"c":{"NULL":true}}}"#
        );
    }
}
