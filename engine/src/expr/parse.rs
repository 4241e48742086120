//! Lexer and recursive-descent parsers for every expression language.
//!
//! Recursion is bounded: parentheses may nest [`PARENS_DEPTH_MAX`] deep, beyond which the parser
//! reports a syntax error instead of growing the stack. AWS itself answers thousands of
//! parentheses with a syntax error (obs, `dynamodb-facts.md` §3.6).

use super::ExpressionKind;
use super::ast::*;
use super::reserved::is_reserved;
use crate::error::{Error, Result};
use crate::limits::{
    EXPRESSION_OPERATOR_COUNT_MAX, EXPRESSION_SIZE_BYTES_MAX, IN_OPERAND_COUNT_MAX,
    NESTING_DEPTH_MAX,
};

/// Deepest nesting of parentheses (and chained NOTs, and nested update functions) the parser
/// follows. AWS documents no such bound below its 300-operator cap; ours keeps the recursion
/// within a 2 MB thread stack even in debug builds. Listed in `docs/compatibility.md`.
pub const PARENS_DEPTH_MAX: usize = 100;

#[derive(Clone, Debug, PartialEq)]
enum TokenKind {
    Identifier,
    NamePlaceholder,
    ValuePlaceholder,
    Integer,
    Symbol(&'static str),
    /// A character no token starts with (or a `#`/`:` with no name after it). The parser
    /// never expects one, so the syntax error lands on the first of these it reaches.
    Unknown,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the token that starts at `i` (not whitespace), and its kind. Identifiers start
/// with a letter (`_version` is a syntax error at `_`: obs, the service's answer quoted in
/// aws-sdk-java-v2 issue 3279), and an integer is `0` or starts with another digit (so `03`
/// is `0` then `3`, as the service's `near: "#AMZN_MAPPED_2021-0"` in aws-sdk-java-v2 issue
/// 2310 shows).
fn next_token(text: &str, i: usize) -> (TokenKind, usize) {
    let bytes = text.as_bytes();
    let b = bytes[i];
    let run = |from: usize| {
        let mut end = from;
        while end < bytes.len() && is_identifier_byte(bytes[end]) {
            end += 1;
        }
        end
    };
    if b == b'#' || b == b':' {
        let end = run(i + 1);
        return match (end == i + 1, b) {
            (true, _) => (TokenKind::Unknown, i + 1),
            (false, b'#') => (TokenKind::NamePlaceholder, end),
            (false, _) => (TokenKind::ValuePlaceholder, end),
        };
    }
    if b == b'0' {
        return (TokenKind::Integer, i + 1);
    }
    if b.is_ascii_digit() {
        let mut end = i;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        return (TokenKind::Integer, end);
    }
    if b.is_ascii_alphabetic() {
        return (TokenKind::Identifier, run(i));
    }
    let symbol = match (text.get(i..i + 2), b) {
        (Some("<>"), _) => "<>",
        (Some("<="), _) => "<=",
        (Some(">="), _) => ">=",
        (_, b'(') => "(",
        (_, b')') => ")",
        (_, b'[') => "[",
        (_, b']') => "]",
        (_, b',') => ",",
        (_, b'.') => ".",
        (_, b'=') => "=",
        (_, b'<') => "<",
        (_, b'>') => ">",
        (_, b'+') => "+",
        (_, b'-') => "-",
        _ => {
            let end = i + text[i..].chars().next().map_or(1, char::len_utf8);
            return (TokenKind::Unknown, end);
        }
    };
    (TokenKind::Symbol(symbol), i + symbol.len())
}

fn lex(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (kind, end) = next_token(text, i);
        tokens.push(Token {
            kind,
            start: i,
            end,
        });
        i = end;
    }
    tokens.push(Token {
        kind: TokenKind::End,
        start: bytes.len(),
        end: bytes.len(),
    });
    tokens
}

/// 'Syntax error; token: "x", near: "a x b"': the offending token (`tokens[index]`) and the
/// text from the start of the token before it to the end of the token after it, as the
/// service quotes it (obs: `token: "-", near: "GI-1"` for `GI-1-PK = :v`, `token: "!", near:
/// "!!"` for `!!`, dynamodb-facts §2.3; `token: "_", near: "_version"`). At the end of the
/// text the token is `<EOF>`.
fn syntax_error(kind: ExpressionKind, text: &str, tokens: &[Token], index: usize) -> Error {
    let token = &tokens[index];
    let near_start = index
        .checked_sub(1)
        .map_or(token.start, |before| tokens[before].start);
    if token.kind == TokenKind::End {
        return Error::expression_syntax_error(kind, "<EOF>", &text[near_start..]);
    }
    let near_end = tokens
        .get(index + 1)
        .filter(|after| after.kind != TokenKind::End)
        .map_or(token.end, |after| after.end);
    Error::expression_syntax_error(
        kind,
        &text[token.start..token.end],
        &text[near_start..near_end],
    )
}

struct Parser<'a> {
    kind: ExpressionKind,
    text: &'a str,
    tokens: Vec<Token>,
    position: usize,
    operator_count: usize,
    parens_depth: usize,
    /// An error found during parsing that the service reports only after later checks pass
    /// (see [`parse_update_deferring`]).
    deferred: Option<Error>,
    /// The late error of a condition (see [`Late`]) that outranks the others found so far.
    late: Option<(Late, Error)>,
}

