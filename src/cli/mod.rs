//! The command line: `ikp serve` and friends. Flags and environment variables mirror each other.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

pub mod explain;
pub mod fhirpath;
pub mod import;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./ikp-data/ikp.db";

#[derive(Debug, Parser)]
#[command(name = "ikp", version, about = "HL7 FHIR R4 server with the Polish IKP workflows")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the FHIR server.
    Serve(ServeArgs),
    /// Drive a running FHIR server with concurrent clients and report throughput and latency.
    Bench(crate::bench::BenchArgs),
    /// Show the SQL of a search and the database's plan for it.
    Explain(explain::ExplainArgs),
    /// Load NDJSON files, Bundles or resources straight into the database.
    Import(import::ImportArgs),
    /// Evaluate a FHIRPath expression against a resource file and print the result as JSON.
    Fhirpath(fhirpath::FhirPathArgs),
    /// Generate a deterministic synthetic Polish patient population (NDJSON and/or transaction Bundles).
    Synth(crate::synth::SynthArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IKP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// sqlite://path (embedded default) or postgres://user@host/db.
    #[arg(long, env = "IKP_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Public base URL of the FHIR endpoint (default: http://<listen>/fhir).
    #[arg(long, env = "IKP_BASE_URL")]
    pub base_url: Option<String>,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "IKP_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Background workers running Bulk Data export jobs on this node (0: this node only queues).
    #[arg(long, env = "IKP_EXPORT_WORKERS", default_value_t = 1)]
    pub export_workers: usize,
    /// Resources per Bulk Data export file.
    #[arg(long, env = "IKP_EXPORT_FILE_SIZE", default_value_t = 10_000)]
    pub export_file_size: usize,
    /// Store the built-in terminology (R4 and Polish code systems, value sets, concept maps, naming
    /// systems) at start-up so it can be read and searched over REST; skipped when already stored.
    /// The terminology operations work either way.
    #[arg(long, env = "IKP_STORE_TERMINOLOGY", default_value_t = true, action = clap::ArgAction::Set)]
    pub store_terminology: bool,
}

impl ServeArgs {
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}/fhir", self.listen),
        }
    }
}
