//! DeleteTable: the table is DELETING for a while, then gone. Its answer is the service's
//! reduced description: no CreationDateTime, and no key schema for the table or its indexes
//! (dynamodb-facts.md §12.4, observed).

use crate::api::*;
use crate::data::table::Status;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};

pub(crate) fn execute(
    engine: &mut Engine,
    input: &TableNameInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    errors.table_name(&input.table_name, true);
    let table_name = errors.into_result_with(input.table_name.as_deref())?;
    let limits = engine.config.limits.clone();
    let name = table_name_of(table_name).to_string();
    let table = engine
        .tables
        .get_mut(&name)
        .ok_or_else(|| Error::table_not_found(&name))?;
    match table.status(now_ms, &limits) {
        Status::Creating | Status::Updating => {
            let doing = if table.status(now_ms, &limits) == Status::Creating {
                "created"
            } else {
                "updated"
            };
            return Err(Error::table_in_use(doing, &name));
        }
        Status::Active | Status::Deleting => {}
    }
    // A table cannot be deleted while a GSI is being created on it (dynamodb-facts §7.2).
    if table.index_creating(now_ms).is_some() {
        return Err(Error::table_in_use("updated", &name));
    }
    if table.deletion_protection {
        return Err(Error::table_deletion_protected());
    }
    table.deleted_at_ms.get_or_insert(now_ms);
    let description = reduced(table.describe(now_ms, &limits));
    // The table's stream stops: DISABLED at once (no DISABLING), readable for the retention.
    table.disable_stream(now_ms, 0, &limits);
    engine.expire_deleted_tables(now_ms);
    Ok(Response::Table(Box::new(TableOutput {
        table_description: Some(description),
        table: None,
    })))
}

/// The description DeleteTable answers: DescribeTable's without the creation time and the key
/// schemas (the table's and each index's).
fn reduced(mut description: TableDescription) -> TableDescription {
    description.creation_date_time = None;
    description.key_schema.clear();
    let indexes = [
        &mut description.global_secondary_indexes,
        &mut description.local_secondary_indexes,
    ];
    for index in indexes.into_iter().flatten().flatten() {
        index.key_schema.clear();
    }
    description
}
