//! Shapes of the single-item operations: the members PutItem, UpdateItem and DeleteItem share,
//! GetItem, the legacy condition shapes, and the item output.

use crate::types::value::RawValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::*;

/// A legacy condition: `{ComparisonOperator, AttributeValueList}`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct LegacyCondition {
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<RawValue>>,
}

/// A legacy `Expected` entry.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct ExpectedValue {
    pub value: Option<RawValue>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<RawValue>>,
}

/// A legacy `AttributeUpdates` entry.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValueUpdate {
    pub value: Option<RawValue>,
    pub action: Option<String>,
}

/// Members shared by the single-item write operations.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct WriteInput {
    pub table_name: Option<String>,
    pub item: Option<RawItem>,
    pub key: Option<RawItem>,
    pub condition_expression: Option<String>,
    pub update_expression: Option<String>,
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    pub expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    pub expected: Option<BTreeMap<String, ExpectedValue>>,
    pub attribute_updates: Option<BTreeMap<String, AttributeValueUpdate>>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    pub table_name: Option<String>,
    pub key: Option<RawItem>,
    pub consistent_read: Option<bool>,
    pub projection_expression: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ItemOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<ConsumedCapacity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<ItemCollectionMetrics>,
}
