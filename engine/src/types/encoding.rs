//! The stored encoding of an item: what tables keep in memory today, and what snapshots and
//! the write-ahead log will write to disk. Tables keep items encoded in one allocation each,
//! because a `BTreeMap` of `String`s per item costs several times the item's own size; items
//! are decoded only when a request reads them.
//!
//! # Format (version 1; do not reorder or renumber the tags: stored bytes depend on them)
//!
//! ```text
//! item    = map
//! map     = varint(count) (bytes(name) value){count}     names in ascending byte order
//! value   = 0x01 bytes(utf8)                              S
//!         | 0x02 number                                   N
//!         | 0x03 bytes                                    B
//!         | 0x04 | 0x05                                   BOOL true | false
//!         | 0x06                                          NULL
//!         | 0x07 map                                      M
//!         | 0x08 varint(count) value{count}               L
//!         | 0x09 varint(count) bytes(utf8){count}         SS, members in set order
//!         | 0x0A varint(count) number{count}              NS, members in set order
//!         | 0x0B varint(count) bytes{count}               BS, members in set order
//! number  = sign:u8 (1 negative, 0 otherwise) exponent:i16 little-endian bytes(digits)
//!           the value is ±0.d₁d₂…dₙ × 10^exponent: digits are the significant decimal digits,
//!           one ASCII digit per byte, without leading or trailing zeros (zero: none, exponent 0)
//! bytes   = varint(length) byte{length}
//! varint  = LEB128: 7 bits per byte, least significant group first, high bit set on every
//!           byte but the last
//! ```
//!
//! Decoding expects exactly one item and no trailing bytes (asserted); `encode` checks its
//! own round trip in debug builds.

use crate::types::item::{Item, item_size_bytes};
use crate::types::number::Number;
use crate::types::value::Value;
use std::collections::BTreeMap;

const TAG_S: u8 = 1;
const TAG_N: u8 = 2;
const TAG_B: u8 = 3;
const TAG_TRUE: u8 = 4;
const TAG_FALSE: u8 = 5;
const TAG_NULL: u8 = 6;
const TAG_M: u8 = 7;
const TAG_L: u8 = 8;
const TAG_SS: u8 = 9;
const TAG_NS: u8 = 10;
const TAG_BS: u8 = 11;

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    out.push(u8::from(n.is_negative()));
    out.extend_from_slice(&(n.exponent() as i16).to_le_bytes());
    put_bytes(out, n.significant_digits());
}

fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::S(s) => {
            out.push(TAG_S);
            put_bytes(out, s.as_bytes());
        }
        Value::N(n) => {
            out.push(TAG_N);
            put_number(out, n);
        }
        Value::B(b) => {
            out.push(TAG_B);
            put_bytes(out, b);
        }
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Null => out.push(TAG_NULL),
        Value::M(m) => {
            out.push(TAG_M);
            put_map(out, m);
        }
        Value::L(l) => {
            out.push(TAG_L);
            put_varint(out, l.len());
            for v in l {
                put_value(out, v);
            }
        }
        Value::Ss(set) => {
            out.push(TAG_SS);
            put_varint(out, set.len());
            for s in set {
                put_bytes(out, s.as_bytes());
            }
        }
        Value::Ns(set) => {
            out.push(TAG_NS);
            put_varint(out, set.len());
            for n in set {
                put_number(out, n);
            }
        }
        Value::Bs(set) => {
            out.push(TAG_BS);
            put_varint(out, set.len());
            for b in set {
                put_bytes(out, b);
            }
        }
    }
}

fn put_map(out: &mut Vec<u8>, map: &BTreeMap<String, Value>) {
    put_varint(out, map.len());
    for (name, value) in map {
        put_bytes(out, name.as_bytes());
        put_value(out, value);
    }
}

