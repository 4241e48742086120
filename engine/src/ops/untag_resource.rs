//! UntagResource.

use crate::api::*;
use crate::engine::Engine;
use crate::error::{Error, Result};

pub(crate) fn execute(engine: &mut Engine, input: &UntagResourceInput) -> Result<Response> {
    let Some(keys) = &input.tag_keys else {
        return Err(Error::validation(
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        ));
    };
    if keys.is_empty() {
        return Err(Error::validation(
            "Atleast one Tag Key needs to be provided as Input.",
        ));
    }
    let table = engine.table_by_arn(&input.resource_arn)?;
    for key in keys {
        table.tags.remove(key);
    }
    Ok(Response::NoBody)
}
