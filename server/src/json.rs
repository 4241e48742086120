//! Request bodies read as DynamoDB's JSON framework reads them: every structure and map is a
//! JSON object, every list a JSON array, and a member of the wrong JSON type is a
//! SerializationException in AWS's words.
//!
//! serde's derived structures also accept a JSON array, filling members by position, so
//! `DeleteTable` with the body `["victim"]` would delete the table `victim`; and serde's
//! messages name Rust types ("expected struct WriteInput"). [`decode`] wraps serde_json's
//! deserializer so that each value is checked against the shape its type asks for (the
//! `deserialize_*` method it calls) before the type sees it, at every depth: the request
//! types stay plain derives, and a new one is checked without being listed anywhere.

use dynasim_engine::error::Error;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde::de::{EnumAccess, Visitor};
use std::cell::RefCell;
use std::fmt;

/// Decodes `body` into `T`, strictly (see the module comment).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let problem = RefCell::new(None);
    let mut json = serde_json::Deserializer::from_slice(body);
    let strict = Strict {
        inner: &mut json,
        problem: &problem,
    };
    let result = T::deserialize(strict).and_then(|value| json.end().map(|()| value));
    result.map_err(|error| {
        // A shape mismatch was recorded in AWS's words; anything else is serde_json's own
        // message about the JSON text (syntax, end of input, its 128-level nesting guard),
        // which names no Rust type.
        problem
            .into_inner()
            .unwrap_or_else(|| Error::request_body_undecodable(error))
    })
}

/// The JSON type a member's Rust type asks for, from the `deserialize_*` method it calls.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Structure,
    Map,
    List,
    String,
    Boolean,
    Long,
    Double,
    /// Anything goes (`deserialize_any`: a member read as any JSON value).
    Any,
}

/// What the JSON held where a shape was expected.
enum Found<'a> {
    List,
    Object,
    String(&'a str),
    Boolean,
    Number,
    Null,
}

/// AWS's answer for `found` where `shape` is expected (`shape` is never `Any`).
fn mismatch(shape: Shape, found: Found<'_>) -> Error {
    const NUMBER: &str = "com.amazon.coral.value.json.numbers.TruncatingBigNumber";
    let scalar = |found: &str| match shape {
        Shape::Structure => Error::json_structure_expected(),
        Shape::List => Error::json_list_expected(),
        Shape::Map => Error::json_map_expected(),
        Shape::String => Error::json_scalar_unconvertible(found, "String"),
        Shape::Boolean => Error::json_scalar_unconvertible(found, "Boolean"),
        Shape::Long => Error::json_scalar_unconvertible(found, "Long"),
        Shape::Double | Shape::Any => Error::json_scalar_unconvertible(found, "Double"),
    };
    match found {
        Found::List => Error::json_list_unexpected(),
        Found::Object => Error::json_object_unexpected(),
        Found::Null => Error::json_null_unexpected(),
        Found::String(text) if shape == Shape::Boolean => Error::json_string_not_boolean(text),
        Found::String(_) => scalar("java.lang.String"),
        Found::Boolean => scalar("java.lang.Boolean"),
        Found::Number => scalar(NUMBER),
    }
}

/// The first mismatch of a decode, kept apart from serde_json's error (which appends a
/// position to every message).
type Problem = RefCell<Option<Error>>;

fn fail<E: de::Error>(problem: &Problem, error: Error) -> E {
    let message = error.message.clone();
    problem.borrow_mut().get_or_insert(error);
    E::custom(message)
}

/// A deserializer that reads every value through [`Checked`].
struct Strict<'p, D> {
    inner: D,
    problem: &'p Problem,
}

impl<'p, D> Strict<'p, D> {
    fn expect<V>(&self, shape: Shape, visitor: V) -> Checked<'p, V> {
        Checked {
            visitor,
            shape,
            problem: self.problem,
        }
    }
}

