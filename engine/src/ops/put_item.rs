//! PutItem: validate into a [`PutItem`] plan, then the shared write driver.

use super::common::{check_common, check_item, check_no_mixing, placeholders_for, write_condition};
use super::{ItemWrite, Rejection, Target, Write};
use crate::api::{Response, WriteInput};
use crate::capacity::units::write_units;
use crate::data::mutation::Mutation;
use crate::data::table::Table;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::expr::ResolvedCondition;
use crate::limits::ITEM_SIZE_BYTES_MAX;
use crate::types::item::{Item, item_size_bytes};
use std::borrow::Cow;

/// A checked PutItem: the item fits the table's key and index schemas and the size limit.
#[derive(Debug)]
pub(crate) struct PutItem {
    target: Target,
    item: Item,
    item_size_bytes: usize,
    condition: Option<ResolvedCondition>,
    return_old: bool,
}

pub(crate) fn execute(engine: &mut Engine, input: &WriteInput, now_ms: u64) -> Result<Response> {
    let plan = validate(engine, input, now_ms)?;
    super::write_item(engine, &plan, now_ms)
}

/// The checks PutItem and DeleteItem share, in DynamoDB's order: the common shapes, the
/// mixing rule, placeholders and the condition. Returns the table name and the condition.
pub(crate) fn put_or_delete_condition<'a>(
    input: &'a WriteInput,
    required: (&str, bool),
) -> Result<(&'a str, Option<ResolvedCondition>)> {
    let table = check_common(input, &["NONE", "ALL_OLD"], required)?;
    check_no_mixing(
        &[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    let mut placeholders = placeholders_for(
        input,
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    let condition = write_condition(input, &mut placeholders)?;
    placeholders.finish()?;
    Ok((table, condition))
}

pub(crate) fn validate(engine: &Engine, input: &WriteInput, now_ms: u64) -> Result<PutItem> {
    let (name, condition) = put_or_delete_condition(input, ("item", input.item.is_some()))?;
    let Some(raw_item) = &input.item else {
        return Err(Error::internal());
    };
    let item = check_item(raw_item)?;
    // The size is checked before the table is looked up (dynalite's tests of the service: a
    // too large item on a missing table is a ValidationException).
    if item_size_bytes(&item) > ITEM_SIZE_BYTES_MAX {
        return Err(Error::item_too_large());
    }
    let table = engine.table_for_data(name, now_ms)?;
    let plan = PutItem::new(table, item)?;
    Ok(PutItem {
        target: Target::new(table, plan.target.key, &plan.item, input),
        condition,
        return_old: input.return_values.as_deref() == Some("ALL_OLD"),
        ..plan
    })
}

impl PutItem {
    /// A put of `item` into `table` with no condition and nothing returned (a batch's put):
    /// the key and index checks, then the size limit.
    pub(crate) fn new(table: &Table, item: Item) -> Result<PutItem> {
        let key = table.key_schema.item_key(&item)?;
        table.check_index_keys(&item)?;
        let item_size_bytes = item_size_bytes(&item);
        if item_size_bytes > ITEM_SIZE_BYTES_MAX {
            return Err(Error::item_too_large());
        }
        Ok(PutItem {
            target: Target::in_batch(table, key),
            item,
            item_size_bytes,
            condition: None,
            return_old: false,
        })
    }

    /// The item this put writes (a batch hands it back when the put is not processed).
    pub(crate) fn into_item(self) -> Item {
        self.item
    }

    pub(crate) fn item(&self) -> &Item {
        &self.item
    }
}

impl ItemWrite for PutItem {
    fn target(&self) -> &Target {
        &self.target
    }

    fn apply<'a>(
        &'a self,
        _table: &Table,
        previous: Option<&'a Item>,
    ) -> std::result::Result<Write<'a>, Rejection> {
        if !super::common::condition_holds(&self.condition, previous) {
            return Err(Rejection::ConditionFailed);
        }
        let old_size = previous.map_or(0, item_size_bytes);
        Ok(Write {
            mutation: Mutation {
                key: &self.target.key,
                before: previous,
                after: Some(Cow::Borrowed(&self.item)),
            },
            units: write_units(self.item_size_bytes.max(old_size)),
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
