//! Evaluation of resolved conditions and projections against an item. Total: every input
//! evaluates to true or false; type mismatches compare as false, as DynamoDB does.

use super::ast::*;
use crate::types::item::Item;
use crate::types::number::Number;
use crate::types::value::{Value, ValueType};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The value at `path` in `item`, if there is one.
pub fn lookup<'a>(item: &'a Item, path: &ResolvedPath) -> Option<&'a Value> {
    let mut elements = path.elements.iter();
    let mut current = match elements.next()? {
        PathElement::Attribute(name) => item.get(name)?,
        PathElement::Index(_) => return None,
    };
    for element in elements {
        current = match (element, current) {
            (PathElement::Attribute(name), Value::M(map)) => map.get(name)?,
            (PathElement::Index(i), Value::L(list)) => list.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

fn operand<'a>(
    item: &'a Item,
    operand: &'a ResolvedOperand,
) -> Option<std::borrow::Cow<'a, Value>> {
    use std::borrow::Cow;
    match operand {
        Operand::Path(path) => lookup(item, path).map(Cow::Borrowed),
        Operand::Value(value) => Some(Cow::Borrowed(value)),
        Operand::Size(inner) => {
            let value = self::operand(item, inner)?;
            let size = match value.as_ref() {
                // size() of a string counts its UTF-8 bytes (decision in docs/compatibility.md).
                Value::S(s) => s.len(),
                Value::B(b) => b.len(),
                Value::M(m) => m.len(),
                Value::L(l) => l.len(),
                Value::Ss(s) => s.len(),
                Value::Ns(s) => s.len(),
                Value::Bs(s) => s.len(),
                Value::N(_) | Value::Bool(_) | Value::Null => return None,
            };
            Some(Cow::Owned(Value::N(Number::from_i64(size as i64))))
        }
    }
}

fn compare(comparator: Comparator, left: Option<&Value>, right: Option<&Value>) -> bool {
    match comparator {
        Comparator::Eq => matches!((left, right), (Some(a), Some(b)) if a == b),
        Comparator::Ne => !matches!((left, right), (Some(a), Some(b)) if a == b),
        _ => {
            let (Some(a), Some(b)) = (left, right) else {
                return false;
            };
            let Some(ordering) = a.compare(b) else {
                return false;
            };
            match comparator {
                Comparator::Lt => ordering == Ordering::Less,
                Comparator::Le => ordering != Ordering::Greater,
                Comparator::Gt => ordering == Ordering::Greater,
                Comparator::Ge => ordering != Ordering::Less,
                Comparator::Eq | Comparator::Ne => unreachable!(),
            }
        }
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::S(s), Value::S(n)) => s.contains(n.as_str()),
        (Value::B(b), Value::B(n)) => n.is_empty() || b.windows(n.len()).any(|w| w == n.as_slice()),
        (Value::Ss(set), Value::S(n)) => set.iter().any(|m| m == n),
        (Value::Ns(set), Value::N(n)) => set.iter().any(|m| m == n),
        (Value::Bs(set), Value::B(n)) => set.iter().any(|m| m == n),
        (Value::L(list), n) => list.iter().any(|m| m == n),
        _ => false,
    }
}

fn begins_with(value: &Value, prefix: &Value) -> bool {
    match (value, prefix) {
        (Value::S(s), Value::S(p)) => s.as_bytes().starts_with(p.as_bytes()),
        (Value::B(b), Value::B(p)) => b.starts_with(p),
        _ => false,
    }
}

/// Evaluates a condition; an absent item is evaluated as an item with no attributes.
pub fn evaluate(condition: &ResolvedCondition, item: &Item) -> bool {
    match condition {
        Condition::Compare(comparator, left, right) => {
            let left = operand(item, left);
            let right = operand(item, right);
            compare(*comparator, left.as_deref(), right.as_deref())
        }
        Condition::Between(value, low, high) => {
            let (Some(v), Some(l), Some(h)) = (
                operand(item, value),
                operand(item, low),
                operand(item, high),
            ) else {
                return false;
            };
            matches!(v.compare(&l), Some(Ordering::Greater | Ordering::Equal))
                && matches!(v.compare(&h), Some(Ordering::Less | Ordering::Equal))
        }
        Condition::In(value, list) => {
            let Some(v) = operand(item, value) else {
                return false;
            };
            list.iter()
                .any(|candidate| operand(item, candidate).is_some_and(|c| c.as_ref() == v.as_ref()))
        }
        Condition::Function(function, arguments) => match function {
            FunctionName::AttributeExists => operand(item, &arguments[0]).is_some(),
            FunctionName::AttributeNotExists => operand(item, &arguments[0]).is_none(),
            FunctionName::AttributeType => {
                let (Some(v), Some(t)) =
                    (operand(item, &arguments[0]), operand(item, &arguments[1]))
                else {
                    return false;
                };
                matches!(t.as_ref(), Value::S(name) if ValueType::from_name(name) == Some(v.value_type()))
            }
            FunctionName::BeginsWith => {
                let (Some(v), Some(p)) =
                    (operand(item, &arguments[0]), operand(item, &arguments[1]))
                else {
                    return false;
                };
                begins_with(&v, &p)
            }
            FunctionName::Contains => {
                let (Some(v), Some(n)) =
                    (operand(item, &arguments[0]), operand(item, &arguments[1]))
                else {
                    return false;
                };
                contains(&v, &n)
            }
        },
        Condition::And(a, b) => evaluate(a, item) && evaluate(b, item),
        Condition::Or(a, b) => evaluate(a, item) || evaluate(b, item),
        Condition::Not(a) => !evaluate(a, item),
        Condition::Parens(a) => evaluate(a, item),
    }
}

