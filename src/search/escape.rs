//! FHIR search-value escaping: `\,` `\|` `\$` and `\\` stand for the literal characters.

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
}
