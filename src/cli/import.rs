//! `ikp import <files or folders>`: loads NDJSON files, Bundles and single resources straight into
//! the database in batched transactions, with a progress bar. Resources keep their ids and an
//! unchanged resource gets no new version, so an interrupted import is resumed by running it again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::interaction::Fhir;
use crate::interaction::ingest::{self, Report};

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

/// The resources in one file, each with where it came from.
fn resources_of(path: &Path) -> anyhow::Result<Vec<(String, Value)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("ndjson") {
        return text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                let v: Value = serde_json::from_str(line).with_context(|| format!("{name} line {}", i + 1))?;
                Ok((format!("{name}:{}", i + 1), v))
            })
            .collect();
    }
    let v: Value = serde_json::from_str(&text).with_context(|| format!("parsing {name}"))?;
    if v.get("resourceType").and_then(Value::as_str) == Some("Bundle")
        && matches!(v.get("type").and_then(Value::as_str), Some("transaction" | "batch"))
    {
        return Ok(ingest::bundle_resources(&v)
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("{name} entry {i}"), r))
            .collect());
    }
    Ok(vec![(name, v)])
}

pub async fn run(args: &ImportArgs) -> anyhow::Result<Report> {
    let fhir: Fhir = crate::server::fhir(&args.database_url, &args.base_url).await?;
    let files = files(&args.paths)?;
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} (ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut report = Report::default();
    let mut pending: Vec<(String, Value)> = Vec::new();
    for file in &files {
        pending.extend(resources_of(file)?);
        while pending.len() >= args.batch {
            let rest = pending.split_off(args.batch);
            report.add(ingest::put_all(&fhir, std::mem::replace(&mut pending, rest)).await?);
            progress(&bar, &report, started);
        }
        bar.inc(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0));
    }
    if !pending.is_empty() {
        report.add(ingest::put_all(&fhir, pending).await?);
    }
    progress(&bar, &report, started);
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    let written = report.created + report.updated;
    println!(
        "imported {} files in {seconds:.1} s: {} created, {} updated, {} unchanged, {} rejected ({:.0} resources/s)",
        files.len(),
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
    fhir.store.close().await;
    Ok(report)
}

fn progress(bar: &ProgressBar, report: &Report, started: Instant) {
    let done = report.created + report.updated + report.unchanged;
    bar.set_message(format!("{done} resources, {:.0}/s", done as f64 / started.elapsed().as_secs_f64().max(1e-9)));
}
