//! DeleteTable: the table is DELETING for a while, then gone.

use crate::api::*;
use crate::data::table::Status;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, ErrorKind, Result};

pub(crate) fn execute(
    engine: &mut Engine,
    input: &TableNameInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    errors.name(&input.table_name, "tableName", true);
    errors.into_result()?;
    let limits = engine.config.limits.clone();
    let name = table_name_of(input.table_name.as_deref().expect("checked")).to_string();
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
            return Err(Error::new(
                ErrorKind::ResourceInUse,
                format!(
                    "Attempt to change a resource which is still in use: Table is being {doing}: {name}"
                ),
            ));
        }
        Status::Active | Status::Deleting => {}
    }
    if table.deletion_protection {
        return Err(Error::new(
            ErrorKind::ResourceInUse,
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    table.deleted_at_ms.get_or_insert(now_ms);
    let description = table.describe(now_ms, &limits);
    engine.expire_deleted_tables(now_ms);
    Ok(Response::Table(Box::new(TableOutput {
        table_description: Some(description),
        table: None,
    })))
}
