//! The expression languages: condition and filter, key condition, update, projection.
//!
//! Each expression goes through three steps: [`parse`] turns text into a syntax tree that still
//! holds placeholders (`#n`, `:v`); [`resolve`] replaces them with names and checked values
//! from ExpressionAttributeNames/Values and records which were used; [`eval`] and [`update`]
//! evaluate resolved trees against items and never fail on syntax.

pub mod ast;
pub mod eval;
pub mod key_condition;
pub mod legacy;
pub mod parse;
pub mod reserved;
pub mod resolve;
pub mod update;

pub use ast::*;

/// Which expression parameter an error is about; it prefixes messages as AWS does
/// ("Invalid ConditionExpression: …").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpressionKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExpressionKind {
    pub fn parameter(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        }
    }

    /// An error about this expression parameter; see [`crate::error::Error::invalid_expression`].
    pub fn error(self, detail: impl std::fmt::Display) -> crate::error::Error {
        crate::error::Error::invalid_expression(self, detail)
    }
}
