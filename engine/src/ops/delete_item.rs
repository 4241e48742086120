//! DeleteItem: validate into a [`DeleteItem`] plan, then the shared write driver.

use super::common::{check_item, condition_holds};
use super::put_item::put_or_delete_condition;
use super::{ItemWrite, Rejection, Target, Write};
use crate::api::{Response, WriteInput};
use crate::capacity::units::write_units;
use crate::data::mutation::Mutation;
use crate::data::table::Table;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::expr::ResolvedCondition;
use crate::types::item::{Item, item_size_bytes};

/// A checked DeleteItem: the key matches the table's key schema.
#[derive(Debug)]
pub(crate) struct DeleteItem {
    target: Target,
    key_item: Item,
    condition: Option<ResolvedCondition>,
    return_old: bool,
}

pub(crate) fn execute(engine: &mut Engine, input: &WriteInput, now_ms: u64) -> Result<Response> {
    let plan = validate(engine, input, now_ms)?;
    super::write_item(engine, &plan, now_ms)
}

pub(crate) fn validate(engine: &Engine, input: &WriteInput, now_ms: u64) -> Result<DeleteItem> {
    let (name, condition) = put_or_delete_condition(input, ("key", input.key.is_some()))?;
    let Some(raw_key) = &input.key else {
        return Err(Error::internal());
    };
    let key_item = check_item(raw_key)?;
    let table = engine.table_for_data(name, now_ms)?;
    let key = table.key_schema.key_parameter(&key_item)?;
    Ok(DeleteItem {
        target: Target::new(table, key, &key_item, input),
        key_item,
        condition,
        return_old: input.return_values.as_deref() == Some("ALL_OLD"),
    })
}

impl DeleteItem {
    /// A delete of the item under `key_item` with no condition and nothing returned (a
    /// batch's delete).
    pub(crate) fn new(table: &Table, key_item: Item) -> Result<DeleteItem> {
        let key = table.key_schema.key_parameter(&key_item)?;
        Ok(DeleteItem {
            target: Target::in_batch(table, key),
            key_item,
            condition: None,
            return_old: false,
        })
    }

    /// The key this delete names (a batch hands it back when the delete is not processed).
    pub(crate) fn into_key_item(self) -> Item {
        self.key_item
    }

    pub(crate) fn key_item(&self) -> &Item {
        &self.key_item
    }
}

impl ItemWrite for DeleteItem {
    fn target(&self) -> &Target {
        &self.target
    }

    fn apply<'a>(
        &'a self,
        _table: &Table,
        previous: Option<&'a Item>,
    ) -> std::result::Result<Write<'a>, Rejection> {
        if !condition_holds(&self.condition, previous) {
            return Err(Rejection::ConditionFailed);
        }
        Ok(Write {
            mutation: Mutation {
                key: &self.target.key,
                before: previous,
                after: None,
            },
            units: write_units(previous.map_or(0, item_size_bytes)),
        })
    }

    fn returned(&self, mutation: Mutation<'_>) -> Option<Item> {
        if self.return_old {
            mutation.before.cloned()
        } else {
            None
        }
    }
}
