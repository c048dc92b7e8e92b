//! The server's configuration: every flag of `ikp serve`, each mirrored by an environment
//! variable and by a key of the configuration file (see the README's Configuration section). This
//! struct is the one list of the options: the file's keys, `ikp config check` and the help are all
//! read from it through clap.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::auth::oidc::{EIDAS_LEVELS, UpstreamConfig};

/// Where the server keeps its data unless told otherwise: an embedded SQLite database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./ikp-data/ikp.db";
/// Where the default server writes e-mail notifications (beside its database).
pub const DEFAULT_MAIL_OUTBOX: &str = "./ikp-data/ikp-mail-outbox.mbox";

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IKP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// sqlite://path (embedded default) or postgres://user@host/db.
    #[arg(long, env = "IKP_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// A PostgreSQL hot standby of --database-url that serves the reads of read-only requests
    /// (repeatable; the environment takes a comma-separated list). Writers read their own writes;
    /// a replica that lags or is down is passed over for the primary.
    #[arg(long = "database-read-url", env = "IKP_DATABASE_READ_URL", value_delimiter = ',')]
    pub database_read_url: Vec<String>,
    /// How far, in milliseconds, a read replica may lag behind the primary and still serve
    /// callers that have not just written.
    #[arg(long, env = "IKP_REPLICA_MAX_LAG_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub replica_max_lag_ms: u64,
    /// Public base URL of the FHIR endpoint (default: http://<listen>/fhir).
    #[arg(long, env = "IKP_BASE_URL")]
    pub base_url: Option<String>,
    /// A TOML file setting any of these options by its flag's long name (`listen = "..."`);
    /// flags and environment variables win over it. Not a key of the file itself.
    #[arg(long, env = "IKP_CONFIG")]
    pub config: Option<PathBuf>,
    /// PEM certificate (chain) to serve HTTPS (TLS 1.2 and 1.3 only) instead of HTTP; needs
    /// --tls-key. Without both, plain HTTP for a reverse proxy that terminates TLS.
    #[arg(long, env = "IKP_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "IKP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// `Strict-Transport-Security: max-age=N` on every HTTPS response (0: no header).
    #[arg(long, env = "IKP_HSTS_MAX_AGE", default_value_t = 31_536_000)]
    pub hsts_max_age: u64,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "IKP_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Background workers running Bulk Data export jobs on this node (0: this node only queues).
    #[arg(long, env = "IKP_EXPORT_WORKERS", default_value_t = 1)]
    pub export_workers: usize,
    /// Seconds an export job stays with the node running it without a heartbeat (one is sent
    /// with every chunk): after a node dies, another node's worker resumes the job this long
    /// after its last heartbeat, from its last written file.
    #[arg(long, env = "IKP_EXPORT_LEASE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub export_lease_seconds: u64,
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
    pub upstream: UpstreamArgs,
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
    /// Serve Prometheus metrics at `/metrics` (no token needed, no personal data in them: meant
    /// for the internal network).
    #[arg(long, env = "IKP_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics: bool,
    /// Seconds the server keeps accepting requests after SIGTERM or SIGINT while `/health/ready`
    /// answers 503, so that load balancers stop sending before the listener closes (a second
    /// signal cuts it short).
    #[arg(long, env = "IKP_DRAIN_SECONDS", default_value_t = 0)]
    pub drain_seconds: u64,
    /// Serve the patient portal at `/` (a SMART app on the public API, registered as the
    /// confidential client `ikp-portal`).
    #[arg(long, env = "IKP_PORTAL", default_value_t = true, action = clap::ArgAction::Set)]
    pub portal: bool,
    /// Notification delivery workers on this node (0: this node delivers nothing but its bound
    /// websockets; every node may dispatch).
    #[arg(long, env = "IKP_NOTIFICATION_WORKERS", default_value_t = 4)]
    pub notification_workers: usize,
    /// Seconds the notification dispatcher or a delivery keeps its lease without renewing it:
    /// after a node dies, another node takes over its notifications this long after.
    #[arg(long, env = "IKP_NOTIFICATION_LEASE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub notification_lease_seconds: u64,
    /// Milliseconds before a failed notification is retried (doubling with each failure in a
    /// row, up to ten minutes).
    #[arg(long, env = "IKP_NOTIFICATION_RETRY_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub notification_retry_ms: u64,
    /// The mbox file e-mail notifications are appended to (none: e-mail subscriptions fail and
    /// go to `error`). The default server writes `ikp-data/ikp-mail-outbox.mbox`.
    #[arg(long, env = "IKP_MAIL_OUTBOX")]
    pub mail_outbox: Option<PathBuf>,
    /// Let rest-hook notifications go to loopback, private and link-local addresses (default: only
    /// when this node listens on a loopback address, as for trying it out).
    #[arg(long, env = "IKP_NOTIFICATION_PRIVATE_ENDPOINTS", action = clap::ArgAction::Set)]
    pub notification_private_endpoints: Option<bool>,
    /// Websockets this node keeps open that have not bound to a subscription yet (anyone may open
    /// one; each has 30 seconds to bind). Further ones are answered 503 until some bind or go.
    #[arg(long, env = "IKP_MAX_UNBOUND_WEBSOCKETS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_unbound_websockets: u64,
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
            database_read_url: Vec::new(),
            replica_max_lag_ms: 1000,
            base_url: None,
            config: None,
            tls_cert: None,
            tls_key: None,
            hsts_max_age: 31_536_000,
            max_body_bytes: 64 * 1024 * 1024,
            export_workers: 1,
            export_lease_seconds: 60,
            sweep_seconds: 0,
            export_file_size: 10_000,
            store_terminology: true,
            require_profile: Vec::new(),
            auth: None,
            demo: None,
            upstream: UpstreamArgs::default(),
            dynamic_registration: None,
            dynamic_registration_system_scopes: false,
            search_limit: Vec::new(),
            statement_timeout: 30,
            expose_statements: false,
            metrics: true,
            drain_seconds: 0,
            portal: true,
            notification_workers: 4,
            notification_lease_seconds: 30,
            notification_retry_ms: 1000,
            mail_outbox: None,
            notification_private_endpoints: None,
            max_unbound_websockets: 1024,
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

    /// `--auth off` anywhere but on loopback would open every record to the network.
    pub fn refuse_open_network(&self) -> anyhow::Result<()> {
        if !self.enforce_auth() && !self.listen.ip().is_loopback() {
            anyhow::bail!("--auth off is refused on {}: only a loopback address may serve without tokens", self.listen);
        }
        Ok(())
    }

    /// Everything that would stop `ikp serve` before it opens the database, all at once (for
    /// `ikp config check` and the start itself): authorization off the loopback, an incomplete
    /// upstream login, a malformed `--require-profile`, unreadable or mismatched TLS files.
    pub fn problems(&self) -> Vec<anyhow::Error> {
        let mut problems = Vec::new();
        if let Err(e) = self.refuse_open_network() {
            problems.push(e);
        }
        if let Err(e) = self.upstream.config() {
            problems.push(e);
        }
        let on_postgres = self.database_url.starts_with("postgres:") || self.database_url.starts_with("postgresql:");
        if !self.database_read_url.is_empty() && !on_postgres {
            problems.push(anyhow::anyhow!(
                "--database-read-url names PostgreSQL hot standbys: --database-url must be PostgreSQL"
            ));
        }
        for requirement in &self.require_profile {
            if !requirement.contains('=') {
                problems.push(anyhow::anyhow!("--require-profile wants Type=profile-url, not '{requirement}'"));
            }
        }
        if let Some((cert, key)) = self.tls()
            && let Err(e) = super::tls::acceptor(cert, key)
        {
            problems.push(e);
        }
        problems
    }

    /// The read replicas, when any are configured.
    pub fn replication(&self) -> Option<crate::store::replicas::Replication> {
        (!self.database_read_url.is_empty()).then(|| crate::store::replicas::Replication {
            read_urls: self.database_read_url.clone(),
            max_lag: std::time::Duration::from_millis(self.replica_max_lag_ms),
        })
    }

    /// How this node's notification workers behave.
    pub fn notifications(&self) -> crate::notify::Config {
        let mail_outbox = self
            .mail_outbox
            .clone()
            .or_else(|| (self.database_url == DEFAULT_DATABASE_URL).then(|| PathBuf::from(DEFAULT_MAIL_OUTBOX)));
        crate::notify::Config {
            workers: self.notification_workers,
            lease: std::time::Duration::from_secs(self.notification_lease_seconds),
            retry_delay: std::time::Duration::from_millis(self.notification_retry_ms),
            mail_outbox,
            private_endpoints: self.notification_private_endpoints.unwrap_or(self.listen.ip().is_loopback()),
            max_unbound_sockets: usize::try_from(self.max_unbound_websockets).unwrap_or(usize::MAX),
            ..crate::notify::Config::default()
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

    /// The public base URL: as configured, else this node's own address, `https` when it
    /// terminates TLS itself.
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("{}://{}/fhir", if self.tls().is_some() { "https" } else { "http" }, self.listen),
        }
    }

    /// The certificate and key files when this node serves HTTPS itself.
    pub fn tls(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }
}

