//! Starting and stopping the server.

pub mod config;
pub mod config_file;
mod drain;
pub mod portal;
pub mod redact;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::context::Fhir;
use crate::interaction::export::worker;
use crate::rest::{self, AppState};
use crate::search::cursor::CursorSigner;
use crate::search::limits::SearchLimits;
use crate::search::registry::{Registry, SharedRegistry};
use crate::session::Session;
use crate::store::{self, Store};
use crate::validation::profiles::ProfileSet;
use config::ServeArgs;

/// The FHIR core over a database: opens (and migrates) the store, loads the model and the search
/// parameters (including custom ones stored on the server); the server's own session over it.
pub async fn open(database_url: &str, base_url: &str) -> anyhow::Result<Session> {
    Ok(open_with_store(database_url, None, base_url, &Bounds::default()).await?.0)
}

/// What one request may cost: the search budget checked before SQL, and the timeout every SQL
/// statement runs under.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    pub search: SearchLimits,
    pub statement_timeout: Option<Duration>,
}

/// [`open`], also handing back the store itself (for the authorization server's own tables).
pub async fn open_with_store(
    database_url: &str,
    replication: Option<&store::replicas::Replication>,
    base_url: &str,
    bounds: &Bounds,
) -> anyhow::Result<(Session, Arc<dyn Store>)> {
    let model = crate::model::r4().context("loading the FHIR R4 definitions")?;
    let timeout = bounds.statement_timeout.unwrap_or(store::DEFAULT_STATEMENT_TIMEOUT);
    let store = store::open_replicated(database_url, replication, timeout)
        .await
        .with_context(|| format!("opening {}", redact::mask_url(database_url)))?;
    let registry = Registry::build(model, &[]).context("loading the search parameters")?;
    let secret = store::shared_secret(store.as_ref(), "cursor").await.context("reading the cursor secret")?;
    let fhir = Fhir {
        model,
        registry: Arc::new(SharedRegistry::new(registry)),
        cursors: CursorSigner::new(secret),
        base_url: base_url.trim_end_matches('/').to_string(),
        profiles: Arc::new(ProfileSet::built_in().context("loading the built-in profiles")?),
        terminology: &crate::terminology::builtin::BUILTIN,
        limits: bounds.search.clone(),
    };
    let session = Session::new(fhir, store.clone()).with_write_rules(crate::notify::rule::WRITE_RULES);
    // Custom SearchParameters stored earlier apply again after a restart.
    crate::interaction::reindex::reload_registry(&session).await.context("loading custom search parameters")?;
    // Profiles stored on the server are enforced like the built-in ones.
    let stored = session.lookup().all_of_type("StructureDefinition").await.context("loading stored profiles")?;
    for definition in stored {
        if let Err(e) = session.profiles.insert(&definition) {
            tracing::warn!(error = %e, "a stored profile cannot be enforced");
        }
    }
    Ok((session, store))
}

/// Builds the application state for `ikp serve`.
pub async fn state(args: &ServeArgs) -> anyhow::Result<Arc<AppState>> {
    // First, so that start-up's own statements are measured too.
    let metrics = if args.metrics { Some(rest::metrics::install()?) } else { None };
    let enforce_auth = args.enforce_auth();
    if !enforce_auth {
        args.refuse_open_network()?;
        tracing::warn!(listen = %args.listen, "AUTHORIZATION IS OFF: anyone who can reach this address can read and write everything");
    }
    let bounds = Bounds {
        search: SearchLimits::default().with(&args.search_limit),
        statement_timeout: Some(Duration::from_secs(args.statement_timeout)),
    };
    let replication = args.replication();
    let (session, store) = open_with_store(&args.database_url, replication.as_ref(), &args.base_url(), &bounds).await?;
    let fhir = &session;
    for requirement in &args.require_profile {
        let Some((resource_type, url)) = requirement.split_once('=') else {
            anyhow::bail!("--require-profile wants Type=profile-url, not '{requirement}'");
        };
        fhir.profiles.require(url).with_context(|| format!("--require-profile {requirement}"))?;
        if fhir.profiles.resource_type_of(url).as_deref() != Some(resource_type) {
            anyhow::bail!("--require-profile {requirement}: the profile is not for {resource_type}");
        }
        tracing::info!(profile = url, "every resource of its type must meet this profile");
    }
    if args.store_terminology {
        // Built-in CodeSystems, ValueSets, ConceptMaps, NamingSystems and the national profiles
        // become readable and searchable like any stored resource.
        crate::interaction::terminology_operations::load::store_builtin(fhir)
            .await
            .context("storing the built-in terminology")?;
        crate::interaction::terminology_operations::load::store_profiles(fhir)
            .await
            .context("storing the national profiles")?;
        let operations = crate::api::operations::definitions();
        crate::interaction::terminology_operations::load::store_operations(fhir, operations)
            .await
            .context("storing the OperationDefinitions")?;
        crate::interaction::terminology_operations::load::store_named(
            fhir,
            "topics",
            crate::notify::published_topics(),
        )
        .await
        .context("storing the SubscriptionTopics")?;
    }
    let demo = args.demo_enabled();
    if demo {
        tracing::warn!("the DEMO login is on, with demo users and their resources (see README)");
        crate::auth::demo::seed(fhir).await.context("storing the demo users")?;
        crate::ikp::demo::seed(fhir).await.context("storing the demo population")?;
        fhir.store_missing(crate::notify::demo::resources()).await.context("storing the demo subscriptions")?;
    }
    let mut auth = crate::auth::AuthServer::new(session.clone(), store, demo, args.upstream.config()?)
        .await
        .context("starting the authorization server")?;
    auth.registration = args.registration_policy();
    if auth.registration.enabled {
        tracing::info!(system_scopes = auth.registration.system_scopes, "dynamic client registration is on");
    }
    let portal = if args.portal { portal::setup(auth.store(), args).await? } else { None };
    let audit = Arc::new(crate::session::AuditQueue::start(&session));
    let binding_key =
        store::shared_secret(session.notification_worker().store(), crate::notify::websocket::SECRET_NAME)
            .await
            .context("reading the websocket binding secret")?;
    let notifier = crate::notify::Notifier::new(
        session.notification_worker(),
        args.notifications(),
        binding_key,
        enforce_auth.then(|| audit.clone()),
    );
    Ok(Arc::new(AppState {
        session,
        max_body_bytes: args.max_body_bytes,
        auth,
        enforce_auth,
        audit,
        callers: crate::access::cache::CallerCache::default(),
        expose_statements: args.expose_statements,
        health: rest::ops::Health::default(),
        floors: replication.is_some().then(rest::consistency::Floors::default),
        metrics,
        portal,
        notifier,
    }))
}

