//! Check functions for fuzzing the expression parsers. One body per target, several drivers:
//! `fuzz/` calls them from libFuzzer, and `cargo test` calls them through proptest and by
//! replaying the saved corpus (`engine/tests/fuzz_checks.rs`).
//!
//! Each check parses arbitrary text; whatever parses is resolved against placeholders that
//! define every `#name` and `:value` the text could use, then evaluated against a sample item.
//! None of it may panic, and every error must carry its expression's prefix.

use crate::error::ErrorKind;
use crate::expr::ExpressionKind;
use crate::expr::eval::{evaluate, project};
use crate::expr::parse::{parse_condition, parse_projection, parse_update};
use crate::expr::resolve::Placeholders;
use crate::expr::update::apply;
use crate::types::item::Item;
use crate::types::number::Number;
use crate::types::value::{RawValue, Value};
use std::collections::BTreeMap;

/// Every `#x` / `:x` token in `text`, so the checks can define them all.
fn placeholders_in(text: &str, sigil: char) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == sigil as u8 {
            let start = i;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            // Longer placeholders cannot be defined (the maps reject them); the expression
            // then reports them undefined, which is what the check should see.
            if i > start + 1 && i - start <= crate::limits::PLACEHOLDER_SIZE_BYTES_MAX {
                found.push(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    found.sort();
    found.dedup();
    found
}

fn sample_value(index: usize) -> RawValue {
    let mut raw = RawValue::default();
    match index % 6 {
        0 => raw.n = Some(format!("{index}")),
        1 => raw.s = Some(format!("s{index}")),
        2 => raw.ss = Some(vec!["a".into(), "b".into()]),
        3 => {
            raw.l = Some(vec![RawValue {
                n: Some("1".into()),
                ..RawValue::default()
            }])
        }
        4 => raw.ns = Some(vec!["1".into(), "2".into()]),
        _ => raw.s = Some("S".into()),
    }
    raw
}

fn placeholders_for(text: &str) -> Placeholders {
    let names: BTreeMap<String, String> = placeholders_in(text, '#')
        .into_iter()
        .map(|p| (p.clone(), format!("n{}", p.len())))
        .collect();
    let values: BTreeMap<String, RawValue> = placeholders_in(text, ':')
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, sample_value(i)))
        .collect();
    Placeholders::new(
        (!names.is_empty()).then_some(&names),
        (!values.is_empty()).then_some(&values),
    )
    .expect("generated placeholders are valid")
}

fn sample_item() -> Item {
    let mut item = Item::new();
    item.insert("a".into(), Value::N(Number::from_i64(3)));
    item.insert("n1".into(), Value::S("x".into()));
    item.insert(
        "n2".into(),
        Value::L(vec![
            Value::Null,
            Value::M(BTreeMap::from([("b".into(), Value::Bool(true))])),
        ]),
    );
    item.insert("s".into(), Value::Ss(vec!["a".into()]));
    item
}

fn assert_prefixed(kind: ExpressionKind, error: &crate::error::Error) {
    assert_eq!(error.kind, ErrorKind::Validation, "{error:?}");
    let prefix = format!("Invalid {}: ", kind.parameter());
    // Errors found after resolution (unused placeholders) are not about one expression.
    assert!(
        error.message.starts_with(&prefix) || error.message.contains("ExpressionAttribute"),
        "{kind:?} error without its prefix: {}",
        error.message
    );
}

/// ConditionExpression, FilterExpression and KeyConditionExpression share one grammar.
pub fn check_condition(text: &str) {
    for kind in [ExpressionKind::Condition, ExpressionKind::KeyCondition] {
        match parse_condition(kind, text) {
            Ok(raw) => {
                let mut placeholders = placeholders_for(text);
                match placeholders.condition(kind, &raw) {
                    Ok(resolved) => {
                        let item = sample_item();
                        let first = evaluate(&resolved, &item);
                        assert_eq!(
                            first,
                            evaluate(&resolved, &item),
                            "evaluation is deterministic"
                        );
                    }
                    Err(error) => assert_prefixed(kind, &error),
                }
            }
            Err(error) => assert_prefixed(kind, &error),
        }
    }
}

pub fn check_update(text: &str) {
    match parse_update(text) {
        Ok(raw) => {
            let mut placeholders = placeholders_for(text);
            match placeholders.update(&raw) {
                Ok(actions) => {
                    let item = sample_item();
                    // Item-dependent failures are fine; panics and non-validation errors are not.
                    if let Err(error) = apply(&item, true, &actions) {
                        assert_eq!(error.kind, ErrorKind::Validation);
                    }
                    let _ = apply(&Item::new(), false, &actions);
                }
                Err(error) => assert_prefixed(ExpressionKind::Update, &error),
            }
        }
        Err(error) => assert_prefixed(ExpressionKind::Update, &error),
    }
}

pub fn check_projection(text: &str) {
    match parse_projection(text) {
        Ok(raw) => {
            let mut placeholders = placeholders_for(text);
            match placeholders.projection(&raw) {
                Ok(paths) => {
                    let projected = project(&sample_item(), &paths);
                    assert!(projected.len() <= sample_item().len());
                }
                Err(error) => assert_prefixed(ExpressionKind::Projection, &error),
            }
        }
        Err(error) => assert_prefixed(ExpressionKind::Projection, &error),
    }
}

/// Dispatches on the first byte, so one corpus can feed every parser.
pub fn check_expression_bytes(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 3 {
        0 => check_condition(text),
        1 => check_update(text),
        _ => check_projection(text),
    }
}