/// An upstream OpenID Connect provider for logins (all of issuer, client id and endpoints needed).
#[derive(Debug, Clone, Default, Args)]
pub struct UpstreamArgs {
    #[arg(long, env = "IKP_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "IKP_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    #[arg(long, env = "IKP_OIDC_CLIENT_SECRET")]
    pub oidc_client_secret: Option<String>,
    #[arg(long, env = "IKP_OIDC_AUTHORIZATION_ENDPOINT")]
    pub oidc_authorization_endpoint: Option<String>,
    #[arg(long, env = "IKP_OIDC_TOKEN_ENDPOINT")]
    pub oidc_token_endpoint: Option<String>,
    #[arg(long, env = "IKP_OIDC_JWKS_URI")]
    pub oidc_jwks_uri: Option<String>,
    /// The id_token claim holding the PESEL.
    #[arg(long, env = "IKP_OIDC_PESEL_CLAIM", default_value = "pesel")]
    pub oidc_pesel_claim: String,
    /// The lowest `acr` the upstream id_token may carry (e.g. http://eidas.europa.eu/LoA/substantial);
    /// higher levels of `--oidc-acr-levels` are accepted too.
    #[arg(long, env = "IKP_OIDC_ACR")]
    pub oidc_acr: Option<String>,
    /// The levels of assurance, lowest first, comma-separated (default: the eIDAS levels).
    #[arg(long, env = "IKP_OIDC_ACR_LEVELS", value_delimiter = ',')]
    pub oidc_acr_levels: Vec<String>,
}

