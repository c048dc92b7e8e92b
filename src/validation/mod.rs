//! Validation of resources against the R4 definitions.

pub mod profile;
pub mod rules;
pub mod structure;
