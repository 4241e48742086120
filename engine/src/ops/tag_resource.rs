//! TagResource: tags merged into a table's, within the per-resource limit.

use crate::api::*;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::limits::{self};

pub(crate) fn execute(engine: &mut Engine, input: &TagResourceInput) -> Result<Response> {
    let Some(tags) = &input.tags else {
        return Err(Error::tags_missing());
    };
    let checked = super::create_table::check_tags(tags)?;
    if tags.is_empty() {
        return Err(Error::tags_empty());
    }
    let table = engine.table_by_arn(&input.resource_arn)?;
    let mut merged = table.tags.clone();
    merged.extend(checked);
    if merged.len() > limits::TAG_COUNT_MAX {
        return Err(Error::tag_count_exceeded());
    }
    table.tags = merged;
    Ok(Response::NoBody)
}
