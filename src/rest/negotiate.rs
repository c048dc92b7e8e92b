//! Content negotiation: which format a client sends (`Content-Type`) and wants (`_format`,
//! `Accept`, `_pretty`), and what it prefers (`Prefer`).

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};

use crate::error::FhirError;
use crate::format::Format;

/// How a response is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub format: Format,
    pub pretty: bool,
}

impl Default for Output {
    fn default() -> Output {
        Output { format: Format::Json, pretty: false }
    }
}

/// `Prefer: return=...`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Return {
    Minimal,
    #[default]
    Representation,
    OperationOutcome,
}

/// `Prefer: handling=...`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    #[default]
    Lenient,
    Strict,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Prefer {
    pub return_: Return,
    pub handling: Handling,
    pub respond_async: bool,
}

pub fn prefer(headers: &HeaderMap) -> Prefer {
    let mut p = Prefer::default();
    for value in headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
        for token in value.split([',', ';']).map(str::trim) {
            match token.to_ascii_lowercase().replace(' ', "").as_str() {
                "return=minimal" => p.return_ = Return::Minimal,
                "return=representation" => p.return_ = Return::Representation,
                "return=operationoutcome" => p.return_ = Return::OperationOutcome,
                "handling=strict" => p.handling = Handling::Strict,
                "handling=lenient" => p.handling = Handling::Lenient,
                "respond-async" => p.respond_async = true,
                _ => {}
            }
        }
    }
    p
}

/// Chooses the response format: `_format` wins over `Accept`; JSON when the client does not care.
pub fn output(query: &[(String, String)], headers: &HeaderMap) -> Result<Output, FhirError> {
    let pretty = query.iter().any(|(k, v)| k == "_pretty" && v == "true");
    if let Some((_, f)) = query.iter().find(|(k, _)| k == "_format") {
        let format = Format::from_mime(f)
            .ok_or_else(|| FhirError::NotAcceptable(format!("_format '{f}' is not supported (use json or xml)")))?;
        return Ok(Output { format, pretty });
    }
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Output { format: Format::Json, pretty });
    };
    let mut ranges: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .map(|(i, part)| {
            let mut pieces = part.split(';');
            let mime = pieces.next().unwrap_or_default().trim();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            (q, i, mime)
        })
        .filter(|(q, _, _)| *q > 0.0)
        .collect();
    if ranges.is_empty() {
        return Ok(Output { format: Format::Json, pretty });
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, mime) in ranges {
        if let Some(format) = Format::from_mime(mime) {
            return Ok(Output { format, pretty });
        }
        if matches!(mime, "*/*" | "application/*" | "text/*" | "text/html" | "text/plain") {
            return Ok(Output { format: Format::Json, pretty });
        }
    }
    Err(FhirError::NotAcceptable(format!(
        "cannot produce any of '{accept}'; this server speaks application/fhir+json and application/fhir+xml"
    )))
}

/// The format of a request body. Without a Content-Type the body is sniffed.
pub fn input(headers: &HeaderMap, body: &[u8]) -> Result<Format, FhirError> {
    match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(ct) => Format::from_mime(ct).ok_or_else(|| {
            FhirError::UnsupportedMediaType(format!(
                "'{ct}' is not supported; send application/fhir+json or application/fhir+xml"
            ))
        }),
        None => {
            Ok(if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') { Format::Xml } else { Format::Json })
        }
    }
}
