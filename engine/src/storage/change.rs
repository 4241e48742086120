//! What the engine changed, as a host must persist it: the item mutations that reached a table
//! (`data::table::Table::apply`, the one write path) and the control-plane requests that
//! succeeded. A host turns the journal on with `Engine::enable_journal`, takes the changes after
//! each request with `Engine::take_changes`, persists them, and only then answers.
//!
//! Items are persisted as their result (the stored key and encoding), not as the request that
//! produced them, so recovery does not evaluate conditions or draw capacity again. The control
//! plane is persisted as the request and the time it ran: replaying it on the engine gives the
//! same table, because the engine is deterministic.

use crate::api::{
    ContributorInsightsInput, CreateTableInput, Request, TableNameInput, TagResourceInput,
    UntagResourceInput, UpdateTableInput, UpdateTimeToLiveInput,
};
use serde::{Deserialize, Serialize};

/// One change to persist.
#[derive(Debug, Clone)]
pub enum Change {
    Control(Box<ControlChange>),
    /// Table `table` now holds `item` (a stored encoding) under the stored key `key`, or
    /// nothing (`None`: deleted).
    Item {
        table: String,
        key: Box<[u8]>,
        item: Option<Box<[u8]>>,
    },
}

/// A control-plane request that succeeded: replayed at `now_ms`, with the engine's table
/// sequence (which numbers table ids) set back to `table_sequence` first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlChange {
    pub request: ControlRequest,
    pub now_ms: u64,
    pub table_sequence: u64,
}

/// The requests that change the catalog, in their wire shapes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControlRequest {
    CreateTable(CreateTableInput),
    UpdateTable(UpdateTableInput),
    DeleteTable(TableNameInput),
    TagResource(TagResourceInput),
    UntagResource(UntagResourceInput),
    UpdateContributorInsights(ContributorInsightsInput),
    UpdateTimeToLive(UpdateTimeToLiveInput),
}

impl ControlRequest {
    /// The control-plane part of a request: `None` for the data plane and for reads.
    pub fn of(request: &Request) -> Option<ControlRequest> {
        Some(match request {
            Request::CreateTable(i) => ControlRequest::CreateTable(i.clone()),
            Request::UpdateTable(i) => ControlRequest::UpdateTable(i.clone()),
            Request::DeleteTable(i) => ControlRequest::DeleteTable(i.clone()),
            Request::TagResource(i) => ControlRequest::TagResource(i.clone()),
            Request::UntagResource(i) => ControlRequest::UntagResource(i.clone()),
            Request::UpdateContributorInsights(i) => {
                ControlRequest::UpdateContributorInsights(i.clone())
            }
            Request::UpdateTimeToLive(i) => ControlRequest::UpdateTimeToLive(i.clone()),
            _ => return None,
        })
    }

    pub fn to_request(&self) -> Request {
        match self {
            ControlRequest::CreateTable(i) => Request::CreateTable(i.clone()),
            ControlRequest::UpdateTable(i) => Request::UpdateTable(i.clone()),
            ControlRequest::DeleteTable(i) => Request::DeleteTable(i.clone()),
            ControlRequest::TagResource(i) => Request::TagResource(i.clone()),
            ControlRequest::UntagResource(i) => Request::UntagResource(i.clone()),
            ControlRequest::UpdateContributorInsights(i) => {
                Request::UpdateContributorInsights(i.clone())
            }
            ControlRequest::UpdateTimeToLive(i) => Request::UpdateTimeToLive(i.clone()),
        }
    }

    /// The plain name of the table the request changes (tags name it by ARN).
    pub fn table(&self) -> &str {
        let name = match self {
            ControlRequest::CreateTable(i) => i.table_name.as_deref(),
            ControlRequest::UpdateTable(i) => i.table_name.as_deref(),
            ControlRequest::DeleteTable(i) => i.table_name.as_deref(),
            ControlRequest::TagResource(i) => i.resource_arn.as_deref(),
            ControlRequest::UntagResource(i) => i.resource_arn.as_deref(),
            ControlRequest::UpdateContributorInsights(i) => i.table_name.as_deref(),
            ControlRequest::UpdateTimeToLive(i) => i.table_name.as_deref(),
        };
        crate::engine::table_name_of(name.unwrap_or_default())
    }

    /// Whether the request starts a table's history (what came before belongs to an earlier
    /// table of the same name).
    pub fn creates(&self) -> bool {
        matches!(self, ControlRequest::CreateTable(_))
    }
}
