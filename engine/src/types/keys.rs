//! Primary keys: extraction and checks against a table's key schema, and the byte encoding
//! under which the table's ordered map keeps items, and the value encodings index keys share
//! (`types::index_keys` builds secondary index keys from them).
//!
//! Stored key = `hash(partition key)` (8 bytes, big-endian) + length-prefixed partition key +
//! the sort key's order-preserving encoding. Items of one partition key are therefore
//! contiguous and in sort-key order, and a Scan walks the table in hash order, as DynamoDB's
//! does. Parallel-scan segments are contiguous ranges of the hash.

use crate::error::{Error, Result};
use crate::limits::{PARTITION_KEY_SIZE_BYTES_MAX, SORT_KEY_SIZE_BYTES_MAX};
use crate::types::item::Item;
use crate::types::value::{Value, ValueType};

/// The scalar types keys may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    pub fn from_name(name: &str) -> Option<ScalarType> {
        match name {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    pub(crate) fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value.value_type()),
            (ScalarType::S, ValueType::S)
                | (ScalarType::N, ValueType::N)
                | (ScalarType::B, ValueType::B)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub scalar_type: ScalarType,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchema {
    pub hash: KeyAttribute,
    pub range: Option<KeyAttribute>,
}

/// Raw bytes of a key value, for hashing and sizing.
pub(crate) fn key_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::S(s) => s.as_bytes().to_vec(),
        Value::B(b) => b.clone(),
        Value::N(n) => {
            let mut out = Vec::new();
            n.encode_ordered(&mut out);
            out
        }
        _ => unreachable!("key values are scalars"),
    }
}

/// The position of a partition key in the hash space.
pub fn partition_hash(value: &Value) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&key_bytes(value))
}

impl KeySchema {
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![self.hash.name.as_str()];
        if let Some(range) = &self.range {
            names.push(range.name.as_str());
        }
        names
    }

    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.hash.name == name || self.range.as_ref().is_some_and(|r| r.name == name)
    }

    /// Checks one key attribute of an item being written.
    fn check_item_attribute(
        attribute: &KeyAttribute,
        value: Option<&Value>,
        is_hash: bool,
    ) -> Result<()> {
        let Some(value) = value else {
            return Err(Error::key_missing_in_item(&attribute.name));
        };
        check_key_value(attribute, value, is_hash, |actual| {
            Error::key_type_mismatch(&attribute.name, attribute.scalar_type.name(), actual.name())
        })
    }

    /// Checks a whole item's key attributes; returns the stored key.
    pub fn item_key(&self, item: &Item) -> Result<Box<[u8]>> {
        Self::check_item_attribute(&self.hash, item.get(&self.hash.name), true)?;
        if let Some(range) = &self.range {
            Self::check_item_attribute(range, item.get(&range.name), false)?;
        }
        Ok(self.encode(item))
    }

    /// Checks a `Key` parameter: exactly the key attributes, with the declared types.
    pub fn key_parameter(&self, key: &Item) -> Result<Box<[u8]>> {
        let expected = if self.range.is_some() { 2 } else { 1 };
        if key.len() != expected {
            return Err(Error::key_schema_mismatch());
        }
        let mismatch = |_: ValueType| Error::key_schema_mismatch();
        let hash = key
            .get(&self.hash.name)
            .ok_or_else(Error::key_schema_mismatch)?;
        check_key_value(&self.hash, hash, true, mismatch)?;
        if let Some(range) = &self.range {
            let value = key
                .get(&range.name)
                .ok_or_else(Error::key_schema_mismatch)?;
            check_key_value(range, value, false, mismatch)?;
        }
        Ok(self.encode(key))
    }

    /// The key attributes of an item (which must have them).
    pub fn key_of(&self, item: &Item) -> Item {
        self.names()
            .into_iter()
            .filter_map(|n| item.get(n).map(|v| (n.to_string(), v.clone())))
            .collect()
    }

    /// The stored key of an item whose key attributes were checked.
    pub fn encode(&self, item: &Item) -> Box<[u8]> {
        let hash_value = &item[&self.hash.name];
        let mut out = self.partition_prefix(hash_value);
        if let Some(range) = &self.range {
            encode_sort_value(&item[&range.name], &mut out);
        }
        out.into_boxed_slice()
    }

    /// The stored-key prefix shared by every item with this partition key value.
    pub fn partition_prefix(&self, hash_value: &Value) -> Vec<u8> {
        encode_partition(&key_bytes(hash_value))
    }
}

/// A partition's key prefix from the bytes of its partition key value: their hash (8 bytes,
/// big-endian), their length (2 bytes), then the bytes.
pub(crate) fn encode_partition(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 2 + bytes.len() + 16);
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(bytes).to_be_bytes());
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Appends a sort-key value's order-preserving encoding: raw bytes for S and B (the sort key
/// is last, so no terminator is needed), the ordered number encoding for N.
pub fn encode_sort_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::S(s) => out.extend_from_slice(s.as_bytes()),
        Value::B(b) => out.extend_from_slice(b),
        Value::N(n) => n.encode_ordered(out),
        _ => unreachable!("sort keys are scalars"),
    }
}

pub(crate) fn check_key_value(
    attribute: &KeyAttribute,
    value: &Value,
    is_hash: bool,
    mismatch: impl Fn(ValueType) -> Error,
) -> Result<()> {
    if !attribute.scalar_type.matches(value) {
        return Err(mismatch(value.value_type()));
    }
    let size = match value {
        Value::S(s) if s.is_empty() => {
            return Err(Error::key_value_empty("string", &attribute.name));
        }
        Value::B(b) if b.is_empty() => {
            return Err(Error::key_value_empty("binary", &attribute.name));
        }
        Value::S(s) => s.len(),
        Value::B(b) => b.len(),
        _ => 0,
    };
    if is_hash && size > PARTITION_KEY_SIZE_BYTES_MAX {
        return Err(Error::hash_key_too_large(PARTITION_KEY_SIZE_BYTES_MAX));
    }
    if !is_hash && size > SORT_KEY_SIZE_BYTES_MAX {
        return Err(Error::range_key_too_large(SORT_KEY_SIZE_BYTES_MAX));
    }
    Ok(())
}

/// The smallest byte string greater than every string starting with `prefix`, if any.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Appends a key value's order-preserving encoding followed by a terminator, so that more bytes
/// can follow without disturbing the order (index keys append the table's key). Strings and
/// binaries escape 0x00 as 0x00 0xFF and end with 0x00 0x00; numbers end with 0x00 (their
/// digits never contain 0x00; negative numbers already end with 0xFF).
pub fn encode_terminated(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::S(_) | Value::B(_) => {
            let bytes = match value {
                Value::S(s) => s.as_bytes(),
                Value::B(b) => b.as_slice(),
                _ => unreachable!(),
            };
            for &b in bytes {
                out.push(b);
                if b == 0 {
                    out.push(0xFF);
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
        Value::N(n) => {
            n.encode_ordered(out);
            out.push(0);
        }
        _ => unreachable!("key values are scalars"),
    }
}

impl KeySchema {
    /// The key schema as DescribeTable shows it: HASH first, then RANGE.
    pub fn describe(&self) -> Vec<crate::api::KeySchemaOutput> {
        let element = |attribute: &KeyAttribute, key_type: &str| crate::api::KeySchemaOutput {
            attribute_name: attribute.name.clone(),
            key_type: key_type.into(),
        };
        let mut described = vec![element(&self.hash, "HASH")];
        described.extend(self.range.iter().map(|r| element(r, "RANGE")));
        described
    }
}
