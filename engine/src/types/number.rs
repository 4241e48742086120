//! DynamoDB numbers: up to 38 significant digits, magnitudes from 1E-130 to 9.99…E+125.
//!
//! A number is kept in a normalised decimal form, `±0.d₁d₂…dₙ × 10^exponent` with no leading
//! or trailing zero digit, so equality is structural and ordering is cheap. Parsing and
//! rendering are ours because DynamoDB's accepted syntax and canonical output are specific
//! (`dynamodb-facts.md` §1.2); addition and subtraction go through `bigdecimal`, then back
//! through the same range and precision checks.

use crate::error::{Error, Result};
use crate::limits::{NUMBER_DIGITS_MAX, NUMBER_EXPONENT_MAX, NUMBER_EXPONENT_MIN};
use std::cmp::Ordering;
use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// ASCII digits without leading or trailing zeros; empty for zero.
    digits: Box<[u8]>,
    /// Decimal exponent of `0.digits`; zero for zero.
    exponent: i32,
}

impl Number {
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Box::new([]),
            exponent: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    pub fn significant_digits(&self) -> &[u8] {
        &self.digits
    }

    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// Parses DynamoDB's number syntax: optional sign, digits with an optional point, optional
    /// exponent. Errors carry DynamoDB's messages.
    pub fn parse(text: &str) -> Result<Number> {
        let invalid = || Error::number_not_numeric(text);
        let bytes = text.as_bytes();
        let mut position = 0;
        let mut negative = false;
        if let Some(&sign) = bytes.first()
            && (sign == b'+' || sign == b'-')
        {
            negative = sign == b'-';
            position = 1;
        }
        let mut mantissa: Vec<u8> = Vec::new();
        let mut integer_digit_count: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        while position < bytes.len() {
            let b = bytes[position];
            if b.is_ascii_digit() {
                seen_digit = true;
                mantissa.push(b);
                if !seen_point {
                    integer_digit_count += 1;
                }
            } else if b == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            position += 1;
        }
        if !seen_digit {
            return Err(invalid());
        }
        let mut exponent: i64 = 0;
        if position < bytes.len() {
            if bytes[position] != b'e' && bytes[position] != b'E' {
                return Err(invalid());
            }
            position += 1;
            let mut exponent_negative = false;
            if position < bytes.len() && (bytes[position] == b'+' || bytes[position] == b'-') {
                exponent_negative = bytes[position] == b'-';
                position += 1;
            }
            if position == bytes.len() {
                return Err(invalid());
            }
            while position < bytes.len() {
                let b = bytes[position];
                if !b.is_ascii_digit() {
                    return Err(invalid());
                }
                // Saturate: anything this large is out of range whatever the digits.
                exponent = (exponent * 10 + i64::from(b - b'0')).min(1_000_000_000);
                position += 1;
            }
            if exponent_negative {
                exponent = -exponent;
            }
        }
        Number::from_parts(negative, &mantissa, integer_digit_count + exponent)
    }

    /// Builds a number from digits `d` and the exponent `e` of `0.d × 10^e`, normalising and
    /// checking range and precision.
    fn from_parts(negative: bool, digits: &[u8], exponent: i64) -> Result<Number> {
        let leading = digits.iter().take_while(|&&d| d == b'0').count();
        let digits = &digits[leading..];
        let trailing = digits.iter().rev().take_while(|&&d| d == b'0').count();
        let digits = &digits[..digits.len() - trailing];
        if digits.is_empty() {
            return Ok(Number::zero());
        }
        let exponent = exponent - leading as i64;
        if digits.len() > NUMBER_DIGITS_MAX {
            return Err(Error::number_too_precise());
        }
        if exponent > i64::from(NUMBER_EXPONENT_MAX) {
            return Err(Error::number_overflow());
        }
        if exponent < i64::from(NUMBER_EXPONENT_MIN) {
            return Err(Error::number_underflow());
        }
        Ok(Number {
            negative,
            digits: digits.into(),
            exponent: exponent as i32,
        })
    }

    pub fn from_i64(value: i64) -> Number {
        Number::parse(&value.to_string()).expect("every i64 is a valid DynamoDB number")
    }

    fn to_big(&self) -> bigdecimal::BigDecimal {
        use std::str::FromStr;
        if self.is_zero() {
            return bigdecimal::BigDecimal::from(0);
        }
        let text = format!(
            "{}0.{}e{}",
            if self.negative { "-" } else { "" },
            std::str::from_utf8(&self.digits).expect("digits are ASCII"),
            self.exponent
        );
        bigdecimal::BigDecimal::from_str(&text).expect("normalised numbers parse")
    }

    fn from_big(value: &bigdecimal::BigDecimal) -> Result<Number> {
        let (integer, scale) = value.as_bigint_and_exponent();
        let text = integer.to_string();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        // integer × 10^-scale = 0.digits × 10^(len - scale)
        let exponent = digits.len() as i64 - scale;
        match Number::from_parts(negative, digits.as_bytes(), exponent) {
            // AWS reports the overflow message when a sum needs more than 38 digits (obs).
            Err(e) if e == Error::number_too_precise() => Err(Error::number_overflow()),
            other => other,
        }
    }

    pub fn add(&self, other: &Number) -> Result<Number> {
        Number::from_big(&(self.to_big() + other.to_big()))
    }

    pub fn subtract(&self, other: &Number) -> Result<Number> {
        Number::from_big(&(self.to_big() - other.to_big()))
    }

    /// Bytes this number counts for in an item's size. DynamoDB does not document its number
    /// encoding exactly; we count one byte per pair of digits aligned on the decimal point
    /// (base-100 digits), one byte of exponent, and one more for negatives. Decision recorded
    /// in `docs/compatibility.md`.
    pub fn size_bytes(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let pad = self.exponent.rem_euclid(2) as usize;
        (self.digits.len() + pad).div_ceil(2) + 1 + usize::from(self.negative)
    }

