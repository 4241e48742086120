//! Replaces `#name` and `:value` placeholders with their definitions, checks what only values
//! can tell (function operand types, BETWEEN bounds), and tracks which definitions were used,
//! so that unused ones can be reported as AWS does.

use super::ExpressionKind;
use super::ast::*;
use crate::error::{Error, Result};
use crate::limits::PLACEHOLDER_SIZE_BYTES_MAX;
use crate::types::value::{RawValue, Value, ValueType, describe};
use std::collections::{BTreeMap, BTreeSet};

/// ExpressionAttributeNames and ExpressionAttributeValues of one request, checked, with a
/// record of what the request's expressions used.
#[derive(Debug, Default)]
pub struct Placeholders {
    names: Option<BTreeMap<String, String>>,
    values: Option<BTreeMap<String, Value>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

fn valid_key(key: &str, sigil: char) -> bool {
    key.len() > 1
        && key.starts_with(sigil)
        && key[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Placeholders {
    /// Checks the maps' keys and values. Empty maps are errors (emu wording).
    pub fn new(
        names: Option<&BTreeMap<String, String>>,
        values: Option<&BTreeMap<String, RawValue>>,
    ) -> Result<Placeholders> {
        if let Some(names) = names {
            if names.is_empty() {
                return Err(Error::expression_attribute_names_empty());
            }
            for key in names.keys() {
                if !valid_key(key, '#') || key.len() > PLACEHOLDER_SIZE_BYTES_MAX {
                    return Err(Error::expression_attribute_name_key_invalid(key));
                }
            }
        }
        let values = match values {
            None => None,
            Some(values) => {
                if values.is_empty() {
                    return Err(Error::expression_attribute_values_empty());
                }
                let mut checked = BTreeMap::new();
                for (key, raw) in values {
                    if !valid_key(key, ':') || key.len() > PLACEHOLDER_SIZE_BYTES_MAX {
                        return Err(Error::expression_attribute_value_key_invalid(key));
                    }
                    // Base64 errors come from the JSON framework, before validation: they are
                    // not wrapped (a SerializationException as for any other value).
                    let value = raw.check().map_err(|e| match e.kind {
                        crate::error::ErrorKind::Serialization => e,
                        _ => Error::expression_attribute_value_invalid(&e.message, key),
                    })?;
                    checked.insert(key.clone(), value);
                }
                Some(checked)
            }
        };
        Ok(Placeholders {
            names: names.cloned(),
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        })
    }

    pub fn has_names(&self) -> bool {
        self.names.is_some()
    }

    pub fn has_values(&self) -> bool {
        self.values.is_some()
    }

    fn name(&mut self, kind: ExpressionKind, name: &RawName) -> Result<String> {
        match name {
            RawName::Plain(plain) => Ok(plain.clone()),
            RawName::Placeholder(placeholder) => {
                let resolved = self
                    .names
                    .as_ref()
                    .and_then(|names| names.get(placeholder))
                    .ok_or_else(|| Error::attribute_name_undefined(kind, placeholder))?;
                self.used_names.insert(placeholder.clone());
                Ok(resolved.clone())
            }
        }
    }

    pub fn value(&mut self, kind: ExpressionKind, placeholder: &str) -> Result<Value> {
        let value = self
            .values
            .as_ref()
            .and_then(|values| values.get(placeholder))
            .ok_or_else(|| Error::attribute_value_undefined(kind, placeholder))?;
        self.used_values.insert(placeholder.to_string());
        Ok(value.clone())
    }

    pub fn path(&mut self, kind: ExpressionKind, path: &RawPath) -> Result<ResolvedPath> {
        let mut elements = Vec::with_capacity(path.elements.len());
        for element in &path.elements {
            elements.push(match element {
                PathElement::Attribute(name) => {
                    let name = self.name(kind, name)?;
                    if name.is_empty() {
                        return Err(Error::attribute_name_empty(kind));
                    }
                    PathElement::Attribute(name)
                }
                PathElement::Index(i) => PathElement::Index(*i),
            });
        }
        Ok(Path { elements })
    }

    fn operand(&mut self, kind: ExpressionKind, operand: &RawOperand) -> Result<ResolvedOperand> {
        Ok(match operand {
            Operand::Path(path) => Operand::Path(self.path(kind, path)?),
            Operand::Value(placeholder) => Operand::Value(self.value(kind, placeholder)?),
            Operand::Size(inner) => {
                let inner = self.operand(kind, inner)?;
                // size() is a number (dynalite's tests of the service: `size(size(a))`).
                if matches!(inner, Operand::Size(_)) {
                    return Err(incorrect_operand_type(kind, "size", ValueType::N));
                }
                if let Operand::Value(v) = &inner
                    && matches!(
                        v.value_type(),
                        ValueType::N | ValueType::Bool | ValueType::Null
                    )
                {
                    return Err(incorrect_operand_type(kind, "size", v.value_type()));
                }
                Operand::Size(Box::new(inner))
            }
        })
    }

    /// Resolves a condition tree and applies the checks that need values.
    pub fn condition(
        &mut self,
        kind: ExpressionKind,
        condition: &RawCondition,
    ) -> Result<ResolvedCondition> {
        Ok(match condition {
            Condition::Compare(comparator, left, right) => {
                let (left, right) = (self.operand(kind, left)?, self.operand(kind, right)?);
                // Checked as each comparison resolves, so that it wins over a later undefined
                // placeholder (dynalite's tests of the service: `a = a AND :undefined > a`).
                if let (Operand::Path(a), Operand::Path(b)) = (&left, &right)
                    && a == b
                {
                    return Err(Error::operands_not_distinct(
                        kind,
                        comparator.symbol(),
                        &a.describe(),
                    ));
                }
                Condition::Compare(*comparator, left, right)
            }
            Condition::Between(value, low, high) => {
                let value = self.operand(kind, value)?;
                let low = self.operand(kind, low)?;
                let high = self.operand(kind, high)?;
                check_between_bounds(kind, &low, &high)?;
                Condition::Between(value, low, high)
            }
            Condition::In(value, list) => {
                let value = self.operand(kind, value)?;
                let list = list
                    .iter()
                    .map(|o| self.operand(kind, o))
                    .collect::<Result<_>>()?;
                Condition::In(value, list)
            }
            Condition::Function(function, arguments) => {
                let arguments: Vec<ResolvedOperand> = arguments
                    .iter()
                    .map(|o| self.operand(kind, o))
                    .collect::<Result<_>>()?;
                check_function(kind, *function, &arguments)?;
                Condition::Function(*function, arguments)
            }
            Condition::And(a, b) => Condition::And(
                Box::new(self.condition(kind, a)?),
                Box::new(self.condition(kind, b)?),
            ),
            Condition::Or(a, b) => Condition::Or(
                Box::new(self.condition(kind, a)?),
                Box::new(self.condition(kind, b)?),
            ),
            Condition::Not(a) => Condition::Not(Box::new(self.condition(kind, a)?)),
            Condition::Parens(a) => Condition::Parens(Box::new(self.condition(kind, a)?)),
        })
    }

    fn set_operand(
        &mut self,
        operand: &SetOperand<RawName, String>,
    ) -> Result<SetOperand<String, Value>> {
        let kind = ExpressionKind::Update;
        Ok(match operand {
            SetOperand::Path(p) => SetOperand::Path(self.path(kind, p)?),
            SetOperand::Value(v) => SetOperand::Value(self.value(kind, v)?),
            SetOperand::IfNotExists(p, fallback) => {
                SetOperand::IfNotExists(self.path(kind, p)?, Box::new(self.set_operand(fallback)?))
            }
            SetOperand::ListAppend(a, b) => {
                let a = self.set_operand(a)?;
                let b = self.set_operand(b)?;
                for operand in [&a, &b] {
                    if let SetOperand::Value(v) = operand
                        && v.value_type() != ValueType::L
                    {
                        return Err(incorrect_operand_type(kind, "list_append", v.value_type()));
                    }
                }
                SetOperand::ListAppend(Box::new(a), Box::new(b))
            }
        })
    }

    pub fn update(&mut self, actions: &RawUpdate) -> Result<ResolvedUpdate> {
        let kind = ExpressionKind::Update;
        let mut resolved = Vec::with_capacity(actions.len());
        for action in actions {
            resolved.push(match action {
                UpdateAction::Set(path, value) => {
                    let path = self.path(kind, path)?;
                    let value = match value {
                        SetValue::Operand(o) => SetValue::Operand(self.set_operand(o)?),
                        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
                            let a = self.set_operand(a)?;
                            let b = self.set_operand(b)?;
                            for operand in [&a, &b] {
                                if let SetOperand::Value(v) = operand
                                    && v.value_type() != ValueType::N
                                {
                                    let symbol = if matches!(value, SetValue::Plus(..)) {
                                        "+"
                                    } else {
                                        "-"
                                    };
                                    return Err(incorrect_operand_type(
                                        kind,
                                        symbol,
                                        v.value_type(),
                                    ));
                                }
                            }
                            if matches!(value, SetValue::Plus(..)) {
                                SetValue::Plus(a, b)
                            } else {
                                SetValue::Minus(a, b)
                            }
                        }
                    };
                    UpdateAction::Set(path, value)
                }
                UpdateAction::Remove(path) => UpdateAction::Remove(self.path(kind, path)?),
                UpdateAction::Add(path, value) => {
                    let path = self.path(kind, path)?;
                    let value = self.value(kind, value)?;
                    if !matches!(
                        value.value_type(),
                        ValueType::N | ValueType::Ss | ValueType::Ns | ValueType::Bs
                    ) {
                        return Err(update_operand_type(kind, "ADD", value.value_type()));
                    }
                    UpdateAction::Add(path, value)
                }
                UpdateAction::Delete(path, value) => {
                    let path = self.path(kind, path)?;
                    let value = self.value(kind, value)?;
                    if !matches!(
                        value.value_type(),
                        ValueType::Ss | ValueType::Ns | ValueType::Bs
                    ) {
                        return Err(update_operand_type(kind, "DELETE", value.value_type()));
                    }
                    UpdateAction::Delete(path, value)
                }
                UpdateAction::LegacyAdd(path, value) => {
                    UpdateAction::LegacyAdd(self.path(kind, path)?, self.value(kind, value)?)
                }
            });
        }
        check_overlaps(kind, resolved.iter().map(UpdateAction::path))?;
        Ok(resolved)
    }

    pub fn projection(&mut self, paths: &[RawPath]) -> Result<Vec<ResolvedPath>> {
        let kind = ExpressionKind::Projection;
        let resolved = paths
            .iter()
            .map(|p| self.path(kind, p))
            .collect::<Result<Vec<_>>>()?;
        check_overlaps(kind, resolved.iter())?;
        Ok(resolved)
    }

    /// After every expression of the request was resolved: names and values that no
    /// expression used are errors (obs).
    pub fn finish(&self) -> Result<()> {
        if let Some(names) = &self.names {
            let unused: Vec<&str> = names
                .keys()
                .filter(|k| !self.used_names.contains(*k))
                .map(String::as_str)
                .collect();
            if !unused.is_empty() {
                return Err(Error::expression_attribute_names_unused(&unused.join(", ")));
            }
        }
        if let Some(values) = &self.values {
            let unused: Vec<&str> = values
                .keys()
                .filter(|k| !self.used_values.contains(*k))
                .map(String::as_str)
                .collect();
            if !unused.is_empty() {
                return Err(Error::expression_attribute_values_unused(
                    &unused.join(", "),
                ));
            }
        }
        Ok(())
    }
}

/// ADD and DELETE name the operand's type in words (dynalite's tests of the service:
/// "operator: ADD, operand type: STRING").
fn update_operand_type(kind: ExpressionKind, operator: &str, value_type: ValueType) -> Error {
    let name = match value_type {
        ValueType::S => "STRING",
        ValueType::N => "NUMBER",
        ValueType::B => "BINARY",
        ValueType::Bool => "BOOLEAN",
        ValueType::Null => "NULL",
        ValueType::M => "MAP",
        ValueType::L => "LIST",
        other => other.name(),
    };
    Error::update_operand_type_incorrect(kind, operator, name)
}

fn incorrect_operand_type(kind: ExpressionKind, function: &str, value_type: ValueType) -> Error {
    Error::operand_type_incorrect(kind, function, value_type.name())
}

fn check_function(
    kind: ExpressionKind,
    function: FunctionName,
    arguments: &[ResolvedOperand],
) -> Result<()> {
    let name = function.name();
    let expected = match function {
        FunctionName::AttributeExists | FunctionName::AttributeNotExists => 1,
        _ => 2,
    };
    if arguments.len() != expected {
        return Err(Error::operand_count_wrong(kind, name, arguments.len()));
    }
    // Distinct operands before their types (dynalite's tests of the service).
    if let [Operand::Path(a), Operand::Path(b)] = arguments
        && a == b
    {
        return Err(Error::operands_not_distinct(kind, name, &a.describe()));
    }
    // A size() operand is a number.
    let type_of = |operand: &ResolvedOperand| match operand {
        Operand::Value(v) => Some(v.value_type()),
        Operand::Size(_) => Some(ValueType::N),
        Operand::Path(_) => None,
    };
    match function {
        FunctionName::AttributeExists
        | FunctionName::AttributeNotExists
        | FunctionName::AttributeType => {
            if !matches!(arguments[0], Operand::Path(_)) {
                return Err(Error::function_requires_path(kind, name));
            }
            if function == FunctionName::AttributeType {
                match (&arguments[1], type_of(&arguments[1])) {
                    (Operand::Value(Value::S(type_name)), _)
                        if ValueType::from_name(type_name).is_some() => {}
                    (Operand::Value(Value::S(type_name)), _) => {
                        return Err(Error::attribute_type_name_invalid(kind, type_name));
                    }
                    (_, Some(other)) => return Err(incorrect_operand_type(kind, name, other)),
                    _ => return Err(Error::operand_type_incorrect(kind, name, "path")),
                }
            }
        }
        FunctionName::BeginsWith => {
            for value_type in arguments.iter().filter_map(type_of) {
                if !matches!(value_type, ValueType::S | ValueType::B) {
                    return Err(incorrect_operand_type(kind, name, value_type));
                }
            }
        }
        FunctionName::Contains => {}
    }
    Ok(())
}

/// BETWEEN's literal bounds: of one type, the lower not above the upper.
fn check_between_bounds(
    kind: ExpressionKind,
    low: &ResolvedOperand,
    high: &ResolvedOperand,
) -> Result<()> {
    let (Operand::Value(l), Operand::Value(h)) = (low, high) else {
        return Ok(());
    };
    if l.value_type() != h.value_type() {
        return Err(Error::between_bounds_type_mismatch(
            kind,
            &describe(l),
            &describe(h),
        ));
    }
    if l.compare(h) == Some(std::cmp::Ordering::Greater) {
        return Err(Error::between_bounds_reversed(
            kind,
            &describe(l),
            &describe(h),
        ));
    }
    Ok(())
}

/// How two action paths meet: one is a prefix of the other (they overlap), or they address
/// one node as a map and as a list (they conflict).
#[derive(PartialEq)]
enum Meeting {
    Overlap,
    Conflict,
}

fn meeting(a: &ResolvedPath, b: &ResolvedPath) -> Option<Meeting> {
    for (x, y) in a.elements.iter().zip(&b.elements) {
        if x == y {
            continue;
        }
        let kinds_differ = matches!(
            (x, y),
            (PathElement::Attribute(_), PathElement::Index(_))
                | (PathElement::Index(_), PathElement::Attribute(_))
        );
        return kinds_differ.then_some(Meeting::Conflict);
    }
    Some(Meeting::Overlap)
}

/// Overlapping paths are reported before conflicting ones, whatever their positions
/// (dynalite's tests of the service: `set d[1] = a, d.b = a, c[1].a = a, c = …` answers the
/// overlap of `c[1].a` and `c`).
fn check_overlaps<'a>(
    kind: ExpressionKind,
    paths: impl Iterator<Item = &'a ResolvedPath>,
) -> Result<()> {
    let paths: Vec<&ResolvedPath> = paths.collect();
    let mut conflict = None;
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            match meeting(a, b) {
                Some(Meeting::Overlap) => {
                    return Err(Error::document_paths_overlap(
                        kind,
                        &a.describe(),
                        &b.describe(),
                    ));
                }
                Some(Meeting::Conflict) if conflict.is_none() => conflict = Some((*a, *b)),
                _ => {}
            }
        }
    }
    match conflict {
        Some((a, b)) => Err(Error::document_paths_conflict(
            kind,
            &a.describe(),
            &b.describe(),
        )),
        None => Ok(()),
    }
}
