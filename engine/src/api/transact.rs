//! Shapes of TransactWriteItems and TransactGetItems.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::*;

/// One of a TransactWriteItems action's members (`ConditionCheck`, `Put`, `Update`,
/// `Delete`): they share one shape, each using the members it has.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TransactAction {
    pub table_name: Option<String>,
    pub key: Option<RawItem>,
    pub item: Option<RawItem>,
    pub condition_expression: Option<String>,
    pub update_expression: Option<String>,
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
    pub expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItem {
    pub condition_check: Option<TransactAction>,
    pub put: Option<TransactAction>,
    pub update: Option<TransactAction>,
    pub delete: Option<TransactAction>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    pub transact_items: Option<Vec<TransactWriteItem>>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub client_request_token: Option<String>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<ConsumedCapacity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_collection_metrics: Option<BTreeMap<String, Vec<ItemCollectionMetrics>>>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGet {
    pub table_name: Option<String>,
    pub key: Option<RawItem>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItem {
    pub get: Option<TransactGet>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsInput {
    pub transact_items: Option<Vec<TransactGetItem>>,
    pub return_consumed_capacity: Option<String>,
}

/// One Get's answer: the item, absent when there is none.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ItemResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Item>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsOutput {
    pub responses: Vec<ItemResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<Vec<ConsumedCapacity>>,
}

/// A TransactWriteItems waiting out the profile's commit delay: prepared, its commit due at
/// `due_ms`. The host waits, then asks `Engine::finish_transaction` for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingTransaction {
    pub tx: u64,
    pub due_ms: u64,
}
