//! encode/decode (base64, urlbase64, hex) and escape/unescape (html, json).

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64_encode(data: &[u8], table: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(table[(n >> 18) as usize & 63] as char);
        out.push(table[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { table[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { table[n as usize & 63] as char } else { '=' });
    }
    out
}

fn b64_decode(s: &str, table: &[u8; 64]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut buf: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let v = table.iter().position(|t| *t == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

pub(super) fn encode(s: &str, fmt: &str) -> Option<String> {
    match fmt {
        "base64" => Some(b64_encode(s.as_bytes(), B64)),
        "urlbase64" => Some(b64_encode(s.as_bytes(), B64URL)),
        "hex" => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
        _ => None,
    }
}

pub(super) fn decode(s: &str, fmt: &str) -> Option<String> {
    let bytes = match fmt {
        "base64" => b64_decode(s, B64)?,
        "urlbase64" => b64_decode(s, B64URL)?,
        "hex" => {
            if !s.len().is_multiple_of(2) {
                return None;
            }
            let mut v = Vec::with_capacity(s.len() / 2);
            for i in (0..s.len()).step_by(2) {
                v.push(u8::from_str_radix(s.get(i..i + 2)?, 16).ok()?);
            }
            v
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

pub(super) fn escape(s: &str, fmt: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    match fmt {
        "html" => {
            for c in s.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
        }
        "json" => {
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
        }
        _ => return None,
    }
    Some(out)
}

pub(super) fn unescape(s: &str, fmt: &str) -> Option<String> {
    match fmt {
        "html" => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s;
            while let Some(i) = rest.find('&') {
                out.push_str(&rest[..i]);
                let tail = &rest[i..];
                let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
                    out.push('&');
                    rest = &tail[1..];
                    continue;
                };
                let ent = &tail[1..end];
                let rep = match ent {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => ent.strip_prefix('#').and_then(|n| {
                        let v = match n.strip_prefix(['x', 'X']) {
                            Some(h) => u32::from_str_radix(h, 16).ok()?,
                            None => n.parse().ok()?,
                        };
                        char::from_u32(v)
                    }),
                };
                match rep {
                    Some(c) => {
                        out.push(c);
                        rest = &tail[end + 1..];
                    }
                    None => {
                        out.push('&');
                        rest = &tail[1..];
                    }
                }
            }
            out.push_str(rest);
            Some(out)
        }
        "json" => {
            let mut out = String::with_capacity(s.len());
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('u') => {
                        let h: String = chars.by_ref().take(4).collect();
                        out.push(u32::from_str_radix(&h, 16).ok().and_then(char::from_u32).unwrap_or('\u{fffd}'));
                    }
                    Some(o) => out.push(o),
                    None => out.push('\\'),
                }
            }
            Some(out)
        }
        _ => None,
    }
}
