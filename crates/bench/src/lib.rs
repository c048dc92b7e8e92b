//! `ikp bench`: a load tool that drives any FHIR server over HTTP with concurrent clients and
//! reports throughput and latency percentiles per phase. It measures ikp and peers the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Base URL of the FHIR endpoint under test.
    #[arg(long, default_value = "http://127.0.0.1:8080/fhir")]
    pub url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Phases to run, in order: create, read, update, transaction (posts the `--bundles`), and
    /// `search:<name>` for each search template.
    #[arg(long, value_delimiter = ',', default_value = "create,read,update")]
    pub phases: Vec<String>,
    /// Folder of transaction Bundles (`*.json`, e.g. from `ikp synth --format bundles`) that the
    /// transaction phase posts, each once, in name order (wrapping around when all are sent).
    #[arg(long)]
    pub bundles: Option<std::path::PathBuf>,
    /// Search templates `name=Type?query`, where `{patient}` and `{pesel}` are replaced by a random
    /// existing patient's id and PESEL (repeatable; defaults suit `ikp synth` data).
    #[arg(long = "search")]
    pub searches: Vec<String>,
    /// A label for the run (e.g. "ikp sqlite"), printed and written to the summary.
    #[arg(long, default_value = "")]
    pub label: String,
    /// A bearer token sent with every request (for a server with authorization on; e.g. from
    /// `ikp client token`).
    #[arg(long, env = "IKP_BENCH_TOKEN")]
    pub token: Option<String>,
    /// Append a machine-readable summary (one JSON object per line) to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// The measured outcome of one phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseResult {
    pub label: String,
    pub phase: String,
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cores: usize,
    /// Resources written by successful transactions (transaction phase only).
    pub resources: usize,
    pub resources_per_second: f64,
}

/// A valid PESEL of a man born on 1980-01-01 (the sample patient), varying with `n`.
fn pesel(n: usize) -> String {
    use ikp_synth::{calendar::Day, pesel};
    Day::parse("1980-01-01").and_then(|day| pesel::encode(day, (n % 5000) as u32, pesel::Sex::Male)).unwrap_or_default()
}

/// A realistic adult patient of about 1 KB, unique per sequence number.
pub fn sample_patient(n: usize) -> Value {
    json!({
        "resourceType": "Patient",
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/Patient"]},
        "identifier": [{"use": "official", "system": "urn:oid:2.16.840.1.113883.3.4424.1.1.616", "value": pesel(n)}],
        "active": true,
        "name": [{"use": "official", "family": "Kowalski", "given": ["Jan", "Maria"], "prefix": ["dr"]}],
        "telecom": [{"system": "phone", "value": "+48 600 100 200", "use": "mobile"}, {"system": "email", "value": format!("jan{n}@example.pl")}],
        "gender": "male",
        "birthDate": "1980-01-01",
        "address": [{"use": "home", "line": ["ul. Marszałkowska 1/2"], "city": "Warszawa", "postalCode": "00-001", "country": "PL"}],
        "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]},
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "pl"}]}, "preferred": true}]
    })
}

/// Representative IKP searches: a patient's lab results by code, by date range, prescriptions by
/// PESEL through a chain, prescriptions with their prescribers, and a compartment listing.
pub const DEFAULT_SEARCHES: &[(&str, &str)] = &[
    ("patient-code", "Observation?patient={patient}&code=http://loinc.org|718-7"),
    ("patient-date", "Observation?patient={patient}&date=ge2020-01-01&date=lt2023-01-01"),
    ("chained", "MedicationRequest?subject:Patient.identifier=urn:oid:2.16.840.1.113883.3.4424.1.1.616|{pesel}"),
    ("include", "MedicationRequest?patient={patient}&_include=MedicationRequest:requester"),
    ("compartment", "Patient/{patient}/Encounter?_sort=-date&_count=20"),
];

