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
pub mod bench;
pub mod cli;
pub mod clock;
pub mod conformance;
pub mod context;
pub mod error;
pub mod export;
/// The FHIRPath engine, a crate of its own (crates/fhirpath).
pub use ikp_fhirpath as fhirpath;
pub mod format;
pub mod ikp;
pub mod index;
pub mod interaction;
pub mod model;
pub mod outcome;
pub mod patch;
pub mod references;
pub mod rest;
pub mod search;
pub mod server;
pub mod session;
pub mod store;
pub mod synth;
pub mod terminology;
pub mod validation;
