//! `ikp import <files or folders>`: loads NDJSON files, Bundles and single resources straight into
//! the database in batched transactions, with a progress bar. Resources keep their ids and an
//! unchanged resource gets no new version, so an interrupted import is resumed by running it again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::context::Fhir;
use crate::error::FhirError;
use crate::search::plan::Dialect;
use crate::session::ingest::{self, Report};

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// NDJSON files (one resource per line), JSON Bundles or resources, or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, env = "IKP_DATABASE_URL", default_value = super::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// The public base URL (absolute references under it are treated as local).
    #[arg(long, env = "IKP_BASE_URL", default_value = "http://127.0.0.1:8080/fhir")]
    pub base_url: String,
    /// Resources per database transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Batches written at once (default: 2 on PostgreSQL, 1 on SQLite, which has one writer).
    #[arg(long)]
    pub jobs: Option<usize>,
}

fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("ndjson" | "json")))
                .filter(|p| p.file_name().is_some_and(|n| n != "summary.json"))
                .collect();
            inner.sort();
            out.extend(inner);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Hands `each` every resource of one file, with where it came from and the bytes of input it
/// took, until `each` answers false (then `Ok(false)`). NDJSON is read a line at a time, so a
/// file of any size costs the memory of one batch, not of the whole file parsed at once.
fn for_each_resource(path: &Path, mut each: impl FnMut(String, Value, u64) -> bool) -> anyhow::Result<bool> {
    let name = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("ndjson") {
        let file = std::fs::File::open(path).with_context(|| format!("reading {name}"))?;
        for (i, line) in std::io::BufRead::lines(std::io::BufReader::new(file)).enumerate() {
            let line = line.with_context(|| format!("reading {name} line {}", i + 1))?;
            let bytes = line.len() as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = crate::format::json::from_str(&line).with_context(|| format!("{name} line {}", i + 1))?;
            if !each(format!("{name}:{}", i + 1), v, bytes) {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let bytes = text.len() as u64;
    let v: Value = crate::format::json::from_str(&text).with_context(|| format!("parsing {name}"))?;
    if v.get("resourceType").and_then(Value::as_str) == Some("Bundle")
        && matches!(v.get("type").and_then(Value::as_str), Some("transaction" | "batch"))
    {
        let entries = ingest::bundle_resources(&v);
        let count = entries.len() as u64;
        for (i, r) in entries.into_iter().enumerate() {
            // The file's bytes are spread over its entries, for the progress bar.
            let share = bytes / count.max(1) + u64::from(i == 0) * (bytes % count.max(1));
            if !each(format!("{name} entry {i}"), r, share) {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    Ok(each(name, v, bytes))
}

/// What writing a batch gave, the batch again if it may need a retry, and its input bytes.
type Written = (crate::error::FhirResult<Report>, Option<ingest::Checked>, u64);

/// One batch of checked resources, what was rejected while checking it, and how many bytes of
/// input it finished.
struct Batch {
    checked: ingest::Checked,
    rejected: Report,
    bytes: u64,
}

/// Reads, parses and checks the files in batches of `batch_size`; returns how many files it read.
fn produce(
    fhir: &Fhir,
    files: &[PathBuf],
    batch_size: usize,
    sender: &tokio::sync::mpsc::Sender<anyhow::Result<Batch>>,
) -> usize {
    let mut pending: Vec<(String, Value)> = Vec::new();
    let mut bytes = 0;
    let send = |pending: Vec<(String, Value)>, bytes: u64| {
        let mut rejected = Report::default();
        let checked = ingest::check_all(fhir, pending, &mut rejected);
        sender.blocking_send(Ok(Batch { checked, rejected, bytes })).is_ok()
    };
    for file in files {
        let read = for_each_resource(file, |origin, resource, size| {
            pending.push((origin, resource));
            bytes += size;
            pending.len() < batch_size || send(std::mem::take(&mut pending), std::mem::take(&mut bytes))
        });
        match read {
            Ok(true) => {}
            Ok(false) => return 0,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return 0;
            }
        }
    }
    if !pending.is_empty() || bytes > 0 {
        send(pending, bytes);
    }
    files.len()
}

pub async fn run(args: &ImportArgs) -> anyhow::Result<Report> {
    let session = crate::server::open(&args.database_url, &args.base_url).await?;
    let files = files(&args.paths)?;
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} (ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut report = Report::default();
    // Reading, parsing and validating run on a blocking thread while the previous batch is being
    // written, so the database never waits for the CPU work and vice versa.
    let (sender, mut batches) = tokio::sync::mpsc::channel::<anyhow::Result<Batch>>(2);
    let producer = {
        let fhir = session.fhir().clone();
        let batch_size = args.batch.max(1);
        tokio::task::spawn_blocking(move || produce(&fhir, &files, batch_size, &sender))
    };
    // Several batches are written at once where the database can use it (PostgreSQL runs each
    // transaction on its own backend); a batch that collides with a concurrent one on the same
    // resource is written again once the others are done.
    let jobs = args.jobs.unwrap_or(if session.dialect() == Dialect::Postgres { 2 } else { 1 }).max(1);
    let mut writing = tokio::task::JoinSet::new();
    let mut retry = Vec::new();
    let mut finish = |done: Result<Written, tokio::task::JoinError>, report: &mut Report| -> anyhow::Result<()> {
        let (result, kept, bytes) = done.context("a writer task failed")?;
        match (result, kept) {
            (Ok(written), _) => report.add(written),
            (Err(FhirError::Conflict(_)), Some(kept)) => retry.push(kept),
            (Err(e), _) => return Err(e.into()),
        }
        bar.inc(bytes);
        progress(&bar, report, started);
        Ok(())
    };
    while let Some(batch) = batches.recv().await {
        let Batch { checked, rejected, bytes } = batch?;
        report.add(rejected);
        while writing.len() >= jobs {
            if let Some(done) = writing.join_next().await {
                finish(done, &mut report)?;
            }
        }
        let session = session.clone();
        writing.spawn(async move {
            let kept = (jobs > 1).then(|| checked.clone());
            (session.ingest(checked).await, kept, bytes)
        });
    }
    while let Some(done) = writing.join_next().await {
        finish(done, &mut report)?;
    }
    for checked in retry {
        report.add(session.ingest(checked).await?);
    }
    let file_count = producer.await.context("the reader thread failed")?;
    progress(&bar, &report, started);
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    let written = report.created + report.updated;
    println!(
        "imported {file_count} files in {seconds:.1} s: {} created, {} updated, {} unchanged, {} rejected ({:.0} resources/s)",
        report.created,
        report.updated,
        report.unchanged,
        report.rejected.len(),
        (written + report.unchanged) as f64 / seconds.max(1e-9)
    );
    for (origin, issues) in report.rejected.iter().take(20) {
        let first = issues
            .first()
            .map(|i| format!("{} {}", i.expression.clone().unwrap_or_default(), i.message))
            .unwrap_or_default();
        eprintln!("rejected {origin}: {first}");
    }
    // The searches that follow an import are planned from the data, not from empty tables.
    if let Err(e) = session.refresh_statistics().await {
        tracing::warn!(error = %e, "the planner statistics could not be refreshed; autovacuum will");
    }
    session.close().await;
    Ok(report)
}

fn progress(bar: &ProgressBar, report: &Report, started: Instant) {
    let done = report.created + report.updated + report.unchanged;
    bar.set_message(format!("{done} resources, {:.0}/s", done as f64 / started.elapsed().as_secs_f64().max(1e-9)));
}
