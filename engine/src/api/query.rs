//! Shapes of Query and Scan (one input shape: Scan ignores the key-condition members).

use crate::types::value::RawValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::*;

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub select: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub consistent_read: Option<bool>,
    pub key_conditions: Option<BTreeMap<String, LegacyCondition>>,
    pub query_filter: Option<BTreeMap<String, LegacyCondition>>,
    pub scan_filter: Option<BTreeMap<String, LegacyCondition>>,
    pub conditional_operator: Option<String>,
    pub scan_index_forward: Option<bool>,
    pub exclusive_start_key: Option<RawItem>,
    pub return_consumed_capacity: Option<String>,
    pub projection_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub key_condition_expression: Option<String>,
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    pub expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    pub segment: Option<i64>,
    pub total_segments: Option<i64>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Item>>,
    pub count: usize,
    pub scanned_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_key: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<ConsumedCapacity>,
}
