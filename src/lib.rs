//! ikp: an HL7 FHIR R4 server with the Polish national patient-account workflows.
//!
//! Requests flow one way: `rest` (HTTP, formats, errors) → `interaction` (one module per FHIR
//! interaction) → `store` (SQLite or PostgreSQL). `auth` is the SMART authorization server beside
//! `interaction`; `access` is the policy the REST layer consults with the caller's `Principal`.
//! `model`, `format`, `validation` and `index` are libraries the others call.

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
pub mod fhirpath;
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