/// The background tasks of a server node.
pub struct Workers {
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts the background workers `args` asks for.
    pub fn start(state: &AppState, args: &ServeArgs) -> Workers {
        let session = &state.session;
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        let config = worker::WorkerConfig {
            file_size: args.export_file_size.max(1),
            lease: Duration::from_secs(args.export_lease_seconds),
            ..worker::WorkerConfig::default()
        };
        let mut tasks: Vec<tokio::task::JoinHandle<()>> = (0..args.export_workers)
            .map(|_| worker::spawn(session.export_worker(), config.clone(), stop.clone()))
            .collect();
        tasks.extend(state.notifier.spawn(stop.clone()));
        if args.sweep_seconds > 0 {
            let sweep = session.system("the workflow sweep");
            tasks.push(tokio::spawn(sweeper(sweep, Duration::from_secs(args.sweep_seconds), stop.clone())));
        }
        Workers { shutdown, tasks }
    }

    /// Asks the workers to stop and waits for them (a running export job is handed back).
    pub async fn stop(self) {
        self.shutdown.send(true).ok();
        for task in self.tasks {
            task.await.ok();
        }
    }
}

/// Runs the workflow sweep (`crate::ikp::sweep`) every `every` until asked to stop.
async fn sweeper(session: Session, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let swept = crate::ikp::sweep::run(&session).await;
        count_sweep(&swept);
        match swept {
            Ok(swept) if swept != crate::ikp::sweep::Swept::default() => tracing::info!(?swept, "workflow sweep"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the workflow sweep failed; it runs again later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Counts a sweep run and what it changed (`ikp_sweep_runs_total`, `ikp_sweep_changes_total`).
fn count_sweep(swept: &crate::error::FhirResult<crate::ikp::sweep::Swept>) {
    let Ok(swept) = swept else {
        metrics::counter!("ikp_sweep_runs_total", "outcome" => "failed").increment(1);
        return;
    };
    metrics::counter!("ikp_sweep_runs_total", "outcome" => "ok").increment(1);
    metrics::counter!("ikp_sweep_changes_total", "change" => "expired-prescription")
        .increment(swept.expired_prescriptions as u64);
    metrics::counter!("ikp_sweep_changes_total", "change" => "waiting-list-booking")
        .increment(swept.waiting_list_bookings as u64);
}

/// Serves until SIGINT or SIGTERM: readiness turns 503 at the signal, the listener stays open
/// `--drain-seconds` longer, in-flight requests finish, then the store closes.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let problems = args.problems();
    if !problems.is_empty() {
        let problems: Vec<String> = problems.iter().map(|e| format!("{e:#}")).collect();
        anyhow::bail!("{}", problems.join("\n       "));
    }
    // The files were read once by the check above; a bad certificate or key has already stopped
    // the start, before the database was touched.
    let acceptor = match args.tls() {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let state = state(&args).await?;
    let workers = Workers::start(&state, &args);
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        base_url = %state.session.base_url,
        backend = ?state.session.dialect(),
        auth = if state.enforce_auth { "on" } else { "OFF" },
        demo = state.auth.demo,
        tls = acceptor.is_some(),
        "ikp FHIR server ready"
    );
    let app = rest::app(state.clone());
    // The built-in terminology is parsed now rather than by the first request that needs it;
    // readiness waits for it.
    state.health.warm_terminology(state.session.terminology);
    let drained = drain::drained(state.clone(), Duration::from_secs(args.drain_seconds));
    match acceptor {
        Some(acceptor) => {
            let app = tls::with_hsts(app, args.hsts_max_age).into_make_service_with_connect_info::<SocketAddr>();
            // axum hands the peer address (`ConnectInfo`) to its own listeners and to `tap_io`'s
            // wrapper of any listener; the tap itself does nothing.
            let listener = tls::TlsListener::new(listener, acceptor).context("listening for TLS")?.tap_io(|_| {});
            axum::serve(listener, app).with_graceful_shutdown(drained).await.context("serving HTTPS")?;
        }
        None => {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).with_graceful_shutdown(drained).await.context("serving HTTP")?;
        }
    }
    tracing::info!("shutting down: stopping background work and closing the database");
    tokio::time::timeout(Duration::from_secs(30), workers.stop()).await.ok();
    // Every read audited so far is stored before the database closes.
    tokio::time::timeout(Duration::from_secs(30), state.audit.stop()).await.ok();
    tokio::time::timeout(Duration::from_secs(30), state.session.close()).await.ok();
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}