    /// Renders in DynamoDB's canonical plain-decimal form, never with an exponent.
    pub fn render(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let digits = std::str::from_utf8(&self.digits).expect("digits are ASCII");
        let mut out = String::with_capacity(digits.len() + 8);
        if self.negative {
            out.push('-');
        }
        let e = self.exponent;
        let n = digits.len() as i32;
        if e <= 0 {
            out.push_str("0.");
            for _ in 0..-e {
                out.push('0');
            }
            out.push_str(digits);
        } else if e < n {
            out.push_str(&digits[..e as usize]);
            out.push('.');
            out.push_str(&digits[e as usize..]);
        } else {
            out.push_str(digits);
            for _ in 0..e - n {
                out.push('0');
            }
        }
        out
    }

    /// Order-preserving byte encoding, used for sort keys: comparing encodings bytewise
    /// gives numeric order.
    pub fn encode_ordered(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(0x02);
            return;
        }
        // Exponents fit in 16 bits with room to spare; offsetting makes them unsigned.
        let biased = (self.exponent + 0x8000) as u16;
        if self.negative {
            out.push(0x01);
            out.extend_from_slice(&(!biased).to_be_bytes());
            out.extend(self.digits.iter().map(|d| !d));
            // Digits invert to bytes below 0xFF, so a shorter number (larger, being negative)
            // sorts after a longer one with the same prefix.
            out.push(0xFF);
        } else {
            out.push(0x03);
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend_from_slice(&self.digits);
        }
    }

    /// Returns an integer value if this number is one that fits in `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        if self.is_zero() {
            return Some(0);
        }
        if self.exponent < self.digits.len() as i32 || self.exponent > 18 {
            return None;
        }
        self.render().parse().ok()
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "N({})", self.render())
    }
}

impl Number {
    /// Rebuilds a number from parts produced by [`Number::parts`]; only the item codec calls
    /// this, on bytes it wrote itself.
    pub(crate) fn from_normalised(negative: bool, digits: &[u8], exponent: i32) -> Number {
        debug_assert!(digits.first() != Some(&b'0') && digits.last() != Some(&b'0'));
        Number {
            negative,
            digits: digits.into(),
            exponent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_as_dynamodb_returns() {
        let cases = [
            ("007", "7"),
            ("+3", "3"),
            ("1.0", "1"),
            ("1.10", "1.1"),
            ("1e3", "1000"),
            ("1.5e2", "150"),
            ("1e-3", "0.001"),
            ("-0", "0"),
            ("0e5", "0"),
            (".5", "0.5"),
            ("-.5", "-0.5"),
            ("1e-20", "0.00000000000000000001"),
            ("123.456", "123.456"),
            ("5.", "5"),
            ("-00012.3400", "-12.34"),
            ("1E+2", "100"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Number::parse(input).unwrap().render(),
                expected,
                "input {input}"
            );
        }
        assert_eq!(
            Number::parse("1e125").unwrap().render(),
            format!("1{}", "0".repeat(125))
        );
    }

    #[test]
    fn rejects_out_of_range_and_garbage() {
        assert_eq!(
            Number::parse("1e126").unwrap_err(),
            Error::number_overflow()
        );
        assert_eq!(
            Number::parse("9.9999999999999999999999999999999999999e125")
                .unwrap()
                .exponent,
            126
        );
        assert_eq!(
            Number::parse("1e-131").unwrap_err(),
            Error::number_underflow()
        );
        assert!(Number::parse("1e-130").is_ok());
        assert_eq!(
            Number::parse(&"1".repeat(39)).unwrap_err(),
            Error::number_too_precise()
        );
        assert!(Number::parse(&"1".repeat(38)).is_ok());
        assert!(Number::parse(&format!("{}000", "1".repeat(38))).is_ok());
        for bad in [
            "", "-", "abc", "1e", "1.2.3", "NaN", "Infinity", " 1", "1 ", "0x10", "1e+", "--1", ".",
        ] {
            let err = Number::parse(bad).unwrap_err();
            assert!(
                err.message.starts_with("The parameter cannot be converted"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn orders_numerically() {
        let sorted = [
            "-1000", "-2.5", "-2", "-0.001", "0", "0.001", "0.01", "1", "1.5", "2", "10", "1e100",
        ];
        let numbers: Vec<Number> = sorted.iter().map(|s| Number::parse(s).unwrap()).collect();
        for pair in numbers.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            pair[0].encode_ordered(&mut a);
            pair[1].encode_ordered(&mut b);
            assert!(a < b, "encoding of {:?} < {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Number::parse("1e50").unwrap();
        let one = Number::parse("1").unwrap();
        assert_eq!(a.subtract(&one).unwrap_err(), Error::number_overflow());
        assert_eq!(
            Number::parse("0.1")
                .unwrap()
                .add(&Number::parse("0.2").unwrap())
                .unwrap()
                .render(),
            "0.3"
        );
        assert_eq!(
            Number::parse("5")
                .unwrap()
                .subtract(&Number::parse("7.5").unwrap())
                .unwrap()
                .render(),
            "-2.5"
        );
    }

    #[test]
    fn size_counts_base_100_digits() {
        assert_eq!(Number::parse("1").unwrap().size_bytes(), 2);
        assert_eq!(Number::parse("10").unwrap().size_bytes(), 2);
        assert_eq!(Number::parse("123").unwrap().size_bytes(), 3);
        assert_eq!(Number::parse("-1").unwrap().size_bytes(), 3);
        assert_eq!(Number::zero().size_bytes(), 1);
    }
}
