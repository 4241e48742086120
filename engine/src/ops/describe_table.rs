//! DescribeTable.

use crate::api::*;
use crate::engine::Engine;
use crate::error::Result;

pub(crate) fn execute(engine: &Engine, input: &TableNameInput, now_ms: u64) -> Result<Response> {
    let table = engine.named_table(&input.table_name)?;
    Ok(Response::Table(Box::new(TableOutput {
        table_description: None,
        table: Some(table.describe(now_ms, &engine.config.limits)),
    })))
}
