//! FHIR JSON reader: one pass from bytes to `serde_json::Value`, stricter than `serde_json`.
//!
//! Why not `serde_json::from_slice`: it lets a repeated key silently replace the first (FHIR
//! forbids duplicate properties, and `"method":"GET","method":"DELETE"` must not be a DELETE), it
//! accepts escaped control characters (`\u0000`, which PostgreSQL cannot store and XML cannot
//! carry), and with `arbitrary_precision` it rewrites exponents (`1E2` becomes `1e+2`) while FHIR
//! decimals must come back exactly as written. This reader refuses the first two, naming the path,
//! and keeps every number's text untouched. Nesting is bounded like `serde_json` (128 levels), so
//! deep input is an error, never a stack overflow.

use serde_json::{Map, Number, Value};

use super::text;
use crate::outcome::{Issue, IssueType};

/// Containers nested deeper than this are refused (the limit `serde_json` uses).
pub const MAX_DEPTH: usize = 128;

/// Why a JSON body was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub code: IssueType,
    pub message: String,
    /// FHIRPath-like location (`Bundle.entry[0].request.method`), empty at the top.
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl JsonError {
    pub fn issue(&self) -> Issue {
        let kind = if self.code == IssueType::Value { "refused JSON" } else { "malformed JSON" };
        let text = format!("{kind}: {} (line {}, column {})", self.message, self.line, self.column);
        let issue = Issue::error(self.code, text);
        if self.path.is_empty() { issue } else { issue.at(self.path.clone()) }
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at line {} column {}", self.message, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, " ({})", self.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for JsonError {}

/// Parses a JSON body as FHIR requires: no duplicate keys, no forbidden characters, numbers kept
/// exactly as written.
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        let (line, column) = line_column(input, e.valid_up_to());
        JsonError {
            code: IssueType::Structure,
            message: "the body is not UTF-8".to_string(),
            path: String::new(),
            line,
            column,
        }
    })?;
    run(text, true)
}

/// Reads JSON the server wrote itself (stored resources): numbers keep their exact text, which
/// `serde_json::from_str` would not. Characters are not re-checked, so rows stored before the
/// character rule still read. A drop-in for `serde_json::from_str`.
pub fn from_str(text: &str) -> serde_json::Result<Value> {
    run(text, false).map_err(|e| <serde_json::Error as serde::de::Error>::custom(e.to_string()))
}

/// [`parse`] with `serde_json`'s error type, for callers that report errors as text.
pub fn from_slice(input: &[u8]) -> serde_json::Result<Value> {
    parse(input).map_err(|e| <serde_json::Error as serde::de::Error>::custom(e.to_string()))
}

fn run(text: &str, strict: bool) -> Result<Value, JsonError> {
    let mut p = Parser { text, bytes: text.as_bytes(), at: 0, strict };
    let result = p.whitespace_then_value(0).and_then(|v| {
        p.whitespace();
        if p.at == p.bytes.len() { Ok(v) } else { Err(Failure::new(IssueType::Structure, "trailing characters")) }
    });
    result.map_err(|f| {
        let (line, column) = line_column(p.bytes, p.at);
        JsonError { path: f.path(), code: f.code, message: f.message, line, column }
    })
}

fn line_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = bytes.get(..at).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

enum Step {
    Key(String),
    Index(usize),
}

/// An error on its way out: each enclosing container adds its step, so the success path
/// tracks no location at all.
struct Failure {
    code: IssueType,
    message: String,
    steps: Vec<Step>,
    resource_type: Option<String>,
}

