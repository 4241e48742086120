//! Request and response shapes of every operation, as the wire carries them, one file per
//! family of operations; `Request` and `Response` are the closed sets the engine executes and
//! answers.
//!
//! Requests are decoded leniently (every member optional) so that missing members are reported
//! with DynamoDB's validation messages rather than a decoder's. The engine never decodes a
//! request: these types only derive `serde`'s traits, and the server picks the format (the
//! storage module keeps control-plane requests in their JSON form in the log).

mod batch;
mod capacity;
mod insights;
mod item;
mod query;
mod streams;
mod table;
mod transact;
mod ttl;

pub use batch::*;
pub use capacity::*;
pub use insights::*;
pub use item::*;
pub use query::*;
pub use streams::*;
pub use table::*;
pub use transact::*;
pub use ttl::*;

use crate::types::item::Item;
use crate::types::value::RawValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type RawItem = BTreeMap<String, RawValue>;

#[derive(Deserialize, Debug, Default, Clone)]
pub struct Empty {}

/// A member whose presence matters and whose content the engine ignores (UpdateTable's
/// `SSESpecification`): decodes from any value, and encodes as `{}` (the storage module keeps
/// control-plane requests in their wire form).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Present)
    }
}

impl Serialize for Present {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        serializer.serialize_map(Some(0))?.end()
    }
}

/// Responses that serialize to an empty body (TagResource, UntagResource) are `NoBody`.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Table(Box<TableOutput>),
    ListTables(ListTablesOutput),
    ListTags(ListTagsOutput),
    DescribeLimits(DescribeLimitsOutput),
    DescribeEndpoints(DescribeEndpointsOutput),
    Item(ItemOutput),
    Query(QueryOutput),
    BatchGetItem(BatchGetItemOutput),
    BatchWriteItem(BatchWriteItemOutput),
    ContributorInsights(ContributorInsightsOutput),
    ListContributorInsights(ListContributorInsightsOutput),
    ListStreams(ListStreamsOutput),
    DescribeStream(Box<DescribeStreamOutput>),
    GetShardIterator(GetShardIteratorOutput),
    GetRecords(GetRecordsOutput),
    UpdateTimeToLive(UpdateTimeToLiveOutput),
    DescribeTimeToLive(DescribeTimeToLiveOutput),
    ReplicaAutoScaling(ReplicaAutoScalingOutput),
    TransactWriteItems(TransactWriteItemsOutput),
    TransactGetItems(TransactGetItemsOutput),
    /// Not an answer yet: a transaction waiting out the commit delay (never serialized; the
    /// host finishes it with `Engine::finish_transaction`).
    Pending(PendingTransaction),
    NoBody,
}

impl Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Response::Table(o) => o.serialize(serializer),
            Response::ListTables(o) => o.serialize(serializer),
            Response::ListTags(o) => o.serialize(serializer),
            Response::DescribeLimits(o) => o.serialize(serializer),
            Response::DescribeEndpoints(o) => o.serialize(serializer),
            Response::Item(o) => o.serialize(serializer),
            Response::Query(o) => o.serialize(serializer),
            Response::BatchGetItem(o) => o.serialize(serializer),
            Response::BatchWriteItem(o) => o.serialize(serializer),
            Response::ContributorInsights(o) => o.serialize(serializer),
            Response::ListContributorInsights(o) => o.serialize(serializer),
            Response::ListStreams(o) => o.serialize(serializer),
            Response::DescribeStream(o) => o.serialize(serializer),
            Response::GetShardIterator(o) => o.serialize(serializer),
            Response::GetRecords(o) => o.serialize(serializer),
            Response::UpdateTimeToLive(o) => o.serialize(serializer),
            Response::DescribeTimeToLive(o) => o.serialize(serializer),
            Response::ReplicaAutoScaling(o) => o.serialize(serializer),
            Response::TransactWriteItems(o) => o.serialize(serializer),
            Response::TransactGetItems(o) => o.serialize(serializer),
            Response::Pending(_) => {
                use serde::ser::SerializeMap;
                serializer.serialize_map(Some(0))?.end()
            }
            Response::NoBody => serializer.serialize_unit(),
        }
    }
}

/// One decoded request. The closed set of operations the engine executes.
#[derive(Debug, Clone)]
pub enum Request {
    CreateTable(CreateTableInput),
    DescribeTable(TableNameInput),
    ListTables(ListTablesInput),
    UpdateTable(UpdateTableInput),
    DeleteTable(TableNameInput),
    DescribeLimits,
    DescribeEndpoints,
    TagResource(TagResourceInput),
    UntagResource(UntagResourceInput),
    ListTagsOfResource(ListTagsInput),
    PutItem(WriteInput),
    GetItem(GetItemInput),
    UpdateItem(WriteInput),
    DeleteItem(WriteInput),
    BatchGetItem(BatchGetItemInput),
    BatchWriteItem(BatchWriteItemInput),
    Query(QueryInput),
    Scan(QueryInput),
    UpdateContributorInsights(ContributorInsightsInput),
    DescribeContributorInsights(ContributorInsightsInput),
    ListContributorInsights(ListContributorInsightsInput),
    ListStreams(ListStreamsInput),
    DescribeStream(DescribeStreamInput),
    GetShardIterator(GetShardIteratorInput),
    GetRecords(GetRecordsInput),
    UpdateTimeToLive(UpdateTimeToLiveInput),
    DescribeTimeToLive(TableNameInput),
    DescribeTableReplicaAutoScaling(TableNameInput),
    TransactWriteItems(TransactWriteItemsInput),
    TransactGetItems(TransactGetItemsInput),
}

impl Request {
    /// The table a request names, when it names one (for per-table metrics).
    pub fn table_name(&self) -> Option<&str> {
        match self {
            Request::CreateTable(i) => i.table_name.as_deref(),
            Request::DescribeTable(i) | Request::DeleteTable(i) => i.table_name.as_deref(),
            Request::UpdateTable(i) => i.table_name.as_deref(),
            Request::PutItem(i) | Request::UpdateItem(i) | Request::DeleteItem(i) => {
                i.table_name.as_deref()
            }
            Request::GetItem(i) => i.table_name.as_deref(),
            Request::Query(i) | Request::Scan(i) => i.table_name.as_deref(),
            Request::UpdateContributorInsights(i) | Request::DescribeContributorInsights(i) => {
                i.table_name.as_deref()
            }
            Request::UpdateTimeToLive(i) => i.table_name.as_deref(),
            Request::DescribeTimeToLive(i) | Request::DescribeTableReplicaAutoScaling(i) => {
                i.table_name.as_deref()
            }
            _ => None,
        }
    }
}
