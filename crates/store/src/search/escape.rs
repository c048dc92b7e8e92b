//! FHIR search-value escaping: `\,` `\|` `\$` and `\\` stand for the literal characters.

/// The characters a backslash may escape in a search value.
const ESCAPABLE: [char; 4] = [',', '|', '$', '\\'];

/// Refuses a value whose backslashes do not each escape one of `, | $ \`: a dangling or
/// unknown escape has no defined meaning, and dropping it would turn the criterion into a wider
/// one (`name=\` matching every name).
pub fn check_escapes(value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) if ESCAPABLE.contains(&next) => {}
                Some(next) => {
                    return Err(format!("'\\{next}' in '{value}' is not an escape (only \\, \\| \\$ and \\\\ are)"));
                }
                None => return Err(format!("'{value}' ends with a lone '\\' (write '\\\\' for a backslash)")),
            }
        }
    }
    Ok(())
}

/// Splits on an unescaped separator, leaving escapes in place.
pub fn split_unescaped(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(&value[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Removes escapes.
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits `system|code` at the first unescaped bar.
pub fn split_token(value: &str) -> (Option<String>, String) {
    let parts = split_unescaped(value, '|');
    match parts.as_slice() {
        [code] => (None, unescape(code)),
        [system, rest @ ..] => (Some(unescape(system)), unescape(&rest.join("|"))),
        [] => (None, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(split_unescaped(r"a\,b,c", ','), vec![r"a\,b", "c"]);
        assert_eq!(unescape(r"a\,b\|c\\"), r"a,b|c\");
        assert_eq!(split_token("http://s|123"), (Some("http://s".to_string()), "123".to_string()));
        assert_eq!(split_token("|123"), (Some(String::new()), "123".to_string()));
        assert_eq!(split_token(r"a\|b"), (None, "a|b".to_string()));
    }

    #[test]
    fn malformed_escapes_are_refused() {
        assert!(check_escapes(r"a\,b\|c\$d\\").is_ok());
        assert!(check_escapes("\\").is_err());
        assert!(check_escapes(r"abc\").is_err());
        assert!(check_escapes(r"a\b").is_err());
        assert!(check_escapes(r"urn:sys|\").is_err());
    }
}
