//! The integration tests, one binary: each module drives the server (or a layer of it) the way a
//! client would. One binary links the server once, instead of once per test file, which keeps the
//! build small and fast; `cargo test --test it <module>::` runs one area.

// Test helpers may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

mod access;
mod access_randomized;
mod bundles;
mod cli;
mod cluster;
mod concurrency;
mod config_file;
mod crud;
mod dependencies;
mod durability;
mod errors;
mod everything;
mod export;
mod fhirpath_search_params;
mod fhirpath_suite;
mod fhirpath_unit;
mod format_examples;
mod formats;
mod group_commit;
mod history;
mod hostile;
mod ikp_booking;
mod ikp_crossborder;
mod ikp_documents;
mod ikp_family;
mod ikp_order;
mod ikp_prescription;
mod ikp_referral;
mod ikp_results;
mod ikp_sweep;
mod import;
mod input_rules;
mod layers;
mod log_format;
mod notifications;
mod ops;
mod param_keys;
mod parser_fuzz;
mod patch;
mod policy_path;
mod population_search;
mod portal;
mod profiles;
mod replicas;
mod round_trip;
mod schema_oracle;
mod search;
mod search_fuzz;
mod search_parity;
mod smart;
mod smart_cli;
mod smart_hardening;
mod smart_js_client;
mod smart_launch;
mod smart_oidc_provider;
mod smart_upstream;
mod stored_bodies;
mod synth;
mod terminology;
mod tls;
mod typed_parts;
mod validation;
mod write_fuzz;
