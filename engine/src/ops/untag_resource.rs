//! UntagResource.

use crate::api::*;
use crate::engine::Engine;
use crate::error::{Error, Result};

pub(crate) fn execute(engine: &mut Engine, input: &UntagResourceInput) -> Result<Response> {
    let Some(keys) = &input.tag_keys else {
        return Err(Error::tag_keys_missing());
    };
    if keys.is_empty() {
        return Err(Error::tag_keys_empty());
    }
    let table = engine.table_by_arn(&input.resource_arn)?;
    for key in keys {
        table.tags.remove(key);
    }
    Ok(Response::NoBody)
}
