//! The server's error type. Every failure a request can meet is one of these variants; the REST
//! layer turns each into an HTTP status and an OperationOutcome in exactly one place.

use crate::outcome::{Issue, IssueType};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    /// The request is malformed (bad parameter, body that cannot be parsed, failed structural rules).
    #[error("bad request: {}", summary(.0))]
    BadRequest(Vec<Issue>),
    /// The resource is well-formed but breaks a profile or a business rule.
    #[error("unprocessable: {}", summary(.0))]
    Unprocessable(Vec<Issue>),
    #[error("resource type '{0}' is not supported")]
    UnknownType(String),
    #[error("{0} is not known")]
    NotFound(String),
    #[error("{0} has been deleted")]
    Gone(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// The request target (path and query) is longer than the server takes.
    #[error("the request URL is {0} bytes, over the limit of {1} (--search-limit url-bytes=N)")]
    UriTooLong(usize, usize),
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// No valid credentials (a missing, unknown, expired or revoked bearer token).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Valid credentials that do not allow this request.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("storage failure: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

fn summary(issues: &[Issue]) -> String {
    issues.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; ")
}

pub type FhirResult<T> = Result<T, FhirError>;

impl FhirError {
    pub fn bad_request(message: impl Into<String>) -> FhirError {
        FhirError::BadRequest(vec![Issue::error(IssueType::Invalid, message)])
    }

    pub fn http_status(&self) -> u16 {
        match self {
            FhirError::BadRequest(_) => 400,
            FhirError::Unprocessable(_) => 422,
            FhirError::UnknownType(_) | FhirError::NotFound(_) => 404,
            FhirError::Gone(_) => 410,
            FhirError::PreconditionFailed(_) => 412,
            FhirError::Conflict(_) => 409,
            FhirError::NotAcceptable(_) => 406,
            FhirError::UnsupportedMediaType(_) => 415,
            FhirError::PayloadTooLarge(_) => 413,
            FhirError::UriTooLong(..) => 414,
            FhirError::MethodNotAllowed(_) => 405,
            FhirError::NotImplemented(_) => 501,
            FhirError::Unauthorized(_) => 401,
            FhirError::Forbidden(_) => 403,
            FhirError::Store(StoreError::TimedOut(_)) => 400,
            FhirError::Store(e) if e.is_transient() => 503,
            FhirError::Store(_) | FhirError::Internal(_) => 500,
        }
    }

    /// The issues to report. Internal details are logged by the caller, never sent to clients.
    pub fn issues(&self) -> Vec<Issue> {
        let one = |code, text: String| vec![Issue::error(code, text)];
        match self {
            FhirError::BadRequest(issues) | FhirError::Unprocessable(issues) => issues.clone(),
            FhirError::UnknownType(_) => one(IssueType::NotSupported, self.to_string()),
            FhirError::NotFound(_) => one(IssueType::NotFound, self.to_string()),
            FhirError::Gone(_) => one(IssueType::Deleted, self.to_string()),
            FhirError::PreconditionFailed(_) => one(IssueType::Conflict, self.to_string()),
            FhirError::Conflict(_) => one(IssueType::Conflict, self.to_string()),
            FhirError::NotAcceptable(_) | FhirError::UnsupportedMediaType(_) | FhirError::MethodNotAllowed(_) => {
                one(IssueType::NotSupported, self.to_string())
            }
            FhirError::NotImplemented(_) => one(IssueType::NotSupported, self.to_string()),
            FhirError::Unauthorized(_) => one(IssueType::Login, self.to_string()),
            FhirError::Forbidden(_) => one(IssueType::Forbidden, self.to_string()),
            FhirError::PayloadTooLarge(_) | FhirError::UriTooLong(..) => one(IssueType::TooLong, self.to_string()),
            // The budget checked before SQL did not foresee the cost; still the request's doing,
            // and retrying it would cost the same.
            FhirError::Store(StoreError::TimedOut(_)) => one(
                IssueType::TooCostly,
                "the request ran past the server's statement timeout and was stopped (--statement-timeout)".to_string(),
            ),
            FhirError::Store(e) if e.is_transient() => {
                one(IssueType::Transient, "the database is busy; retry the request".to_string())
            }
            FhirError::Store(_) | FhirError::Internal(_) => {
                one(IssueType::Exception, "internal server error; the incident has been logged".to_string())
            }
        }
    }
}

impl From<crate::terminology::TerminologyError> for FhirError {
    fn from(e: crate::terminology::TerminologyError) -> FhirError {
        use crate::terminology::TerminologyError as T;
        let issue = |code, e: &T| FhirError::BadRequest(vec![Issue::error(code, e.to_string())]);
        match &e {
            T::UnknownCodeSystem(url) => FhirError::NotFound(format!("the code system '{url}'")),
            T::UnknownValueSet(url) => FhirError::NotFound(format!("the value set '{url}'")),
            T::UnknownConceptMap(url) => FhirError::NotFound(format!("the concept map '{url}'")),
            T::UnknownCode { system, code } => FhirError::NotFound(format!("the code '{code}' in '{system}'")),
            T::UnsupportedFilter { .. } => issue(IssueType::NotSupported, &e),
            T::TooCostly { .. } => issue(IssueType::TooCostly, &e),
            T::Invalid(_) | T::Recursion(_) => issue(IssueType::Invalid, &e),
        }
    }
}

impl From<crate::format::FormatError> for FhirError {
    fn from(e: crate::format::FormatError) -> FhirError {
        match e {
            crate::format::FormatError::Invalid(issues) => FhirError::BadRequest(issues),
            crate::format::FormatError::Internal(message) => FhirError::Internal(message),
        }
    }
}

impl From<crate::search::SearchError> for FhirError {
    fn from(e: crate::search::SearchError) -> FhirError {
        match e {
            crate::search::SearchError::Invalid(issues) => FhirError::BadRequest(issues),
            crate::search::SearchError::Internal(message) => FhirError::Internal(message),
            crate::search::SearchError::Store(e) => FhirError::Store(e),
        }
    }
}