impl UpstreamArgs {
    pub fn config(&self) -> anyhow::Result<Option<UpstreamConfig>> {
        let Some(issuer) = &self.oidc_issuer else { return Ok(None) };
        let need = |v: &Option<String>, flag: &str| v.clone().with_context(|| format!("--oidc-issuer needs {flag}"));
        let config = UpstreamConfig {
            issuer: issuer.clone(),
            client_id: need(&self.oidc_client_id, "--oidc-client-id")?,
            client_secret: self.oidc_client_secret.clone(),
            authorization_endpoint: need(&self.oidc_authorization_endpoint, "--oidc-authorization-endpoint")?,
            token_endpoint: need(&self.oidc_token_endpoint, "--oidc-token-endpoint")?,
            jwks_uri: need(&self.oidc_jwks_uri, "--oidc-jwks-uri")?,
            pesel_claim: if self.oidc_pesel_claim.is_empty() { "pesel".into() } else { self.oidc_pesel_claim.clone() },
            required_acr: self.oidc_acr.clone(),
            acr_levels: match self.oidc_acr_levels.as_slice() {
                [] => EIDAS_LEVELS.iter().map(|l| l.to_string()).collect(),
                levels => levels.to_vec(),
            },
        };
        config.acceptable_acr().map_err(|e| anyhow::anyhow!("--oidc-acr: {e}"))?;
        Ok(Some(config))
    }
}
