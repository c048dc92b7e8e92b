//! Error type for parsing, checking and evaluating FHIRPath expressions.

/// A FHIRPath error. `Syntax` comes from [`super::Expression::parse`], `Semantic` from the
/// static checker (or unknown types/functions), `Evaluation` from evaluating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("FHIRPath syntax error at offset {pos}: {msg}")]
    Syntax { pos: usize, msg: String },
    #[error("FHIRPath semantic error: {0}")]
    Semantic(String),
    #[error("FHIRPath evaluation error: {0}")]
    Evaluation(String),
}

impl Error {
    pub(super) fn eval(msg: impl Into<String>) -> Self {
        Error::Evaluation(msg.into())
    }
    pub(super) fn semantic(msg: impl Into<String>) -> Self {
        Error::Semantic(msg.into())
    }
    pub(super) fn syntax(pos: usize, msg: impl Into<String>) -> Self {
        Error::Syntax { pos, msg: msg.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
