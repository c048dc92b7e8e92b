//! The wire formats: FHIR JSON (the stored form) and FHIR XML (converted at the edge).

pub mod json;
pub mod subset;
pub mod text;
pub mod xhtml;
pub mod xml;

use serde_json::Value;

use crate::model::Model;
use crate::outcome::{Issue, IssueType};

/// What reading or writing a wire format can fail with; the server maps it to its own error type
/// (400 for what the client sent, 500 for what the server could not write).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The input is not valid in the format (or breaks a rule the format checks).
    #[error("{}", .0.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Issue>),
    /// A value the server holds could not be written (a bug, never the client's doing).
    #[error("{0}")]
    Internal(String),
}

impl FormatError {
    pub fn invalid(message: impl Into<String>) -> FormatError {
        FormatError::Invalid(vec![Issue::error(IssueType::Invalid, message)])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Json => "application/fhir+json",
            Format::Xml => "application/fhir+xml",
        }
    }

    /// The format a MIME type (or `_format` value) names, if it is one the server speaks.
    pub fn from_mime(mime: &str) -> Option<Format> {
        let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/fhir+json" | "application/json" | "application/json+fhir" | "json" | "text/json" => {
                Some(Format::Json)
            }
            "application/fhir+xml" | "application/xml" | "application/xml+fhir" | "xml" | "text/xml" => {
                Some(Format::Xml)
            }
            _ => None,
        }
    }
}

/// Parses a request body into FHIR JSON.
pub fn parse(model: &Model, format: Format, body: &[u8]) -> Result<Value, FormatError> {
    match format {
        Format::Json => json::parse(body).map_err(|e| FormatError::Invalid(vec![e.issue()])),
        Format::Xml => xml::parse(model, body).map_err(FormatError::Invalid),
    }
}

/// Serialises FHIR JSON in the requested format.
pub fn render(model: &Model, format: Format, value: &Value, pretty: bool) -> Result<Vec<u8>, FormatError> {
    match format {
        Format::Json if pretty => serde_json::to_vec_pretty(value).map_err(|e| FormatError::Internal(e.to_string())),
        Format::Json => serde_json::to_vec(value).map_err(|e| FormatError::Internal(e.to_string())),
        Format::Xml => xml::write(model, value, pretty).map(String::into_bytes).map_err(FormatError::Internal),
    }
}
