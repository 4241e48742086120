//! UpdateItem: validate into an [`UpdateItem`] plan, then the shared write driver.

use super::common::{
    check_common, check_item, check_no_mixing, condition_holds, placeholders_for, write_condition,
};
use super::{ItemWrite, Rejection, Target, Write};
use crate::api::{Response, WriteInput};
use crate::capacity::units::write_units;
use crate::data::mutation::Mutation;
use crate::data::table::Table;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::expr::eval::project;
use crate::expr::resolve::Placeholders;
use crate::expr::update::{apply, touched_paths};
use crate::expr::{ResolvedCondition, ResolvedPath, ResolvedUpdate, UpdateAction, legacy, parse};
use crate::limits::ITEM_SIZE_BYTES_MAX;
use crate::types::item::{Item, item_size_bytes};
use std::borrow::Cow;

/// What UpdateItem returns, from ReturnValues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Returned {
    None,
    AllOld,
    AllNew,
    UpdatedOld,
    UpdatedNew,
}

/// A checked UpdateItem: the key matches the schema and no action touches a key attribute.
#[derive(Debug)]
pub(crate) struct UpdateItem {
    target: Target,
    key_item: Item,
    actions: ResolvedUpdate,
    condition: Option<ResolvedCondition>,
    /// Whether an update of a missing item creates it (any SET or ADD, or no action at all).
    creates: bool,
    returned: Returned,
    /// The paths the actions touch, for UPDATED_OLD and UPDATED_NEW.
    touched: Vec<ResolvedPath>,
}

pub(crate) fn execute(engine: &mut Engine, input: &WriteInput, now_ms: u64) -> Result<Response> {
    let plan = validate(engine, input, now_ms)?;
    super::write_item(engine, &plan, now_ms)
}

/// The update's actions, from UpdateExpression or AttributeUpdates. An UpdateExpression's
/// deferred error (a function's operands) comes after its names, values and paths.
fn actions_of(input: &WriteInput, placeholders: &mut Placeholders) -> Result<ResolvedUpdate> {
    match (&input.update_expression, &input.attribute_updates) {
        (Some(text), _) => {
            let (raw, deferred) = parse::parse_update_deferring(text)?;
            let actions = placeholders.update(&raw)?;
            deferred.map_or(Ok(actions), Err)
        }
        (None, Some(updates)) => legacy::attribute_updates(updates),
        (None, None) => Ok(Vec::new()),
    }
}

/// Every ReturnValues option: UpdateItem takes them all.
const RETURN_VALUES: [&str; 5] = ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"];

