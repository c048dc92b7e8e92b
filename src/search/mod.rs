//! Search: parsing FHIR search parameters into criteria the store can evaluate.

pub mod criteria;
pub mod cursor;
pub mod escape;
pub mod limits;
pub mod parse;
pub mod plan;
pub mod query;
pub mod reach;
pub mod registry;
