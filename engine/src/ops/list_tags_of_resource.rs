//! ListTagsOfResource.

use crate::api::*;
use crate::engine::Engine;
use crate::error::Result;

pub(crate) fn execute(engine: &mut Engine, input: &ListTagsInput) -> Result<Response> {
    let table = engine.table_by_arn(&input.resource_arn)?;
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