impl Failure {
    fn new(code: IssueType, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into(), steps: Vec::new(), resource_type: None }
    }

    fn within(mut self, step: Step, map: Option<&Map<String, Value>>) -> Failure {
        self.steps.push(step);
        if let Some(rt) = map.and_then(|m| m.get("resourceType")).and_then(Value::as_str) {
            self.resource_type = Some(rt.to_string());
        }
        self
    }

    /// Steps from the outermost resource that had declared its type, FHIRPath style.
    fn path(&self) -> String {
        let mut out = self.resource_type.clone().unwrap_or_default();
        for step in self.steps.iter().rev() {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

type Parsed<T> = Result<T, Failure>;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    strict: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn syntax(&self, what: &str) -> Failure {
        match self.peek() {
            None => Failure::new(IssueType::Structure, format!("unexpected end of input, expected {what}")),
            Some(b) if b.is_ascii_graphic() => {
                Failure::new(IssueType::Structure, format!("expected {what}, found '{}'", char::from(b)))
            }
            Some(_) => Failure::new(IssueType::Structure, format!("expected {what}")),
        }
    }

    fn whitespace_then_value(&mut self, depth: usize) -> Parsed<Value> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.syntax("a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Parsed<Value> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.syntax("a value"))
        }
    }

    fn nested(&self, depth: usize) -> Parsed<()> {
        if depth > MAX_DEPTH {
            return Err(Failure::new(IssueType::TooLong, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Parsed<Value> {
        self.nested(depth)?;
        self.at += 1;
        let mut map = Map::new();
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.syntax("a property name in double quotes"));
            }
            let key_at = self.at;
            let key = self.string().map_err(|f| f.within_object(&map))?;
            if map.contains_key(&key) {
                self.at = key_at;
                let message = format!("duplicate property '{key}' (FHIR JSON allows each property once)");
                return Err(Failure::new(IssueType::Structure, message).within(Step::Key(key), Some(&map)));
            }
            self.whitespace();
            if self.peek() != Some(b':') {
                return Err(self.syntax("':'").within(Step::Key(key), Some(&map)));
            }
            self.at += 1;
            let value = match self.whitespace_then_value(depth) {
                Ok(v) => v,
                Err(f) => return Err(f.within(Step::Key(key), Some(&map))),
            };
            map.insert(key, value);
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.syntax("',' or '}'").within_object(&map)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Parsed<Value> {
        self.nested(depth)?;
        self.at += 1;
        let mut items = Vec::new();
        self.whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            let index = items.len();
            items.push(self.whitespace_then_value(depth).map_err(|f| f.within(Step::Index(index), None))?);
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.syntax("',' or ']'")),
            }
        }
    }

    fn string(&mut self) -> Parsed<String> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        let mut run_start = self.at;
        loop {
            let Some(b) = self.peek() else {
                return Err(Failure::new(IssueType::Structure, "unterminated string"));
            };
            match b {
                b'"' => {
                    out.push_str(&self.text[run_start..self.at]);
                    self.at += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run_start..self.at]);
                    let c = self.escape()?;
                    self.check_char(c)?;
                    out.push(c);
                    run_start = self.at;
                }
                0x00..=0x1f => {
                    let c = char::from(b);
                    return Err(Failure::new(
                        IssueType::Structure,
                        format!("unescaped control character {} in a string", text::describe(c)),
                    ));
                }
                // U+FFFE and U+FFFF are EF BF BE / EF BF BF in UTF-8.
                0xef if self.strict
                    && matches!(self.bytes.get(self.at + 1..self.at + 3), Some([0xbf, 0xbe | 0xbf])) =>
                {
                    let c = if self.bytes[self.at + 2] == 0xbe { '\u{fffe}' } else { '\u{ffff}' };
                    return Err(self.forbidden(c));
                }
                _ => self.at += 1,
            }
        }
    }

    fn forbidden(&self, c: char) -> Failure {
        Failure::new(
            IssueType::Value,
            format!(
                "the character {} is not allowed in FHIR content (no control characters but TAB, CR, LF)",
                text::describe(c)
            ),
        )
    }

    fn check_char(&self, c: char) -> Parsed<()> {
        if self.strict && !text::allowed(c) { Err(self.forbidden(c)) } else { Ok(()) }
    }

    /// After a backslash: the escaped character.
    fn escape(&mut self) -> Parsed<char> {
        self.at += 1;
        let Some(b) = self.peek() else {
            return Err(Failure::new(IssueType::Structure, "unterminated string"));
        };
        self.at += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xd800..=0xdbff => {
                        if !self.bytes[self.at..].starts_with(b"\\u") {
                            return Err(self.lone_surrogate(first));
                        }
                        self.at += 2;
                        let second = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&second) {
                            return Err(self.lone_surrogate(first));
                        }
                        let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                        char::from_u32(code).ok_or_else(|| self.lone_surrogate(first))?
                    }
                    0xdc00..=0xdfff => return Err(self.lone_surrogate(first)),
                    _ => char::from_u32(first).ok_or_else(|| self.lone_surrogate(first))?,
                }
            }
            _ => {
                self.at -= 1;
                return Err(Failure::new(IssueType::Structure, "invalid escape in a string"));
            }
        })
    }

    fn lone_surrogate(&self, unit: u32) -> Failure {
        Failure::new(IssueType::Value, format!("\\u{unit:04x} is half of a surrogate pair (not a character)"))
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let digits = self.bytes.get(self.at..self.at + 4).unwrap_or_default();
        let text =
            std::str::from_utf8(digits).ok().filter(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        let value = text
            .and_then(|t| u32::from_str_radix(t, 16).ok())
            .ok_or_else(|| Failure::new(IssueType::Structure, "\\u must be followed by four hex digits"))?;
        self.at += 4;
        Ok(value)
    }

    /// A number in JSON's grammar (which is FHIR's decimal grammar), kept as written.
    fn number(&mut self) -> Parsed<Value> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(Failure::new(IssueType::Structure, "a number must not have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.syntax("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.syntax("a digit after the decimal point"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.syntax("a digit in the exponent"));
            }
            self.digits();
        }
        Ok(Value::Number(exact_number(&self.text[start..self.at])))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }
}

