//! ListTagsOfResource.

use crate::api::*;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};

pub(crate) fn execute(engine: &mut Engine, input: &ListTagsInput) -> Result<Response> {
    let account_id = engine.config.account_id.clone();
    let table = engine.table_by_arn(&input.resource_arn).map_err(|e| {
        match (e.kind, &input.resource_arn) {
            (ErrorKind::ResourceNotFound, Some(arn)) => {
                Error::list_tags_access_denied(&account_id, arn)
            }
            _ => e,
        }
    })?;
    let tags = table
        .tags
        .iter()
        .map(|(k, v)| TagOutput {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    Ok(Response::ListTags(ListTagsOutput {
        tags,
        next_token: None,
    }))
}
