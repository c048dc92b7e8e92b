//! Validation of resources against the R4 definitions.

pub mod structure;
