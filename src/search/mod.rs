//! Search: parsing FHIR search parameters into criteria the store can evaluate.

pub mod criteria;
pub mod escape;
pub mod registry;