/// Copies the value at `path[depth..]` of `source` into `target`, keeping the hierarchy. List
/// elements land in a list holding only the selected elements, in index order.
fn project_into(target: &mut Value, source: &Value, path: &[PathElement<String>]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match (first, source, target) {
        (PathElement::Attribute(name), Value::M(source_map), Value::M(target_map)) => {
            let Some(child) = source_map.get(name) else {
                return;
            };
            if rest.is_empty() {
                target_map.insert(name.clone(), child.clone());
            } else {
                let slot = target_map
                    .entry(name.clone())
                    .or_insert_with(|| empty_like(child));
                project_into(slot, child, rest);
                if is_empty_container(slot) {
                    target_map.remove(name);
                }
            }
        }
        (PathElement::Index(i), Value::L(source_list), Value::L(target_list)) => {
            let Some(child) = source_list.get(*i) else {
                return;
            };
            // `project` sorts its paths first, so elements arrive in index order.
            if rest.is_empty() {
                target_list.push(child.clone());
            } else {
                let mut slot = empty_like(child);
                project_into(&mut slot, child, rest);
                if !is_empty_container(&slot) {
                    target_list.push(slot);
                }
            }
        }
        _ => {}
    }
}

fn empty_like(value: &Value) -> Value {
    match value {
        Value::L(_) => Value::L(Vec::new()),
        _ => Value::M(BTreeMap::new()),
    }
}

fn is_empty_container(value: &Value) -> bool {
    matches!(value, Value::M(m) if m.is_empty()) || matches!(value, Value::L(l) if l.is_empty())
}

/// The sub-item selected by a projection; missing paths are silently left out.
pub fn project(item: &Item, paths: &[ResolvedPath]) -> Item {
    let mut sorted: Vec<&ResolvedPath> = paths.iter().collect();
    sorted.sort();
    let source = Value::M(item.clone());
    let mut target = Value::M(BTreeMap::new());
    for path in sorted {
        project_into(&mut target, &source, &path.elements);
    }
    match target {
        Value::M(map) => map,
        _ => unreachable!(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ExpressionKind;
    use crate::expr::parse::{parse_condition, parse_projection};
    use crate::expr::resolve::Placeholders;
    use crate::types::value::RawValue;

    fn item(json: &str) -> Item {
        let raw: RawValue = serde_json::from_str(json).unwrap();
        match raw.check().unwrap() {
            Value::M(m) => m,
            _ => panic!(),
        }
    }

    fn check(text: &str, values: &str, target: &Item) -> bool {
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
        let raw = parse_condition(ExpressionKind::Condition, text).unwrap();
        let resolved = placeholders
            .condition(ExpressionKind::Condition, &raw)
            .unwrap();
        evaluate(&resolved, target)
    }

    #[test]
    fn comparisons_follow_dynamodb_semantics() {
        let it = item(
            r#"{"M":{"a":{"N":"5"},"s":{"S":"abc"},"l":{"L":[{"N":"1"},{"S":"x"}]},"ss":{"SS":["p","q"]}}}"#,
        );
        assert!(check("a = :v", r#"{":v":{"N":"5.0"}}"#, &it));
        assert!(!check("a = :v", r#"{":v":{"S":"5"}}"#, &it));
        assert!(check("absent <> :v", r#"{":v":{"N":"1"}}"#, &it));
        assert!(!check("absent < :v", r#"{":v":{"N":"1"}}"#, &it));
        assert!(!check("s < :v", r#"{":v":{"N":"1"}}"#, &it));
        assert!(check(
            "a BETWEEN :l AND :h",
            r#"{":l":{"N":"1"},":h":{"N":"5"}}"#,
            &it
        ));
        assert!(check(
            "a IN (:x, :y)",
            r#"{":x":{"N":"4"},":y":{"N":"5"}}"#,
            &it
        ));
        assert!(check(
            "contains(l, :x) AND contains(ss, :p) AND contains(s, :b)",
            r#"{":x":{"S":"x"},":p":{"S":"p"},":b":{"S":"bc"}}"#,
            &it
        ));
        assert!(check("begins_with(s, :p)", r#"{":p":{"S":"ab"}}"#, &it));
        assert!(check(
            "size(l) = :two AND size(s) = :three",
            r#"{":two":{"N":"2"},":three":{"N":"3"}}"#,
            &it
        ));
        assert!(!check("size(a) = :two", r#"{":two":{"N":"2"}}"#, &it));
        assert!(check(
            "attribute_type(l, :t) AND attribute_exists(l[1]) AND attribute_not_exists(l[2])",
            r#"{":t":{"S":"L"}}"#,
            &it
        ));
        assert!(check(
            "NOT a = :v OR a = :w",
            r#"{":v":{"N":"5"},":w":{"N":"5"}}"#,
            &it
        ));
    }

    #[test]
    fn projection_keeps_hierarchy() {
        let it = item(
            r#"{"M":{"a":{"M":{"b":{"N":"1"},"c":{"N":"2"}}},"l":{"L":[{"N":"0"},{"M":{"x":{"N":"1"},"y":{"N":"2"}}}]},"z":{"N":"9"}}}"#,
        );
        let mut placeholders = Placeholders::default();
        let paths = placeholders
            .projection(&parse_projection("a.b, l[1].y, absent, l[5]").unwrap())
            .unwrap();
        let projected = project(&it, &paths);
        assert_eq!(
            projected,
            item(r#"{"M":{"a":{"M":{"b":{"N":"1"}}},"l":{"L":[{"M":{"y":{"N":"2"}}}]}}}"#)
        );
    }
}
