//! Bulk Data export: kick-off (`$export` at system, Patient and Group level), status polling,
//! cancellation and file download. The work itself is done by [`worker`] in the background.

pub mod worker;

use crate::access::scopes::Interaction;
use serde_json::{Value, json};

use crate::clock::{instant, now};
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::operation::Call;
use crate::outcome::{Issue, IssueType};
use crate::search::parse::{Parser, date_range};
use crate::session::{Session, Unconfined};
use crate::store::export_jobs::{self as jobs, ExportSpec, Level, Status, TypeFilter};

/// Output formats a client may ask for; all mean FHIR NDJSON.
const NDJSON_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// Parameters of the spec this server does not implement.
const UNSUPPORTED: &[&str] = &["_elements", "includeAssociatedData", "_until"];

/// What a status request finds.
#[derive(Debug)]
pub enum ExportStatus {
    InProgress { progress: String },
    Complete { manifest: Value },
    Failed { message: String },
}

/// Where the client polls a job.
pub fn status_url(fhir: &Fhir, job_id: &str) -> String {
    format!("{}/$export-status/{job_id}", fhir.base_url)
}

fn file_url(fhir: &Fhir, job_id: &str, seq: i64) -> String {
    format!("{}/$export-file/{job_id}/{seq}", fhir.base_url)
}

fn bad(message: impl Into<String>) -> FhirError {
    FhirError::BadRequest(vec![Issue::error(IssueType::Invalid, message)])
}

/// The kick-off request as name/value pairs, from a POSTed Parameters resource.
pub fn parameters_to_pairs(parameters: &Value) -> FhirResult<Vec<(String, String)>> {
    if parameters.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(bad("a POST kick-off takes a Parameters resource"));
    }
    let mut pairs = Vec::new();
    for (i, p) in parameters.get("parameter").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let value = p.as_object().into_iter().flatten().find(|(k, _)| k.starts_with("value")).and_then(|(_, v)| {
            v.as_str().map(str::to_string).or_else(|| v.get("reference")?.as_str().map(str::to_string))
        });
        match value {
            Some(v) => pairs.push((name.to_string(), v)),
            None => {
                return Err(FhirError::BadRequest(vec![
                    Issue::error(IssueType::Invalid, format!("the parameter '{name}' needs a value"))
                        .at(format!("Parameters.parameter[{i}]")),
                ]));
            }
        }
    }
    Ok(pairs)
}

/// `$export`, `Patient/$export` and `Group/[id]/$export`: the kick-off of the asynchronous
/// request pattern (202 with the status URL in Content-Location).
pub async fn operation(session: &Session, call: &Call) -> FhirResult<Response> {
    if !call.respond_async {
        return Err(bad("$export runs asynchronously: send the header Prefer: respond-async"));
    }
    let mut pairs = call.query.clone();
    if let Some(body) = &call.raw_body {
        pairs.extend(parameters_to_pairs(body)?);
    }
    let (level, group) = match (call.resource_type.as_deref(), call.id.as_deref()) {
        (Some("Group"), Some(id)) => (Level::Group, Some(id)),
        (Some("Patient"), None) => (Level::Patient, None),
        _ => (Level::System, None),
    };
    let location = kickoff(session, level, group, &pairs, &call.request_url, call.strict).await?;
    let mut response = Response::empty(202);
    response.location = Some(location);
    Ok(response)
}

/// Validates a kick-off and queues the job; returns the status URL.
pub async fn kickoff(
    session: &Session,
    level: Level,
    group_id: Option<&str>,
    pairs: &[(String, String)],
    request_url: &str,
    strict: bool,
) -> FhirResult<String> {
    // Jobs are not owned by a client: export is for backend services with system-wide scopes.
    let all = session.unconfined(Interaction::Search)?;
    let values = |name: &'static str| pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str());
    if let Some(format) = values("_outputFormat").next()
        && !NDJSON_FORMATS.contains(&format)
    {
        return Err(bad(format!("_outputFormat '{format}' is not supported; use application/fhir+ndjson")));
    }
    if strict && let Some((name, _)) = pairs.iter().find(|(k, _)| UNSUPPORTED.contains(&k.as_str())) {
        return Err(FhirError::BadRequest(vec![Issue::error(
            IssueType::NotSupported,
            format!("the export parameter '{name}' is not supported"),
        )]));
    }

    let registry = session.registry.current();
    let in_patient_compartment = |t: &str| t == "Patient" || !registry.compartment_params("Patient", t).is_empty();
    let mut types: Vec<String> = session
        .model
        .resource_types()
        .iter()
        .filter(|t| level == Level::System || in_patient_compartment(t))
        .cloned()
        .collect();
    let wanted: Vec<String> =
        values("_type").flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
    for t in &wanted {
        if !session.model.is_resource_type(t) {
            return Err(bad(format!("_type names '{t}', which is not an R4 resource type")));
        }
        if !types.contains(t) {
            return Err(bad(format!(
                "{t} is not in the Patient compartment, so a {level:?}-level export cannot hold it"
            )));
        }
    }
    if !wanted.is_empty() {
        types.retain(|t| wanted.contains(t));
    }

    let since = values("_since").next().map(|v| date_range(v).map(|(lo, _)| lo)).transpose()?;

    let mut type_filters = Vec::new();
    for filter in values("_typeFilter").flat_map(split_type_filters) {
        let Some((t, query)) = filter.split_once('?') else {
            return Err(bad(format!("_typeFilter '{filter}' must have the form Type?parameters")));
        };
        if !types.iter().any(|x| x == t) {
            return Err(bad(format!("_typeFilter '{filter}' names a type that is not exported")));
        }
        // Parse now so that a bad filter fails the kick-off, not the job.
        let parsed: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        Parser { registry: &registry, base_url: &session.base_url, strict: true, limits: &session.limits }
            .parse(vec![t.to_string()], &parsed)?;
        type_filters.push(TypeFilter { resource_type: t.to_string(), query: query.to_string() });
    }

    let mut patients: Vec<String> = values("patient").map(|r| reference_id(session, r)).collect::<FhirResult<_>>()?;
    if level == Level::System && !patients.is_empty() {
        return Err(bad("the patient parameter applies to Patient- and Group-level exports"));
    }
    if let Some(group_id) = group_id {
        let members = group_members(session, &all, group_id).await?;
        patients =
            if patients.is_empty() { members } else { patients.into_iter().filter(|p| members.contains(p)).collect() };
    }

    let spec = ExportSpec { level, patients, types, since, type_filters };
    let id = crate::session::prepare::new_id();
    jobs::create(all.store(), &id, request_url, &spec, now()).await?;
    tracing::info!(job = %id, ?level, types = spec.types.len(), "export queued");
    Ok(status_url(session, &id))
}

