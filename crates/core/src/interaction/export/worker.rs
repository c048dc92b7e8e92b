//! The export worker: a background task on every server node that takes queued export jobs
//! (one at a time per worker) and writes their NDJSON files into the database. A job is held
//! through a lease renewed with every chunk; the point to resume from is saved atomically with
//! each file, so a job interrupted by a shutdown or a crash continues where its last file ended,
//! on this node after a restart or on any other node once the lease has run out.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::now;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::search::cursor::{Cursor, Towards};
use crate::search::parse::Parser;
use crate::search::query::{Condition, Filter, FilterKind, Prefix, SearchQuery, Total};
use crate::search::run::Searcher;
use crate::session::Unconfined;
use crate::store::export_jobs::{self as jobs, ExportSpec, FileInfo, Job, Level, Resume, Status};

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Wait between looks for new jobs when idle.
    pub poll: Duration,
    /// How long a job stays with this node without a heartbeat.
    pub lease: Duration,
    /// Resources read per query.
    pub chunk: usize,
    /// Resources per NDJSON file.
    pub file_size: usize,
    /// How long finished jobs and their files are kept.
    pub retention: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            chunk: 1000,
            file_size: 10_000,
            retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// Starts a worker; it stops when `shutdown` turns true, giving back the job it holds.
pub fn spawn(all: Unconfined, config: WorkerConfig, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(all, config, shutdown))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

async fn run(all: Unconfined, config: WorkerConfig, mut shutdown: watch::Receiver<bool>) {
    let mut last_purge = 0;
    while !*shutdown.borrow() {
        let at = now();
        if at - last_purge > micros(Duration::from_secs(3600)) {
            last_purge = at;
            match jobs::purge_finished(all.store(), at - micros(config.retention)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "expired export jobs deleted"),
                Err(e) => tracing::warn!(error = %e, "cannot delete expired export jobs"),
            }
        }
        match jobs::claim(all.store(), at, at + micros(config.lease)).await {
            Ok(Some(job)) => run_job(&all, &config, job, &shutdown).await,
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(config.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for export jobs");
                tokio::time::sleep(config.poll * 4).await;
            }
        }
    }
}

/// How a job run ended (errors aside).
enum Ended {
    Done(i64),
    Cancelled,
    Interrupted,
}

async fn run_job(all: &Unconfined, config: &WorkerConfig, job: Job, shutdown: &watch::Receiver<bool>) {
    let id = job.id.clone();
    tracing::info!(job = %id, resume = ?job.resume, "export started");
    let store = all.store();
    let result = export(all, config, &job, shutdown).await;
    let finished = match result {
        Ok(Ended::Done(exported)) => {
            tracing::info!(job = %id, exported, "export completed");
            jobs::finish(store, &id, Status::Completed, &format!("100% ({exported} resources)"), None, now()).await
        }
        Ok(Ended::Cancelled) => {
            tracing::info!(job = %id, "export stopped: the job was cancelled");
            Ok(())
        }
        Ok(Ended::Interrupted) => jobs::release(store, &id).await,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "export failed");
            jobs::finish(store, &id, Status::Failed, "failed", Some(&e.to_string()), now()).await
        }
    };
    if let Err(e) = finished {
        tracing::warn!(job = %id, error = %e, "cannot record the end of an export job");
    }
}

/// The query that lists one type's resources for a job, optionally narrowed by a `_typeFilter`.
fn type_query(
    fhir: &Fhir,
    spec: &ExportSpec,
    resource_type: &str,
    filter: Option<&str>,
    until: i64,
) -> FhirResult<SearchQuery> {
    let registry = fhir.registry.current();
    let pairs: Vec<(String, String)> = filter
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let types = vec![resource_type.to_string()];
    let mut query = Parser { registry: &registry, base_url: &fhir.base_url, strict: true, limits: &fhir.limits }
        .parse(types.clone(), &pairs)?;
    query.sort.clear();
    query.includes.clear();
    query.revincludes.clear();
    query.total = Total::None;
    query.compartment = match spec.level {
        Level::System => None,
        Level::Patient | Level::Group => Some(("Patient".to_string(), spec.patients.clone())),
    };
    let last_updated = |prefix, lo: i64| Filter {
        resource_types: types.clone(),
        kind: FilterKind::AnyOf {
            conditions: vec![Condition::LastUpdated { prefix, lo, hi: lo.saturating_add(1000) }],
            negated: false,
        },
    };
    // Nothing changed after the kick-off is exported (its transactionTime).
    query.filters.push(last_updated(Prefix::Le, until));
    if let Some(since) = spec.since {
        query.filters.push(last_updated(Prefix::Ge, since));
    }
    Ok(query)
}

