//! Applies a resolved UpdateExpression (or legacy AttributeUpdates) to an item.
//!
//! Every operand is evaluated against the item as it was before the update, as DynamoDB does;
//! then SETs are applied in path order (so several appends to one list land in index order),
//! then ADD and DELETE, then REMOVEs from the highest list index down (indexes name positions
//! before any removal).

use super::ast::*;
use super::eval::lookup;
use crate::error::{Error, Result};
use crate::types::item::Item;
use crate::types::number::Number;
use crate::types::value::{Value, canonical_string_set};
use std::collections::BTreeMap;

fn set_operand(old: &Item, operand: &SetOperand<String, Value>) -> Result<Value> {
    match operand {
        SetOperand::Path(path) => lookup(old, path)
            .cloned()
            .ok_or_else(Error::update_attribute_missing),
        SetOperand::Value(value) => Ok(value.clone()),
        SetOperand::IfNotExists(path, fallback) => match lookup(old, path) {
            Some(value) => Ok(value.clone()),
            None => set_operand(old, fallback),
        },
        SetOperand::ListAppend(a, b) => {
            let (Value::L(mut a), Value::L(b)) = (set_operand(old, a)?, set_operand(old, b)?)
            else {
                return Err(Error::update_operand_type_wrong());
            };
            a.extend(b);
            Ok(Value::L(a))
        }
    }
}

fn set_value(old: &Item, value: &SetValue<String, Value>) -> Result<Value> {
    match value {
        SetValue::Operand(o) => set_operand(old, o),
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            let (Value::N(x), Value::N(y)) = (set_operand(old, a)?, set_operand(old, b)?) else {
                return Err(Error::update_operand_type_wrong());
            };
            let result = if matches!(value, SetValue::Plus(..)) {
                x.add(&y)?
            } else {
                x.subtract(&y)?
            };
            Ok(Value::N(result))
        }
    }
}

/// The container that holds the last element of `path`, created nowhere: intermediate
/// documents must already exist with the right type.
fn parent_mut<'a>(
    item: &'a mut Item,
    path: &[PathElement<String>],
) -> Result<Option<&'a mut Value>> {
    let Some((PathElement::Attribute(first), rest)) = path.split_first() else {
        return Err(Error::update_path_invalid());
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let mut current = item.get_mut(first).ok_or_else(Error::update_path_invalid)?;
    for element in &rest[..rest.len() - 1] {
        current = match (element, current) {
            (PathElement::Attribute(name), Value::M(map)) => {
                map.get_mut(name).ok_or_else(Error::update_path_invalid)?
            }
            (PathElement::Index(i), Value::L(list)) => {
                list.get_mut(*i).ok_or_else(Error::update_path_invalid)?
            }
            _ => return Err(Error::update_path_invalid()),
        };
    }
    Ok(Some(current))
}

fn set_at(item: &mut Item, path: &ResolvedPath, value: Value) -> Result<()> {
    let last = path.elements.last().expect("paths are non-empty");
    match (parent_mut(item, &path.elements)?, last) {
        (None, PathElement::Attribute(name)) => {
            item.insert(name.clone(), value);
        }
        (Some(Value::M(map)), PathElement::Attribute(name)) => {
            map.insert(name.clone(), value);
        }
        (Some(Value::L(list)), PathElement::Index(i)) => {
            if *i < list.len() {
                list[*i] = value;
            } else {
                list.push(value);
            }
        }
        _ => return Err(Error::update_path_invalid()),
    }
    Ok(())
}

fn remove_at(item: &mut Item, path: &ResolvedPath) -> Result<()> {
    let last = path.elements.last().expect("paths are non-empty");
    match (parent_mut(item, &path.elements)?, last) {
        (None, PathElement::Attribute(name)) => {
            item.remove(name);
        }
        (Some(Value::M(map)), PathElement::Attribute(name)) => {
            map.remove(name);
        }
        (Some(Value::L(list)), PathElement::Index(i)) => {
            if *i < list.len() {
                list.remove(*i);
            }
        }
        _ => return Err(Error::update_path_invalid()),
    }
    Ok(())
}

fn add(existing: Option<&Value>, operand: &Value, legacy: bool) -> Result<Value> {
    Ok(match (existing, operand) {
        (None, Value::N(n)) => Value::N(n.clone()),
        (None, other) => other.clone(),
        (Some(Value::N(a)), Value::N(b)) => Value::N(a.add(b)?),
        (Some(Value::Ss(a)), Value::Ss(b)) => {
            Value::Ss(canonical_string_set(a.iter().chain(b).cloned().collect()))
        }
        (Some(Value::Ns(a)), Value::Ns(b)) => {
            let mut union: Vec<Number> = a.iter().chain(b).cloned().collect();
            union.sort();
            union.dedup();
            Value::Ns(union)
        }
        (Some(Value::Bs(a)), Value::Bs(b)) => {
            let mut union: Vec<Vec<u8>> = a.iter().chain(b).cloned().collect();
            union.sort();
            union.dedup();
            Value::Bs(union)
        }
        (Some(Value::L(a)), Value::L(b)) if legacy => {
            Value::L(a.iter().chain(b).cloned().collect())
        }
        _ => return Err(Error::update_operand_type_wrong()),
    })
}

