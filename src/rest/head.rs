//! Refusals decided from the request head alone, before routing, authentication, the body or
//! the database: a target longer than the server takes (414), a body declared larger than the
//! limit by a client that waits for `100 Continue` before sending it (413, so nothing is read),
//! and control characters in the path or query (400: no id, parameter name or search value may
//! hold them, and PostgreSQL refuses NUL outright).

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, EXPECT};

use crate::error::FhirError;

pub fn check(request: &Request, max_body_bytes: usize, max_url_bytes: usize) -> Result<(), FhirError> {
    let target = request.uri().path_and_query().map_or("", |p| p.as_str());
    if target.len() > max_url_bytes {
        return Err(FhirError::UriTooLong(target.len(), max_url_bytes));
    }
    let headers = request.headers();
    let waits_to_send = headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if waits_to_send && declared.is_some_and(|n| n > max_body_bytes as u64) {
        return Err(FhirError::PayloadTooLarge(max_body_bytes));
    }
    if let Some(what) = control_character(request.uri().path()) {
        return Err(FhirError::bad_request(format!("the request path holds {what}")));
    }
    if let Some(what) = request.uri().query().and_then(control_character) {
        return Err(FhirError::bad_request(format!("the query holds {what}")));
    }
    Ok(())
}

/// The first control character (C0 or DEL) in a percent-encoded URL part, described. Decoding
/// the whole part at once finds it in names and values alike (`+` decodes to no control).
fn control_character(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part)
        .find(u8::is_ascii_control)
        .map(|b| format!("the control character U+{b:04X}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_encoded_or_not() {
        assert!(control_character("/Patient/a%00b").is_some());
        assert!(control_character("/Patient/ab%7f").is_some());
        assert!(control_character("name=a%0Ab").is_some());
        assert!(control_character("na%01me=ab").is_some());
        assert!(control_character("name=Zo%C5%BCa&x=%2C").is_none());
        assert!(control_character("/Patient/abc").is_none());
    }
}
