//! Syntax trees of the expression languages. `N` is how a name is held (a placeholder before
//! resolution, a plain string after) and `V` how a value is held.

use crate::types::value::Value;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement<N> {
    Attribute(N),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path<N> {
    pub elements: Vec<PathElement<N>>,
}

/// A name as written: plain (`a`) or a placeholder (`#a`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RawName {
    Plain(String),
    Placeholder(String),
}

pub type RawPath = Path<RawName>;
pub type ResolvedPath = Path<String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// The same comparison with its operands swapped (`:v < k` is `k > :v`).
    pub fn flipped(self) -> Comparator {
        match self {
            Comparator::Lt => Comparator::Gt,
            Comparator::Le => Comparator::Ge,
            Comparator::Gt => Comparator::Lt,
            Comparator::Ge => Comparator::Le,
            other => other,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand<N, V> {
    Path(Path<N>),
    Value(V),
    Size(Box<Operand<N, V>>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionName {
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Contains,
}

impl FunctionName {
    pub fn name(self) -> &'static str {
        match self {
            FunctionName::AttributeExists => "attribute_exists",
            FunctionName::AttributeNotExists => "attribute_not_exists",
            FunctionName::AttributeType => "attribute_type",
            FunctionName::BeginsWith => "begins_with",
            FunctionName::Contains => "contains",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Condition<N, V> {
    Compare(Comparator, Operand<N, V>, Operand<N, V>),
    Between(Operand<N, V>, Operand<N, V>, Operand<N, V>),
    In(Operand<N, V>, Vec<Operand<N, V>>),
    Function(FunctionName, Vec<Operand<N, V>>),
    And(Box<Condition<N, V>>, Box<Condition<N, V>>),
    Or(Box<Condition<N, V>>, Box<Condition<N, V>>),
    Not(Box<Condition<N, V>>),
    /// A parenthesised condition; kept so that redundant parentheses can be rejected.
    Parens(Box<Condition<N, V>>),
}

pub type RawCondition = Condition<RawName, String>;
pub type ResolvedCondition = Condition<String, Value>;
pub type RawOperand = Operand<RawName, String>;
pub type ResolvedOperand = Operand<String, Value>;

/// The right-hand side of a SET action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue<N, V> {
    Operand(SetOperand<N, V>),
    Plus(SetOperand<N, V>, SetOperand<N, V>),
    Minus(SetOperand<N, V>, SetOperand<N, V>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum SetOperand<N, V> {
    Path(Path<N>),
    Value(V),
    IfNotExists(Path<N>, Box<SetOperand<N, V>>),
    ListAppend(Box<SetOperand<N, V>>, Box<SetOperand<N, V>>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum UpdateAction<N, V> {
    Set(Path<N>, SetValue<N, V>),
    Remove(Path<N>),
    Add(Path<N>, V),
    Delete(Path<N>, V),
    /// Legacy AttributeUpdates ADD, which also appends to lists.
    LegacyAdd(Path<N>, V),
}

impl<N, V> UpdateAction<N, V> {
    pub fn path(&self) -> &Path<N> {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _)
            | UpdateAction::LegacyAdd(p, _) => p,
        }
    }
}

pub type RawUpdate = Vec<UpdateAction<RawName, String>>;
pub type ResolvedUpdate = Vec<UpdateAction<String, Value>>;

impl ResolvedPath {
    pub fn attribute(name: &str) -> ResolvedPath {
        Path {
            elements: vec![PathElement::Attribute(name.to_string())],
        }
    }

    /// The top-level attribute this path starts at.
    pub fn top(&self) -> &str {
        match &self.elements[0] {
            PathElement::Attribute(name) => name,
            PathElement::Index(_) => unreachable!("paths start with a name"),
        }
    }

    /// How AWS prints a path in messages: `[a, b, [2]]`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .elements
            .iter()
            .map(|e| match e {
                PathElement::Attribute(name) => name.clone(),
                PathElement::Index(i) => format!("[{i}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}