struct Shared {
    client: reqwest::Client,
    url: String,
    ids: Mutex<Vec<String>>,
    /// (id, PESEL) of existing patients, for search templates.
    patients: Mutex<Vec<(String, String)>>,
    counter: AtomicUsize,
    /// Transaction Bundles (JSON text, entry count) for the transaction phase.
    bundles: Vec<(String, usize)>,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<Vec<PhaseResult>> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = &args.token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).context("the --token")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(args.clients * 2).default_headers(headers).build()?;
    let shared = Arc::new(Shared {
        client,
        url: args.url.trim_end_matches('/').to_string(),
        ids: Mutex::new(Vec::new()),
        patients: Mutex::new(Vec::new()),
        counter: AtomicUsize::new(0),
        bundles: match &args.bundles {
            Some(dir) => load_bundles(dir)?,
            None => Vec::new(),
        },
    });
    let templates: Vec<(String, String)> = if args.searches.is_empty() {
        DEFAULT_SEARCHES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    } else {
        args.searches
            .iter()
            .map(|s| {
                s.split_once('=')
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .ok_or_else(|| anyhow::anyhow!("--search wants name=template, not '{s}'"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let metadata = shared.client.get(format!("{}/metadata", shared.url)).send().await.context("reaching the server")?;
    if !metadata.status().is_success() {
        bail!("{}/metadata answered {}", shared.url, metadata.status());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{:<18} {:<8} {:>8} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9}",
        "label", "phase", "clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"
    );
    let mut results = Vec::new();
    for phase in &args.phases {
        let template = match phase.strip_prefix("search:") {
            Some(name) => Some(
                templates
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| anyhow::anyhow!("no search template named '{name}'"))?,
            ),
            None => None,
        };
        if template.is_some() && shared.patients.lock().await.is_empty() {
            discover_patients(&shared).await?;
        } else if template.is_none() && phase != "create" && shared.ids.lock().await.is_empty() {
            seed(&shared, args.clients.max(100)).await?;
        }
        let result = run_phase(&shared, phase, template.as_deref(), &args, cores).await?;
        println!(
            "{:<18} {:<8} {:>8} {:>9} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            result.label,
            result.phase,
            result.clients,
            result.requests,
            result.errors,
            result.per_second,
            result.p50_ms,
            result.p95_ms,
            result.p99_ms
        );
        if let Some(path) = &args.json {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            writeln!(f, "{}", serde_json::to_string(&result)?)?;
        }
        if result.resources > 0 {
            println!(
                "{:<18} {:<8} {:>8} resources written, {:.0} resources/s",
                "", "", result.resources, result.resources_per_second
            );
        }
        results.push(result);
    }
    Ok(results)
}

/// The transaction Bundles of a folder, with their entry counts.
fn load_bundles(dir: &std::path::Path) -> anyhow::Result<Vec<(String, usize)>> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut bundles = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let value: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        if value["resourceType"] == "Bundle" && matches!(value["type"].as_str(), Some("transaction" | "batch")) {
            bundles.push((text, value["entry"].as_array().map_or(0, Vec::len)));
        }
    }
    if bundles.is_empty() {
        bail!("no transaction or batch Bundles in {}", dir.display());
    }
    Ok(bundles)
}

async fn seed(shared: &Arc<Shared>, n: usize) -> anyhow::Result<()> {
    for _ in 0..n {
        let (ok, _) = request(shared, "create").await;
        if !ok {
            bail!("could not create seed data");
        }
    }
    Ok(())
}

