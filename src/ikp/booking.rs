//! (being built)

use serde_json::Value;

use super::{Input, Operation};
use crate::error::{FhirError, FhirResult};
use crate::interaction::{Fhir, Response};

pub const OPERATIONS: &[Operation] = &[];

pub async fn run(_fhir: &Fhir, op: &Operation, _id: Option<&str>, _input: Input) -> FhirResult<Response> {
    Err(FhirError::NotFound(format!("the operation ${}", op.name)))
}

/// Demo resources of this workflow (stored once by `ikp serve --demo`).
pub fn demo() -> Vec<Value> {
    Vec::new()
}
