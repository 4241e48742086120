//! TagResource: tags merged into a table's, within the per-resource limit.

use crate::api::*;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{self};

pub(crate) fn execute(engine: &mut Engine, input: &TagResourceInput) -> Result<Response> {
    let Some(tags) = &input.tags else {
        return Err(Error::validation(
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        ));
    };
    super::create_table::check_tags(tags)?;
    if tags.is_empty() {
        return Err(Error::validation(
            "Atleast one Tag needs to be provided as Input.",
        ));
    }
    let table = engine.table_by_arn(&input.resource_arn)?;
    let mut merged = table.tags.clone();
    for tag in tags {
        merged.insert(
            tag.key.clone().expect("checked"),
            tag.value.clone().expect("checked"),
        );
    }
    if merged.len() > limits::TAG_COUNT_MAX {
        return Err(too_many_tags());
    }
    table.tags = merged;
    Ok(Response::NoBody)
}

pub(crate) fn too_many_tags() -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        "The number of tags on a resource exceeds the per-resource limit of 50",
    )
}