/// The set left after removing `operand`'s members, or `None` when nothing is left.
fn delete(existing: &Value, operand: &Value) -> Result<Option<Value>> {
    let result = match (existing, operand) {
        (Value::Ss(a), Value::Ss(b)) => {
            Value::Ss(a.iter().filter(|m| !b.contains(m)).cloned().collect())
        }
        (Value::Ns(a), Value::Ns(b)) => {
            Value::Ns(a.iter().filter(|m| !b.contains(m)).cloned().collect())
        }
        (Value::Bs(a), Value::Bs(b)) => {
            Value::Bs(a.iter().filter(|m| !b.contains(m)).cloned().collect())
        }
        _ => return Err(Error::update_operand_type_wrong()),
    };
    let empty = matches!(&result, Value::Ss(s) if s.is_empty())
        || matches!(&result, Value::Ns(s) if s.is_empty())
        || matches!(&result, Value::Bs(s) if s.is_empty());
    Ok(if empty { None } else { Some(result) })
}

/// Applies `actions` to `old` (empty when the item does not exist; `existed` tells which).
/// Returns the new item; fails only for errors that depend on the item's contents.
pub fn apply(old: &Item, existed: bool, actions: &ResolvedUpdate) -> Result<Item> {
    let mut new = old.clone();
    let mut sets: Vec<(&ResolvedPath, Value)> = Vec::new();
    let mut removes: Vec<&ResolvedPath> = Vec::new();
    let mut others: Vec<&UpdateAction<String, Value>> = Vec::new();
    for action in actions {
        match action {
            UpdateAction::Set(path, value) => sets.push((path, set_value(old, value)?)),
            UpdateAction::Remove(path) => removes.push(path),
            _ => others.push(action),
        }
    }
    sets.sort_by(|a, b| a.0.cmp(b.0));
    for (path, value) in sets {
        set_at(&mut new, path, value)?;
    }
    for action in others {
        match action {
            UpdateAction::Add(path, operand) | UpdateAction::LegacyAdd(path, operand) => {
                let legacy = matches!(action, UpdateAction::LegacyAdd(..));
                let value = add(lookup(&new, path), operand, legacy)?;
                set_at(&mut new, path, value)?;
            }
            UpdateAction::Delete(path, operand) => {
                if let Some(existing) = lookup(&new, path) {
                    match delete(existing, operand)? {
                        Some(rest) => set_at(&mut new, path, rest)?,
                        None => remove_at(&mut new, path)?,
                    }
                }
            }
            UpdateAction::Set(..) | UpdateAction::Remove(_) => unreachable!(),
        }
    }
    removes.sort();
    for path in removes.into_iter().rev() {
        match remove_at(&mut new, path) {
            // A nested REMOVE on an item that does not exist is accepted silently (obs).
            Err(_) if !existed => {}
            other => other?,
        }
    }
    Ok(new)
}

/// The paths an update touched, for ReturnValues UPDATED_OLD / UPDATED_NEW.
pub fn touched_paths(actions: &ResolvedUpdate) -> Vec<ResolvedPath> {
    actions.iter().map(|a| a.path().clone()).collect()
}

/// An empty map, for callers that start from no item.
pub fn empty_item() -> Item {
    BTreeMap::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse::parse_update;
    use crate::expr::resolve::Placeholders;
    use crate::types::value::RawValue;

    fn item(json: &str) -> Item {
        let raw: RawValue = serde_json::from_str(json).unwrap();
        match raw.check().unwrap() {
            Value::M(m) => m,
            _ => panic!(),
        }
    }

    fn run(old: &str, text: &str, values: &str) -> Result<Item> {
        let values: BTreeMap<String, RawValue> = serde_json::from_str(values).unwrap();
        let mut placeholders = Placeholders::new(
            None,
            if values.is_empty() {
                None
            } else {
                Some(&values)
            },
        )
        .unwrap();
        let actions = placeholders.update(&parse_update(text).unwrap())?;
        apply(&item(old), true, &actions)
    }

    #[test]
    fn counters_sets_lists() {
        let new = run(r#"{"M":{"n":{"N":"1"},"s":{"SS":["a","b"]},"t":{"SS":["a","b"]},"l":{"L":[{"N":"0"},{"N":"1"},{"N":"2"}]}}}"#,
            "SET n = n + :one, l[10] = :x, m = if_not_exists(m, :one) ADD c :one, s :t DELETE t :a REMOVE l[0], l[1]",
            r#"{":one":{"N":"1"},":x":{"S":"x"},":t":{"SS":["c"]},":a":{"SS":["a"]}}"#).unwrap();
        assert_eq!(
            new,
            item(
                r#"{"M":{"n":{"N":"2"},"c":{"N":"1"},"m":{"N":"1"},"s":{"SS":["a","b","c"]},"t":{"SS":["b"]},"l":{"L":[{"N":"2"},{"S":"x"}]}}}"#
            )
        );
    }

    #[test]
    fn item_dependent_errors() {
        assert_eq!(
            run(r#"{"M":{}}"#, "SET a = b + :one", r#"{":one":{"N":"1"}}"#)
                .unwrap_err()
                .message,
            "The provided expression refers to an attribute that does not exist in the item"
        );
        assert_eq!(
            run(
                r#"{"M":{"b":{"S":"x"}}}"#,
                "SET a = b + :one",
                r#"{":one":{"N":"1"}}"#
            )
            .unwrap_err()
            .message,
            "An operand in the update expression has an incorrect data type"
        );
        assert_eq!(
            run(r#"{"M":{}}"#, "SET a.b = :one", r#"{":one":{"N":"1"}}"#)
                .unwrap_err()
                .message,
            "The document path provided in the update expression is invalid for update"
        );
        let emptied = run(
            r#"{"M":{"s":{"NS":["1"]}}}"#,
            "DELETE s :s",
            r#"{":s":{"NS":["1"]}}"#,
        )
        .unwrap();
        assert!(emptied.is_empty());
    }
}
