//! Lexical rules of the FHIR R4 primitive types, as they appear in JSON.

use serde_json::Value;

use super::datetime::{self, DateKind};

/// The JSON shape a primitive type takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Boolean,
    Integer,
    Decimal,
    String,
}

pub fn json_kind(type_name: &str) -> JsonKind {
    match type_name {
        "boolean" => JsonKind::Boolean,
        "integer" | "positiveInt" | "unsignedInt" => JsonKind::Integer,
        "decimal" => JsonKind::Decimal,
        _ => JsonKind::String,
    }
}

/// Largest string FHIR allows (1 MB of characters).
const MAX_STRING: usize = 1024 * 1024;

/// Checks a primitive value against its type. The message says what is wrong, not where.
pub fn check(type_name: &str, value: &Value) -> Result<(), String> {
    match (json_kind(type_name), value) {
        (JsonKind::Boolean, Value::Bool(_)) => Ok(()),
        (JsonKind::Integer, Value::Number(n)) => check_integer(type_name, &n.to_string()),
        (JsonKind::Decimal, Value::Number(n)) => check_decimal(&n.to_string()),
        (JsonKind::String, Value::String(s)) => check_string(type_name, s),
        (kind, other) => Err(format!(
            "expected a {} for a FHIR {type_name}, found {}",
            match kind {
                JsonKind::Boolean => "JSON boolean",
                JsonKind::Integer | JsonKind::Decimal => "JSON number",
                JsonKind::String => "JSON string",
            },
            describe(other)
        )),
    }
}

pub fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_integer(type_name: &str, text: &str) -> Result<(), String> {
    let n: i64 =
        text.parse().map_err(|_| format!("'{text}' is not a valid {type_name} (a whole number is required)"))?;
    let (min, what) = match type_name {
        "positiveInt" => (1, "at least 1"),
        "unsignedInt" => (0, "at least 0"),
        _ => (i64::from(i32::MIN), "a 32-bit integer"),
    };
    if n < min || n > i64::from(i32::MAX) {
        return Err(format!("{text} is out of range for {type_name} (must be {what} and at most 2147483647)"));
    }
    Ok(())
}

fn check_decimal(text: &str) -> Result<(), String> {
    // JSON's number grammar equals FHIR's decimal grammar; only absurd exponents are refused,
    // since they cannot be compared or indexed meaningfully.
    let exponent = text.split(['e', 'E']).nth(1).and_then(|e| e.parse::<i64>().ok()).unwrap_or(0);
    if exponent.abs() > 1000 || text.len() > 100 {
        return Err(format!("decimal '{text}' is out of the supported range"));
    }
    Ok(())
}

fn check_string(type_name: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("a {type_name} must not be empty (leave the element out instead)"));
    }
    if s.len() > MAX_STRING {
        return Err(format!("a {type_name} must not exceed 1 MB"));
    }
    match type_name {
        "string" | "markdown" => {
            if s.trim().is_empty() {
                return Err(format!("a {type_name} must contain non-whitespace characters"));
            }
            Ok(())
        }
        "code" => {
            if s.starts_with(char::is_whitespace)
                || s.ends_with(char::is_whitespace)
                || s.contains("  ")
                || s.chars().any(|c| c.is_whitespace() && c != ' ')
            {
                return Err(format!("code '{s}' has leading, trailing or repeated whitespace"));
            }
            Ok(())
        }
        "id" => {
            if !is_id(s) {
                return Err(format!("id '{s}' must be 1-64 characters of A-Z, a-z, 0-9, '-' and '.'"));
            }
            Ok(())
        }
        "uri" | "url" | "canonical" => {
            if s.chars().any(char::is_whitespace) {
                return Err(format!("{type_name} '{s}' must not contain whitespace"));
            }
            Ok(())
        }
        "oid" => check_oid(s),
        "uuid" => check_uuid(s),
        "date" => datetime::parse(s, DateKind::Date).map(drop),
        "dateTime" => datetime::parse(s, DateKind::DateTime).map(drop),
        "instant" => datetime::parse(s, DateKind::Instant).map(drop),
        "time" => datetime::check_time(s),
        "base64Binary" => check_base64(s),
        "xhtml" => crate::format::xhtml::check(s),
        _ => Ok(()),
    }
}

fn check_oid(s: &str) -> Result<(), String> {
    let ok = s.strip_prefix("urn:oid:").is_some_and(|rest| {
        let mut parts = rest.split('.');
        let first_ok = parts.next().is_some_and(|p| matches!(p, "0" | "1" | "2"));
        let rest: Vec<&str> = parts.collect();
        first_ok
            && !rest.is_empty()
            && rest.iter().all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0'))
            })
    });
    if ok { Ok(()) } else { Err(format!("oid '{s}' must look like urn:oid:1.2.3")) }
}

fn check_uuid(s: &str) -> Result<(), String> {
    let ok = s.strip_prefix("urn:uuid:").is_some_and(|u| {
        u.len() == 36
            && u.bytes().enumerate().all(|(i, b)| {
                if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { b.is_ascii_hexdigit() && !b.is_ascii_uppercase() }
            })
    });
    if ok { Ok(()) } else { Err(format!("uuid '{s}' must look like urn:uuid:<lower-case UUID>")) }
}

fn check_base64(s: &str) -> Result<(), String> {
    let mut count = 0usize;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=') {
            return Err("base64Binary contains characters outside the base64 alphabet".to_string());
        }
        count += 1;
    }
    if !count.is_multiple_of(4) {
        return Err("base64Binary length must be a multiple of 4".to_string());
    }
    Ok(())
}

/// The FHIR `id` rule: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn primitives() {
        assert!(check("boolean", &json!(true)).is_ok());
        assert!(check("boolean", &json!("true")).is_err());
        assert!(check("positiveInt", &json!(0)).is_err());
        assert!(check("unsignedInt", &json!(0)).is_ok());
        assert!(check("integer", &json!(1.5)).is_err());
        assert!(check("integer", &json!(3_000_000_000i64)).is_err());
        assert!(check("decimal", &json!(1.5)).is_ok());
        assert!(check("code", &json!("a b")).is_ok());
        assert!(check("code", &json!(" a")).is_err());
        assert!(check("id", &json!("abc_1")).is_err());
        assert!(check("oid", &json!("urn:oid:1.2.616")).is_ok());
        assert!(check("oid", &json!("urn:oid:1.02")).is_err());
        assert!(check("date", &json!("1970-13-45")).is_err());
        assert!(check("string", &json!("")).is_err());
        assert!(check("base64Binary", &json!("aGVsbG8=")).is_ok());
        assert!(check("base64Binary", &json!("aGVsbG8")).is_err());
    }
}