/// The `deserialize_*` methods that ask for one shape: each reads any JSON value and lets
/// [`Checked`] refuse the wrong ones.
macro_rules! expect_shape {
    ($($method:ident => $shape:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                let checked = self.expect($shape, visitor);
                self.inner.deserialize_any(checked)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<'_, D> {
    type Error = D::Error;

    expect_shape! {
        deserialize_any => Shape::Any,
        deserialize_bool => Shape::Boolean,
        deserialize_i8 => Shape::Long,
        deserialize_i16 => Shape::Long,
        deserialize_i32 => Shape::Long,
        deserialize_i64 => Shape::Long,
        deserialize_u8 => Shape::Long,
        deserialize_u16 => Shape::Long,
        deserialize_u32 => Shape::Long,
        deserialize_u64 => Shape::Long,
        deserialize_f32 => Shape::Double,
        deserialize_f64 => Shape::Double,
        deserialize_char => Shape::String,
        deserialize_str => Shape::String,
        deserialize_string => Shape::String,
        deserialize_bytes => Shape::String,
        deserialize_byte_buf => Shape::String,
        deserialize_unit => Shape::Any,
        deserialize_seq => Shape::List,
        deserialize_map => Shape::Map,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // `null` is an absent member (as AWS reads it); anything else is read strictly.
        let checked = self.expect(Shape::Any, visitor);
        self.inner.deserialize_option(checked)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let checked = self.expect(Shape::Structure, visitor);
        self.inner.deserialize_any(checked)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        // No request shape is an enum (enumerations are strings the engine checks), so an
        // enum's content is left to serde_json.
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // Member names: JSON object keys are always strings.
        self.inner.deserialize_identifier(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // Unknown members are ignored whatever they hold.
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor that passes on only the JSON types its shape allows, wrapping what it passes on
/// so that nested values are checked too.
struct Checked<'p, V> {
    visitor: V,
    shape: Shape,
    problem: &'p Problem,
}

impl<V> Checked<'_, V> {
    fn allows(&self, shapes: &[Shape]) -> bool {
        self.shape == Shape::Any || shapes.contains(&self.shape)
    }

    fn refuse<T, E: de::Error>(&self, found: Found<'_>) -> Result<T, E> {
        Err(fail(self.problem, mismatch(self.shape, found)))
    }
}

/// An integer member's visitor refuses a number out of its range (or not an integer).
fn number<T, E: de::Error>(
    problem: &Problem,
    number: impl fmt::Display,
    result: Result<T, E>,
) -> Result<T, E> {
    result.map_err(|_| fail(problem, Error::json_number_out_of_range(number)))
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Checked<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(formatter)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        if !self.allows(&[Shape::Boolean]) {
            return self.refuse(Found::Boolean);
        }
        self.visitor.visit_bool(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        if !self.allows(&[Shape::Long, Shape::Double]) {
            return self.refuse(Found::Number);
        }
        let problem = self.problem;
        number(problem, v, self.visitor.visit_i64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        if !self.allows(&[Shape::Long, Shape::Double]) {
            return self.refuse(Found::Number);
        }
        let problem = self.problem;
        number(problem, v, self.visitor.visit_u64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        if !self.allows(&[Shape::Long, Shape::Double]) {
            return self.refuse(Found::Number);
        }
        let problem = self.problem;
        number(problem, v, self.visitor.visit_f64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        if !self.allows(&[Shape::String]) {
            return self.refuse(Found::String(v));
        }
        self.visitor.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if !self.allows(&[Shape::String]) {
            return self.refuse(Found::String(v));
        }
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        if !self.allows(&[Shape::String]) {
            return self.refuse(Found::String(&v));
        }
        self.visitor.visit_string(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        if self.shape != Shape::Any {
            return self.refuse(Found::Null);
        }
        self.visitor.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Strict {
            inner: deserializer,
            problem: self.problem,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict {
            inner: deserializer,
            problem: self.problem,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if !self.allows(&[Shape::List]) {
            return self.refuse(Found::List);
        }
        self.visitor.visit_seq(CheckedAccess {
            inner: seq,
            problem: self.problem,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        if !self.allows(&[Shape::Structure, Shape::Map]) {
            return self.refuse(Found::Object);
        }
        self.visitor.visit_map(CheckedAccess {
            inner: map,
            problem: self.problem,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
}

/// A list's elements or an object's member values, each read through [`Strict`].
struct CheckedAccess<'p, A> {
    inner: A,
    problem: &'p Problem,
}

/// A seed whose deserializer is wrapped in [`Strict`].
struct CheckedSeed<'p, S> {
    seed: S,
    problem: &'p Problem,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for CheckedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict {
            inner: deserializer,
            problem: self.problem,
        })
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for CheckedAccess<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let seed = CheckedSeed {
            seed,
            problem: self.problem,
        };
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CheckedAccess<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let seed = CheckedSeed {
            seed,
            problem: self.problem,
        };
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynasim_engine::api::{GetItemInput, QueryInput, TableNameInput, WriteInput};

    fn message<T: DeserializeOwned + fmt::Debug>(body: &str) -> String {
        let error = decode::<T>(body.as_bytes()).expect_err(body);
        assert_eq!(error.kind.name(), "SerializationException", "{body}");
        error.message
    }

    #[test]
    fn arrays_are_not_structures_at_any_depth() {
        assert_eq!(
            message::<TableNameInput>(r#"["victim"]"#),
            "Start of list found where not expected"
        );
        assert_eq!(
            message::<GetItemInput>(r#"{"TableName":"t","Key":{"pk":["x"]}}"#),
            "Start of list found where not expected"
        );
        assert_eq!(
            message::<WriteInput>(r#"{"Expected":{"a":[{"S":"x"}, true]}}"#),
            "Start of list found where not expected"
        );
    }

    #[test]
    fn wrong_json_types_get_aws_messages() {
        let cases = [
            (
                r#"{"TableName":5}"#,
                "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String",
            ),
            (
                r#"{"TableName":true}"#,
                "class java.lang.Boolean can not be converted to an String",
            ),
            (
                r#"{"TableName":{}}"#,
                "Start of structure or map found where not expected.",
            ),
            (
                r#"{"ConsistentRead":"yes"}"#,
                "'yes' can not be converted to an Boolean",
            ),
            (r#"{"Key":"k"}"#, "Expected map or null"),
            (r#"{"AttributesToGet":"a"}"#, "Expected list or null"),
            (
                r#"{"AttributesToGet":{}}"#,
                "Start of structure or map found where not expected.",
            ),
            (r#"{"AttributesToGet":[null]}"#, "Unexpected null value"),
            (r#"{"Key":{"pk":"x"}}"#, "Expected null"),
            ("5", "Expected null"),
            ("null", "Unexpected null value"),
        ];
        for (body, expected) in cases {
            assert_eq!(message::<GetItemInput>(body), expected, "{body}");
        }
    }

    #[test]
    fn numbers_out_of_range_name_no_rust_type() {
        for (body, expected) in [
            (
                r#"{"Limit":9223372036854775808}"#,
                "Number 9223372036854775808 cannot be converted to a 64-bit integer",
            ),
            (
                r#"{"Limit":1e400}"#,
                "number out of range at line 1 column 14",
            ),
            (
                r#"{"Limit":1.5}"#,
                "Number 1.5 cannot be converted to a 64-bit integer",
            ),
            (
                r#"{"Limit":"1"}"#,
                "class java.lang.String can not be converted to an Long",
            ),
        ] {
            assert_eq!(message::<QueryInput>(body), expected, "{body}");
        }
    }

    #[test]
    fn valid_bodies_decode_as_before() {
        let input: GetItemInput = decode(
            br#"{"TableName":"t","Key":{"pk":{"S":"x"},"n":{"L":[{"N":"1"},{"NULL":true}]}},"ConsistentRead":null,"Unknown":[1,{"a":2}]}"#,
        )
        .expect("decodes");
        assert_eq!(input.table_name.as_deref(), Some("t"));
        assert_eq!(input.consistent_read, None);
        assert_eq!(input.key.expect("a key").len(), 2);
    }

    #[test]
    fn trailing_text_and_syntax_errors_keep_serde_json_messages() {
        let error = decode::<GetItemInput>(b"{} x").expect_err("trailing");
        assert_eq!(error.message, "trailing characters at line 1 column 4");
        let error = decode::<GetItemInput>(b"{\"TableName\":").expect_err("eof");
        assert_eq!(
            error.message,
            "EOF while parsing a value at line 1 column 13"
        );
    }
}
