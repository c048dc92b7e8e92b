//! ikp: an HL7 FHIR R4 server with the Polish national patient-account workflows.
//!
//! Requests flow one way: `rest` (HTTP, formats, the guard that identifies the caller) → `api`
//! (one routing table, one operation registry, batch and transaction) → `interaction` and `ikp`
//! (one module per FHIR interaction or national operation) → `session` (the only way to data: every
//! read is judged and every write committed under the caller's policy, with its audit events) →
//! `store` (SQLite or PostgreSQL). `access` decides what a caller may reach; `auth` is the SMART
//! authorization server. `model`, `format`, `search`, `validation`, `index`, `context` and `clock`
//! are libraries the others call.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod context;
pub mod error;
/// The FHIRPath engine, a crate of its own (crates/fhirpath).
pub use ikp_fhirpath as fhirpath;
/// The FHIR data layer, a crate of its own (crates/model): the model, the wire formats, issues
/// and the clock.
pub use ikp_model::{clock, conformance, format, model, outcome, references};
/// Storage, search-index extraction and the search planner (crates/store).
pub use ikp_store::{self as store, index, search};
/// The terminology service (crates/terminology).
pub use ikp_terminology as terminology;
/// Validation against the R4 definitions and the national profiles (crates/validation).
pub use ikp_validation as validation;
/// Tools: the synthetic Polish population (crates/synth) and the `ikp bench` load tool
/// (crates/bench).
pub use {ikp_bench as bench, ikp_synth as synth};
pub mod ikp;
pub mod interaction;
pub mod patch;
pub mod rest;
pub mod server;
pub mod session;