/// Encodes an item into its stored form.
pub fn encode(item: &Item) -> Box<[u8]> {
    let mut out = Vec::with_capacity(item_size_bytes(item) + 4 * item.len() + 4);
    put_map(&mut out, item);
    // The pair of `decode`'s trailing-bytes check; O(item), so debug builds only.
    debug_assert!(
        decode(&out) == *item,
        "an item's encoding decodes to the item"
    );
    out.into_boxed_slice()
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes[self.position];
        self.position += 1;
        b
    }

    fn varint(&mut self) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let b = self.byte();
            n |= usize::from(b & 0x7F) << shift;
            if b < 0x80 {
                return n;
            }
            shift += 7;
        }
    }

    fn bytes(&mut self) -> &'a [u8] {
        let length = self.varint();
        let slice = &self.bytes[self.position..self.position + length];
        self.position += length;
        slice
    }

    fn string(&mut self) -> String {
        // Only valid UTF-8 is ever encoded; a failure here is memory corruption.
        String::from_utf8(self.bytes().to_vec()).expect("stored strings are UTF-8")
    }

    fn number(&mut self) -> Number {
        let negative = self.byte() == 1;
        let exponent = i16::from_le_bytes([self.byte(), self.byte()]);
        Number::from_normalised(negative, self.bytes(), i32::from(exponent))
    }

    fn value(&mut self) -> Value {
        match self.byte() {
            TAG_S => Value::S(self.string()),
            TAG_N => Value::N(self.number()),
            TAG_B => Value::B(self.bytes().to_vec()),
            TAG_TRUE => Value::Bool(true),
            TAG_FALSE => Value::Bool(false),
            TAG_NULL => Value::Null,
            TAG_M => Value::M(self.map()),
            TAG_L => Value::L((0..self.varint()).map(|_| self.value()).collect()),
            TAG_SS => Value::Ss((0..self.varint()).map(|_| self.string()).collect()),
            TAG_NS => Value::Ns((0..self.varint()).map(|_| self.number()).collect()),
            TAG_BS => Value::Bs((0..self.varint()).map(|_| self.bytes().to_vec()).collect()),
            tag => panic!("stored item has unknown tag {tag}"),
        }
    }

    fn map(&mut self) -> BTreeMap<String, Value> {
        let count = self.varint();
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let name = self.string();
            let value = self.value();
            map.insert(name, value);
        }
        map
    }
}

/// Checks that `bytes` is one item in this format, as [`decode`] expects it, without
/// building it: for bytes read back from a disk, which [`decode`] would panic on. Nesting
/// deeper than `depth_max` maps and lists is refused too (the engine's documents stop at 32).
pub fn check(bytes: &[u8], depth_max: usize) -> Result<(), String> {
    let mut checker = Checker { bytes, position: 0 };
    checker.map(depth_max)?;
    if checker.position != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the item",
            bytes.len() - checker.position
        ));
    }
    Ok(())
}

struct Checker<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Checker<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.position)
            .ok_or_else(|| format!("the item ends early, at byte {}", self.position))?;
        self.position += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, String> {
        let mut n = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7F).checked_shl(shift).unwrap_or(0);
            if b < 0x80 {
                // A count or length never exceeds what is left of the item.
                return match n <= self.bytes.len() {
                    true => Ok(n),
                    false => Err(format!("a length of {n} exceeds the item")),
                };
            }
        }
        Err("a varint is too long".into())
    }

    fn bytes(&mut self) -> Result<&[u8], String> {
        let length = self.varint()?;
        let end = self.position + length;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or_else(|| format!("the item ends early, at byte {}", self.position))?;
        self.position = end;
        Ok(slice)
    }

    fn string(&mut self) -> Result<(), String> {
        let position = self.position;
        std::str::from_utf8(self.bytes()?)
            .map(|_| ())
            .map_err(|_| format!("a string at byte {position} is not UTF-8"))
    }

    fn number(&mut self) -> Result<(), String> {
        let position = self.position;
        let sign = self.byte()?;
        let exponent = i16::from_le_bytes([self.byte()?, self.byte()?]);
        let digits = self.bytes()?;
        let normalised = digits.iter().all(u8::is_ascii_digit)
            && digits.first() != Some(&b'0')
            && digits.last() != Some(&b'0')
            && sign <= 1
            && (!digits.is_empty() || exponent == 0);
        match normalised {
            true => Ok(()),
            false => Err(format!("a number at byte {position} is malformed")),
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), String> {
        let position = self.position;
        match self.byte()? {
            TAG_S => self.string(),
            TAG_N => self.number(),
            TAG_B => self.bytes().map(|_| ()),
            TAG_TRUE | TAG_FALSE | TAG_NULL => Ok(()),
            TAG_M => self.map(depth),
            TAG_L => match depth.checked_sub(1) {
                Some(depth) => (0..self.varint()?).try_for_each(|_| self.value(depth)),
                None => Err(format!("a list at byte {position} nests too deep")),
            },
            TAG_SS => (0..self.varint()?).try_for_each(|_| self.string()),
            TAG_NS => (0..self.varint()?).try_for_each(|_| self.number()),
            TAG_BS => (0..self.varint()?).try_for_each(|_| self.bytes().map(|_| ())),
            tag => Err(format!("unknown tag {tag} at byte {position}")),
        }
    }

    fn map(&mut self, depth: usize) -> Result<(), String> {
        let position = self.position;
        let Some(depth) = depth.checked_sub(1) else {
            return Err(format!("a map at byte {position} nests too deep"));
        };
        for _ in 0..self.varint()? {
            self.string()?;
            self.value(depth)?;
        }
        Ok(())
    }
}

/// Decodes an item written by [`encode`].
pub fn decode(bytes: &[u8]) -> Item {
    let mut reader = Reader { bytes, position: 0 };
    let item = reader.map();
    assert_eq!(
        reader.position,
        bytes.len(),
        "stored item has trailing bytes"
    );
    item
}