impl Failure {
    /// A syntax error between members: the object's type still locates it.
    fn within_object(mut self, map: &Map<String, Value>) -> Failure {
        if let Some(rt) = map.get("resourceType").and_then(Value::as_str) {
            self.resource_type = Some(rt.to_string());
        }
        self
    }
}

/// A number with exactly this text. The caller has checked it against JSON's number grammar.
///
/// `serde_json` offers no public constructor that keeps the text (its parser rewrites `1E2` as
/// `1e+2`); `from_string_unchecked` is what its own deserializer uses under `arbitrary_precision`.
/// The unit test below pins that it keeps the text.
pub fn exact_number(text: &str) -> Number {
    Number::from_string_unchecked(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> JsonError {
        parse(input.as_bytes()).expect_err(input)
    }

    #[test]
    fn same_values_as_serde_json() {
        let input = r#" {"resourceType":"Patient","a":[1,-0.5,2.50,{"b":null,"c":true,"d":false}],"e":"x\"\\\/\n\t\r\u00e9\ud83d\ude00","f":{}, "g":[]} "#;
        let ours = parse(input.as_bytes()).expect("parse");
        let theirs: Value = serde_json::from_str(input).expect("serde");
        assert_eq!(ours, theirs);
        assert_eq!(serde_json::to_string(&ours).expect("write"), serde_json::to_string(&theirs).expect("write"));
    }

    #[test]
    fn numbers_keep_their_text() {
        for n in ["1E2", "1e2", "1.0e0", "1.0E+0", "-0", "0.000", "1e-7", "123456789012345678901234567890.5"] {
            let v = parse(n.as_bytes()).expect(n);
            assert_eq!(serde_json::to_string(&v).expect("write"), n);
            assert_eq!(from_str(n).expect(n).to_string(), n);
        }
        for bad in ["01", "1.", ".5", "+1", "NaN", "-", "1e", "1e+", "Infinity", "0x10"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicates_name_the_path() {
        let e = err(r#"{"resourceType":"Patient","active":true,"active":false}"#);
        assert_eq!(e.path, "Patient.active");
        assert!(e.message.contains("duplicate property 'active'"), "{e}");
        let e = err(
            r#"{"resourceType":"Bundle","type":"batch","entry":[{},{"request":{"method":"GET","url":"Patient/1","method":"DELETE"}}]}"#,
        );
        assert_eq!(e.path, "Bundle.entry[1].request.method");
        let e = err(r#"[{"op":"add","op":"remove"}]"#);
        assert_eq!(e.path, "[0].op");
        // Duplicates in different objects are fine.
        assert!(parse(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    #[test]
    fn characters() {
        for bad in
            [r#"{"a":"\u0000"}"#, r#"{"a":"x\u001fy"}"#, r#"{"a":"\b"}"#, r#"{"\u0001":1}"#, "{\"a\":\"\u{ffff}\"}"]
        {
            let e = err(bad);
            assert_eq!(e.code, IssueType::Value, "{bad}: {e}");
            assert_eq!(e.path, "a".repeat(usize::from(!bad.contains("\\u0001"))), "{bad}");
        }
        assert_eq!(err("{\"a\":\"\0\"}").code, IssueType::Structure, "raw control characters are not JSON");
        for bad in [r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#, r#""\ud800x""#] {
            assert_eq!(err(bad).code, IssueType::Value, "{bad}");
        }
        assert!(parse(br#""\t\n\r\u0009\u007f\ufffd""#).is_ok());
        assert!(parse(b"\"\xff\"").is_err(), "not UTF-8");
        // Stored content written before the rule still reads.
        assert!(from_str(r#"{"a":"\u0000"}"#).is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(100_000);
        assert_eq!(err(&deep).code, IssueType::TooLong);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let over = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(over.as_bytes()).is_err());
    }

    #[test]
    fn syntax_errors() {
        for bad in ["", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "[1 2]", "{} {}", "tru", "\"abc", "{'a':1}", "\"\\x\""] {
            assert_eq!(err(bad).code, IssueType::Structure, "{bad}");
        }
        let e = err("{\n  \"a\": [1,\n  x]}");
        assert_eq!((e.line, e.column, e.path.as_str()), (3, 3, "a[1]"));
    }
}