pub(crate) fn validate(engine: &Engine, input: &WriteInput, now_ms: u64) -> Result<UpdateItem> {
    let name = check_common(input, &RETURN_VALUES, ("key", input.key.is_some()))?;
    check_no_mixing(
        &[
            ("AttributeUpdates", input.attribute_updates.is_some()),
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[
            ("UpdateExpression", input.update_expression.is_some()),
            ("ConditionExpression", input.condition_expression.is_some()),
        ],
    )?;
    let mut placeholders = placeholders_for(
        input,
        &[
            ("UpdateExpression", input.update_expression.is_some()),
            ("ConditionExpression", input.condition_expression.is_some()),
        ],
    )?;
    let actions = actions_of(input, &mut placeholders)?;
    let condition = write_condition(input, &mut placeholders)?;
    placeholders.finish()?;
    let Some(raw_key) = &input.key else {
        return Err(Error::internal());
    };
    let key_item = check_item(raw_key)?;
    let table = engine.table_for_data(name, now_ms)?;
    let key = table.key_schema.key_parameter(&key_item)?;
    for action in &actions {
        let top = action.path().top();
        if table.key_schema.is_key_attribute(top) {
            return Err(Error::key_attribute_updated(top));
        }
    }
    let creates = actions.is_empty()
        || actions.iter().any(|a| {
            matches!(
                a,
                UpdateAction::Set(..) | UpdateAction::Add(..) | UpdateAction::LegacyAdd(..)
            )
        });
    let returned = match input.return_values.as_deref() {
        Some("ALL_OLD") => Returned::AllOld,
        Some("ALL_NEW") => Returned::AllNew,
        Some("UPDATED_OLD") => Returned::UpdatedOld,
        Some("UPDATED_NEW") => Returned::UpdatedNew,
        _ => Returned::None,
    };
    let touched = match returned {
        Returned::UpdatedOld | Returned::UpdatedNew => touched_paths(&actions),
        _ => Vec::new(),
    };
    Ok(UpdateItem {
        target: Target::new(table, key, &key_item, input),
        key_item,
        actions,
        condition,
        creates,
        returned,
        touched,
    })
}

impl ItemWrite for UpdateItem {
    fn target(&self) -> &Target {
        &self.target
    }

    fn apply<'a>(
        &'a self,
        table: &Table,
        previous: Option<&'a Item>,
    ) -> std::result::Result<Write<'a>, Rejection> {
        if !condition_holds(&self.condition, previous) {
            return Err(Rejection::ConditionFailed);
        }
        let existed = previous.is_some();
        let base = previous.unwrap_or(&self.key_item);
        let new = apply(base, existed, &self.actions).map_err(Rejection::Invalid)?;
        let new_size = item_size_bytes(&new);
        if new_size > ITEM_SIZE_BYTES_MAX {
            return Err(Rejection::Invalid(Error::update_too_large()));
        }
        let units = write_units(new_size.max(previous.map_or(0, item_size_bytes)));
        let writes = existed || self.creates;
        if writes {
            table.check_index_keys(&new).map_err(Rejection::Invalid)?;
        }
        Ok(Write {
            mutation: Mutation {
                key: &self.target.key,
                before: previous,
                after: writes.then_some(Cow::Owned(new)),
            },
            units,
        })
    }

    fn returned(&self, mutation: Mutation<'_>) -> Option<Item> {
        let non_empty = |item: Item| (!item.is_empty()).then_some(item);
        match self.returned {
            Returned::None => None,
            Returned::AllOld => mutation.before.cloned(),
            Returned::AllNew => mutation.after.map(Cow::into_owned),
            Returned::UpdatedOld => mutation
                .before
                .and_then(|old| non_empty(project(old, &self.touched))),
            Returned::UpdatedNew => mutation
                .after
                .as_ref()
                .map(|new| project(new, &self.touched))
                .and_then(non_empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CreateTableInput, Request};
    use crate::{Config, Value};

    fn engine() -> Engine {
        let mut engine = Engine::new(Config::default());
        let create: CreateTableInput = serde_json::from_value(serde_json::json!({
            "TableName": "tbl",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST"
        }))
        .unwrap();
        engine.execute(Request::CreateTable(create), 0).unwrap();
        engine
    }

    fn input(json: serde_json::Value) -> WriteInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn apply_is_pure_and_returns_the_change() {
        let engine = engine();
        let plan = validate(
            &engine,
            &input(serde_json::json!({
                "TableName": "tbl", "Key": {"pk": {"S": "a"}},
                "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}
            })),
            1,
        )
        .unwrap();
        let table = engine.table("tbl").unwrap();
        let mut old = Item::new();
        old.insert("pk".into(), Value::s("a"));
        old.insert("n".into(), Value::n("41"));
        let first = plan.apply(table, Some(&old)).unwrap();
        let again = plan.apply(table, Some(&old)).unwrap();
        assert_eq!(
            first.mutation, again.mutation,
            "the same previous item, the same change"
        );
        assert_eq!(first.mutation.before, Some(&old));
        assert_eq!(first.mutation.after.unwrap()["n"], Value::n("42"));
        let created = plan.apply(table, None).unwrap().mutation;
        assert_eq!(created.before, None);
        assert_eq!(
            created.after.unwrap()["n"],
            Value::n("1"),
            "ADD creates the item"
        );
    }

    #[test]
    fn a_failed_condition_is_a_rejection_not_a_mutation() {
        let engine = engine();
        let plan = validate(
            &engine,
            &input(serde_json::json!({
                "TableName": "tbl", "Key": {"pk": {"S": "a"}},
                "UpdateExpression": "REMOVE x", "ConditionExpression": "attribute_exists(pk)"
            })),
            1,
        )
        .unwrap();
        let table = engine.table("tbl").unwrap();
        assert!(matches!(
            plan.apply(table, None),
            Err(Rejection::ConditionFailed)
        ));
        let mut old = Item::new();
        old.insert("pk".into(), Value::s("a"));
        let removed = plan.apply(table, Some(&old)).unwrap().mutation;
        assert_eq!(
            removed.after.as_deref(),
            Some(&old),
            "REMOVE of a missing attribute still writes"
        );
    }
}
