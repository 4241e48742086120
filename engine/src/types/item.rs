//! Items: a map of attribute names to values, and its size as DynamoDB counts it. The stored
//! encoding is in `types::encoding` (re-exported here as `encode` and `decode`).

use crate::types::value::Value;
use std::collections::BTreeMap;

pub type Item = BTreeMap<String, Value>;

/// An item's size as DynamoDB counts it: names plus values (`dynamodb-facts.md` §1.6).
pub fn item_size_bytes(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value.size_bytes())
        .sum()
}

pub use crate::types::encoding::{decode, encode};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::value::RawValue;

    #[test]
    fn encoding_round_trips_every_type() {
        let json = r#"{"M":{"s":{"S":"héllo"},"n":{"N":"-12.5e-3"},"b":{"B":"AAEC"},"t":{"BOOL":true},
            "f":{"BOOL":false},"z":{"NULL":true},"l":{"L":[{"N":"1"},{"M":{}}]},"ss":{"SS":["x","y"]},
            "ns":{"NS":["1","2e100"]},"bs":{"BS":["AQ==","Ag=="]},"e":{"S":""}}}"#;
        let raw: RawValue = serde_json::from_str(json).unwrap();
        let Value::M(item) = raw.check().unwrap() else {
            panic!()
        };
        assert_eq!(decode(&encode(&item)), item);
    }
}
