//! The command line: `ikp serve` and friends. Flags and environment variables mirror each other.

use clap::{Parser, Subcommand};

pub mod auth;
pub mod config;
pub mod explain;
pub mod fhirpath;
pub mod import;
pub mod logging;
pub mod snapshot;
pub mod validate;

pub use crate::server::config::{AuthMode, DEFAULT_DATABASE_URL, ServeArgs};

#[derive(Debug, Parser)]
#[command(name = "ikp", version, about = "HL7 FHIR R4 server with the Polish IKP workflows")]
pub struct Cli {
    /// Log lines as text, or as one JSON object per line (on stderr; `RUST_LOG` filters).
    #[arg(long, global = true, env = "IKP_LOG_FORMAT", value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the FHIR server.
    Serve(ServeArgs),
    /// The configuration of `ikp serve`.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Drive a running FHIR server with concurrent clients and report throughput and latency.
    Bench(crate::bench::BenchArgs),
    /// Show the SQL of a search and the database's plan for it.
    Explain(explain::ExplainArgs),
    /// Load NDJSON files, Bundles or resources straight into the database.
    Import(import::ImportArgs),
    /// Evaluate a FHIRPath expression against a resource file and print the result as JSON.
    Fhirpath(fhirpath::FhirPathArgs),
    /// Register, list and remove SMART client applications.
    #[command(subcommand)]
    Client(auth::ClientCommand),
    /// Manage the authorization server's signing keys.
    #[command(subcommand)]
    Keys(auth::KeysCommand),
    /// Generate a deterministic synthetic Polish patient population (NDJSON and/or transaction Bundles).
    Synth(crate::synth::SynthArgs),
    /// Validate resource files against the R4 definitions, the national rules and profiles.
    Validate(validate::ValidateArgs),
    /// Write profiles with snapshots generated from their differentials.
    Snapshot(snapshot::SnapshotArgs),
}

/// Reads a resource file in FHIR JSON or FHIR XML (told apart by the first character).
pub fn read_resource(model: &crate::model::Model, path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let format = if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
        crate::format::Format::Xml
    } else {
        crate::format::Format::Json
    };
    crate::format::parse(model, format, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
