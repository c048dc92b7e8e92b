//! String normalisation for search: case- and accent-insensitive, so "Łukasz" is found by
//! "lukasz" and "Żółć" by "zolc".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest indexed string, in characters; longer values are indexed by their prefix.
pub const MAX_INDEXED_CHARS: usize = 256;

/// Lower-cases, removes diacritics (including letters that Unicode does not decompose, such as
/// the Polish ł) and trims.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            'ø' | 'Ø' => out.push('o'),
            'ı' => out.push('i'),
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            c => out.extend(c.to_lowercase()),
        }
    }
    truncate(out)
}

/// Bounds a value to [`MAX_INDEXED_CHARS`].
pub fn truncate(s: String) -> String {
    match s.char_indices().nth(MAX_INDEXED_CHARS) {
        Some((at, _)) => s[..at].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn polish_and_case() {
        assert_eq!(normalize("Łukasz"), "lukasz");
        assert_eq!(normalize("ŻÓŁĆ gęślą jaźń"), "zolc gesla jazn");
        assert_eq!(normalize("  Müller "), "muller");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize(&"x".repeat(1000)).len(), 256);
    }
}