/// Errors a condition, filter or key condition reports only once the whole expression parsed,
/// so that a later syntax error wins, and then in this order whatever their places in the text
/// (the order dynalite's tests of the service show: `a > whatever((:things), ((a)))` is
/// redundant parentheses, `attRIbute_exIsts((views), #a)` an invalid function name,
/// `attribute_exists((views), (#a)) > b` a misused function). The first error of each kind
/// is the one reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Late {
    Parens,
    UnknownFunction,
    MisusedFunction,
    Reserved,
    /// `size` with other than one operand.
    OperandCount,
}

fn check_expression_text(kind: ExpressionKind, text: &str) -> Result<()> {
    if text.len() > EXPRESSION_SIZE_BYTES_MAX {
        return Err(Error::expression_too_large(kind, text.len()));
    }
    if text.trim().is_empty() {
        return Err(Error::expression_empty(kind));
    }
    Ok(())
}

impl<'a> Parser<'a> {
    fn new(kind: ExpressionKind, text: &'a str) -> Result<Parser<'a>> {
        check_expression_text(kind, text)?;
        Ok(Parser {
            kind,
            text,
            tokens: lex(text),
            position: 0,
            operator_count: 0,
            parens_depth: 0,
            deferred: None,
            late: None,
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.position]
    }

    fn peek_at(&self, offset: usize) -> &Token {
        &self.tokens[(self.position + offset).min(self.tokens.len() - 1)]
    }

    fn text_of(&self, token: &Token) -> &'a str {
        &self.text[token.start..token.end]
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens[self.position].clone();
        if self.position < self.tokens.len() - 1 {
            self.position += 1;
        }
        token
    }

    fn error_here(&self) -> Error {
        syntax_error(self.kind, self.text, &self.tokens, self.position)
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek().kind, TokenKind::Symbol(s) if s == symbol)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        self.peek().kind == TokenKind::Identifier
            && self.text_of(self.peek()).eq_ignore_ascii_case(keyword)
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<()> {
        if self.is_symbol(symbol) {
            self.advance();
            Ok(())
        } else {
            Err(self.error_here())
        }
    }

    fn expect_end(&self) -> Result<()> {
        if self.peek().kind == TokenKind::End {
            Ok(())
        } else {
            Err(self.error_here())
        }
    }

    fn count_operator(&mut self) -> Result<()> {
        self.operator_count += 1;
        if self.operator_count > EXPRESSION_OPERATOR_COUNT_MAX {
            return Err(Error::expression_too_many_operators(
                self.kind,
                self.operator_count,
            ));
        }
        Ok(())
    }

    fn name(&mut self) -> Result<RawName> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::NamePlaceholder => {
                self.advance();
                Ok(RawName::Placeholder(self.text_of(&token).to_string()))
            }
            TokenKind::Identifier => {
                let word = self.text_of(&token);
                // Plain names start with a letter; digits-first words are not names. In an
                // update, the clause keywords are tokens of the grammar, not names: `SET a = set`
                // is a syntax error (dynalite's tests of the service), not a reserved word.
                let clause_keyword = self.kind == ExpressionKind::Update
                    && ["SET", "REMOVE", "ADD", "DELETE"]
                        .iter()
                        .any(|k| word.eq_ignore_ascii_case(k));
                // Likewise the condition grammar's own words in a condition: `a > between` is a
                // syntax error at `between` (dynalite's tests of the service).
                let condition_keyword = self.reports_late()
                    && ["BETWEEN", "IN", "AND", "OR", "NOT"]
                        .iter()
                        .any(|k| word.eq_ignore_ascii_case(k));
                if word.as_bytes()[0].is_ascii_digit() || clause_keyword || condition_keyword {
                    return Err(self.error_here());
                }
                if is_reserved(word) {
                    let error = Error::attribute_name_reserved(self.kind, word);
                    if !self.reports_late() {
                        return Err(error);
                    }
                    self.defer_late(Late::Reserved, error);
                }
                self.advance();
                Ok(RawName::Plain(word.to_string()))
            }
            _ => Err(self.error_here()),
        }
    }

    fn path(&mut self) -> Result<RawPath> {
        let head = Path {
            elements: vec![PathElement::Attribute(self.name()?)],
        };
        self.path_tail(head)
    }

    /// The `.name` and `[N]` elements that continue `path`.
    fn path_tail(&mut self, mut path: RawPath) -> Result<RawPath> {
        loop {
            if self.is_symbol(".") {
                self.advance();
                path.elements.push(PathElement::Attribute(self.name()?));
            } else if self.is_symbol("[") {
                self.advance();
                let token = self.peek().clone();
                if token.kind != TokenKind::Integer {
                    return Err(self.error_here());
                }
                let index: usize = self
                    .text_of(&token)
                    .parse()
                    .map_err(|_| self.error_here())?;
                self.advance();
                self.expect_symbol("]")?;
                path.elements.push(PathElement::Index(index));
            } else {
                break;
            }
        }
        if path.elements.len() > NESTING_DEPTH_MAX {
            return Err(Error::document_path_too_deep(
                self.kind,
                path.elements.len(),
            ));
        }
        Ok(path)
    }

    /// Whether errors of the kinds in [`Late`] wait for the whole expression to parse: in
    /// conditions, filters and key conditions (dynalite's tests of the service). Update and
    /// projection expressions report a reserved word where it stands.
    fn reports_late(&self) -> bool {
        !matches!(
            self.kind,
            ExpressionKind::Update | ExpressionKind::Projection
        )
    }

    /// Keeps `error` if it outranks the late error held (the first of each kind is kept).
    fn defer_late(&mut self, rank: Late, error: Error) {
        if self.late.as_ref().is_none_or(|(held, _)| rank < *held) {
            self.late = Some((rank, error));
        }
    }

    /// One more level of parentheses (or NOT, or function call), bounded by
    /// [`PARENS_DEPTH_MAX`]; the caller lowers `parens_depth` when it leaves the level.
    fn enter_nesting(&mut self) -> Result<()> {
        self.parens_depth += 1;
        if self.parens_depth > PARENS_DEPTH_MAX {
            return Err(self.error_here());
        }
        Ok(())
    }

    /// Whether `token` continues an operand into a comparison.
    fn continues_comparison(&self, token: &Token) -> bool {
        let keyword = |k: &str| {
            token.kind == TokenKind::Identifier && self.text_of(token).eq_ignore_ascii_case(k)
        };
        matches!(
            token.kind,
            TokenKind::Symbol("=" | "<>" | "<" | "<=" | ">" | ">=")
        ) || keyword("BETWEEN")
            || keyword("IN")
    }

    fn at_comparison(&self) -> bool {
        self.continues_comparison(self.peek())
    }

    /// Whether the next token ends a condition (so that a function call before it stood alone).
    fn ends_condition(&self) -> bool {
        self.peek().kind == TokenKind::End
            || self.is_symbol(")")
            || self.is_keyword("AND")
            || self.is_keyword("OR")
    }

    fn at_function_call(&self) -> bool {
        self.peek().kind == TokenKind::Identifier
            && matches!(self.peek_at(1).kind, TokenKind::Symbol("("))
    }

    /// Whether the `(` here opens a parenthesised operand rather than a condition: the token
    /// after its `)` continues a comparison (`(a) = :v`, `(a) BETWEEN …`) or a path (`(m).k`).
    /// An unclosed `(` is taken as a condition's, whose parse reports the syntax error.
    fn parens_enclose_operand(&self) -> bool {
        let mut depth = 0usize;
        for (index, token) in self.tokens.iter().enumerate().skip(self.position) {
            match token.kind {
                TokenKind::Symbol("(") => depth += 1,
                TokenKind::Symbol(")") => {
                    depth -= 1;
                    if depth == 0 {
                        let after = &self.tokens[index + 1];
                        return self.continues_comparison(after)
                            || matches!(after.kind, TokenKind::Symbol("." | "["));
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// A condition operand: a path, a value placeholder or a function call, in any number of
    /// parentheses.
    fn operand(&mut self) -> Result<RawOperand> {
        Ok(self.operand_marked()?.0)
    }

    /// An operand, and whether it is an operand in one pair of parentheses, so that another
    /// pair around it is redundant (`((a))`). A path may continue after its parentheses:
    /// `(m).k` is `m.k` (inferred from dynalite's tests of the service, `docs/compatibility.md`);
    /// after a value or a function call, a `.` or `[` is the caller's syntax error.
    fn operand_marked(&mut self) -> Result<(RawOperand, bool)> {
        if !self.is_symbol("(") {
            return Ok((self.bare_operand()?, false));
        }
        self.enter_nesting()?;
        self.advance();
        let (inner, parenthesised) = self.operand_marked()?;
        self.expect_symbol(")")?;
        self.parens_depth -= 1;
        if parenthesised {
            self.defer_late(Late::Parens, Error::redundant_parentheses(self.kind));
        }
        match inner {
            Operand::Path(path) if self.is_symbol(".") || self.is_symbol("[") => {
                Ok((Operand::Path(self.path_tail(path)?), false))
            }
            inner => Ok((inner, true)),
        }
    }

    /// An operand without parentheses around it.
    fn bare_operand(&mut self) -> Result<RawOperand> {
        match self.peek().kind {
            TokenKind::ValuePlaceholder => {
                let token = self.advance();
                Ok(Operand::Value(self.text_of(&token).to_string()))
            }
            TokenKind::Identifier if self.at_function_call() => {
                let (name, arguments) = self.call()?;
                Ok(self.call_as_operand(&name, arguments))
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    /// A function call, `name(operand, …)`: the name and the arguments. Whether the name is a
    /// function, and one allowed where the call stands, is the caller's to check.
    fn call(&mut self) -> Result<(String, Vec<RawOperand>)> {
        let name = self.text_of(self.peek()).to_string();
        self.advance();
        self.advance();
        self.count_operator()?;
        self.enter_nesting()?;
        let arguments = self.arguments_after_open()?;
        self.parens_depth -= 1;
        Ok((name, arguments))
    }

    /// A call used as an operand: `size(path)`. A boolean function here is misused (obs,
    /// dynamodb-facts §3.1), another name is no function; both, and size's operand count, are
    /// late errors, and the call stands for its first argument meanwhile.
    fn call_as_operand(&mut self, name: &str, mut arguments: Vec<RawOperand>) -> RawOperand {
        match name {
            "size" if arguments.len() != 1 => {
                let error = Error::operand_count_wrong(self.kind, "size", arguments.len());
                self.defer_late(Late::OperandCount, error);
            }
            "size" => {}
            "attribute_exists"
            | "attribute_not_exists"
            | "attribute_type"
            | "begins_with"
            | "contains" => {
                self.defer_late(
                    Late::MisusedFunction,
                    Error::function_misused(self.kind, name),
                );
            }
            _ => {
                let error = Error::function_name_invalid(self.kind, name);
                self.defer_late(Late::UnknownFunction, error);
            }
        }
        Operand::Size(Box::new(arguments.swap_remove(0)))
    }

    /// A call standing alone as a condition: a boolean function. `size(…)` alone is misused,
    /// and another name is no function (late errors); either must end the condition.
    fn call_as_condition(
        &mut self,
        name: &str,
        arguments: Vec<RawOperand>,
    ) -> Result<RawCondition> {
        let function = match name {
            "attribute_exists" => FunctionName::AttributeExists,
            "attribute_not_exists" => FunctionName::AttributeNotExists,
            "attribute_type" => FunctionName::AttributeType,
            "begins_with" => FunctionName::BeginsWith,
            "contains" => FunctionName::Contains,
            _ if !self.ends_condition() => return Err(self.error_here()),
            "size" => {
                self.defer_late(
                    Late::MisusedFunction,
                    Error::function_misused(self.kind, name),
                );
                FunctionName::AttributeExists
            }
            _ => {
                let error = Error::function_name_invalid(self.kind, name);
                self.defer_late(Late::UnknownFunction, error);
                FunctionName::AttributeExists
            }
        };
        Ok(Condition::Function(function, arguments))
    }

    /// Arguments of a function call whose `(` was consumed.
    fn arguments_after_open(&mut self) -> Result<Vec<RawOperand>> {
        let mut arguments = vec![self.operand()?];
        while self.is_symbol(",") {
            self.advance();
            arguments.push(self.operand()?);
        }
        self.expect_symbol(")")?;
        Ok(arguments)
    }

    fn condition(&mut self) -> Result<RawCondition> {
        let mut left = self.and_condition()?;
        while self.is_keyword("OR") {
            self.advance();
            self.count_operator()?;
            let right = self.and_condition()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_condition(&mut self) -> Result<RawCondition> {
        let mut left = self.not_condition()?;
        while self.is_keyword("AND") {
            self.advance();
            self.count_operator()?;
            let right = self.not_condition()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_condition(&mut self) -> Result<RawCondition> {
        if self.is_keyword("NOT") {
            // NOT binds to a whole NOT-level condition; bound the chain like parentheses.
            self.advance();
            self.count_operator()?;
            self.enter_nesting()?;
            let inner = self.not_condition()?;
            self.parens_depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary_condition()
    }

    fn primary_condition(&mut self) -> Result<RawCondition> {
        if self.is_symbol("(") && !self.parens_enclose_operand() {
            return self.parenthesised_condition();
        }
        let left = if self.at_function_call() {
            let (name, arguments) = self.call()?;
            if !self.at_comparison() {
                return self.call_as_condition(&name, arguments);
            }
            self.call_as_operand(&name, arguments)
        } else {
            self.operand()?
        };
        self.comparison(left)
    }

    /// `( condition )`; parentheses right around parentheses are redundant (obs,
    /// dynamodb-facts §3.1), a late error.
    fn parenthesised_condition(&mut self) -> Result<RawCondition> {
        self.enter_nesting()?;
        self.advance();
        let inner = self.condition()?;
        self.expect_symbol(")")?;
        self.parens_depth -= 1;
        if matches!(inner, Condition::Parens(_)) {
            self.defer_late(Late::Parens, Error::redundant_parentheses(self.kind));
        }
        Ok(Condition::Parens(Box::new(inner)))
    }

    /// The rest of a comparison, BETWEEN or IN whose first operand is `left`.
    fn comparison(&mut self, left: RawOperand) -> Result<RawCondition> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Symbol(symbol @ ("=" | "<>" | "<" | "<=" | ">" | ">=")) => {
                self.advance();
                self.count_operator()?;
                let comparator = match symbol {
                    "=" => Comparator::Eq,
                    "<>" => Comparator::Ne,
                    "<" => Comparator::Lt,
                    "<=" => Comparator::Le,
                    ">" => Comparator::Gt,
                    _ => Comparator::Ge,
                };
                let right = self.operand()?;
                Ok(Condition::Compare(comparator, left, right))
            }
            TokenKind::Identifier if self.is_keyword("BETWEEN") => {
                self.advance();
                self.count_operator()?;
                let low = self.operand()?;
                if !self.is_keyword("AND") {
                    return Err(self.error_here());
                }
                self.advance();
                let high = self.operand()?;
                Ok(Condition::Between(left, low, high))
            }
            TokenKind::Identifier if self.is_keyword("IN") => {
                self.advance();
                self.count_operator()?;
                self.expect_symbol("(")?;
                let mut list = vec![self.operand()?];
                while self.is_symbol(",") {
                    self.advance();
                    list.push(self.operand()?);
                }
                self.expect_symbol(")")?;
                if list.len() > IN_OPERAND_COUNT_MAX {
                    return Err(Error::in_too_many_operands(self.kind, list.len()));
                }
                Ok(Condition::In(left, list))
            }
            _ => Err(self.error_here()),
        }
    }

    fn set_operand(&mut self) -> Result<SetOperand<RawName, String>> {
        match self.peek().kind {
            TokenKind::ValuePlaceholder => {
                let token = self.advance();
                Ok(SetOperand::Value(self.text_of(&token).to_string()))
            }
            TokenKind::Identifier if self.at_function_call() => self.update_function(),
            _ => Ok(SetOperand::Path(self.path()?)),
        }
    }

    /// `if_not_exists(...)` or `list_append(...)` in a SET action. Their operand counts and
    /// if_not_exists's path are checked after names, values and overlapping paths, as the
    /// service reports them (dynalite's tests): a problem is deferred, and the call stands for
    /// its first operand meanwhile.
    fn update_function(&mut self) -> Result<SetOperand<RawName, String>> {
        let name = self.text_of(self.peek()).to_string();
        match name.as_str() {
            "if_not_exists" | "list_append" => {}
            "attribute_exists"
            | "attribute_not_exists"
            | "attribute_type"
            | "begins_with"
            | "contains"
            | "size" => {
                return Err(Error::function_not_allowed_in_update(self.kind, &name));
            }
            _ => return Err(Error::function_name_invalid(self.kind, &name)),
        }
        self.advance();
        self.advance();
        self.count_operator()?;
        self.enter_nesting()?;
        let mut arguments = vec![self.set_operand()?];
        while self.is_symbol(",") {
            self.advance();
            arguments.push(self.set_operand()?);
        }
        self.expect_symbol(")")?;
        self.parens_depth -= 1;
        if arguments.len() != 2 {
            self.defer(Error::operand_count_wrong(
                self.kind,
                &name,
                arguments.len(),
            ));
            return Ok(arguments.swap_remove(0));
        }
        let second = arguments.pop().expect("two operands");
        let first = arguments.pop().expect("two operands");
        Ok(match (name.as_str(), first) {
            ("if_not_exists", SetOperand::Path(path)) => {
                SetOperand::IfNotExists(path, Box::new(second))
            }
            ("if_not_exists", first) => {
                self.defer(Error::function_requires_path(self.kind, "if_not_exists"));
                first
            }
            (_, first) => SetOperand::ListAppend(Box::new(first), Box::new(second)),
        })
    }

    /// Keeps the first error found that the service reports after later checks.
    fn defer(&mut self, error: Error) {
        self.deferred.get_or_insert(error);
    }

    fn update(&mut self) -> Result<RawUpdate> {
        let mut actions = Vec::new();
        let mut seen: Vec<&'static str> = Vec::new();
        let mut repeated = None;
        loop {
            let clause = if self.is_keyword("SET") {
                "SET"
            } else if self.is_keyword("REMOVE") {
                "REMOVE"
            } else if self.is_keyword("ADD") {
                "ADD"
            } else if self.is_keyword("DELETE") {
                "DELETE"
            } else {
                return Err(self.error_here());
            };
            // Reported once the whole expression parsed, so that a reserved word later in it
            // wins (dynalite's tests of the service).
            if seen.contains(&clause) && repeated.is_none() {
                repeated = Some(Error::update_clause_repeated(self.kind, clause));
            }
            seen.push(clause);
            self.advance();
            loop {
                let path = self.path()?;
                let action = match clause {
                    "SET" => {
                        self.expect_symbol("=")?;
                        let first = self.set_operand()?;
                        let value = if self.is_symbol("+") {
                            self.advance();
                            self.count_operator()?;
                            SetValue::Plus(first, self.set_operand()?)
                        } else if self.is_symbol("-") {
                            self.advance();
                            self.count_operator()?;
                            SetValue::Minus(first, self.set_operand()?)
                        } else {
                            SetValue::Operand(first)
                        };
                        UpdateAction::Set(path, value)
                    }
                    "REMOVE" => UpdateAction::Remove(path),
                    _ => {
                        if self.peek().kind != TokenKind::ValuePlaceholder {
                            return Err(self.error_here());
                        }
                        let token = self.advance();
                        let value = self.text_of(&token).to_string();
                        if clause == "ADD" {
                            UpdateAction::Add(path, value)
                        } else {
                            UpdateAction::Delete(path, value)
                        }
                    }
                };
                self.count_operator()?;
                actions.push(action);
                if self.is_symbol(",") {
                    self.advance();
                } else {
                    break;
                }
            }
            if self.peek().kind == TokenKind::End {
                return repeated.map_or(Ok(actions), Err);
            }
        }
    }
}

/// Parses a ConditionExpression, FilterExpression or KeyConditionExpression.
pub fn parse_condition(kind: ExpressionKind, text: &str) -> Result<RawCondition> {
    let mut parser = Parser::new(kind, text)?;
    let condition = parser.condition()?;
    parser.expect_end()?;
    match parser.late {
        Some((_, error)) => Err(error),
        None => Ok(condition),
    }
}

/// Parses an UpdateExpression, answering every error at once.
pub fn parse_update(text: &str) -> Result<RawUpdate> {
    let (actions, deferred) = parse_update_deferring(text)?;
    deferred.map_or(Ok(actions), Err)
}

/// Parses an UpdateExpression; the second value is an error the caller reports after
/// resolving names and values and checking overlapping paths (a function's operand count, and
/// if_not_exists's path), which is the order the service reports them in.
pub fn parse_update_deferring(text: &str) -> Result<(RawUpdate, Option<Error>)> {
    let mut parser = Parser::new(ExpressionKind::Update, text)?;
    let actions = parser.update()?;
    parser.expect_end()?;
    Ok((actions, parser.deferred))
}

pub fn parse_projection(text: &str) -> Result<Vec<RawPath>> {
    let mut parser = Parser::new(ExpressionKind::Projection, text)?;
    let mut paths = vec![parser.path()?];
    while parser.is_symbol(",") {
        parser.advance();
        paths.push(parser.path()?);
    }
    parser.expect_end()?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<impl std::fmt::Debug>) -> String {
        result.unwrap_err().message
    }

    #[test]
    fn parses_precedence() {
        let c =
            parse_condition(ExpressionKind::Condition, "a = :a OR b = :b AND NOT c = :c").unwrap();
        let Condition::Or(_, right) = c else {
            panic!("OR binds loosest: {c:?}")
        };
        assert!(matches!(*right, Condition::And(..)));
    }

    #[test]
    fn keywords_are_case_insensitive_functions_are_not() {
        assert!(parse_condition(ExpressionKind::Condition, "a between :a and :b").is_ok());
        assert!(
            parse_condition(
                ExpressionKind::Condition,
                "a in (:a, :b) or attribute_exists(b)"
            )
            .is_ok()
        );
        assert_eq!(
            message(parse_condition(
                ExpressionKind::Condition,
                "Attribute_Exists(a)"
            )),
            "Invalid ConditionExpression: Invalid function name; function: Attribute_Exists"
        );
    }

    #[test]
    fn reports_dynamodb_messages() {
        assert_eq!(
            message(parse_condition(ExpressionKind::Condition, "((a <> :v))")),
            "Invalid ConditionExpression: The expression has redundant parentheses;"
        );
        assert_eq!(
            message(parse_condition(ExpressionKind::Condition, "size(a)")),
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"
        );
        assert_eq!(
            message(parse_condition(ExpressionKind::Filter, "comment = :v")),
            "Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: comment"
        );
        assert_eq!(
            message(parse_update("SET a = :a ADD b :b ADD c :c")),
            "Invalid UpdateExpression: The \"ADD\" section can only be used once in an update expression;"
        );
        assert_eq!(
            message(parse_update("")),
            "Invalid UpdateExpression: The expression can not be empty;"
        );
        assert!(message(parse_update("SET a = :a + :b + :c")).contains("Syntax error"));
        assert!(
            message(parse_condition(ExpressionKind::Condition, "a = "))
                .contains("token: \"<EOF>\"")
        );
    }

    #[test]
    fn limits_operators_and_depth() {
        let many = (0..301)
            .map(|i| format!("a = :v{i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let many = &many[..many.len().min(4096)];
        assert!(parse_condition(ExpressionKind::Condition, many).is_err());
        let deep = format!("{}a = :v{}", "(".repeat(2000), ")".repeat(2000));
        assert!(
            message(parse_condition(ExpressionKind::Condition, &deep)).contains("Syntax error")
        );
        let nots = format!("{}a = :v", "NOT ".repeat(1000));
        assert!(parse_condition(ExpressionKind::Condition, &nots).is_err());
        // The deepest nesting allowed still parses.
        let mut nested = "a = :v".to_string();
        for _ in 0..PARENS_DEPTH_MAX - 1 {
            nested = format!("a = :v AND ({nested})");
        }
        assert!(parse_condition(ExpressionKind::Condition, &nested).is_ok());
        let long = "a".repeat(4097);
        assert!(message(parse_projection(&long)).contains(
            "Expression size has exceeded the maximum allowed size; expression size: 4097"
        ));
    }

    fn same_parse(kind: ExpressionKind, with_parens: &str, without: &str) {
        assert_eq!(
            parse_condition(kind, with_parens).unwrap(),
            parse_condition(kind, without).unwrap(),
            "{with_parens}"
        );
    }

    #[test]
    fn parenthesised_operands_parse_as_bare_ones() {
        let kind = ExpressionKind::Condition;
        same_parse(kind, "(a) = :v", "a = :v");
        same_parse(kind, "a = (:v)", "a = :v");
        same_parse(kind, "(#n) < (:v)", "#n < :v");
        same_parse(kind, "a BETWEEN (:lo) AND (:hi)", "a BETWEEN :lo AND :hi");
        same_parse(kind, "(a)between(:lo)and(:hi)", "a between :lo and :hi");
        same_parse(kind, "a IN ((:x), :y)", "a IN (:x, :y)");
        same_parse(kind, "a IN ((:x))", "a IN (:x)");
        same_parse(kind, "begins_with((a), :p)", "begins_with(a, :p)");
        same_parse(kind, "size((a)) > :n", "size(a) > :n");
        same_parse(kind, "(size(a)) > :n", "size(a) > :n");
        same_parse(kind, "attribute_exists((a))", "attribute_exists(a)");
        same_parse(kind, "NOT (a) = :v", "NOT a = :v");
        same_parse(kind, "((a) = :v) AND (b) <> :w", "(a = :v) AND b <> :w");
        same_parse(kind, "(a.b[1]) = :v", "a.b[1] = :v");
        same_parse(
            ExpressionKind::KeyCondition,
            "(pk) = :v AND begins_with((sk), :p)",
            "pk = :v AND begins_with(sk, :p)",
        );
    }

    #[test]
    fn a_path_continues_after_its_parentheses() {
        let kind = ExpressionKind::Filter;
        same_parse(kind, "(m).k = :v", "m.k = :v");
        same_parse(kind, "(l)[0] = :v", "l[0] = :v");
        same_parse(kind, "((m).k) = :v", "m.k = :v");
        for text in [
            "(size(a)).b = :v",
            "(size(a))[0] > a",
            "(:v).b = a",
            "(a)between(b.(c.d))and(c)",
            "(a)between(b.c.d)and((c)",
        ] {
            assert!(
                message(parse_condition(kind, text))
                    .starts_with("Invalid FilterExpression: Syntax error; "),
                "{text}"
            );
        }
        assert_eq!(
            message(parse_condition(kind, "(size(a)).b = :v")),
            "Invalid FilterExpression: Syntax error; token: \".\", near: \").b\""
        );
    }

    #[test]
    fn rejects_redundant_parentheses_around_operands() {
        let redundant = "The expression has redundant parentheses;";
        for (kind, text) in [
            (ExpressionKind::Condition, "((a)) = :v"),
            (ExpressionKind::Condition, "a = ((:v))"),
            (ExpressionKind::Condition, "(((a))) = :v"),
            (ExpressionKind::Condition, "((a = :v))"),
            (ExpressionKind::Filter, "a IN (((:x)), :y)"),
            (ExpressionKind::Filter, "size(((a))) > :n"),
            (ExpressionKind::Filter, "((size(a))) > :n"),
            (ExpressionKind::Filter, "(a)between(((b.c)).d)and(c)"),
            (ExpressionKind::KeyCondition, "((pk)) = :v"),
        ] {
            assert_eq!(
                message(parse_condition(kind, text)),
                format!("Invalid {}: {redundant}", kind.parameter()),
                "{text}"
            );
        }
        // One pair inside an IN list's or a function's own parentheses is not redundant.
        assert!(parse_condition(ExpressionKind::Filter, "a IN ((:x))").is_ok());
        assert!(parse_condition(ExpressionKind::Filter, "((size(b)) = :b) AND c = :c").is_ok());
    }

    #[test]
    fn late_errors_wait_for_the_whole_expression() {
        let kind = ExpressionKind::Filter;
        // A later syntax error wins over redundant parentheses, functions and reserved words.
        for text in [
            "((a)) = :v AND",
            "((a = :v)) b",
            "whatever(a) = :v AND",
            "comment = :v AND",
            "attribute_exists(a) = :v OR",
        ] {
            assert!(
                message(parse_condition(kind, text)).contains("Syntax error"),
                "{text}"
            );
        }
        // Then by kind, whatever their order in the text (dynalite's tests of the service).
        for (text, expected) in [
            (
                "a=a and a > ((views))",
                "The expression has redundant parentheses;",
            ),
            (
                "a > whatever((:things), ((a)))",
                "The expression has redundant parentheses;",
            ),
            (
                "comment = :v AND ((a = :v))",
                "The expression has redundant parentheses;",
            ),
            (
                "a=a and whatever((:things)) > a",
                "Invalid function name; function: whatever",
            ),
            (
                "attRIbute_exIsts((views), #a)",
                "Invalid function name; function: attRIbute_exIsts",
            ),
            (
                "a=a and attribute_exists((views), (#a)) > b",
                "The function is not allowed to be used this way in an expression; function: attribute_exists",
            ),
            (
                "size(views, a) > b",
                "Attribute name is a reserved keyword; reserved keyword: views",
            ),
        ] {
            assert_eq!(
                message(parse_condition(kind, text)),
                format!("Invalid FilterExpression: {expected}"),
                "{text}"
            );
        }
        // The condition grammar's words are tokens, not names, in conditions only.
        for (text, near) in [
            ("a > between", "> between"),
            ("a = :v AND in = :v", "AND in ="),
            ("a = :v OR or", "OR or"),
            ("attribute_exists(or)", "(or)"),
        ] {
            let m = message(parse_condition(ExpressionKind::Condition, text));
            assert!(
                m.starts_with("Invalid ConditionExpression: Syntax error;"),
                "{text}: {m}"
            );
            assert!(m.contains(&format!("near: \"{near}\"")), "{text}: {m}");
        }
        assert!(message(parse_update("SET between = :v")).contains("reserved keyword: between"));

        // Update expressions still report a reserved word where it stands.
        assert!(message(parse_update("SET comment = :v ,")).contains("reserved keyword: comment"));
    }

    #[test]
    fn parses_update_clauses_in_any_order() {
        let actions = parse_update("REMOVE x[1], y SET a.b[2] = list_append(a.c, :l), n = if_not_exists(n, :z) + :one DELETE s :s ADD c :c").unwrap();
        assert_eq!(actions.len(), 6);
    }
}
