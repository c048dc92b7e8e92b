//! Which characters a resource may hold.
//!
//! FHIR strings admit no C0 control characters other than TAB, LF and CR (R4 `string` is
//! `[ \r\n\t\S]+`), and everything the server accepts must be writable as XML 1.0, which also
//! excludes U+FFFE and U+FFFF. PostgreSQL cannot store NUL in text at all. One rule for JSON
//! strings, JSON keys, XML attribute values and narratives keeps what is accepted and what can be
//! written the same set.

/// Whether a character may appear in a resource.
pub fn allowed(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

/// The first character a resource may not hold.
pub fn first_forbidden(s: &str) -> Option<char> {
    s.chars().find(|&c| !allowed(c))
}

/// The first forbidden character in raw UTF-8 bytes: a C0 control byte, or U+FFFE/U+FFFF.
pub fn first_forbidden_byte(bytes: &[u8]) -> Option<char> {
    bytes.iter().enumerate().find_map(|(i, &b)| match b {
        b'\t' | b'\n' | b'\r' => None,
        0x00..=0x1f => Some(char::from(b)),
        0xef => match bytes.get(i + 1..i + 3) {
            Some([0xbf, 0xbe]) => Some('\u{fffe}'),
            Some([0xbf, 0xbf]) => Some('\u{ffff}'),
            _ => None,
        },
        _ => None,
    })
}

/// How a forbidden character is named in messages (it cannot be shown as itself).
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_noncharacters() {
        assert!(allowed('\t') && allowed('\n') && allowed('\r') && allowed(' ') && allowed('\u{7f}'));
        assert!(!allowed('\0') && !allowed('\u{1}') && !allowed('\u{1f}') && !allowed('\u{8}'));
        assert!(!allowed('\u{fffe}') && !allowed('\u{ffff}') && allowed('\u{fffd}') && allowed('\u{10000}'));
        assert_eq!(first_forbidden("ab\u{0}c"), Some('\0'));
        assert_eq!(describe('\0'), "U+0000");
        assert_eq!(first_forbidden_byte(b"a\tb\r\n"), None);
        assert_eq!(first_forbidden_byte(b"a\0b"), Some('\0'));
        assert_eq!(first_forbidden_byte("x\u{ffff}".as_bytes()), Some('\u{ffff}'));
        assert_eq!(first_forbidden_byte("\u{fffd}\u{effe}".as_bytes()), None);
    }
}
