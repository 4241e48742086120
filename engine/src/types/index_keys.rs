//! Index key schemas: a secondary index's partition key as one to four attributes and its sort
//! key as up to four (multi-attribute GSI keys, November 2025; tables and LSIs keep one of
//! each), the checks of an item's index key attributes on write, and the index key encoding.
//!
//! A partition key of one attribute is encoded as a table's (`KeySchema::partition_prefix`), so
//! single-attribute indexes keep their layout. A partition key of several attributes hashes the
//! concatenation of their terminated encodings (`encode_terminated`, unambiguous) and keeps it as
//! the partition value. The sort key attributes follow as terminated encodings, left to right:
//! terminated encodings are prefix-free and keep each type's order, so index keys sort by the
//! sort key tuple, component by component, as DynamoDB sorts a multi-attribute sort key.

use crate::api::KeySchemaOutput;
use crate::error::{Error, Result};
use crate::types::item::Item;
use crate::types::keys::{
    KeyAttribute, KeySchema, check_key_value, encode_partition, encode_terminated, key_bytes,
};
use crate::types::value::Value;

/// The key schema of a secondary index (or a table's, seen as one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKeySchema {
    /// The partition key attributes, in key schema order (one to four).
    pub hash: Vec<KeyAttribute>,
    /// The sort key attributes, in key schema order (none to four).
    pub range: Vec<KeyAttribute>,
}

impl From<&KeySchema> for IndexKeySchema {
    fn from(schema: &KeySchema) -> Self {
        IndexKeySchema {
            hash: vec![schema.hash.clone()],
            range: schema.range.iter().cloned().collect(),
        }
    }
}

impl IndexKeySchema {
    /// Whether the partition key or the sort key has more than one attribute.
    pub fn is_multi_attribute(&self) -> bool {
        self.hash.len() > 1 || self.range.len() > 1
    }

    /// Every key attribute in key schema order, with whether it is a partition key attribute.
    fn attributes(&self) -> impl Iterator<Item = (&KeyAttribute, bool)> {
        let hash = self.hash.iter().map(|a| (a, true));
        hash.chain(self.range.iter().map(|a| (a, false)))
    }

    pub fn names(&self) -> Vec<&str> {
        self.attributes().map(|(a, _)| a.name.as_str()).collect()
    }

    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.attributes().any(|(a, _)| a.name == name)
    }

    /// Whether an item has every attribute of this schema (and so belongs in its index).
    pub fn covers(&self, item: &Item) -> bool {
        self.attributes().all(|(a, _)| item.contains_key(&a.name))
    }

    /// The key attributes an item has.
    pub fn key_of(&self, item: &Item) -> Item {
        self.attributes()
            .filter_map(|(a, _)| item.get(&a.name).map(|v| (a.name.clone(), v.clone())))
            .collect()
    }

    /// Checks the key attributes of this index schema that an item carries: type, emptiness,
    /// size, in key schema order. Absent attributes are fine: the item is simply not in the
    /// index.
    pub fn check_index_attributes(&self, item: &Item, index_name: &str) -> Result<()> {
        for (attribute, is_hash) in self.attributes() {
            let Some(value) = item.get(&attribute.name) else {
                continue;
            };
            let empty = matches!(value, Value::S(s) if s.is_empty())
                || matches!(value, Value::B(b) if b.is_empty());
            if empty && attribute.scalar_type.matches(value) {
                let empty_type = if matches!(value, Value::S(_)) {
                    "string"
                } else {
                    "binary"
                };
                return Err(Error::index_key_value_empty(
                    empty_type,
                    index_name,
                    &attribute.name,
                ));
            }
            check_key_value(attribute, value, is_hash, |actual| {
                Error::index_key_type_mismatch(
                    &attribute.name,
                    attribute.scalar_type.name(),
                    actual.name(),
                    index_name,
                )
            })?;
        }
        Ok(())
    }

    /// The prefix every index key with these partition key values starts with (one value per
    /// partition key attribute, in order).
    pub fn partition_prefix(&self, values: &[&Value]) -> Vec<u8> {
        assert_eq!(
            values.len(),
            self.hash.len(),
            "one value per partition key attribute"
        );
        match values {
            [value] => encode_partition(&key_bytes(value)),
            _ => {
                let mut bytes = Vec::new();
                for value in values {
                    encode_terminated(value, &mut bytes);
                }
                encode_partition(&bytes)
            }
        }
    }

    /// The index key of an item that has every key attribute: the partition prefix, the sort
    /// key attributes' terminated encodings, then the table's stored key.
    pub fn entry_key(&self, item: &Item, table_key: &[u8]) -> Box<[u8]> {
        let values: Vec<&Value> = self.hash.iter().map(|a| &item[&a.name]).collect();
        let mut key = self.partition_prefix(&values);
        for range in &self.range {
            encode_terminated(&item[&range.name], &mut key);
        }
        key.extend_from_slice(table_key);
        key.into_boxed_slice()
    }

    /// The key schema as DescribeTable shows it: the HASH elements, then the RANGE elements,
    /// each in the order created.
    pub fn describe(&self) -> Vec<KeySchemaOutput> {
        self.attributes()
            .map(|(attribute, is_hash)| KeySchemaOutput {
                attribute_name: attribute.name.clone(),
                key_type: if is_hash { "HASH" } else { "RANGE" }.into(),
            })
            .collect()
    }
}
