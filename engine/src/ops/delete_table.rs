//! DeleteTable: the table is DELETING for a while, then gone.

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
    if table.deletion_protection {
        return Err(Error::table_deletion_protected());
    }
    table.deleted_at_ms.get_or_insert(now_ms);
    let description = table.describe(now_ms, &limits);
    engine.expire_deleted_tables(now_ms);
    Ok(Response::Table(Box::new(TableOutput {
        table_description: Some(description),
        table: None,
    })))
}