/// `_typeFilter` values may list several queries separated by commas; a comma inside a query is
/// URL-encoded, so every comma separates.
fn split_type_filters(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|f| !f.is_empty())
}

/// `Patient/123` or an absolute URL on this server to the patient id.
fn reference_id(fhir: &Fhir, reference: &str) -> FhirResult<String> {
    let local = reference.strip_prefix(&format!("{}/", fhir.base_url)).unwrap_or(reference);
    match local.split_once('/') {
        Some(("Patient", id)) if !id.is_empty() && !id.contains('/') => Ok(id.to_string()),
        _ => Err(bad(format!("the patient parameter must reference a Patient, not '{reference}'"))),
    }
}

/// The active Patient members of a Group.
async fn group_members(fhir: &Fhir, all: &Unconfined, group_id: &str) -> FhirResult<Vec<String>> {
    let group = all.store().read("Group", group_id).await?;
    let Some(content) = group.as_ref().and_then(|g| g.content.as_deref()) else {
        return Err(FhirError::NotFound(format!("Group/{group_id}")));
    };
    let group: Value = crate::format::json::from_str(content).map_err(|e| FhirError::Internal(e.to_string()))?;
    Ok(group
        .get("member")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("inactive").and_then(Value::as_bool) != Some(true))
        .filter_map(|m| m.get("entity")?.get("reference")?.as_str())
        .filter_map(|r| reference_id(fhir, r).ok())
        .collect())
}

/// The state of a job: progress, the manifest, or why it failed.
pub async fn status(session: &Session, job_id: &str, requires_access_token: bool) -> FhirResult<ExportStatus> {
    let all = session.unconfined(Interaction::Search)?;
    let Some(job) = jobs::get(all.store(), job_id).await? else {
        return Err(FhirError::NotFound(format!("the export job {job_id}")));
    };
    Ok(match job.status {
        Status::Accepted | Status::Running => {
            ExportStatus::InProgress { progress: job.progress.unwrap_or_else(|| "queued".to_string()) }
        }
        Status::Failed => {
            ExportStatus::Failed { message: job.error.unwrap_or_else(|| "the export failed".to_string()) }
        }
        Status::Completed => {
            let output: Vec<Value> = jobs::files(all.store(), job_id)
                .await?
                .iter()
                .map(|f| json!({"type": f.resource_type, "url": file_url(session, job_id, f.seq), "count": f.count}))
                .collect();
            ExportStatus::Complete {
                manifest: json!({
                    "transactionTime": instant(job.transaction_time),
                    "request": job.request,
                    "requiresAccessToken": requires_access_token,
                    "output": output,
                    "deleted": [],
                    "error": [],
                }),
            }
        }
    })
}

/// Cancels a job (running or finished), deleting its files.
pub async fn cancel(session: &Session, job_id: &str) -> FhirResult<()> {
    let all = session.unconfined(Interaction::Search)?;
    if jobs::delete(all.store(), job_id).await? {
        tracing::info!(job = %job_id, "export cancelled");
        Ok(())
    } else {
        Err(FhirError::NotFound(format!("the export job {job_id}")))
    }
}

/// One NDJSON output file.
pub async fn file(session: &Session, job_id: &str, seq: &str) -> FhirResult<String> {
    let all = session.unconfined(Interaction::Search)?;
    let missing = || FhirError::NotFound(format!("the export file {job_id}/{seq}"));
    let seq: i64 = seq.parse().map_err(|_| missing())?;
    jobs::file_content(all.store(), job_id, seq).await?.ok_or_else(missing)
}