/// Finds existing patients (id and PESEL) to fill search templates.
async fn discover_patients(shared: &Arc<Shared>) -> anyhow::Result<()> {
    let url = format!("{}/Patient?_count=1000&_elements=identifier", shared.url);
    let bundle: Value = shared.client.get(url).header("accept", "application/fhir+json").send().await?.json().await?;
    let mut found = Vec::new();
    for entry in bundle["entry"].as_array().into_iter().flatten() {
        let resource = &entry["resource"];
        let Some(id) = resource["id"].as_str() else { continue };
        let pesel = resource["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["system"] == "urn:oid:2.16.840.1.113883.3.4424.1.1.616")
            .and_then(|i| i["value"].as_str())
            .unwrap_or_default();
        found.push((id.to_string(), pesel.to_string()));
    }
    if found.is_empty() {
        bail!("no patients on the server to search for (load data first, e.g. with ikp synth)");
    }
    *shared.patients.lock().await = found;
    Ok(())
}

async fn run_phase(
    shared: &Arc<Shared>,
    phase: &str,
    template: Option<&str>,
    args: &BenchArgs,
    cores: usize,
) -> anyhow::Result<PhaseResult> {
    if template.is_none() && !matches!(phase, "create" | "read" | "update" | "transaction") {
        bail!("unknown phase '{phase}' (create, read, update, transaction, search:<name>)");
    }
    if phase == "transaction" && shared.bundles.is_empty() {
        bail!("the transaction phase needs --bundles <folder>");
    }
    let written = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let shared = shared.clone();
            let phase = phase.to_string();
            let template = template.map(str::to_string);
            let written = written.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < deadline {
                    let (ok, elapsed) = match &template {
                        Some(t) => search(&shared, t).await,
                        None if phase == "transaction" => transaction(&shared, &written).await,
                        None => request(&shared, &phase).await,
                    };
                    latencies.push(elapsed);
                    if !ok {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        latencies.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    Ok(PhaseResult {
        label: args.label.clone(),
        phase: phase.to_string(),
        clients: args.clients,
        requests: latencies.len(),
        errors,
        seconds,
        per_second: latencies.len() as f64 / seconds,
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        cores,
        resources: written.load(Ordering::Relaxed),
        resources_per_second: written.load(Ordering::Relaxed) as f64 / seconds,
    })
}

/// Posts the next transaction Bundle; counts its entries when it succeeds.
async fn transaction(shared: &Arc<Shared>, written: &AtomicUsize) -> (bool, Duration) {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let Some((body, entries)) = shared.bundles.get(n % shared.bundles.len().max(1)) else {
        return (false, Duration::ZERO);
    };
    let started = Instant::now();
    let r = shared
        .client
        .post(&shared.url)
        .header("content-type", "application/fhir+json")
        .header("accept", "application/fhir+json")
        .header("prefer", "return=minimal")
        .body(body.clone())
        .send()
        .await;
    let ok = succeeded(r).await.is_some();
    if ok {
        written.fetch_add(*entries, Ordering::Relaxed);
    }
    (ok, started.elapsed())
}

/// One request of a phase; returns success and latency.
async fn request(shared: &Arc<Shared>, phase: &str) -> (bool, Duration) {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let id = if phase == "create" {
        None
    } else {
        let ids = shared.ids.lock().await;
        ids.get(n.wrapping_mul(2_654_435_761) % ids.len().max(1)).cloned()
    };
    let started = Instant::now();
    let ok = match (phase, id) {
        ("create", _) => create(shared, n).await,
        ("read", Some(id)) => {
            let r = shared
                .client
                .get(format!("{}/Patient/{id}", shared.url))
                .header("accept", "application/fhir+json")
                .send()
                .await;
            succeeded(r).await.is_some()
        }
        (_, Some(id)) => {
            let mut body = sample_patient(n);
            body["id"] = json!(id);
            let r = shared
                .client
                .put(format!("{}/Patient/{id}", shared.url))
                .header("content-type", "application/fhir+json")
                .body(body.to_string())
                .send()
                .await;
            succeeded(r).await.is_some()
        }
        _ => false,
    };
    (ok, started.elapsed())
}

/// One search from a template, for a random known patient.
async fn search(shared: &Arc<Shared>, template: &str) -> (bool, Duration) {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let (id, pesel) = {
        let patients = shared.patients.lock().await;
        patients.get(n.wrapping_mul(2_654_435_761) % patients.len().max(1)).cloned().unwrap_or_default()
    };
    let query = template.replace("{patient}", &id).replace("{pesel}", &pesel);
    let started = Instant::now();
    let r = shared.client.get(format!("{}/{query}", shared.url)).header("accept", "application/fhir+json").send().await;
    (succeeded(r).await.is_some(), started.elapsed())
}

/// Creates a patient and remembers its id for later phases.
async fn create(shared: &Arc<Shared>, n: usize) -> bool {
    let r = shared
        .client
        .post(format!("{}/Patient", shared.url))
        .header("content-type", "application/fhir+json")
        .header("accept", "application/fhir+json")
        .body(sample_patient(n).to_string())
        .send()
        .await;
    let Some(body) = succeeded(r).await else { return false };
    match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["id"].as_str().map(str::to_string)) {
        Some(id) => {
            shared.ids.lock().await.push(id);
            true
        }
        None => false,
    }
}

/// The body of a successful response.
async fn succeeded(r: Result<reqwest::Response, reqwest::Error>) -> Option<bytes::Bytes> {
    match r {
        Ok(r) if r.status().is_success() => r.bytes().await.ok(),
        _ => None,
    }
}
