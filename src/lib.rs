//! ikp: an HL7 FHIR R4 server with the Polish national patient-account workflows.
//!
//! Requests flow one way: `rest` (HTTP, formats, the guard that identifies the caller) → `api`
//! (one routing table, one operation registry, batch and transaction) → `interaction` and `ikp`
//! (one module per FHIR interaction or national operation) → `session` (the only way to data: every
//! read is judged and every write committed under the caller's policy, with its audit events) →
//! `store` (SQLite or PostgreSQL). This crate holds the top (`api`, `rest`, `server`, `cli`); the
//! layers below are crates of their own (see ARCHITECTURE.md), re-exported here under the names
//! the code and the tests use.

/// The SMART authorization server (crates/auth).
pub use ikp_auth as auth;
/// The core (crates/core): access policy, audit, sessions, interactions, the error type.
pub use ikp_core::{access, audit, context, error, interaction, patch, session};
/// The national workflows (crates/national).
pub use ikp_national as ikp;
pub use ikp_notify as notify;

pub mod api;
pub mod cli;
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
pub mod rest;
pub mod server;