fn progress_text(spec: &ExportSpec, at: &Resume) -> String {
    let percent = at.type_index * 100 / spec.types.len().max(1);
    let current = spec.types.get(at.type_index).map(String::as_str).unwrap_or("done");
    format!("{percent}% ({} resources; {current})", at.exported)
}

async fn export(
    all: &Unconfined,
    config: &WorkerConfig,
    job: &Job,
    shutdown: &watch::Receiver<bool>,
) -> FhirResult<Ended> {
    let spec = &job.spec;
    let store = all.store();
    let mut at = job.resume.clone();
    if spec.level == Level::Group && spec.patients.is_empty() {
        return Ok(Ended::Done(0));
    }
    // The data may come from a read replica that holds everything committed before this run
    // began (and so before the kick-off); the job's own bookkeeping stays on the primary.
    let floor = store.written_position().await?.unwrap_or_default();
    let replica = store.replica_for(floor);
    let data = replica.as_deref().unwrap_or(store);
    let searcher = Searcher::new(data, None, all.session().registry.current().typed_parts());
    let chunk = config.chunk.min(config.file_size).max(1);
    let lease = || now() + micros(config.lease);
    while let Some(resource_type) = spec.types.get(at.type_index) {
        let filters = spec.filters_for(resource_type);
        let queries: Vec<Option<&str>> =
            if filters.is_empty() { vec![None] } else { filters.into_iter().map(Some).collect() };
        // A resource matching several `_typeFilter` queries is exported once.
        let mut seen: HashSet<i64> = HashSet::new();
        let mut buffer = String::new();
        let mut in_file: i64 = 0;
        while let Some(filter) = queries.get(at.filter_index) {
            let query = type_query(all.session(), spec, resource_type, *filter, job.transaction_time)?;
            loop {
                if *shutdown.borrow() {
                    return Ok(Ended::Interrupted);
                }
                let mut page = query.clone();
                if at.after_rid > 0 {
                    page.cursor = Some(Cursor { towards: Towards::Next, keys: Vec::new(), rid: at.after_rid });
                }
                let rids = searcher.matching_keys(&page, chunk).await?;
                let Some(&last) = rids.last() else { break };
                let mut fetched = data.fetch(&rids).await?;
                fetched.sort_unstable_by_key(|(rid, _)| *rid);
                for (rid, version) in fetched {
                    if let Some(content) = version.content
                        && seen.insert(rid)
                    {
                        buffer.push_str(&content);
                        buffer.push('\n');
                        in_file += 1;
                    }
                }
                at.after_rid = last;
                if in_file >= config.file_size as i64 {
                    if !flush(all, job, resource_type, &mut buffer, &mut in_file, &mut at, lease()).await? {
                        return Ok(Ended::Cancelled);
                    }
                } else if !jobs::heartbeat(store, &job.id, &progress_text(spec, &at), lease()).await? {
                    return Ok(Ended::Cancelled);
                }
                if rids.len() < chunk {
                    break;
                }
            }
            at.filter_index += 1;
            at.after_rid = 0;
        }
        at.type_index += 1;
        at.filter_index = 0;
        if in_file > 0 && !flush(all, job, resource_type, &mut buffer, &mut in_file, &mut at, lease()).await? {
            return Ok(Ended::Cancelled);
        }
    }
    Ok(Ended::Done(at.exported))
}

/// Writes the buffered resources as the job's next file, with the point to resume from.
async fn flush(
    all: &Unconfined,
    job: &Job,
    resource_type: &str,
    buffer: &mut String,
    in_file: &mut i64,
    at: &mut Resume,
    lease_until: i64,
) -> FhirResult<bool> {
    let file = FileInfo { seq: at.next_file, resource_type: resource_type.to_string(), count: *in_file };
    let mut next = at.clone();
    next.next_file += 1;
    next.exported += *in_file;
    let progress = progress_text(&job.spec, &next);
    let written = jobs::write_file(all.store(), &job.id, &file, std::mem::take(buffer), &next, &progress, lease_until)
        .await
        .map_err(FhirError::from)?;
    if written {
        *at = next;
        *in_file = 0;
    }
    Ok(written)
}
