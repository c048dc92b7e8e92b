//! The command line: `ikp serve` and friends. Flags and environment variables mirror each other.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

pub mod auth;
pub mod explain;
pub mod fhirpath;
pub mod import;
pub mod snapshot;
pub mod validate;

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
    /// Seconds between sweeps that expire prescriptions and match the e-registration waiting
    /// list (0: this node does not sweep).
    #[arg(long, env = "IKP_SWEEP_SECONDS", default_value_t = 300)]
    pub sweep_seconds: u64,
    /// Validate every resource of a type against a profile, declared or not: `Type=profile-url`
    /// (repeatable, e.g. `Patient=https://ikp.example.org/fhir/StructureDefinition/PLPatient`).
    #[arg(long = "require-profile", env = "IKP_REQUIRE_PROFILE", value_delimiter = ',')]
    pub require_profile: Vec<String>,
    /// Resources per Bulk Data export file.
    #[arg(long, env = "IKP_EXPORT_FILE_SIZE", default_value_t = 10_000)]
    pub export_file_size: usize,
    /// Require SMART bearer tokens on the FHIR API (default: on, except on a loopback address).
    /// `off` is refused on a non-loopback address.
    #[arg(long, env = "IKP_AUTH", value_enum)]
    pub auth: Option<AuthMode>,
    /// Enable the demo login and store the demo users' resources (default: on only with the
    /// default database URL).
    #[arg(long, env = "IKP_DEMO", num_args = 0..=1, default_missing_value = "true")]
    pub demo: Option<bool>,
    #[command(flatten)]
    pub upstream: auth::UpstreamArgs,
    /// RFC 7591 dynamic client registration at `{base}/auth/register` (default: on only when the
    /// demo login is on).
    #[arg(long, env = "IKP_DYNAMIC_REGISTRATION", value_enum)]
    pub dynamic_registration: Option<AuthMode>,
    /// Let dynamically registered `private_key_jwt` clients register for `client_credentials` and
    /// `system/` scopes (backend access). Off unless given.
    #[arg(long, env = "IKP_DYNAMIC_REGISTRATION_SYSTEM_SCOPES", default_value_t = false, action = clap::ArgAction::Set)]
    pub dynamic_registration_system_scopes: bool,
    /// Store the built-in terminology (R4 and Polish code systems, value sets, concept maps, naming
    /// systems) at start-up so it can be read and searched over REST; skipped when already stored.
    /// The terminology operations work either way.
    #[arg(long, env = "IKP_STORE_TERMINOLOGY", default_value_t = true, action = clap::ArgAction::Set)]
    pub store_terminology: bool,
    /// Send back, with every response, the number of SQL statements the request ran
    /// (`x-ikp-statements`): a diagnostic for tests and benchmarks, never for production (the
    /// count of a refused request could differ with data the caller may not see).
    #[arg(long, env = "IKP_EXPOSE_STATEMENTS", hide = true, default_value_t = false, action = clap::ArgAction::Set)]
    pub expose_statements: bool,
    /// A search budget limit, `name=N` (repeatable; the environment takes a comma-separated list):
    /// parameters, or-values, conditions, has, chain-depth, sort-keys, includes, url-bytes.
    #[arg(long = "search-limit", env = "IKP_SEARCH_LIMITS", value_delimiter = ',')]
    pub search_limit: Vec<crate::search::limits::LimitSetting>,
    /// Seconds one SQL statement may run before the database stops it (the request answers 400
    /// too-costly).
    #[arg(long, env = "IKP_STATEMENT_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub statement_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    On,
    Off,
}

impl ServeArgs {
    /// Serve arguments with defaults for everything but the address and database (tests, tools).
    pub fn new(listen: SocketAddr, database_url: &str) -> ServeArgs {
        ServeArgs {
            listen,
            database_url: database_url.to_string(),
            base_url: None,
            max_body_bytes: 64 * 1024 * 1024,
            export_workers: 1,
            sweep_seconds: 0,
            export_file_size: 10_000,
            store_terminology: true,
            require_profile: Vec::new(),
            auth: None,
            demo: None,
            upstream: auth::UpstreamArgs::default(),
            dynamic_registration: None,
            dynamic_registration_system_scopes: false,
            search_limit: Vec::new(),
            statement_timeout: 30,
            expose_statements: false,
        }
    }

    /// Whether bearer tokens are required: explicitly, or by default unless on loopback (where
    /// `ikp serve` stays an open development server, as before).
    pub fn enforce_auth(&self) -> bool {
        match self.auth {
            Some(mode) => mode == AuthMode::On,
            None => !self.listen.ip().is_loopback(),
        }
    }

    pub fn demo_enabled(&self) -> bool {
        self.demo.unwrap_or(self.database_url == DEFAULT_DATABASE_URL)
    }

    /// The dynamic-registration policy: on by default only with the demo login.
    pub fn registration_policy(&self) -> crate::auth::registration::RegistrationPolicy {
        let enabled = match self.dynamic_registration {
            Some(mode) => mode == AuthMode::On,
            None => self.demo_enabled(),
        };
        crate::auth::registration::RegistrationPolicy {
            enabled,
            system_scopes: enabled && self.dynamic_registration_system_scopes,
        }
    }

    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}/fhir", self.listen),
        }
    }
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
