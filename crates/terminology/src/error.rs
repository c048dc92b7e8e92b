//! What can go wrong in terminology work. The interaction layer turns these into FHIR errors
//! (see `From<TerminologyError> for FhirError` in `crate::error`).

#[derive(Debug, Clone, thiserror::Error)]
pub enum TerminologyError {
    #[error("the code system '{0}' is not known to this server")]
    UnknownCodeSystem(String),
    #[error("the value set '{0}' is not known to this server")]
    UnknownValueSet(String),
    #[error("the concept map '{0}' is not known to this server")]
    UnknownConceptMap(String),
    #[error("the code '{code}' is not in the code system '{system}'")]
    UnknownCode { system: String, code: String },
    /// The request or a definition it uses cannot be processed as written.
    #[error("{0}")]
    Invalid(String),
    #[error("the filter '{property} {op}' is not supported on '{system}'")]
    UnsupportedFilter { system: String, property: String, op: String },
    #[error("the expansion would hold more than {limit} codes; narrow it with a filter or use count")]
    TooCostly { limit: usize },
    #[error("value set imports nest too deeply (or loop) at '{0}'")]
    Recursion(String),
}

impl TerminologyError {
    /// The canonical URL of a definition the server could not find, when that is the problem
    /// (the caller may fetch it from the store and try again).
    pub fn missing_canonical(&self) -> Option<(&'static str, &str)> {
        match self {
            TerminologyError::UnknownCodeSystem(url) => Some(("CodeSystem", url)),
            TerminologyError::UnknownValueSet(url) => Some(("ValueSet", url)),
            TerminologyError::UnknownConceptMap(url) => Some(("ConceptMap", url)),
            _ => None,
        }
    }
}

pub type TerminologyResult<T> = Result<T, TerminologyError>;
