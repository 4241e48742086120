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
                if word.as_bytes()[0].is_ascii_digit() || clause_keyword {
                    return Err(self.error_here());
                }
                if is_reserved(word) {
                    return Err(Error::attribute_name_reserved(self.kind, word));
                }
                self.advance();
                Ok(RawName::Plain(word.to_string()))
            }
            _ => Err(self.error_here()),
        }
    }

    fn path(&mut self) -> Result<RawPath> {
        let mut elements = vec![PathElement::Attribute(self.name()?)];
        loop {
            if self.is_symbol(".") {
                self.advance();
                elements.push(PathElement::Attribute(self.name()?));
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
                elements.push(PathElement::Index(index));
            } else {
                break;
            }
        }
        if elements.len() > NESTING_DEPTH_MAX {
            return Err(Error::document_path_too_deep(self.kind, elements.len()));
        }
        Ok(Path { elements })
    }

    /// A boolean function call used as a condition; `None` for `size(...)`, which starts a
    /// comparison the caller parses.
    fn function_condition(&mut self) -> Result<Option<RawCondition>> {
        let name = self.text_of(self.peek()).to_string();
        let function = match name.as_str() {
            "attribute_exists" => FunctionName::AttributeExists,
            "attribute_not_exists" => FunctionName::AttributeNotExists,
            "attribute_type" => FunctionName::AttributeType,
            "begins_with" => FunctionName::BeginsWith,
            "contains" => FunctionName::Contains,
            "size" => return Ok(None),
            _ => return Err(Error::function_name_invalid(self.kind, &name)),
        };
        self.advance();
        self.advance();
        self.count_operator()?;
        let arguments = self.arguments_after_open()?;
        // A boolean function compared like a value (obs, dynamodb-facts §3.1).
        if self.at_comparison() {
            return Err(Error::function_misused(self.kind, &name));
        }
        Ok(Some(Condition::Function(function, arguments)))
    }

    /// Whether the next token continues an operand into a comparison.
    fn at_comparison(&self) -> bool {
        matches!(
            self.peek().kind,
            TokenKind::Symbol("=" | "<>" | "<" | "<=" | ">" | ">=")
        ) || self.is_keyword("BETWEEN")
            || self.is_keyword("IN")
    }

    fn at_function_call(&self) -> bool {
        self.peek().kind == TokenKind::Identifier
            && matches!(self.peek_at(1).kind, TokenKind::Symbol("("))
    }

    /// A condition operand: a path, a value placeholder, or `size(...)`.
    fn operand(&mut self) -> Result<RawOperand> {
        match self.peek().kind {
            TokenKind::ValuePlaceholder => {
                let token = self.advance();
                Ok(Operand::Value(self.text_of(&token).to_string()))
            }
            TokenKind::Identifier if self.at_function_call() => {
                let name = self.text_of(self.peek()).to_string();
                match name.as_str() {
                    "size" => {
                        self.advance();
                        self.advance();
                        self.count_operator()?;
                        let arguments = self.arguments_after_open()?;
                        if arguments.len() != 1 {
                            return Err(Error::operand_count_wrong(
                                self.kind,
                                "size",
                                arguments.len(),
                            ));
                        }
                        Ok(Operand::Size(Box::new(
                            arguments.into_iter().next().expect("one argument"),
                        )))
                    }
                    "attribute_exists"
                    | "attribute_not_exists"
                    | "attribute_type"
                    | "begins_with"
                    | "contains" => Err(Error::function_misused(self.kind, &name)),
                    _ => Err(Error::function_name_invalid(self.kind, &name)),
                }
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
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
            self.parens_depth += 1;
            if self.parens_depth > PARENS_DEPTH_MAX {
                return Err(self.error_here());
            }
            let inner = self.not_condition()?;
            self.parens_depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary_condition()
    }

    fn primary_condition(&mut self) -> Result<RawCondition> {
        if self.is_symbol("(") {
            self.parens_depth += 1;
            if self.parens_depth > PARENS_DEPTH_MAX {
                return Err(self.error_here());
            }
            self.advance();
            let inner = self.condition()?;
            self.expect_symbol(")")?;
            self.parens_depth -= 1;
            if matches!(inner, Condition::Parens(_)) {
                return Err(Error::redundant_parentheses(self.kind));
            }
            return Ok(Condition::Parens(Box::new(inner)));
        }
        if self.at_function_call()
            && let Some(condition) = self.function_condition()?
        {
            return Ok(condition);
        }
        let left = self.operand()?;
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
            _ => {
                let ends_condition = self.peek().kind == TokenKind::End
                    || self.is_symbol(")")
                    || self.is_keyword("AND")
                    || self.is_keyword("OR");
                if matches!(left, Operand::Size(_)) && ends_condition {
                    return Err(Error::function_misused(self.kind, "size"));
                }
                Err(self.error_here())
            }
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
        self.parens_depth += 1;
        if self.parens_depth > PARENS_DEPTH_MAX {
            return Err(self.error_here());
        }
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
    Ok(condition)
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

    #[test]
    fn parses_update_clauses_in_any_order() {
        let actions = parse_update("REMOVE x[1], y SET a.b[2] = list_append(a.c, :l), n = if_not_exists(n, :z) + :one DELETE s :s ADD c :c").unwrap();
        assert_eq!(actions.len(), 6);
    }
}
