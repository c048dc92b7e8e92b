//! A randomized leak test of the access policy over the demo population and a generated world
//! (adults, a 17-year-old and the parent who acts for them, proxies that read or act, a doctor
//! with a 24-hour authorisation, a pharmacist with prescriptions-only ones, Consents that grant
//! nothing, resources a backend moved from one patient to another or deleted and created again
//! for someone else). For every kind of caller and a seeded random mix of every read and write
//! route, each resource a response carries must be within the caller's reach (worked out here,
//! explicitly, per caller), statuses and result sets must be the policy's, and writes on what
//! the caller may not see must answer byte for byte as the same writes on ids that never existed.
//! The AuditEvents a confined caller finds must be about patients in its reach (a record of its
//! own action may also name a patient it knows from a resource it sees), and the same requests
//! about a hidden patient and about a missing one must leave the same events in its own trail.
//!
//! The national operations are in the mix too. Every instance-level operation (dispensing,
//! cancelling, cross-border dispensing; booking, completing, cancelling a referral; realising an
//! order; cancelling, moving a visit; booking a slot for a patient; moving an EHIC application;
//! revoking a Consent; a document, a summary; granting access, choosing primary care, applying
//! for an EHIC, a one-time code, the waiting list, cross-border consent, `$validate`) is called
//! with plausible parameters on what the caller may not see and on an id that never existed,
//! and must answer the same and change nothing; so must those naming such a resource in a
//! parameter (a grantee, a referral, the patient booked for), and the type-level ones naming a
//! hidden patient's PESEL with a wrong access code (or a one-time code, even while the patient
//! has one pending) against a PESEL nobody has. On what the caller may see or act on, they must
//! still work: documents and summaries within its reach, the workflow's own refusals (403, 409,
//! 422) rather than 404, and the documented disclosure (the right access code and PESEL) showing
//! exactly that package, referral or order.
//!
//! The seed is printed first (`seed N`); `IKP_LEAK_SEED=N` replays a run. What goes against the
//! policy is collected, and the test fails at the end with every kind of finding and its first
//! instance (caller, request, what was shown); `IKP_LEAK_FINDINGS=path` appends them all to a file.

use crate::common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use ikp::synth::calendar::Day;
use ikp::synth::pesel::{self, Sex};
use reqwest::Method;
use serde_json::{Value, json};

use common::people::{ALWAYS, consent, date, parent_link, person, today};
use common::{TestServer, keys};

on_both_backends_configured!(super::fixed_world; randomized_access);

/// Authorization on and the demo population, with no notification delivery on the node: the
/// test judges every version of a world it catalogues once, and a delivery that fails (the demo
/// e-mail subscriptions have no mail outbox here) writes a new version of its Subscription at a
/// moment of its own. What notifications show is judged in `notifications`.
fn fixed_world(args: &mut ikp::cli::ServeArgs) {
    crate::common::auth_on(args);
    args.notification_workers = 0;
}

const PESEL: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";
/// The identifier system of the generated clinical resources (conditional writes match on it).
const IDENT: &str = "urn:ikp-leak";

const JAN: &str = "demo-jan-kowalski";
const ANNA: &str = "demo-anna-kowalska";
const ZOFIA: &str = "demo-zofia-kowalska";
const KRYSTYNA: &str = "demo-krystyna-nowak";
const TOMASZ: &str = "demo-tomasz-kowalski";
const PIOTR: &str = "demo-piotr-nowak";
const EWA: &str = "demo-ewa-wisniewska";
const ANNA_AS_MOTHER: &str = "RelatedPerson/demo-anna-mother-of-zofia";

/// The generated doctor (a 24-hour authorisation from Anna) and the generated patients.
const DOCTOR: &str = "rz-doc";
const TEEN: &str = "rz-teen";
const ADULTS: usize = 8;

/// Reference and definitional types, readable by every authenticated caller: the policy's list,
/// restated here so that changing it is a change to this test too.
const PUBLIC: &[&str] = &[
    "ActivityDefinition",
    "CapabilityStatement",
    "ChargeItemDefinition",
    "CodeSystem",
    "CompartmentDefinition",
    "ConceptMap",
    "DeviceDefinition",
    "Endpoint",
    "EventDefinition",
    "GraphDefinition",
    "HealthcareService",
    "ImplementationGuide",
    "InsurancePlan",
    "Library",
    "Location",
    "Measure",
    "Medication",
    "MedicationKnowledge",
    "MessageDefinition",
    "NamingSystem",
    "ObservationDefinition",
    "OperationDefinition",
    "Organization",
    "OrganizationAffiliation",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Questionnaire",
    "SearchParameter",
    "Slot",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Substance",
    "TerminologyCapabilities",
    "ValueSet",
];

/// What a prescriptions-only authorisation reaches.
const RX: &[&str] = &["MedicationRequest", "MedicationDispense", "MedicationStatement"];

/// Types searched whole, with exact expectations.
const SEARCH_TYPES: &[&str] = &[
    "Observation",
    "DiagnosticReport",
    "CarePlan",
    "Goal",
    "ImagingStudy",
    "Condition",
    "MedicationRequest",
    "MedicationDispense",
    "Patient",
    "RelatedPerson",
    "Consent",
    "Task",
    "Encounter",
    "Immunization",
    "ImmunizationRecommendation",
    "DocumentReference",
    "Composition",
    "ServiceRequest",
    "Appointment",
    "Coverage",
    "Invoice",
    "Procedure",
    "DeviceRequest",
    "Bundle",
    "Schedule",
    "Slot",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "Organization",
];

/// Types the write probes aim at (their bodies can be built for any caller).
const WRITE_TYPES: &[&str] = &["Observation", "Condition", "MedicationRequest", "Patient"];

/// Resources whose versions belong to different patients.
const SPECIAL: &[(&str, &str)] = &[
    ("Observation", "rz-moved"),
    ("Observation", "rz-moved-demo"),
    ("Observation", "rz-reused"),
    ("Observation", "rz-reused-demo"),
    ("Observation", "rz-gone"),
    ("MedicationRequest", "rz-m-moved"),
];

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// What a caller may do with one version of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sight {
    Hidden,
    Read,
    Write,
}

/// Access to one patient's compartment.
#[derive(Debug, Clone)]
struct Grant {
    /// Only these types (`None`: all).
    types: Option<Vec<&'static str>>,
    write: bool,
}

impl Grant {
    fn covers(&self, resource_type: &str) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(&resource_type))
    }
}

/// A caller and, per the policy, what it may see and change.
struct Who {
    name: &'static str,
    token: String,
    /// The token's `fhirUser`.
    user: Option<String>,
    /// A backend service: sees everything.
    unconfined: bool,
    /// The token's scopes allow writes.
    writes: bool,
    patients: BTreeMap<String, Grant>,
    /// Practitioner compartments it sees whole (its own: what it wrote or performed).
    practitioners: BTreeSet<String>,
    /// The patient the caller writes for in the write probes.
    home: Option<String>,
}

impl Who {
    fn new(name: &'static str, token: String, user: Option<&str>, writes: bool) -> Who {
        let mut who = Who {
            name,
            token,
            user: user.map(str::to_string),
            unconfined: false,
            writes,
            patients: BTreeMap::new(),
            practitioners: BTreeSet::new(),
            home: None,
        };
        if let Some(p) = user.and_then(|u| u.strip_prefix("Practitioner/")) {
            who.practitioners.insert(p.to_string());
        }
        who
    }

    /// A backend service with `system/*.cruds`: unconfined.
    fn backend(token: String) -> Who {
        let mut who = Who::new("backend service", token, None, true);
        who.unconfined = true;
        who
    }

    fn sees(mut self, patient: &str, types: Option<&[&'static str]>, write: bool) -> Who {
        self.patients.insert(patient.to_string(), Grant { types: types.map(<[&str]>::to_vec), write });
        self
    }

    fn home(mut self, patient: &str) -> Who {
        self.home = Some(patient.to_string());
        self
    }

    fn own_practitioner(&self) -> Option<&str> {
        self.user.as_deref().and_then(|u| u.strip_prefix("Practitioner/"))
    }

    /// How the caller sees a version of `resource_type/id` in `members` (its Patient and
    /// Practitioner compartments).
    fn sight(&self, resource_type: &str, id: &str, members: &[(String, String)]) -> Sight {
        if self.unconfined {
            return Sight::Write;
        }
        let reaches = |write: bool| {
            members.iter().any(|(ct, cid)| match ct.as_str() {
                "Patient" => self.patients.get(cid).is_some_and(|g| (g.write || !write) && g.covers(resource_type)),
                "Practitioner" => self.practitioners.contains(cid),
                _ => false,
            })
        };
        if reaches(true) {
            Sight::Write
        } else if reaches(false)
            || PUBLIC.contains(&resource_type)
            || self.user.as_deref() == Some(&format!("{resource_type}/{id}"))
        {
            Sight::Read
        } else {
            Sight::Hidden
        }
    }

    /// Whether a compartment search `Patient/x/...` is open to the caller.
    fn has_compartment(&self, comp_type: &str, id: &str) -> bool {
        self.unconfined
            || match comp_type {
                "Patient" => self.patients.contains_key(id),
                _ => self.practitioners.contains(id),
            }
    }
}

type Key = (String, String);
/// Every version of a resource: its number and content (`None`: a deletion).
type Versions = Vec<(i64, Option<Value>)>;

/// One stored version: its content (`None`: a deletion) and the compartments it belongs to.
struct Version {
    content: Option<Value>,
    members: Vec<(String, String)>,
}

/// Every stored resource but the audit trail, version by version, as the backend sees it.
#[derive(Default)]
struct World {
    resources: BTreeMap<Key, BTreeMap<i64, Version>>,
}

impl World {
    fn put(&mut self, fhir: &ikp::session::Session, key: Key, version: i64, content: Option<Value>) {
        let members = content.as_ref().map(|c| members(fhir, c)).unwrap_or_default();
        self.resources.entry(key).or_default().insert(version, Version { content, members });
    }

    /// Whether the caller sees version `n` (a deletion by the version it deleted).
    fn version_visible(&self, who: &Who, key: &Key, n: i64) -> bool {
        let Some(versions) = self.resources.get(key) else { return false };
        let judged = match versions.get(&n) {
            Some(v) if v.content.is_some() => v,
            Some(_) => match versions.get(&(n - 1)) {
                Some(previous) if previous.content.is_some() => previous,
                _ => return false,
            },
            None => return false,
        };
        who.sight(&key.0, &key.1, &judged.members) != Sight::Hidden
    }

    fn current(&self, key: &Key) -> Option<(i64, &Version)> {
        self.resources.get(key).and_then(|v| v.iter().next_back()).map(|(n, v)| (*n, v))
    }

    fn read_status(&self, who: &Who, key: &Key) -> u16 {
        match self.current(key) {
            None => 404,
            Some((n, v)) => match (&v.content, self.version_visible(who, key, n)) {
                (_, false) => 404,
                (Some(_), true) => 200,
                (None, true) => 410,
            },
        }
    }

    fn vread_status(&self, who: &Who, key: &Key, n: i64) -> u16 {
        let Some(v) = self.resources.get(key).and_then(|vs| vs.get(&n)) else { return 404 };
        match (&v.content, self.version_visible(who, key, n)) {
            (_, false) => 404,
            (Some(_), true) => 200,
            (None, true) => 410,
        }
    }

    /// The versions of the instance history the caller sees, newest first (`None`: 404).
    fn history(&self, who: &Who, key: &Key) -> Option<Vec<i64>> {
        let versions = self.resources.get(key)?;
        let seen: Vec<i64> = versions.keys().rev().copied().filter(|n| self.version_visible(who, key, *n)).collect();
        (!seen.is_empty()).then_some(seen)
    }

    /// `Type/id` of the live resources the caller sees that `keep` selects.
    fn visible(&self, who: &Who, keep: impl Fn(&str, &Value, &[(String, String)]) -> bool) -> BTreeSet<String> {
        self.resources
            .iter()
            .filter_map(|(key, versions)| {
                let (_, v) = versions.iter().next_back()?;
                let content = v.content.as_ref()?;
                (who.sight(&key.0, &key.1, &v.members) != Sight::Hidden && keep(&key.0, content, &v.members))
                    .then(|| format!("{}/{}", key.0, key.1))
            })
            .collect()
    }

    /// Keys of current resources `keep` selects.
    fn keys(&self, keep: impl Fn(&Key, Option<&Value>) -> bool) -> Vec<Key> {
        self.resources
            .iter()
            .filter(|(key, versions)| versions.values().next_back().is_some_and(|v| keep(key, v.content.as_ref())))
            .map(|(key, _)| key.clone())
            .collect()
    }

    fn live_patients(&self) -> Vec<String> {
        self.keys(|k, c| k.0 == "Patient" && c.is_some()).into_iter().map(|k| k.1).collect()
    }
}

/// The Patient and Practitioner compartments of a resource: those the server's compartment
/// definitions give, each also checked against the references the resource actually holds.
fn members(fhir: &ikp::session::Session, content: &Value) -> Vec<(String, String)> {
    let mut held = BTreeSet::new();
    references(content, &mut held);
    if let (Some(t), Some(id)) = (content["resourceType"].as_str(), content["id"].as_str()) {
        held.insert((t.to_string(), id.to_string()));
    }
    fhir.compartments_of(content)
        .into_iter()
        .filter(|c| c.comp_type == "Patient" || c.comp_type == "Practitioner")
        .map(|c| (c.comp_type, c.comp_id))
        .filter(|m| held.contains(m))
        .collect()
}

/// `(type, id)` of every literal reference in a resource (relative, absolute or versioned).
fn references(value: &Value, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("reference") {
                let parts: Vec<&str> = r.split('/').collect();
                let n = parts.len();
                if n >= 4 && parts[n - 2] == "_history" {
                    out.insert((parts[n - 4].to_string(), parts[n - 3].to_string()));
                } else if n >= 2 {
                    out.insert((parts[n - 2].to_string(), parts[n - 1].to_string()));
                }
            }
            o.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn reference_of<'a>(content: &'a Value, pointer: &str) -> Option<&'a str> {
    content.pointer(pointer).and_then(Value::as_str)
}

fn entries(bundle: &Value) -> &[Value] {
    bundle["entry"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .map(str::to_string)
}

/// `W/"3"` → 3.
fn etag_version(etag: &str) -> Option<i64> {
    etag.trim_start_matches("W/").trim_matches('"').parse().ok()
}

/// A response: status, text and (when it is JSON) body.
struct Reply {
    status: u16,
    text: String,
    body: Value,
}

/// Sends requests and keeps count; remembers what they created.
struct Net<'a> {
    server: &'a TestServer,
    requests: Cell<usize>,
    created: RefCell<Vec<Value>>,
    fresh: Cell<usize>,
    judged: Cell<usize>,
    events: Cell<usize>,
    /// Answers compared between a hidden and a missing target.
    compared: Cell<usize>,
    /// Of those, answers of operations (instance level, and type level naming a patient).
    operations: Cell<usize>,
    /// Operations on targets the caller may act on or see, judged.
    visible_operations: Cell<usize>,
}

impl Net<'_> {
    async fn send(
        &self,
        who: &Who,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
        headers: &[(&str, String)],
    ) -> Reply {
        let url = match path {
            "" => self.server.base.clone(),
            p if p.starts_with("http") => p.to_string(),
            p => self.server.url(p),
        };
        let mut request = self.server.client.request(method, &url).bearer_auth(&who.token);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        if let Some((content_type, text)) = body {
            request = request.header("content-type", content_type).body(text);
        }
        let response = request.send().await.expect("request");
        self.requests.set(self.requests.get() + 1);
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let created = body["resourceType"].as_str().is_some_and(|t| t != "OperationOutcome" && t != "Bundle");
        if status == 201 && created {
            self.created.borrow_mut().push(body.clone());
        }
        Reply { status, text, body }
    }

    async fn get(&self, who: &Who, path: &str) -> Reply {
        self.send(who, Method::GET, path, None, &[]).await
    }

    async fn post_bundle(&self, who: &Who, bundle: &Value) -> Reply {
        self.send(who, Method::POST, "", Some(("application/fhir+json", bundle.to_string())), &[]).await
    }

    /// An id that never existed.
    fn missing(&self) -> String {
        self.fresh.set(self.fresh.get() + 1);
        format!("zz-missing-{}", self.fresh.get())
    }
}

/// Everything a probe needs.
struct Ctx<'a> {
    net: Net<'a>,
    /// The backend service, to check that refused writes changed nothing.
    admin: Who,
    world: World,
    fhir: &'a ikp::session::Session,
    base: String,
    /// What went against the policy, each with the caller, the request and what was shown.
    findings: RefCell<Vec<(&'static str, String)>>,
    /// The tour (every route once per caller) is under way: operation probes try everything.
    touring: Cell<bool>,
    /// Adult patients who may authorise access to their own record, and their tokens (to issue
    /// one-time access codes that callers then guess at).
    owners: BTreeMap<String, String>,
    /// Patients a caller was shown by an operation's own rule (an access code and a PESEL it
    /// presented): its own AuditEvents may name them.
    disclosed: RefCell<BTreeSet<(&'static str, String)>>,
    /// Resources an operation changed, every version re-read by the backend service, for
    /// `absorb` to take into the world.
    resynced: RefCell<Vec<(Key, Versions)>>,
}

fn excerpt(text: &str) -> String {
    text.chars().take(4000).collect()
}

impl Ctx<'_> {
    /// Takes what the probes created into the world.
    fn absorb(&mut self) {
        for (key, versions) in self.resynced.take() {
            self.world.resources.remove(&key);
            for (n, content) in versions {
                self.world.put(self.fhir, key.clone(), n, content);
            }
        }
        let created = self.net.created.take();
        for resource in created {
            let (Some(t), Some(id)) = (resource["resourceType"].as_str(), resource["id"].as_str()) else { continue };
            let version = resource["meta"]["versionId"].as_str().and_then(|v| v.parse().ok()).unwrap_or(1);
            let key = (t.to_string(), id.to_string());
            self.world.put(self.fhir, key, version, Some(resource.clone()));
        }
    }

    /// Records a finding unless `ok` (the run goes on, so that one run shows them all).
    fn ensure(&self, ok: bool, kind: &'static str, message: impl FnOnce() -> String) -> bool {
        if !ok {
            let message = message();
            let mut findings = self.findings.borrow_mut();
            if findings.len() < 3 {
                eprintln!("FINDING: {}\n", message.chars().take(800).collect::<String>());
            }
            if let Ok(path) = std::env::var("IKP_LEAK_FINDINGS") {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("findings file");
                writeln!(f, "{message}").ok();
            }
            findings.push((kind, message));
        }
        ok
    }

    fn expect_status(&self, who: &Who, request: &str, reply: &Reply, want: u16) -> bool {
        self.ensure(reply.status == want, "a status unlike the policy's", || {
            format!(
                "caller {} request {request}: status {} where the policy says {want}: {}",
                who.name,
                reply.status,
                excerpt(&reply.text)
            )
        })
    }

    fn same(&self, who: &Who, request: &str, what: &str, got: &BTreeSet<String>, want: &BTreeSet<String>) {
        self.ensure(got == want, "a result set unlike the policy's", || {
            let extra: Vec<&String> = got.difference(want).collect();
            let missing: Vec<&String> = want.difference(got).collect();
            format!(
                "caller {} request {request}: {what} differ from the policy's: returned but outside the \
                 expected set {extra:?}; expected but not returned {missing:?}",
                who.name
            )
        });
    }

    fn total(&self, who: &Who, request: &str, body: &Value, want: usize) {
        self.ensure(body["total"].as_u64() == Some(want as u64), "a total unlike the policy's", || {
            format!("caller {} request {request}: total {} where the policy says {want}", who.name, body["total"])
        });
    }

    /// Every resource in a response (searchsets, histories, batch and transaction responses,
    /// recursively) must be one the caller may see.
    fn check(&self, who: &Who, request: &str, value: &Value) {
        let t = value["resourceType"].as_str().unwrap_or("");
        let response_bundle = t == "Bundle"
            && value["meta"]["versionId"].is_null()
            && matches!(
                value["type"].as_str(),
                Some("searchset" | "history" | "batch-response" | "transaction-response")
            );
        if response_bundle {
            for entry in entries(value) {
                if let Some(resource) = entry.get("resource") {
                    self.check(who, request, resource);
                } else if value["type"] == "history" {
                    self.check_deletion(who, request, entry);
                }
            }
            return;
        }
        if t.is_empty() || t == "OperationOutcome" {
            return;
        }
        // An operation's answer (`$stats`): what it carries is judged, whether stored or computed
        // about a patient (a statistic of someone's results).
        if t == "Parameters" && value["id"].is_null() {
            let mut parameters: Vec<&Value> = value["parameter"].as_array().into_iter().flatten().collect();
            while let Some(parameter) = parameters.pop() {
                if let Some(resource) = parameter.get("resource") {
                    self.check(who, request, resource);
                }
                parameters.extend(parameter["part"].as_array().into_iter().flatten());
            }
            return;
        }
        self.net.judged.set(self.net.judged.get() + 1);
        if who.unconfined {
            return;
        }
        let id = value["id"].as_str().unwrap_or("");
        let members = members(self.fhir, value);
        let seen =
            self.ensure(who.sight(t, id, &members) != Sight::Hidden, "LEAK: a resource outside the reach", || {
                format!(
                    "LEAK: caller {} request {request} was handed {t}/{id} (compartments {members:?}), outside its \
                 reach: {}",
                    who.name,
                    excerpt(&value.to_string())
                )
            });
        if seen && t == "AuditEvent" {
            self.check_event(who, request, value);
        }
    }

    /// An AuditEvent must be about patients in the caller's reach. One recording the caller's
    /// own action may also name a patient the caller knows from a resource it sees (a doctor's
    /// prescription for someone else), never one it could not otherwise know of.
    fn check_event(&self, who: &Who, request: &str, event: &Value) {
        self.net.events.set(self.net.events.get() + 1);
        let own = event["agent"].as_array().into_iter().flatten().any(|a| {
            a["requestor"] == true
                && a["who"]["reference"].as_str().is_some()
                && a["who"]["reference"].as_str() == who.user.as_deref()
        });
        for entity in event["entity"].as_array().into_iter().flatten().filter(|e| e["role"]["code"] == "1") {
            let patient = reference_of(entity, "/what/reference").and_then(|r| r.strip_prefix("Patient/"));
            let in_reach = patient.is_some_and(|p| who.patients.get(p).is_some_and(|g| g.covers("AuditEvent")));
            let known = || {
                patient.is_some_and(|p| {
                    let member = ("Patient".to_string(), p.to_string());
                    self.disclosed.borrow().contains(&(who.name, p.to_string()))
                        || !self.world.visible(who, |_, _, m| m.contains(&member)).is_empty()
                })
            };
            let subtype = event["subtype"][0]["code"].as_str().unwrap_or_default();
            let kind = match (own, event["outcome"].as_str()) {
                (false, _) => "LEAK: an AuditEvent of another person's action, about a patient outside the reach",
                (true, Some("4")) => {
                    "LEAK: the caller's own refused request is audited as about a patient it may not see"
                }
                _ if matches!(subtype, "vread" | "history-instance") => {
                    "LEAK: the caller's own read of a past version is audited as about the resource's current patient"
                }
                _ => "LEAK: the caller's own AuditEvent names a patient it cannot know of",
            };
            self.ensure(in_reach || (own && known()), kind, || {
                let whose = if own { "its own action, " } else { "" };
                format!(
                    "LEAK: caller {} request {request} was handed AuditEvent/{} ({whose}about {:?}, a patient \
                     outside its reach): {}",
                    who.name,
                    event["id"].as_str().unwrap_or(""),
                    patient,
                    excerpt(&event.to_string())
                )
            });
        }
    }

    /// A deletion in a history: the version it deleted must be one the caller sees.
    fn check_deletion(&self, who: &Who, request: &str, entry: &Value) {
        if who.unconfined {
            return;
        }
        let Some(url) = entry["fullUrl"].as_str() else { return };
        let Some((t, id)) = url.strip_prefix(&format!("{}/", self.base)).and_then(|p| p.split_once('/')) else {
            return;
        };
        let Some(n) = entry["response"]["etag"].as_str().and_then(etag_version) else { return };
        let key = (t.to_string(), id.to_string());
        if self.world.resources.contains_key(&key) {
            self.ensure(self.world.version_visible(who, &key, n), "LEAK: a deletion outside the reach", || {
                format!(
                    "LEAK: caller {} request {request} was shown the deletion {t}/{id}/_history/{n}, of a version \
                     outside its reach",
                    who.name
                )
            });
        }
    }

    /// A random resource: mostly personal data, sometimes the moved ones, sometimes a missing id.
    fn target(&self, rng: &mut Rng) -> Key {
        let roll = rng.below(100);
        if roll < 15 {
            let (t, id) = *rng.pick(SPECIAL);
            return (t.to_string(), id.to_string());
        }
        if roll < 22 {
            return ("Observation".to_string(), self.net.missing());
        }
        let personal = roll < 85;
        let keys = self.world.keys(|k, _| personal != PUBLIC.contains(&k.0.as_str()));
        rng.pick(&keys).clone()
    }

    /// A random patient id (sometimes one that does not exist).
    fn patient(&self, rng: &mut Rng) -> String {
        if rng.chance(8) {
            return self.net.missing();
        }
        rng.pick(&self.world.live_patients()).clone()
    }
}

/// Every route the probes exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Read,
    Vread,
    History,
    Versions,
    TypeHistory,
    SystemHistory,
    Search,
    Count,
    Paging,
    IdSearch,
    PostSearch,
    SystemSearch,
    Include,
    Revinclude,
    Chain,
    Has,
    Compartment,
    Everything,
    TypeEverything,
    Batch,
    Transaction,
    HiddenWrites,
    SafeWrites,
    Create,
    Export,
    Audit,
    Operations,
    TypeOperations,
    VisibleOperations,
}

const ROUTES: &[Route] = &[
    Route::Read,
    Route::Vread,
    Route::History,
    Route::Versions,
    Route::TypeHistory,
    Route::SystemHistory,
    Route::Search,
    Route::Count,
    Route::Paging,
    Route::IdSearch,
    Route::PostSearch,
    Route::SystemSearch,
    Route::Include,
    Route::Revinclude,
    Route::Chain,
    Route::Has,
    Route::Compartment,
    Route::Everything,
    Route::TypeEverything,
    Route::Batch,
    Route::Transaction,
    Route::HiddenWrites,
    Route::SafeWrites,
    Route::Create,
    Route::Export,
    Route::Audit,
    Route::Operations,
    Route::TypeOperations,
    Route::VisibleOperations,
];

/// Routes that change data (or, for the operations, would if the policy failed): not for the
/// backend service (it could change anything).
fn writes(route: Route) -> bool {
    matches!(
        route,
        Route::HiddenWrites
            | Route::SafeWrites
            | Route::Create
            | Route::Operations
            | Route::TypeOperations
            | Route::VisibleOperations
    )
}

async fn probe(ctx: &Ctx<'_>, who: &Who, route: Route, rng: &mut Rng) {
    match route {
        Route::Read => {
            let key = ctx.target(rng);
            read(ctx, who, &key).await;
        }
        Route::Vread => {
            let key = ctx.target(rng);
            vread(ctx, who, &key).await;
        }
        Route::History => {
            let key = ctx.target(rng);
            history(ctx, who, &key).await;
        }
        Route::Versions => {
            for (t, id) in SPECIAL {
                let key = (t.to_string(), id.to_string());
                read(ctx, who, &key).await;
                vread(ctx, who, &key).await;
                history(ctx, who, &key).await;
            }
        }
        Route::TypeHistory => {
            let t = rng.pick(&["Observation", "Patient", "MedicationRequest", "AuditEvent"]);
            let path = format!("{t}/_history?_count=20");
            let r = ctx.net.get(who, &path).await;
            ctx.expect_status(who, &path, &r, if who.unconfined { 200 } else { 403 });
            ctx.check(who, &path, &r.body);
        }
        Route::SystemHistory => {
            let path = "_history?_count=10";
            let r = ctx.net.get(who, path).await;
            ctx.expect_status(who, path, &r, if who.unconfined { 200 } else { 403 });
            ctx.check(who, path, &r.body);
        }
        Route::Search => {
            let t = *rng.pick(SEARCH_TYPES);
            let path = format!("{t}?_count=1000&_total=accurate");
            let r = ctx.net.get(who, &path).await;
            ctx.expect_status(who, &path, &r, 200);
            ctx.check(who, &path, &r.body);
            let want = ctx.world.visible(who, |rt, _, _| rt == t);
            ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
            ctx.total(who, &path, &r.body, want.len());
        }
        Route::Count => {
            let t = *rng.pick(SEARCH_TYPES);
            let path = format!("{t}?_summary=count");
            let r = ctx.net.get(who, &path).await;
            ctx.expect_status(who, &path, &r, 200);
            let want = ctx.world.visible(who, |rt, _, _| rt == t);
            ctx.total(who, &path, &r.body, want.len());
            ctx.ensure(entries(&r.body).is_empty(), "a count that lists", || {
                format!("caller {} request {path}: a count lists", who.name)
            });
        }
        Route::Paging => paging(ctx, who, rng).await,
        Route::IdSearch => {
            let observations = ctx.world.keys(|k, _| k.0 == "Observation");
            let mut ids: Vec<String> = (0..4).map(|_| rng.pick(&observations).1.clone()).collect();
            ids.push(ctx.net.missing());
            let path = format!("Observation?_id={}&_total=accurate", ids.join(","));
            let r = ctx.net.get(who, &path).await;
            ctx.expect_status(who, &path, &r, 200);
            ctx.check(who, &path, &r.body);
            let want = ctx.world.visible(who, |t, c, _| t == "Observation" && ids.iter().any(|i| c["id"] == *i));
            ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
            ctx.total(who, &path, &r.body, want.len());
        }
        Route::PostSearch => {
            let patient = ctx.patient(rng);
            let t = *rng.pick(&["Observation", "MedicationRequest", "Condition"]);
            let form = format!("subject=Patient/{patient}&_count=1000&_total=accurate");
            let path = format!("{t}/_search");
            let request = format!("POST {path} {form}");
            let body = Some(("application/x-www-form-urlencoded", form.clone()));
            let r = ctx.net.send(who, Method::POST, &path, body, &[]).await;
            ctx.expect_status(who, &request, &r, 200);
            ctx.check(who, &request, &r.body);
            let subject = format!("Patient/{patient}");
            let want = ctx
                .world
                .visible(who, |rt, c, _| rt == t && reference_of(c, "/subject/reference") == Some(subject.as_str()));
            ctx.same(who, &request, "matches", &keys(&r.body, "match"), &want);
        }
        Route::SystemSearch => {
            let path = format!("{}?_type=Observation,Condition,MedicationRequest&_count=1000", ctx.base);
            let r = ctx.net.get(who, &path).await;
            ctx.expect_status(who, &path, &r, 200);
            ctx.check(who, &path, &r.body);
            let want = ctx.world.visible(who, |t, _, _| matches!(t, "Observation" | "Condition" | "MedicationRequest"));
            ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
        }
        Route::Include => {
            let (t, query) = *rng.pick(&[
                ("MedicationRequest", "_include=MedicationRequest:subject&_include=MedicationRequest:requester"),
                ("Observation", "_include=Observation:subject&_include=Observation:performer"),
                ("MedicationDispense", "_include=MedicationDispense:prescription&_include=MedicationDispense:subject"),
                ("Consent", "_include=Consent:patient&_include=Consent:actor"),
                ("Task", "_include=Task:patient&_include=Task:focus&_include=Task:owner"),
                ("RelatedPerson", "_include=RelatedPerson:patient"),
                ("Encounter", "_include=Encounter:subject&_include=Encounter:participant"),
                (
                    "MedicationDispense",
                    "_include=MedicationDispense:prescription&_include:iterate=MedicationRequest:subject",
                ),
                (
                    "MedicationRequest",
                    "_include=MedicationRequest:subject&_include:iterate=Patient:general-practitioner",
                ),
            ]);
            let path = format!("{t}?{query}&_count=1000");
            let r = ctx.net.get(who, &path).await;
            ctx.expect_status(who, &path, &r, 200);
            ctx.check(who, &path, &r.body);
            let want = ctx.world.visible(who, |rt, _, _| rt == t);
            ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
        }
        Route::Revinclude => revinclude(ctx, who, rng).await,
        Route::Chain => chain(ctx, who, rng).await,
        Route::Has => has(ctx, who, rng).await,
        Route::Compartment => compartment(ctx, who, rng).await,
        Route::Everything => {
            let patient = ctx.patient(rng);
            everything(ctx, who, &patient).await;
        }
        Route::TypeEverything => {
            let path = "Patient/$everything?_count=1000";
            let r = ctx.net.get(who, path).await;
            ctx.expect_status(who, path, &r, 200);
            ctx.check(who, path, &r.body);
        }
        Route::Batch => batch(ctx, who, rng, false).await,
        Route::Transaction => batch(ctx, who, rng, true).await,
        Route::HiddenWrites => hidden_writes(ctx, who, rng).await,
        Route::SafeWrites => safe_writes(ctx, who, rng).await,
        Route::Create => create(ctx, who, rng).await,
        Route::Export => export(ctx, who).await,
        Route::Audit => audit(ctx, who, rng).await,
        Route::Operations => operations(ctx, who, rng).await,
        Route::TypeOperations => type_operations(ctx, who, rng).await,
        Route::VisibleOperations => visible_operations(ctx, who, rng).await,
    }
}

async fn read(ctx: &Ctx<'_>, who: &Who, key: &Key) {
    let path = format!("{}/{}", key.0, key.1);
    let r = ctx.net.get(who, &path).await;
    ctx.expect_status(who, &format!("GET {path}"), &r, ctx.world.read_status(who, key));
    ctx.check(who, &format!("GET {path}"), &r.body);
}

async fn vread(ctx: &Ctx<'_>, who: &Who, key: &Key) {
    let last = ctx.world.current(key).map_or(1, |(n, _)| n);
    for n in 1..=last + 1 {
        let path = format!("{}/{}/_history/{n}", key.0, key.1);
        let r = ctx.net.get(who, &path).await;
        ctx.expect_status(who, &format!("GET {path}"), &r, ctx.world.vread_status(who, key, n));
        ctx.check(who, &format!("GET {path}"), &r.body);
    }
}

async fn history(ctx: &Ctx<'_>, who: &Who, key: &Key) {
    let path = format!("{}/{}/_history?_count=1000", key.0, key.1);
    let request = format!("GET {path}");
    let r = ctx.net.get(who, &path).await;
    match ctx.world.history(who, key) {
        None => {
            ctx.expect_status(who, &request, &r, 404);
        }
        Some(want) => {
            ctx.expect_status(who, &request, &r, 200);
            let got: Vec<i64> =
                entries(&r.body).iter().filter_map(|e| e["response"]["etag"].as_str().and_then(etag_version)).collect();
            ctx.ensure(got == want, "a history unlike the policy's", || {
                format!("caller {} request {request}: versions {got:?} where the policy says {want:?}", who.name)
            });
        }
    }
    ctx.check(who, &request, &r.body);
}

async fn paging(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    let t = *rng.pick(&["Observation", "MedicationRequest", "Patient", "Condition", "Consent"]);
    let count = if who.unconfined { 25 } else { 2 + rng.below(4) };
    let first = format!("{t}?_count={count}");
    let mut seen = BTreeSet::new();
    let mut next = Some(first.clone());
    let mut pages = 0;
    while let Some(url) = next {
        let r = ctx.net.get(who, &url).await;
        ctx.expect_status(who, &url, &r, 200);
        ctx.check(who, &url, &r.body);
        for key in keys(&r.body, "match") {
            let once = seen.insert(key.clone());
            ctx.ensure(once, "a resource on two pages", || {
                format!("caller {} paging {first}: {key} on two pages", who.name)
            });
        }
        next = next_link(&r.body);
        pages += 1;
        assert!(pages < 500, "caller {} paging {first}: no end", who.name);
    }
    let want = ctx.world.visible(who, |rt, _, _| rt == t);
    ctx.same(who, &format!("{first} (every page)"), "matches", &seen, &want);
}

async fn revinclude(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    let choice = rng.below(5);
    let path = match choice {
        0 => "Patient?_revinclude=Observation:subject&_count=1000",
        1 => "Practitioner?_revinclude=MedicationRequest:requester&_count=1000",
        2 => "Patient?_revinclude=MedicationRequest:subject&_revinclude=Consent:patient&_count=1000",
        3 => "Observation?_revinclude=AuditEvent:entity&_count=1000",
        _ => "PractitionerRole?_revinclude=Patient:general-practitioner&_count=1000",
    };
    let r = ctx.net.get(who, path).await;
    ctx.expect_status(who, path, &r, 200);
    ctx.check(who, path, &r.body);
    let matched = keys(&r.body, "match");
    let base = path.split('?').next().unwrap_or_default();
    ctx.same(who, path, "matches", &matched, &ctx.world.visible(who, |t, _, _| t == base));
    let included = keys(&r.body, "include");
    match choice {
        0 => {
            let want = ctx.world.visible(who, |t, c, _| {
                t == "Observation" && reference_of(c, "/subject/reference").is_some_and(|s| matched.contains(s))
            });
            ctx.same(who, path, "included Observations", &included, &want);
        }
        1 => {
            let want = ctx.world.visible(who, |t, c, _| {
                t == "MedicationRequest"
                    && reference_of(c, "/requester/reference").is_some_and(|s| s.starts_with("Practitioner/"))
            });
            ctx.same(who, path, "included prescriptions", &included, &want);
        }
        _ => {}
    }
}

async fn chain(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    let patients =
        ctx.world.keys(|k, c| k.0 == "Patient" && c.is_some_and(|c| common::identifier_value(c, PESEL).is_some()));
    let key = rng.pick(&patients).clone();
    let (_, current) = ctx.world.current(&key).expect("patient");
    let content = current.content.as_ref().expect("live");
    let pesel = common::identifier_value(content, PESEL).expect("pesel");
    let t = *rng.pick(&["MedicationRequest", "Observation"]);
    let path = format!("{t}?subject:Patient.identifier={PESEL}|{pesel}&_count=1000&_total=accurate");
    let r = ctx.net.get(who, &path).await;
    ctx.expect_status(who, &path, &r, 200);
    ctx.check(who, &path, &r.body);
    // Only through a patient the caller may see: a prescription a doctor wrote for someone he
    // may not see says nothing about that patient.
    let patient_seen = who.sight("Patient", &key.1, &current.members) != Sight::Hidden;
    let subject = format!("Patient/{}", key.1);
    let want = if patient_seen {
        ctx.world.visible(who, |rt, c, _| rt == t && reference_of(c, "/subject/reference") == Some(subject.as_str()))
    } else {
        BTreeSet::new()
    };
    ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
    ctx.total(who, &path, &r.body, want.len());
}

async fn has(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    let doctor = *rng.pick(&[PIOTR, DOCTOR]);
    type Test = Box<dyn Fn(&Value) -> bool>;
    let (path, source, test): (String, &str, Test) = if rng.chance(50) {
        (
            "Patient?_has:Observation:subject:status=final&_count=1000".to_string(),
            "Observation",
            Box::new(|c: &Value| c["status"] == "final"),
        )
    } else {
        let requester = format!("Practitioner/{doctor}");
        (
            format!("Patient?_has:MedicationRequest:subject:requester={requester}&_count=1000"),
            "MedicationRequest",
            Box::new(move |c: &Value| reference_of(c, "/requester/reference") == Some(requester.as_str())),
        )
    };
    let r = ctx.net.get(who, &path).await;
    ctx.expect_status(who, &path, &r, 200);
    ctx.check(who, &path, &r.body);
    let sources = ctx.world.visible(who, |t, c, _| t == source && test(c));
    let subjects: BTreeSet<String> = sources
        .iter()
        .filter_map(|k| {
            let (t, id) = k.split_once('/')?;
            let (_, v) = ctx.world.current(&(t.to_string(), id.to_string()))?;
            reference_of(v.content.as_ref()?, "/subject/reference").map(str::to_string)
        })
        .collect();
    let want = ctx.world.visible(who, |t, c, _| {
        t == "Patient" && subjects.contains(&format!("Patient/{}", c["id"].as_str().unwrap_or("")))
    });
    ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
}

async fn compartment(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    let practitioner = rng.chance(20);
    let (comp_type, id) = if practitioner {
        ("Practitioner", rng.pick(&[PIOTR, EWA, DOCTOR]).to_string())
    } else {
        ("Patient", ctx.patient(rng))
    };
    // An AuditEvent is filed under the patient it is about, in no Practitioner's compartment.
    let t = if practitioner {
        *rng.pick(&["Observation", "MedicationRequest", "Condition"])
    } else {
        *rng.pick(&["Observation", "MedicationRequest", "Condition", "AuditEvent"])
    };
    let path = format!("{comp_type}/{id}/{t}?_count=1000");
    let r = ctx.net.get(who, &path).await;
    let open = who.has_compartment(comp_type, &id);
    ctx.expect_status(who, &path, &r, if open { 200 } else { 404 });
    ctx.check(who, &path, &r.body);
    if open && t != "AuditEvent" {
        let member = (comp_type.to_string(), id.clone());
        let want = ctx.world.visible(who, |rt, _, m| rt == t && m.contains(&member));
        ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
    }
}

async fn everything(ctx: &Ctx<'_>, who: &Who, patient: &str) {
    let path = format!("Patient/{patient}/$everything?_count=1000");
    let r = ctx.net.get(who, &path).await;
    let key = ("Patient".to_string(), patient.to_string());
    let open = ctx.world.read_status(who, &key) == 200;
    ctx.expect_status(who, &path, &r, if open { 200 } else { 404 });
    ctx.check(who, &path, &r.body);
    if open {
        let member = ("Patient".to_string(), patient.to_string());
        let want = ctx.world.visible(who, |t, _, m| t != "AuditEvent" && m.contains(&member));
        ctx.same(who, &path, "matches", &keys(&r.body, "match"), &want);
    }
}

/// A GET a batch entry can carry, with the status the policy gives it alone.
fn get_entry(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) -> (String, u16) {
    let confined_refused = if who.unconfined { 200 } else { 403 };
    match rng.below(10) {
        0 => {
            let key = ctx.target(rng);
            (format!("{}/{}", key.0, key.1), ctx.world.read_status(who, &key))
        }
        1 => {
            let key = ctx.target(rng);
            let n = 1 + rng.below(3) as i64;
            (format!("{}/{}/_history/{n}", key.0, key.1), ctx.world.vread_status(who, &key, n))
        }
        2 => {
            let key = ctx.target(rng);
            let status = if ctx.world.history(who, &key).is_some() { 200 } else { 404 };
            (format!("{}/{}/_history", key.0, key.1), status)
        }
        3 => (format!("{}?_count=100", rng.pick(SEARCH_TYPES)), 200),
        4 => {
            let patient = ctx.patient(rng);
            let status = if who.has_compartment("Patient", &patient) { 200 } else { 404 };
            (format!("Patient/{patient}/{}", rng.pick(&["Observation", "MedicationRequest", "AuditEvent"])), status)
        }
        5 => {
            let patient = ctx.patient(rng);
            let key = ("Patient".to_string(), patient.clone());
            let status = if ctx.world.read_status(who, &key) == 200 { 200 } else { 404 };
            (format!("Patient/{patient}/$everything?_count=200"), status)
        }
        6 => (format!("{}/_history?_count=10", rng.pick(&["Observation", "Patient"])), confined_refused),
        7 => ("_history?_count=5".to_string(), confined_refused),
        8 => ("Patient/$everything?_count=200".to_string(), 200),
        _ => {
            let patient = ctx.patient(rng);
            (format!("MedicationRequest?subject:Patient._id={patient}&_include=MedicationRequest:subject"), 200)
        }
    }
}

async fn batch(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng, transaction: bool) {
    let mut wanted = Vec::new();
    let size = 2 + rng.below(5);
    let mut tries = 0;
    while wanted.len() < size && tries < 100 {
        tries += 1;
        let (url, status) = get_entry(ctx, who, rng);
        // A transaction fails whole when an entry fails: only entries that succeed alone.
        if !transaction || status == 200 {
            wanted.push((url, status));
        }
    }
    let kind = if transaction { "transaction" } else { "batch" };
    let bundle = json!({"resourceType": "Bundle", "type": kind, "entry": wanted.iter().map(|(url, _)| {
        json!({"request": {"method": "GET", "url": url}})
    }).collect::<Vec<_>>()});
    let urls: Vec<&str> = wanted.iter().map(|(u, _)| u.as_str()).collect();
    let request = format!("POST {kind} of GET {urls:?}");
    let r = ctx.net.post_bundle(who, &bundle).await;
    ctx.expect_status(who, &request, &r, 200);
    ctx.check(who, &request, &r.body);
    let got = entries(&r.body);
    if r.status != 200
        || !ctx.ensure(got.len() == wanted.len(), "a batch response entry missing", || {
            format!("caller {} {request}: entries", who.name)
        })
    {
        return;
    }
    for ((url, status), entry) in wanted.iter().zip(got) {
        let text = entry["response"]["status"].as_str().unwrap_or_default();
        ctx.ensure(text.starts_with(&status.to_string()), "a batch entry status unlike the policy's", || {
            format!(
                "caller {} request {request}: entry GET {url} answered {text} where the policy says {status}: {}",
                who.name,
                excerpt(&entry.to_string())
            )
        });
    }
}

/// A resource of `resource_type` in the caller's own record (what it may write).
fn own_body(who: &Who, resource_type: &str, id: Option<&str>) -> Value {
    let mut body = match resource_type {
        "Observation" => json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]}}),
        "Condition" => json!({"resourceType": "Condition", "code": {"text": "J45"}}),
        "MedicationRequest" => json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"}}),
        _ => json!({"resourceType": "Patient", "name": [{"family": "Probe", "given": ["Test"]}]}),
    };
    if resource_type != "Patient"
        && let Some(home) = &who.home
    {
        body["subject"] = json!({"reference": format!("Patient/{home}")});
    }
    if let Some(p) = who.own_practitioner() {
        let me = json!({"reference": format!("Practitioner/{p}")});
        match resource_type {
            "Observation" => body["performer"] = json!([me]),
            "MedicationRequest" => body["requester"] = me,
            "Condition" => body["asserter"] = me,
            _ => {}
        }
    }
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body
}

/// An answer with the ids it names replaced, and without the response Bundle's (or created
/// resource's) own id and meta, to compare answers about different ids.
fn normalized(reply: &Reply, names: &[&str]) -> String {
    let mut text = reply.text.clone();
    if let Ok(mut body) = serde_json::from_str::<Value>(&text)
        && let Some(o) = body.as_object_mut()
    {
        o.remove("id");
        o.remove("meta");
        text = body.to_string();
    }
    for name in names {
        text = text.replace(name, "{target}");
    }
    text
}

/// How writes are tried on a hidden target and on a missing one (the same way on both).
struct Tries {
    /// The value a patch test guesses for `status`.
    guess: String,
    /// Which of the writes that create when nothing matches is tried.
    variant: usize,
    /// No version of the hidden target is visible: its history answers as for a missing id.
    history: bool,
    /// Its compartment is closed to the caller (for a Patient).
    compartment: bool,
}

/// A request body with its content type.
type Body<'a> = Option<(&'a str, String)>;
/// Request headers.
type Headers<'a> = Vec<(&'a str, String)>;
/// A labelled request.
type Attempt<'a> = (String, Method, String, Body<'a>, Headers<'a>);

/// Every write (and the reads around it) a caller can try on `resource_type/id`; `ident` is the
/// identifier value conditional writes match on (else `_id`).
async fn write_attempts(
    ctx: &Ctx<'_>,
    who: &Who,
    resource_type: &str,
    id: &str,
    ident: Option<&str>,
    tries: &Tries,
) -> Vec<(String, u16, String)> {
    let t = resource_type;
    let guess = tries.guess.as_str();
    let path = format!("{t}/{id}");
    let body = own_body(who, t, Some(id)).to_string();
    let fresh = own_body(who, t, None).to_string();
    let fhir = "application/fhir+json";
    let criteria = match ident {
        Some(value) => format!("identifier={IDENT}|{value}"),
        None => format!("_id={id}"),
    };
    let json_patch = |value: &str| {
        json!([{"op": "test", "path": "/status", "value": value}, {"op": "replace", "path": "/status", "value": "amended"}])
            .to_string()
    };
    let fhirpath_patch = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": format!("{t}.status.where($this = '{guess}')")},
        {"name": "value", "valueCode": "amended"}]}]})
    .to_string();
    let binary_patch = json!({"resourceType": "Binary", "contentType": "application/json-patch+json",
        "data": base64_of(&json_patch(guess))});
    let bundle =
        |kind: &str, entries: Vec<Value>| json!({"resourceType": "Bundle", "type": kind, "entry": entries}).to_string();
    let entry = |method: &str, resource: Option<Value>, if_match: bool| {
        let mut e = json!({"request": {"method": method, "url": path}});
        if if_match {
            e["request"]["ifMatch"] = json!("W/\"1\"");
        }
        if let Some(r) = resource {
            e["resource"] = r;
        }
        e
    };
    let own: Value = serde_json::from_str(&body).expect("body");
    let if_match = || vec![("if-match", "W/\"1\"".to_string())];
    let patch_type = "application/json-patch+json";
    let mut attempts: Vec<Attempt> = vec![
        ("PUT If-Match".into(), Method::PUT, path.clone(), Some((fhir, body.clone())), if_match()),
        ("PUT".into(), Method::PUT, path.clone(), Some((fhir, body.clone())), vec![]),
        ("PATCH test right".into(), Method::PATCH, path.clone(), Some((patch_type, json_patch(guess))), vec![]),
        (
            "PATCH test wrong".into(),
            Method::PATCH,
            path.clone(),
            Some((patch_type, json_patch("entered-in-error"))),
            vec![],
        ),
        ("PATCH If-Match".into(), Method::PATCH, path.clone(), Some((patch_type, json_patch(guess))), if_match()),
        ("FHIRPath PATCH".into(), Method::PATCH, path.clone(), Some((fhir, fhirpath_patch.clone())), vec![]),
        ("DELETE If-Match".into(), Method::DELETE, path.clone(), None, if_match()),
        ("DELETE".into(), Method::DELETE, path.clone(), None, vec![]),
        (
            "transaction PUT If-Match".into(),
            Method::POST,
            String::new(),
            Some((fhir, bundle("transaction", vec![entry("PUT", Some(own.clone()), true)]))),
            vec![],
        ),
        (
            "transaction PATCH".into(),
            Method::POST,
            String::new(),
            Some((fhir, bundle("transaction", vec![entry("PATCH", Some(binary_patch.clone()), false)]))),
            vec![],
        ),
        (
            "transaction DELETE If-Match".into(),
            Method::POST,
            String::new(),
            Some((fhir, bundle("transaction", vec![entry("DELETE", None, true)]))),
            vec![],
        ),
        (
            "batch PUT, PATCH, DELETE, GET".into(),
            Method::POST,
            String::new(),
            Some((
                fhir,
                bundle(
                    "batch",
                    vec![
                        entry("PUT", Some(own.clone()), false),
                        entry("PATCH", Some(binary_patch.clone()), true),
                        entry("DELETE", None, false),
                        entry("GET", None, false),
                    ],
                ),
            )),
            vec![],
        ),
        ("GET".into(), Method::GET, path.clone(), None, vec![]),
        (
            "conditional PUT with the id".into(),
            Method::PUT,
            format!("{t}?{criteria}"),
            Some((fhir, body.clone())),
            vec![],
        ),
        ("conditional DELETE".into(), Method::DELETE, format!("{t}?{criteria}"), None, vec![]),
        (
            "conditional PATCH".into(),
            Method::PATCH,
            format!("{t}?{criteria}"),
            Some((patch_type, json_patch(guess))),
            vec![],
        ),
        ("search".into(), Method::GET, format!("{t}?{criteria}&_total=accurate"), None, vec![]),
    ];
    // The history shows past versions the caller may see (of a resource moved away from it).
    if tries.history {
        attempts.push(("GET _history".into(), Method::GET, format!("{path}/_history"), None, vec![]));
        attempts.push(("GET _history/1".into(), Method::GET, format!("{path}/_history/1"), None, vec![]));
    }
    if t == "Patient" {
        attempts.push(("$everything".into(), Method::GET, format!("Patient/{id}/$everything"), None, vec![]));
        // A prescriptions-only grant opens the compartment, not the Patient.
        if tries.compartment {
            attempts.push(("compartment".into(), Method::GET, format!("Patient/{id}/Observation"), None, vec![]));
        }
    }
    // One of the writes that create when nothing matches (the criteria must not match what
    // the caller may not see).
    match tries.variant % 3 {
        0 => attempts.push((
            "conditional PUT without an id".into(),
            Method::PUT,
            format!("{t}?{criteria}"),
            Some((fhir, fresh.clone())),
            vec![],
        )),
        1 => attempts.push((
            "POST If-None-Exist".into(),
            Method::POST,
            t.to_string(),
            Some((fhir, fresh.clone())),
            vec![("if-none-exist", criteria.clone())],
        )),
        _ => attempts.push((
            "POST If-None-Exist _id".into(),
            Method::POST,
            t.to_string(),
            Some((fhir, fresh.clone())),
            vec![("if-none-exist", format!("_id={id}"))],
        )),
    }
    let mut names = vec![id];
    names.extend(ident);
    let mut out = Vec::new();
    for (label, method, path, body, headers) in attempts {
        let r = ctx.net.send(who, method.clone(), &path, body, &headers).await;
        out.push((format!("{label}: {method} {path}"), r.status, normalized(&r, &names)));
    }
    out
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Writes on something the caller may not see answer exactly as on an id that never existed.
async fn hidden_writes(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    if who.unconfined {
        return;
    }
    let hidden = ctx.world.keys(|k, _| {
        WRITE_TYPES.contains(&k.0.as_str()) && {
            let (n, _) = ctx.world.current(k).expect("current");
            !ctx.world.version_visible(who, k, n)
        }
    });
    if hidden.is_empty() {
        return;
    }
    // The moved and reused resources often, else anything.
    let special: Vec<&Key> = hidden.iter().filter(|k| SPECIAL.iter().any(|(t, id)| k.0 == *t && k.1 == *id)).collect();
    let key =
        if !special.is_empty() && rng.chance(30) { (*rng.pick(&special)).clone() } else { rng.pick(&hidden).clone() };
    let versions = &ctx.world.resources[&key];
    let content = versions.values().rev().find_map(|v| v.content.as_ref()).expect("content");
    let ident = common::identifier_value(content, IDENT);
    let tries = Tries {
        guess: content["status"].as_str().unwrap_or("active").to_string(),
        variant: rng.below(3),
        history: ctx.world.history(who, &key).is_none(),
        compartment: key.0 != "Patient" || !who.has_compartment("Patient", &key.1),
    };
    let missing = ctx.net.missing();
    let missing_ident = ident.as_ref().map(|_| ctx.net.missing());
    let baseline = write_attempts(ctx, who, &key.0, &missing, missing_ident.as_deref(), &tries).await;
    let answers = write_attempts(ctx, who, &key.0, &key.1, ident.as_deref(), &tries).await;
    ctx.net.compared.set(ctx.net.compared.get() + answers.len());
    // Confined callers choose no ids: an update of an unknown id answers 404 (given a valid
    // body: the pharmacist's has no subject, and its validation comes first, as for any id).
    let valid = who.home.is_some() || key.0 == "Patient" || key.0 == "Observation";
    for (label, status, text) in baseline.iter().filter(|(label, _, _)| valid && label.starts_with("PUT")) {
        let want = if who.writes { 404 } else { 403 };
        ctx.ensure(*status == want, "a status unlike the policy's", || {
            format!("caller {} request {label}: status {status} where the policy says {want}: {text}", who.name)
        });
    }
    for ((label, status, text), (base_label, base_status, base_text)) in answers.iter().zip(&baseline) {
        ctx.ensure(
            status == base_status && text == base_text,
            "LEAK: a write on a hidden id answered unlike on a missing one",
            || {
                format!(
                    "LEAK: caller {} request {label} on {}/{} (hidden from it) answered {status} {text}\n\
                 but on an id that never existed ({base_label}) {base_status} {base_text}",
                    who.name, key.0, key.1
                )
            },
        );
    }
    // Nothing about the target changed.
    let path = format!("{}/{}/_history?_count=1000", key.0, key.1);
    let r = ctx.net.get(&ctx.admin, &path).await;
    let stored: Vec<i64> =
        entries(&r.body).iter().filter_map(|e| e["response"]["etag"].as_str().and_then(etag_version)).collect();
    let known: Vec<i64> = ctx.world.resources[&key].keys().rev().copied().collect();
    ctx.ensure(stored == known, "LEAK: a hidden resource changed", || {
        format!("LEAK: caller {} changed {}/{}, which it may not see: versions {stored:?}", who.name, key.0, key.1)
    });
}

/// Writes on what the caller sees: refused as read-only (403), or reaching the precondition
/// (412) or the patch test (422), which fail, so nothing changes.
async fn safe_writes(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    if who.unconfined {
        return;
    }
    let visible = ctx.world.keys(|k, c| {
        c.is_some() && WRITE_TYPES.contains(&k.0.as_str()) && {
            let (n, _) = ctx.world.current(k).expect("current");
            ctx.world.version_visible(who, k, n)
        }
    });
    if visible.is_empty() {
        return;
    }
    let key = rng.pick(&visible).clone();
    let (_, current) = ctx.world.current(&key).expect("current");
    let content = current.content.clone().expect("live");
    let sight = who.sight(&key.0, &key.1, &current.members);
    let writable = who.writes && sight == Sight::Write;
    let path = format!("{}/{}", key.0, key.1);
    let stale = vec![("if-match", "W/\"999\"".to_string())];
    let test = json!([{"op": "test", "path": "/id", "value": "not-the-id"}]).to_string();
    let tries: Vec<(&str, Method, Body, Headers, u16)> = vec![
        ("PUT stale If-Match", Method::PUT, Some(("application/fhir+json", content.to_string())), stale.clone(), 412),
        ("PATCH failing test", Method::PATCH, Some(("application/json-patch+json", test)), vec![], 422),
        ("DELETE stale If-Match", Method::DELETE, None, stale, 412),
    ];
    for (label, method, body, headers, when_writable) in tries {
        let r = ctx.net.send(who, method, &path, body, &headers).await;
        let request = format!("{label} {path}");
        ctx.expect_status(who, &request, &r, if writable { when_writable } else { 403 });
        ctx.check(who, &request, &r.body);
    }
}

/// Creating in one's own record, and in a record one may not see (answered as for a patient
/// who does not exist).
async fn create(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    if who.unconfined {
        return;
    }
    let mut body = own_body(who, "Observation", None);
    let mut probe = body.clone();
    probe["id"] = json!("probe");
    let sight = who.sight("Observation", "probe", &members(ctx.fhir, &probe));
    let r =
        ctx.net.send(who, Method::POST, "Observation", Some(("application/fhir+json", body.to_string())), &[]).await;
    let want = if who.writes && sight == Sight::Write { 201 } else { 403 };
    ctx.expect_status(who, &format!("POST Observation {body}"), &r, want);
    ctx.check(who, "POST Observation", &r.body);
    // For someone else: a patient the caller may not see, or one that does not exist.
    let strangers: Vec<String> = ctx
        .world
        .live_patients()
        .into_iter()
        .filter(|p| {
            let key = ("Patient".to_string(), p.clone());
            !ctx.world.version_visible(who, &key, ctx.world.current(&key).map_or(1, |(n, _)| n))
        })
        .collect();
    if strangers.is_empty() {
        return;
    }
    let stranger = rng.pick(&strangers).clone();
    let missing = ctx.net.missing();
    let mut answers = Vec::new();
    for patient in [&stranger, &missing] {
        body = json!({"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
            "subject": {"reference": format!("Patient/{patient}")}});
        let r = ctx
            .net
            .send(who, Method::POST, "Observation", Some(("application/fhir+json", body.to_string())), &[])
            .await;
        let request = format!("POST Observation for Patient/{patient}");
        ctx.expect_status(who, &request, &r, 403);
        answers.push((r.status, normalized(&r, &[patient.as_str()])));
    }
    ctx.ensure(
        answers[0] == answers[1],
        "LEAK: creating for a hidden patient answered unlike for a missing one",
        || {
            format!(
                "LEAK: caller {} creating for Patient/{stranger} (hidden from it) answers {:?}, unlike for a patient \
             that does not exist: {:?}",
                who.name, answers[0], answers[1]
            )
        },
    );
}

async fn export(ctx: &Ctx<'_>, who: &Who) {
    let headers = [("prefer", "respond-async".to_string()), ("accept", "application/fhir+json".to_string())];
    let paths: &[&str] = if who.unconfined { &["$export?_type=Patient"] } else { &["$export", "Patient/$export"] };
    for path in paths {
        let r = ctx.net.send(who, Method::GET, path, None, &headers).await;
        ctx.expect_status(who, path, &r, if who.unconfined { 202 } else { 403 });
    }
}

async fn audit(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    let path = match rng.below(6) {
        0 => "AuditEvent?_count=200".to_string(),
        1 => format!("AuditEvent?patient={}&_count=200", ctx.patient(rng)),
        2 => {
            let key = ctx.target(rng);
            format!("AuditEvent?entity={}/{}&_count=200", key.0, key.1)
        }
        3 => format!("AuditEvent?agent=Patient/{}&_count=200", ctx.patient(rng)),
        4 => "AuditEvent?_include=AuditEvent:entity&_count=200".to_string(),
        _ => format!("AuditEvent?patient={}&_include=AuditEvent:patient&_include=AuditEvent:agent", ctx.patient(rng)),
    };
    let r = ctx.net.get(who, &path).await;
    ctx.expect_status(who, &path, &r, 200);
    ctx.check(who, &path, &r.body);
}

// ---- operations ----------------------------------------------------------------------------

/// The workflows' access-code systems (restated: changing them is a change to this test too).
const RX_CODE: &str = "https://ikp.example.org/fhir/sid/pl-prescription-package-code";
const REFERRAL_CODE: &str = "https://ikp.example.org/fhir/sid/e-referral-access-code";
const ORDER_CODE: &str = "https://ikp.example.org/fhir/sid/e-order-access-code";
/// Demo slots two weeks ahead: a free COVID-19 vaccination, the one Jan booked, and a free first
/// cardiology visit (which needs an e-referral to cardiology; no demo referral is one).
const FREE_SLOT: &str = "demo-cer-szczepienia-covid-2";
const BUSY_SLOT: &str = "demo-cer-szczepienia-covid-1";
const CARDIOLOGY_SLOT: &str = "demo-cer-kardiologia-1";
/// Types whose instance-level operations are probed on hidden targets.
const OPERATION_TYPES: &[&str] = &[
    "MedicationRequest",
    "ServiceRequest",
    "DeviceRequest",
    "Appointment",
    "Task",
    "Consent",
    "Composition",
    "Patient",
    "Observation",
    "MedicationDispense",
    "Schedule",
];
const FHIR_JSON: &str = "application/fhir+json";

/// A Parameters body: each parameter its name, the `value[x]` it uses and the value (no body
/// when there are none).
fn parameters(list: &[(&str, &str, Value)]) -> Body<'static> {
    if list.is_empty() {
        return None;
    }
    let parameter: Vec<Value> = list
        .iter()
        .map(|(name, key, value)| {
            let mut p = json!({"name": name});
            p[*key] = value.clone();
            p
        })
        .collect();
    Some((FHIR_JSON, json!({"resourceType": "Parameters", "parameter": parameter}).to_string()))
}

/// The patient a resource is about (`subject`, `patient`, `for`).
fn subject_of(content: &Value) -> Option<&str> {
    ["/subject/reference", "/patient/reference", "/for/reference"]
        .iter()
        .find_map(|p| reference_of(content, p))
        .and_then(|r| r.strip_prefix("Patient/"))
}

/// The workflow state of a referral: `completed` and `cancelled` ones take no transition.
fn referral_closed(referral: &Value) -> bool {
    matches!(referral["status"].as_str(), Some("completed" | "revoked" | "entered-in-error"))
}

/// How the operations are called on a hidden target and on a missing one (the same way on both).
struct OpPlan {
    /// The access code and PESEL a dispensation presents: none, a wrong code with the target
    /// patient's PESEL, or another package's right code with its patient's PESEL.
    dispense: Option<(String, String)>,
    /// The access code `$book` and `$complete` present (none, or one that is not the target's).
    referral_code: Option<String>,
    /// The access code `$realize` presents.
    order_code: Option<String>,
    /// The month `$realize` realises (this one).
    month: String,
    /// A patient the caller may not see, whom a submitted document is about (so that it is
    /// refused whatever its id).
    stranger: Option<String>,
}

impl Ctx<'_> {
    /// The latest content of a resource (before its deletion, for a deleted one).
    fn content(&self, key: &Key) -> Option<&Value> {
        self.world.resources.get(key)?.values().rev().find_map(|v| v.content.as_ref())
    }

    fn pesel(&self, patient: &str) -> Option<String> {
        self.content(&("Patient".to_string(), patient.to_string())).and_then(|c| common::identifier_value(c, PESEL))
    }

    /// The access codes of `system` on live resources of `resource_type`: code, patient, id.
    fn codes(&self, resource_type: &str, system: &str) -> Vec<(String, String, String)> {
        self.world
            .keys(|k, c| k.0 == resource_type && c.is_some())
            .into_iter()
            .filter_map(|k| {
                let content = self.content(&k)?;
                Some((common::identifier_value(content, system)?, subject_of(content)?.to_string(), k.1))
            })
            .collect()
    }

    /// A code of `system` that opens nothing of `patient`'s: another patient's right one, or a
    /// random one.
    fn wrong_code(&self, rng: &mut Rng, resource_type: &str, system: &str, patient: Option<&str>) -> String {
        let codes = self.codes(resource_type, system);
        let theirs: BTreeSet<&str> =
            codes.iter().filter(|(_, p, _)| Some(p.as_str()) == patient).map(|(c, _, _)| c.as_str()).collect();
        let others: Vec<&str> = codes.iter().map(|(c, _, _)| c.as_str()).filter(|c| !theirs.contains(c)).collect();
        if !others.is_empty() && rng.chance(50) {
            return rng.pick(&others).to_string();
        }
        loop {
            let code = format!("{:04}", rng.below(10_000));
            if !theirs.contains(code.as_str()) {
                return code;
            }
        }
    }

    /// A valid PESEL nobody in the world has.
    fn nobody_pesel(&self, rng: &mut Rng) -> String {
        let taken: BTreeSet<String> = self
            .world
            .resources
            .values()
            .flat_map(|vs| vs.values())
            .filter_map(|v| common::identifier_value(v.content.as_ref()?, PESEL))
            .collect();
        loop {
            let birth = Day(today().0 - 20 * 365 - rng.below(50 * 365) as i32);
            let sex = if rng.chance(50) { Sex::Female } else { Sex::Male };
            let candidate = pesel::encode(birth, 700 + rng.below(2000) as u32, sex).expect("pesel");
            if !taken.contains(&candidate) {
                return candidate;
            }
        }
    }

    /// Resources of `resource_type` whose current version (or deletion) the caller may not see.
    fn hidden_keys(&self, who: &Who, resource_type: &str) -> Vec<Key> {
        self.world.keys(|k, _| {
            k.0 == resource_type && self.world.current(k).is_some_and(|(n, _)| !self.world.version_visible(who, k, n))
        })
    }

    /// Live resources of `resource_type` the caller sees that `keep` selects, with their content.
    fn seen(&self, who: &Who, resource_type: &str, keep: impl Fn(&Value) -> bool) -> Vec<(String, Value)> {
        self.world
            .visible(who, |t, c, _| t == resource_type && keep(c))
            .into_iter()
            .filter_map(|k| {
                let (_, id) = k.split_once('/')?;
                let content = self.content(&(resource_type.to_string(), id.to_string()))?.clone();
                Some((id.to_string(), content))
            })
            .collect()
    }

    fn op_plan(&self, who: &Who, key: &Key, rng: &mut Rng) -> OpPlan {
        let patient = if key.0 == "Patient" {
            Some(key.1.clone())
        } else {
            self.content(key).and_then(subject_of).map(str::to_string)
        };
        let patient = patient.as_deref();
        let dispense = match rng.below(3) {
            0 => None,
            1 => patient
                .and_then(|p| Some((self.wrong_code(rng, "MedicationRequest", RX_CODE, Some(p)), self.pesel(p)?))),
            _ => {
                let others: Vec<(String, String, String)> = self
                    .codes("MedicationRequest", RX_CODE)
                    .into_iter()
                    .filter(|(_, p, _)| Some(p.as_str()) != patient)
                    .collect();
                (!others.is_empty()).then(|| rng.pick(&others).clone()).and_then(|(c, p, _)| Some((c, self.pesel(&p)?)))
            }
        };
        let referral_code = rng.chance(60).then(|| self.wrong_code(rng, "ServiceRequest", REFERRAL_CODE, patient));
        let order_code = rng.chance(60).then(|| self.wrong_code(rng, "DeviceRequest", ORDER_CODE, patient));
        let strangers: Vec<String> = self
            .world
            .live_patients()
            .into_iter()
            .filter(|p| {
                !who.patients.contains_key(p) && self.world.read_status(who, &("Patient".to_string(), p.clone())) == 404
            })
            .collect();
        let stranger = (!strangers.is_empty()).then(|| rng.pick(&strangers).clone());
        OpPlan { dispense, referral_code, order_code, month: date(today())[..7].to_string(), stranger }
    }
}

/// Every instance-level operation a caller can try on `resource_type/id` (and those naming it
/// in a parameter), with plausible parameters: what would get past parameter checking if the
/// caller could act on the target.
fn operation_tries(who: &Who, resource_type: &str, id: &str, plan: &OpPlan) -> Vec<Attempt<'static>> {
    let t = resource_type;
    let post = |label: &str, path: String, body: Body<'static>| (label.to_string(), Method::POST, path, body, vec![]);
    let get = |label: &str, path: String| (label.to_string(), Method::GET, path, None, vec![]);
    let code = |c: &Option<String>| c.iter().map(|c| ("code", "valueString", json!(c))).collect::<Vec<_>>();
    let mut out: Vec<Attempt> = Vec::new();
    match t {
        "MedicationRequest" => {
            let mut dispense = vec![("quantity", "valueDecimal", json!(1))];
            if let Some((c, p)) = &plan.dispense {
                dispense.push(("code", "valueString", json!(c)));
                dispense.push(("pesel", "valueString", json!(p)));
            }
            out.push(post("$dispense", format!("{t}/{id}/$dispense"), parameters(&dispense)));
            out.push(post("$cancel", format!("{t}/{id}/$cancel"), None));
            let abroad = json!({"resourceType": "MedicationDispense", "status": "completed",
                "medicationCodeableConcept": {"text": "Metformax 500 mg"},
                "performer": [{"actor": {"display": "Lékárna U Anděla, Praha"}}],
                "quantity": {"value": 1, "unit": "op."}, "whenHandedOver": "2026-11-27T10:00:00+01:00"});
            out.push(post(
                "$crossborder-dispense",
                format!("{t}/{id}/$crossborder-dispense?country=CZ"),
                Some((FHIR_JSON, abroad.to_string())),
            ));
        }
        "ServiceRequest" => {
            let mut book = vec![(
                "appointment",
                "valueReference",
                json!({"reference": "Appointment/demo-cer-szczepienie-covid-jan"}),
            )];
            book.extend(code(&plan.referral_code));
            out.push(post("$book", format!("{t}/{id}/$book"), parameters(&book)));
            out.push(post("$complete", format!("{t}/{id}/$complete"), parameters(&code(&plan.referral_code))));
            out.push(post("$cancel", format!("{t}/{id}/$cancel"), None));
            // Booking a visit that needs an e-referral, with this one, for one's own patient.
            if let Some(home) = &who.home {
                let book = [
                    ("patient", "valueReference", json!({"reference": format!("Patient/{home}")})),
                    ("referral", "valueReference", json!({"reference": format!("ServiceRequest/{id}")})),
                ];
                out.push(post(
                    "Slot $book with the referral",
                    format!("Slot/{CARDIOLOGY_SLOT}/$book"),
                    parameters(&book),
                ));
                let join = [
                    ("service", "valueCode", json!("cardiology-first")),
                    ("referral", "valueReference", json!({"reference": format!("ServiceRequest/{id}")})),
                ];
                out.push(post(
                    "$join-waiting-list with the referral",
                    format!("Patient/{home}/$join-waiting-list"),
                    parameters(&join),
                ));
            }
        }
        "DeviceRequest" => {
            let mut realize = vec![("month", "valueString", json!(plan.month)), ("quantity", "valueDecimal", json!(1))];
            realize.extend(code(&plan.order_code));
            out.push(post("$realize", format!("{t}/{id}/$realize"), parameters(&realize)));
        }
        "Appointment" => {
            out.push(post("$cancel", format!("{t}/{id}/$cancel"), None));
            let slot = [("slot", "valueReference", json!({"reference": format!("Slot/{FREE_SLOT}")}))];
            out.push(post("$reschedule", format!("{t}/{id}/$reschedule"), parameters(&slot)));
        }
        "Task" => {
            let next = [("status", "valueCode", json!("under-review")), ("reason", "valueString", json!("probe"))];
            out.push(post("$ehic-status", format!("{t}/{id}/$ehic-status"), parameters(&next)));
        }
        "Consent" => out.push(post("$revoke", format!("{t}/{id}/$revoke"), None)),
        "Composition" => {
            out.push(get("$document", format!("{t}/{id}/$document")));
            out.push(get("$document persist=false", format!("{t}/{id}/$document?persist=false")));
            // A document submitted under this id, about a patient the caller may not see and by
            // another author (so that no id, free or taken, lets it through).
            if let Some(stranger) = &plan.stranger {
                let composition = json!({"resourceType": "Composition", "id": id, "status": "final",
                    "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
                    "category": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.32", "code": "06.10"}]}],
                    "subject": {"reference": format!("Patient/{stranger}")}, "date": "2026-11-03T08:00:00+01:00",
                    "author": [{"reference": "Practitioner/demo-maria-zielinska"}], "title": "Wynik badania laboratoryjnego",
                    "section": [{"title": "Wynik", "text": {"status": "generated",
                        "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">HGB 13,5 g/dl</div>"}}]});
                let document = json!({"resourceType": "Bundle", "type": "document",
                    "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:7d0c6a52-52d8-4d2e-9d7e-2f1f43a7c1a1"},
                    "timestamp": "2026-11-03T08:00:00+01:00",
                    "entry": [{"fullUrl": format!("urn:ikp-probe/Composition/{id}"), "resource": composition}]});
                out.push(post(
                    "$submit-document under the id",
                    "Bundle/$submit-document".to_string(),
                    Some((FHIR_JSON, document.to_string())),
                ));
            }
        }
        "Patient" => {
            out.push(get("$summary", format!("{t}/{id}/$summary")));
            out.push(get("GET $validate", format!("{t}/{id}/$validate")));
            out.push(post(
                "POST $validate",
                format!("{t}/{id}/$validate"),
                parameters(&[("mode", "valueCode", json!("update"))]),
            ));
            let grant = [
                ("category", "valueCode", json!("proxy-read")),
                ("grantee", "valueString", json!(format!("Patient/{KRYSTYNA}"))),
            ];
            out.push(post("$grant-access", format!("{t}/{id}/$grant-access"), parameters(&grant)));
            let choose = [
                ("role", "valueCode", json!("poz-doctor")),
                ("practitionerRole", "valueString", json!("PractitionerRole/demo-piotr-nowak-poz")),
            ];
            out.push(post("$choose-primary-care", format!("{t}/{id}/$choose-primary-care"), parameters(&choose)));
            out.push(post("$apply-ehic", format!("{t}/{id}/$apply-ehic"), None));
            out.push(post("$access-code", format!("{t}/{id}/$access-code"), None));
            let join = [("service", "valueCode", json!("covid19-vaccination"))];
            out.push(post("$join-waiting-list", format!("{t}/{id}/$join-waiting-list"), parameters(&join)));
            let abroad = [("enabled", "valueBoolean", json!(true)), ("country", "valueCode", json!("CZ"))];
            out.push(post("$crossborder-consent", format!("{t}/{id}/$crossborder-consent"), parameters(&abroad)));
            out.push(get("$crossborder-prescriptions", format!("{t}/{id}/$crossborder-prescriptions?country=CZ")));
            let book = [("patient", "valueReference", json!({"reference": format!("Patient/{id}")}))];
            out.push(post("Slot $book for the patient", format!("Slot/{FREE_SLOT}/$book"), parameters(&book)));
            // A grant to the patient, of a category a patient cannot hold (so that nothing is
            // granted whatever the answer).
            if let Some(home) = &who.home {
                let grant = [
                    ("category", "valueCode", json!("prescriptions-only")),
                    ("grantee", "valueString", json!(format!("Patient/{id}"))),
                ];
                out.push(post(
                    "$grant-access to the patient",
                    format!("Patient/{home}/$grant-access"),
                    parameters(&grant),
                ));
            }
        }
        "MedicationDispense" => out.push(post("$crossborder-cancel", format!("{t}/{id}/$crossborder-cancel"), None)),
        "Schedule" => {
            let slots = [
                ("start", "valueDateTime", json!(format!("{}T08:00:00Z", date(today().plus(30))))),
                ("count", "valueInteger", json!(1)),
            ];
            out.push(post("$publish-slots", format!("{t}/{id}/$publish-slots"), parameters(&slots)));
        }
        // Observation: `$validate`, which every type has, and a grant naming it.
        _ => {
            out.push(get("GET $validate", format!("{t}/{id}/$validate")));
            out.push(post(
                "POST $validate",
                format!("{t}/{id}/$validate"),
                parameters(&[("mode", "valueCode", json!("update"))]),
            ));
            let resource = json!({"name": "resource", "resource": own_body(who, t, Some(id))});
            let body =
                json!({"resourceType": "Parameters", "parameter": [resource, {"name": "mode", "valueCode": "update"}]});
            out.push(post(
                "POST $validate with the resource",
                format!("{t}/{id}/$validate"),
                Some((FHIR_JSON, body.to_string())),
            ));
            if let Some(home) = &who.home {
                let grant = [
                    ("category", "valueCode", json!("proxy-read")),
                    ("grantee", "valueString", json!(format!("{t}/{id}"))),
                ];
                out.push(post(
                    "$grant-access to the resource",
                    format!("Patient/{home}/$grant-access"),
                    parameters(&grant),
                ));
            }
        }
    }
    out
}

/// Sends each request about the hidden target and the same about the missing one (at once), and
/// requires the same answers, the names replaced by a placeholder.
async fn compare_answers(
    ctx: &Ctx<'_>,
    who: &Who,
    about: &str,
    hidden: Vec<Attempt<'_>>,
    missing: Vec<Attempt<'_>>,
    names: (&str, &str),
) {
    for (h, m) in hidden.into_iter().zip(missing) {
        let (label, method, path, body, headers) = h;
        let (_, missing_method, missing_path, missing_body, missing_headers) = m;
        let (got, base) = tokio::join!(
            ctx.net.send(who, method.clone(), &path, body, &headers),
            ctx.net.send(who, missing_method, &missing_path, missing_body, &missing_headers),
        );
        let request = format!("{label}: {method} {path}");
        ctx.check(who, &request, &got.body);
        ctx.net.compared.set(ctx.net.compared.get() + 1);
        ctx.net.operations.set(ctx.net.operations.get() + 1);
        let (text, base_text) = (normalized(&got, &[names.0]), normalized(&base, &[names.1]));
        let kind = if path.contains(names.0) {
            "LEAK: an operation on a hidden id answered unlike on a missing one"
        } else {
            "LEAK: an operation naming something hidden answered unlike naming something missing"
        };
        ctx.ensure(got.status == base.status && text == base_text, kind, || {
            format!(
                "LEAK: caller {} request {request} ({about}, hidden from it) answered {} {}\nbut about {} (which does \
                 not exist), {missing_path}, {} {}",
                who.name,
                got.status,
                excerpt(&text),
                names.1,
                base.status,
                excerpt(&base_text)
            )
        });
    }
}

/// The versions the backend stores of each resource are still those the world knows.
async fn unchanged(ctx: &Ctx<'_>, who: &Who, keys: &[Key], after: &str) {
    let reads = keys.iter().map(|key| async move {
        let r = ctx.net.get(&ctx.admin, &format!("{}/{}/_history?_count=1000", key.0, key.1)).await;
        (key, r)
    });
    for (key, r) in futures::future::join_all(reads).await {
        let stored: Vec<i64> =
            entries(&r.body).iter().filter_map(|e| e["response"]["etag"].as_str().and_then(etag_version)).collect();
        let known: Vec<i64> =
            ctx.world.resources.get(key).map(|v| v.keys().rev().copied().collect()).unwrap_or_default();
        ctx.ensure(stored == known, "LEAK: an operation changed what the caller may not see", || {
            format!(
                "LEAK: caller {} {after} changed {}/{}: versions {stored:?} where there were {known:?}",
                who.name, key.0, key.1
            )
        });
    }
}

/// Every version of each resource as the backend stores it, for `absorb`.
async fn resync(ctx: &Ctx<'_>, keys: &[Key]) {
    for key in keys {
        let r = ctx.net.get(&ctx.admin, &format!("{}/{}/_history?_count=1000", key.0, key.1)).await;
        let versions = entries(&r.body)
            .iter()
            .filter_map(|e| Some((e["response"]["etag"].as_str().and_then(etag_version)?, e.get("resource").cloned())))
            .collect();
        ctx.resynced.borrow_mut().push((key.clone(), versions));
    }
}

/// Instance-level operations on what the caller may not see answer byte for byte as on ids
/// that never existed (and so do those naming it in a parameter), and change nothing.
async fn operations(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    if who.unconfined {
        return;
    }
    let mut types = OPERATION_TYPES.to_vec();
    if !ctx.touring.get() {
        rng.shuffle(&mut types);
        types.truncate(2);
    }
    let mut touched =
        vec![("Slot".to_string(), FREE_SLOT.to_string()), ("Slot".to_string(), CARDIOLOGY_SLOT.to_string())];
    touched.extend(who.home.iter().map(|h| ("Patient".to_string(), h.clone())));
    for t in types {
        let hidden = ctx.hidden_keys(who, t);
        if hidden.is_empty() {
            continue;
        }
        let key = rng.pick(&hidden).clone();
        let plan = ctx.op_plan(who, &key, rng);
        let missing = ctx.net.missing();
        let on_hidden = operation_tries(who, t, &key.1, &plan);
        let on_missing = operation_tries(who, t, &missing, &plan);
        compare_answers(ctx, who, &format!("{}/{}", key.0, key.1), on_hidden, on_missing, (&key.1, &missing)).await;
        // A document is stored under its Composition's id, indexed and kept under the same id:
        // nothing new under the missing one either.
        if t == "Composition" {
            for stored in ["DocumentReference", "Bundle"] {
                touched.push((stored.to_string(), key.1.clone()));
            }
            for stored in ["Composition", "DocumentReference", "Bundle"] {
                touched.push((stored.to_string(), missing.clone()));
            }
        }
        touched.push(key);
    }
    unchanged(ctx, who, &touched, "calling operations on what it may not see").await;
}

/// The patient's pending one-time access codes (proposed Consents), as the backend sees them.
async fn pending_codes(ctx: &Ctx<'_>, patient: &str) -> Vec<Key> {
    let path = format!("Consent?patient=Patient/{patient}&status=proposed&_count=1000");
    let r = ctx.net.get(&ctx.admin, &path).await;
    keys(&r.body, "match")
        .into_iter()
        .filter_map(|k| k.split_once('/').map(|(t, id)| (t.to_string(), id.to_string())))
        .collect()
}

/// Type-level operations naming a patient the caller may not see (by PESEL) answer as for a
/// PESEL nobody has, whatever wrong access code comes with it, and change nothing.
async fn type_operations(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    if who.unconfined {
        return;
    }
    let strangers: Vec<(String, String)> = ctx
        .world
        .live_patients()
        .into_iter()
        .filter(|p| {
            !who.patients.contains_key(p) && ctx.world.read_status(who, &("Patient".to_string(), p.clone())) == 404
        })
        .filter_map(|p| Some((ctx.pesel(&p)?, p)))
        .collect();
    if strangers.is_empty() {
        return;
    }
    let (pesel, hidden) = rng.pick(&strangers).clone();
    let nobody = ctx.nobody_pesel(rng);
    // The hidden patient sometimes has a pending one-time code, which a wrong guess voids.
    let mut pending = Vec::new();
    if who.own_practitioner().is_some()
        && let Some(token) = ctx.owners.get(&hidden)
        && (ctx.touring.get() || rng.chance(50))
    {
        let owner =
            Who::new("the patient (issuing a one-time code)", token.clone(), Some(&format!("Patient/{hidden}")), true);
        let path = format!("Patient/{hidden}/$access-code");
        let r = ctx.net.send(&owner, Method::POST, &path, None, &[]).await;
        ctx.expect_status(&owner, &format!("POST {path}"), &r, 200);
        pending = pending_codes(ctx, &hidden).await;
    }
    let rx = ctx.wrong_code(rng, "MedicationRequest", RX_CODE, Some(&hidden));
    let referral = ctx.wrong_code(rng, "ServiceRequest", REFERRAL_CODE, Some(&hidden));
    let order = ctx.wrong_code(rng, "DeviceRequest", ORDER_CODE, Some(&hidden));
    let one_time = format!("{:08}", rng.next() % 100_000_000);
    let tries = |p: &str| -> Vec<Attempt<'static>> {
        let get = |label: &str, path: String| (label.to_string(), Method::GET, path, None, vec![]);
        let post = |label: &str, path: &str, body: Body<'static>| {
            (label.to_string(), Method::POST, path.to_string(), body, vec![])
        };
        let mut out = vec![
            get("prescriptions without a code", format!("MedicationRequest/$retrieve?pesel={p}")),
            get("a package with a wrong code", format!("MedicationRequest/$retrieve?code={rx}&pesel={p}")),
            post(
                "a package with a wrong code",
                "MedicationRequest/$retrieve",
                parameters(&[("pesel", "valueString", json!(p)), ("code", "valueString", json!(rx))]),
            ),
            get("a referral with a wrong code", format!("ServiceRequest/$retrieve?code={referral}&pesel={p}")),
            post(
                "an order with a wrong code",
                "DeviceRequest/$retrieve",
                parameters(&[("code", "valueString", json!(order)), ("pesel", "valueString", json!(p))]),
            ),
            post(
                "a wrong one-time code",
                "Patient/$redeem-access-code",
                parameters(&[("pesel", "valueString", json!(p)), ("code", "valueString", json!(one_time))]),
            ),
        ];
        if let Some(home) = &who.home {
            let grant = [
                ("category", "valueCode", json!("proxy-read")),
                ("granteePesel", "valueString", json!(p)),
                ("granteeFamily", "valueString", json!("Nobody-Such")),
            ];
            out.push(post(
                "a grant by PESEL and a wrong surname",
                &format!("Patient/{home}/$grant-access"),
                parameters(&grant),
            ));
        }
        out
    };
    // The results operations about a hidden patient answer as about one that never existed.
    let results = |patient: &str| -> Vec<Attempt<'static>> {
        let get = |label: &str, path: String| (label.to_string(), Method::GET, path, None, vec![]);
        vec![
            get("the newest results", format!("Observation/$lastn?patient=Patient/{patient}")),
            get(
                "the last three of a test",
                format!("Observation/$lastn?subject=Patient/{patient}&code=http://loinc.org|718-7&max=3"),
            ),
            get(
                "statistics of a test",
                format!("Observation/$stats?subject=Patient/{patient}&code=718-7&statistic=average,count"),
            ),
        ]
    };
    // (Only when none of the patient's results is within reach: a doctor sees the results they
    // performed even for a patient whose record is closed to them, as a search would show.)
    let subject = format!("Patient/{hidden}");
    let never = "rz-never-existed";
    if ctx.seen(who, "Observation", |c| reference_of(c, "/subject/reference") == Some(subject.as_str())).is_empty() {
        compare_answers(ctx, who, &subject, results(&hidden), results(never), (&hidden, never)).await;
    }
    let about = format!("Patient/{hidden} with PESEL {pesel}");
    compare_answers(ctx, who, &about, tries(&pesel), tries(&nobody), (&pesel, &nobody)).await;
    // A wrong guess voided the pending codes: the world takes their new versions.
    resync(ctx, &pending).await;
    let mut touched = vec![("Patient".to_string(), hidden.clone())];
    touched.extend(who.home.iter().map(|h| ("Patient".to_string(), h.clone())));
    unchanged(ctx, who, &touched, "naming a hidden patient's PESEL in operations").await;
}

/// Every resource of a document (a `$summary` or `$document` answer) must be one the caller may
/// see (`skip`: the first entries, made for the answer and stored nowhere).
fn check_document(ctx: &Ctx<'_>, who: &Who, request: &str, bundle: &Value, skip: usize) {
    for entry in entries(bundle).iter().skip(skip) {
        ctx.check(who, request, &entry["resource"]);
    }
}

/// A `$document` answer is the document whole, shown to whoever may see its Composition (its
/// author too, who may no longer reach the patient's record): its Composition must be one the
/// caller may see, and everything else in it about that Composition's patient or reference data
/// the caller may see; never another patient's.
fn check_whole_document(ctx: &Ctx<'_>, who: &Who, request: &str, bundle: &Value) {
    let Some(composition) = entries(bundle).first().map(|e| &e["resource"]) else { return };
    ctx.check(who, request, composition);
    let patient = subject_of(composition);
    for entry in entries(bundle).iter().skip(1) {
        let resource = &entry["resource"];
        match subject_of(resource) {
            Some(about) => {
                ctx.ensure(Some(about) == patient, "LEAK: a document carried another patient's data", || {
                    format!("LEAK: caller {} request {request} got {} about Patient/{about}", who.name, resource["id"])
                });
            }
            None => ctx.check(who, request, resource),
        }
    }
}

/// Operations on what the caller may see (or act on) still work: a document, a summary, a
/// validation, a refusal on the workflow's own rule (403, 409, 422) rather than 404; and the
/// documented disclosures (the right access code and PESEL) show what they should. None of
/// these changes anything.
async fn visible_operations(ctx: &Ctx<'_>, who: &Who, rng: &mut Rng) {
    if who.unconfined {
        return;
    }
    let mut kinds: Vec<usize> = (0..11).collect();
    if !ctx.touring.get() {
        rng.shuffle(&mut kinds);
        kinds.truncate(3);
    }
    let practitioner = who.own_practitioner().is_some();
    let pharmacist = who.own_practitioner() == Some(EWA);
    let me = who.user.as_deref();
    let judged = |n: usize| ctx.net.visible_operations.set(ctx.net.visible_operations.get() + n);
    for kind in kinds {
        match kind {
            0 => {
                let patients = ctx.seen(who, "Patient", |_| true);
                if patients.is_empty() {
                    continue;
                }
                let (id, _) = rng.pick(&patients);
                let path = format!("Patient/{id}/$summary");
                let r = ctx.net.get(who, &path).await;
                ctx.expect_status(who, &path, &r, 200);
                check_document(ctx, who, &path, &r.body, 1);
                judged(1);
            }
            1 => {
                let compositions = ctx.seen(who, "Composition", |_| true);
                if compositions.is_empty() {
                    continue;
                }
                let (id, _) = rng.pick(&compositions);
                let path = format!("Composition/{id}/$document");
                let r = ctx.net.get(who, &path).await;
                ctx.expect_status(who, &path, &r, 200);
                check_whole_document(ctx, who, &path, &r.body);
                judged(1);
            }
            2 => {
                let t = *rng.pick(&["Observation", "Patient"]);
                let seen = ctx.seen(who, t, |_| true);
                if seen.is_empty() {
                    continue;
                }
                let (id, _) = rng.pick(&seen);
                let path = format!("{t}/{id}/$validate");
                let r = ctx.net.get(who, &path).await;
                ctx.expect_status(who, &format!("GET {path}"), &r, 200);
                let body = parameters(&[("mode", "valueCode", json!("update"))]);
                let r = ctx.net.send(who, Method::POST, &path, body, &[]).await;
                ctx.expect_status(who, &format!("POST {path} (mode update)"), &r, 200);
                judged(2);
            }
            3 => {
                // Cancelling: only the prescriber, only an issued prescription (never one that
                // would be cancelled here).
                let prescriptions = ctx.seen(who, "MedicationRequest", |c| {
                    reference_of(c, "/requester/reference") != me || c["status"] != "active"
                });
                if prescriptions.is_empty() {
                    continue;
                }
                let (id, c) = rng.pick(&prescriptions);
                let path = format!("MedicationRequest/{id}/$cancel");
                let r = ctx.net.send(who, Method::POST, &path, None, &[]).await;
                let want = if reference_of(c, "/requester/reference") != me { 403 } else { 409 };
                ctx.expect_status(who, &format!("POST {path}"), &r, want);
                ctx.check(who, &path, &r.body);
                judged(1);
            }
            4 => {
                // Dispensing: only a pharmacist; what was dispensed, cancelled or expired is not.
                let prescriptions = ctx.seen(who, "MedicationRequest", |c| !pharmacist || c["status"] != "active");
                if prescriptions.is_empty() {
                    continue;
                }
                let (id, _) = rng.pick(&prescriptions);
                let path = format!("MedicationRequest/{id}/$dispense");
                let body = parameters(&[("quantity", "valueDecimal", json!(1))]);
                let r = ctx.net.send(who, Method::POST, &path, body, &[]).await;
                ctx.expect_status(who, &format!("POST {path}"), &r, if pharmacist { 409 } else { 403 });
                ctx.check(who, &path, &r.body);
                judged(1);
            }
            5 => {
                // Realising a month that is past (or fully realised): only a practitioner.
                let orders = ctx.seen(who, "DeviceRequest", |_| true);
                if orders.is_empty() {
                    continue;
                }
                let (id, _) = rng.pick(&orders);
                let path = format!("DeviceRequest/{id}/$realize");
                let body =
                    parameters(&[("month", "valueString", json!("2026-11")), ("quantity", "valueDecimal", json!(1))]);
                let r = ctx.net.send(who, Method::POST, &path, body, &[]).await;
                ctx.expect_status(
                    who,
                    &format!("POST {path} (month 2026-11)"),
                    &r,
                    if practitioner { 422 } else { 403 },
                );
                ctx.check(who, &path, &r.body);
                judged(1);
            }
            6 => {
                // A referral's transitions: none out of completed or cancelled; cancelling is the
                // issuer's, completing a practitioner's (never one that would happen here).
                let referrals = ctx.seen(who, "ServiceRequest", |_| true);
                if referrals.is_empty() {
                    continue;
                }
                let (id, c) = rng.pick(&referrals);
                let issuer = reference_of(c, "/requester/reference").is_some_and(|r| Some(r) == me);
                for (op, allowed) in [("$cancel", issuer), ("$complete", practitioner)] {
                    let want = match (referral_closed(c), allowed) {
                        (true, _) => 409,
                        (false, false) => 403,
                        (false, true) => continue,
                    };
                    let path = format!("ServiceRequest/{id}/{op}");
                    let r = ctx.net.send(who, Method::POST, &path, None, &[]).await;
                    ctx.expect_status(who, &format!("POST {path}"), &r, want);
                    ctx.check(who, &path, &r.body);
                    judged(1);
                }
            }
            7 => {
                // Booking a taken slot for one's own patient: 409 for whoever may act for them.
                let Some(home) = &who.home else { continue };
                let acts = who.writes && who.patients.get(home).is_some_and(|g| g.write && g.covers("Appointment"));
                let path = format!("Slot/{BUSY_SLOT}/$book");
                let body =
                    parameters(&[("patient", "valueReference", json!({"reference": format!("Patient/{home}")}))]);
                let r = ctx.net.send(who, Method::POST, &path, body, &[]).await;
                ctx.expect_status(who, &format!("POST {path} for Patient/{home}"), &r, if acts { 409 } else { 403 });
                ctx.check(who, &path, &r.body);
                judged(1);
            }
            8 => {
                // A pharmacist authorised by the patient finds the prescriptions by PESEL alone.
                let patients: Vec<String> = who.patients.keys().filter(|p| ctx.pesel(p).is_some()).cloned().collect();
                if patients.is_empty() {
                    continue;
                }
                let patient = rng.pick(&patients).clone();
                let path = format!("MedicationRequest/$retrieve?pesel={}", ctx.pesel(&patient).unwrap_or_default());
                let r = ctx.net.get(who, &path).await;
                let subject = format!("Patient/{patient}");
                let want: BTreeSet<String> = ctx
                    .seen(who, "MedicationRequest", |c| reference_of(c, "/subject/reference") == Some(subject.as_str()))
                    .into_iter()
                    .map(|(id, _)| format!("MedicationRequest/{id}"))
                    .collect();
                let status = match (pharmacist, want.is_empty()) {
                    (false, _) => 403,
                    (true, true) => 404,
                    (true, false) => 200,
                };
                ctx.expect_status(who, &format!("GET {path} (for {subject})"), &r, status);
                if r.status == 200 {
                    check_document(ctx, who, &path, &r.body, 0);
                    let got: BTreeSet<String> = entries(&r.body)
                        .iter()
                        .map(|e| {
                            format!(
                                "{}/{}",
                                e["resource"]["resourceType"].as_str().unwrap_or(""),
                                e["resource"]["id"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    ctx.same(who, &path, "prescriptions", &got, &want);
                }
                judged(1);
            }
            9 => {
                // The newest results of a patient the caller sees: only what it may see, and a
                // result of every test it may see.
                let patients = ctx.seen(who, "Patient", |_| true);
                if patients.is_empty() {
                    continue;
                }
                let (patient, _) = rng.pick(&patients);
                let subject = format!("Patient/{patient}");
                let path = format!("Observation/$lastn?patient={subject}&max=2");
                let r = ctx.net.get(who, &path).await;
                ctx.expect_status(who, &path, &r, 200);
                ctx.check(who, &path, &r.body);
                let code = |o: &Value| {
                    format!(
                        "{}|{}",
                        o["code"]["coding"][0]["system"].as_str().unwrap_or(""),
                        o["code"]["coding"][0]["code"].as_str().unwrap_or("")
                    )
                };
                let want: BTreeSet<String> = ctx
                    .seen(who, "Observation", |c| reference_of(c, "/subject/reference") == Some(subject.as_str()))
                    .iter()
                    .map(|(_, o)| code(o))
                    .collect();
                let got: BTreeSet<String> = entries(&r.body).iter().map(|e| code(&e["resource"])).collect();
                ctx.same(who, &path, "the tests with results", &got, &want);
                judged(1);
            }
            _ => {
                // The documented disclosure: the right access code and the patient's PESEL show
                // that package, referral or order (to a pharmacist, a practitioner).
                let (t, system) = *rng.pick(&[
                    ("MedicationRequest", RX_CODE),
                    ("ServiceRequest", REFERRAL_CODE),
                    ("DeviceRequest", ORDER_CODE),
                ]);
                let codes = ctx.codes(t, system);
                if codes.is_empty() {
                    continue;
                }
                let (code, patient, id) = rng.pick(&codes).clone();
                let Some(pesel) = ctx.pesel(&patient) else { continue };
                let path = format!("{t}/$retrieve?code={code}&pesel={pesel}");
                let may = if t == "MedicationRequest" { pharmacist } else { practitioner };
                let r = ctx.net.get(who, &path).await;
                ctx.expect_status(
                    who,
                    &format!("GET {path} ({t}/{id} of Patient/{patient})"),
                    &r,
                    if may { 200 } else { 403 },
                );
                if may && r.status == 200 {
                    ctx.disclosed.borrow_mut().insert((who.name, patient.clone()));
                    let got: BTreeSet<String> = if t == "MedicationRequest" {
                        entries(&r.body)
                            .iter()
                            .map(|e| format!("{t}/{}", e["resource"]["id"].as_str().unwrap_or("")))
                            .collect()
                    } else {
                        [format!(
                            "{}/{}",
                            r.body["resourceType"].as_str().unwrap_or(""),
                            r.body["id"].as_str().unwrap_or("")
                        )]
                        .into()
                    };
                    let want: BTreeSet<String> = codes
                        .iter()
                        .filter(|(c, p, _)| *c == code && *p == patient)
                        .map(|(_, _, id)| format!("{t}/{id}"))
                        .collect();
                    ctx.same(who, &path, "what the access code shows", &got, &want);
                } else {
                    ctx.check(who, &path, &r.body);
                }
                judged(1);
            }
        }
    }
}

/// Every audit event the caller can find, page by page.
async fn all_events(ctx: &Ctx<'_>, who: &Who) {
    let mut next = Some("AuditEvent?_count=1000".to_string());
    while let Some(url) = next {
        let r = ctx.net.get(who, &url).await;
        ctx.expect_status(who, &url, &r, 200);
        ctx.check(who, &url, &r.body);
        next = next_link(&r.body);
    }
}

/// The same requests about a patient the caller may not see and about one that does not exist
/// must answer the same, and leave the same events in the caller's own audit trail (which it
/// may search): otherwise the trail tells which patients exist.
async fn audit_oracle(ctx: &Ctx<'_>, callers: &[Who]) {
    // Only the events of this phase: it starts on a new second, searched with `date=ge`.
    let now = time::OffsetDateTime::now_utc();
    tokio::time::sleep(std::time::Duration::from_millis(1_020 - u64::from(now.millisecond()))).await;
    let since = instant(time::OffsetDateTime::now_utc().replace_nanosecond(0).expect("second"));
    let mut pairs = Vec::new();
    for who in callers.iter().filter(|w| !w.unconfined && w.user.is_some()) {
        let strangers: Vec<String> = ctx
            .world
            .live_patients()
            .into_iter()
            .filter(|p| {
                let key = ("Patient".to_string(), p.clone());
                ctx.world.read_status(who, &key) == 404 && !who.has_compartment("Patient", p)
            })
            .collect();
        let Some(hidden) = strangers.first().cloned() else { continue };
        let missing = ctx.net.missing();
        let mut answers = Vec::new();
        for id in [&hidden, &missing] {
            let fhir = "application/fhir+json";
            let person = json!({"resourceType": "Patient", "id": id, "name": [{"family": "Probe"}]}).to_string();
            let test = json!([{"op": "test", "path": "/id", "value": id}]).to_string();
            let observation = json!({"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                "subject": {"reference": format!("Patient/{id}")}})
            .to_string();
            let grant = parameters(&[
                ("category", "valueCode", json!("proxy-read")),
                ("grantee", "valueString", json!(format!("Patient/{KRYSTYNA}"))),
            ]);
            let join = parameters(&[("service", "valueCode", json!("covid19-vaccination"))]);
            let book = parameters(&[("patient", "valueReference", json!({"reference": format!("Patient/{id}")}))]);
            let requests: Vec<(Method, String, Body)> = vec![
                (Method::GET, format!("Patient/{id}"), None),
                (Method::GET, format!("Patient/{id}/_history"), None),
                (Method::GET, format!("Patient/{id}/_history/1"), None),
                (Method::GET, format!("Patient/{id}/$everything"), None),
                (Method::GET, format!("Patient/{id}/Observation"), None),
                (Method::GET, format!("Observation?patient={id}&_summary=count"), None),
                (Method::GET, format!("MedicationRequest?subject=Patient/{id}"), None),
                (Method::PUT, format!("Patient/{id}"), Some((fhir, person))),
                (Method::PATCH, format!("Patient/{id}"), Some(("application/json-patch+json", test))),
                (Method::DELETE, format!("Patient/{id}"), None),
                (Method::POST, "Observation".to_string(), Some((fhir, observation))),
                // Operations about the patient, on it and naming it.
                (Method::GET, format!("Patient/{id}/$summary"), None),
                (Method::POST, format!("Patient/{id}/$grant-access"), grant),
                (Method::POST, format!("Patient/{id}/$join-waiting-list"), join),
                (Method::POST, format!("Slot/{FREE_SLOT}/$book"), book),
            ];
            let mut replies = Vec::new();
            for (method, path, body) in requests {
                let r = ctx.net.send(who, method.clone(), &path, body, &[]).await;
                ctx.check(who, &path, &r.body);
                replies.push((format!("{method} {path}"), r.status, normalized(&r, &[id.as_str()])));
            }
            answers.push(replies);
        }
        ctx.net.compared.set(ctx.net.compared.get() + answers[0].len());
        for (got, base) in answers[0].iter().zip(&answers[1]) {
            ctx.ensure(
                got.1 == base.1 && got.2 == base.2,
                "LEAK: a request about a hidden patient answered unlike about a missing one",
                || {
                    format!(
                        "LEAK: caller {} request {} (Patient/{hidden} is hidden from it) answered {} {}\nbut {} \
                     (a patient that does not exist) {} {}",
                        who.name, got.0, got.1, got.2, base.0, base.1, base.2
                    )
                },
            );
        }
        pairs.push((who, hidden, missing));
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    for (who, hidden, missing) in pairs {
        let user = who.user.as_deref().unwrap_or_default();
        let mut events: Vec<Value> = Vec::new();
        let mut next = Some(format!("AuditEvent?agent={user}&date=ge{since}&_count=1000"));
        while let Some(url) = next {
            let r = ctx.net.get(who, &url).await;
            ctx.expect_status(who, &url, &r, 200);
            ctx.check(who, &url, &r.body);
            events.extend(entries(&r.body).iter().map(|e| e["resource"].clone()));
            next = next_link(&r.body);
        }
        // The events about each, without what differs from one event to the next.
        let trail = |id: &str| -> Vec<String> {
            let mut found: Vec<String> = events
                .iter()
                .filter(|e| e.to_string().contains(id))
                .map(|e| {
                    let shown = json!({"subtype": e["subtype"], "outcome": e["outcome"], "entity": e["entity"]});
                    shown.to_string().replace(id, "{target}")
                })
                .collect();
            found.sort();
            found
        };
        let (about_hidden, about_missing) = (trail(&hidden), trail(&missing));
        ctx.ensure(
            about_hidden == about_missing,
            "LEAK: the caller's own audit trail tells a hidden patient from a missing one",
            || {
                let differ: Vec<(&String, &String)> =
                    about_hidden.iter().zip(&about_missing).filter(|(a, b)| a != b).take(1).collect();
                format!(
                    "LEAK: caller {} made the same requests about Patient/{hidden} (hidden from it) and about \
                 Patient/{missing} (which does not exist); its own audit trail (AuditEvent?agent={user}) tells them \
                 apart: {} events about the first, {} about the second; the first that differ (ids as {{target}}):\n\
                 {:#?}",
                    who.name,
                    about_hidden.len(),
                    about_missing.len(),
                    differ
                )
            },
        );
    }
}

fn instant(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).expect("time")
}

fn observation(id: &str, patient: &str, status: &str, performer: Option<&str>) -> Value {
    let mut r = json!({
        "resourceType": "Observation", "id": id, "status": status,
        "identifier": [{"system": IDENT, "value": id}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
        "subject": {"reference": format!("Patient/{patient}")},
    });
    if let Some(p) = performer {
        r["performer"] = json!([{"reference": format!("Practitioner/{p}")}]);
    }
    r
}

fn prescription(id: &str, patient: &str, requester: Option<&str>) -> Value {
    let mut r = json!({
        "resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
        "identifier": [{"system": IDENT, "value": id}],
        "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
        "subject": {"reference": format!("Patient/{patient}")},
    });
    if let Some(p) = requester {
        r["requester"] = json!({"reference": format!("Practitioner/{p}")});
    }
    r
}

async fn put(net: &Net<'_>, admin: &Who, resource: &Value) {
    let path = format!("{}/{}", resource["resourceType"].as_str().expect("type"), resource["id"].as_str().expect("id"));
    let r = net.send(admin, Method::PUT, &path, Some(("application/fhir+json", resource.to_string())), &[]).await;
    assert!(r.status == 200 || r.status == 201, "seeding {path}: {} {}", r.status, r.text);
}

async fn delete(net: &Net<'_>, admin: &Who, path: &str) {
    let r = net.send(admin, Method::DELETE, path, None, &[]).await;
    assert!(r.status == 204 || r.status == 200, "deleting {path}: {} {}", r.status, r.text);
}

/// The generated world, stored by the backend service.
async fn seed_world(net: &Net<'_>, admin: &Who, rng: &mut Rng) {
    let t = today();
    let mut world: Vec<Value> = Vec::new();
    let mut adults = Vec::new();
    for i in 0..ADULTS {
        let age_days = 19 * 365 + rng.below(60 * 365) as i32;
        let sex = if rng.chance(50) { Sex::Female } else { Sex::Male };
        let p = person("Patient", &format!("rz-p{i}"), Day(t.0 - age_days), 300 + i as u32, sex);
        adults.push(p);
    }
    // Primary care: dr Nowak is rz-p7's doctor.
    adults[7]["generalPractitioner"] = json!([{"reference": format!("Practitioner/{PIOTR}")}]);
    world.extend(adults.iter().cloned());
    // 17 today: reads her own record; her parent (rz-p1) acts on it.
    let (y, m, d) = t.ymd();
    let birth = Day::from_ymd(y - 17, m, d).or_else(|| Day::from_ymd(y - 17, m, d - 1)).expect("birth");
    world.push(person("Patient", TEEN, birth, 320, Sex::Female));
    world.push(parent_link("rz-rp-teen", &adults[1], TEEN));
    // A parent link to an adult grants nothing.
    world.push(parent_link("rz-rp-adult", &adults[4], "rz-p5"));
    world.push(person("Practitioner", DOCTOR, Day(t.0 - 45 * 365), 330, Sex::Male));

    let now = time::OffsetDateTime::now_utc();
    let hour = time::Duration::hours(1);
    let (start, end) = (instant(now - hour), instant(now + 23 * hour));
    let (old_start, old_end) = (instant(now - 48 * hour), instant(now - 24 * hour));
    let mut inactive = consent("rz-c-inactive", "rz-p6", "Patient/rz-p1", "proxy-read", ALWAYS);
    inactive["status"] = json!("inactive");
    let mut denial = consent("rz-c-deny", "rz-p7", "Patient/rz-p4", "proxy-act", ALWAYS);
    denial["provision"]["type"] = json!("deny");
    let mut narrowed = consent("rz-c-class", "rz-p6", "Patient/rz-p4", "proxy-read", ALWAYS);
    narrowed["provision"]["class"] = json!([{"system": "http://hl7.org/fhir/resource-types", "code": "Condition"}]);
    world.extend([
        consent("rz-c-proxy-read", "rz-p2", "Patient/rz-p1", "proxy-read", ALWAYS),
        consent("rz-c-proxy-act", "rz-p3", "Patient/rz-p4", "proxy-act", ALWAYS),
        consent("rz-c-24h", ANNA, &format!("Practitioner/{DOCTOR}"), "doctor-24h", (&start, &end)),
        consent("rz-c-24h-ended", "rz-p5", &format!("Practitioner/{DOCTOR}"), "doctor-24h", (&old_start, &old_end)),
        consent("rz-c-rx-jan", JAN, &format!("Practitioner/{EWA}"), "prescriptions-only", ALWAYS),
        consent("rz-c-rx-p5", "rz-p5", &format!("Practitioner/{EWA}"), "prescriptions-only", ALWAYS),
        consent(
            "rz-c-future",
            "rz-p0",
            "Patient/rz-p1",
            "proxy-read",
            ("2998-01-01T00:00:00Z", "2999-01-01T00:00:00Z"),
        ),
        inactive,
        denial,
        narrowed,
    ]);

    // Clinical data: observations (some performed by a doctor), a condition, a prescription
    // (some written by a doctor) and sometimes its dispensing (some by the pharmacist).
    let mut patients: Vec<String> = (0..ADULTS).map(|i| format!("rz-p{i}")).collect();
    patients.push(TEEN.to_string());
    let doctor = |rng: &mut Rng| match rng.below(5) {
        0 => Some(PIOTR),
        1 => Some(DOCTOR),
        _ => None,
    };
    for p in &patients {
        for j in 0..2 {
            let status = if rng.chance(60) { "final" } else { "preliminary" };
            let performer = doctor(rng);
            world.push(observation(&format!("{p}-o{j}"), p, status, performer));
        }
        world.push(json!({"resourceType": "Condition", "id": format!("{p}-c"),
            "identifier": [{"system": IDENT, "value": format!("{p}-c")}],
            "subject": {"reference": format!("Patient/{p}")}, "code": {"text": "J45"}}));
        let requester = doctor(rng);
        world.push(prescription(&format!("{p}-m"), p, requester));
        if rng.chance(60) {
            let mut dispense = json!({"resourceType": "MedicationDispense", "id": format!("{p}-d"), "status": "completed",
                "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
                "subject": {"reference": format!("Patient/{p}")},
                "authorizingPrescription": [{"reference": format!("MedicationRequest/{p}-m")}]});
            if rng.chance(50) {
                dispense["performer"] = json!([{"actor": {"reference": format!("Practitioner/{EWA}")}}]);
            }
            world.push(dispense);
        }
    }
    // The demo patients get generated data too (one observation each, one written by dr Nowak).
    for (i, p) in [JAN, ANNA, ZOFIA, KRYSTYNA, TOMASZ].iter().enumerate() {
        world.push(observation(&format!("rz-demo-o{i}"), p, "final", (i == 2).then_some(PIOTR)));
    }
    for r in &world {
        put(net, admin, r).await;
    }

    // Moved by the backend from one patient to another; deleted and created again for someone
    // else under the same id; deleted.
    put(net, admin, &observation("rz-moved", "rz-p2", "final", None)).await;
    put(net, admin, &observation("rz-moved", "rz-p3", "final", None)).await;
    put(net, admin, &observation("rz-moved-demo", JAN, "final", None)).await;
    put(net, admin, &observation("rz-moved-demo", ANNA, "final", None)).await;
    put(net, admin, &observation("rz-reused", "rz-p3", "final", None)).await;
    delete(net, admin, "Observation/rz-reused").await;
    put(net, admin, &observation("rz-reused", "rz-p2", "final", None)).await;
    put(net, admin, &observation("rz-reused-demo", ANNA, "final", None)).await;
    delete(net, admin, "Observation/rz-reused-demo").await;
    put(net, admin, &observation("rz-reused-demo", ZOFIA, "final", None)).await;
    put(net, admin, &observation("rz-gone", JAN, "final", None)).await;
    delete(net, admin, "Observation/rz-gone").await;
    put(net, admin, &prescription("rz-m-moved", "rz-p5", None)).await;
    put(net, admin, &prescription("rz-m-moved", "rz-p6", Some(DOCTOR))).await;
}

/// Everything stored (but the audit trail), every version, from the backend's system history.
async fn catalogue(ctx: &mut Ctx<'_>, admin: &Who) {
    let mut next = Some("_history?_count=1000".to_string());
    let prefix = format!("{}/", ctx.base);
    while let Some(url) = next {
        let r = ctx.net.get(admin, &url).await;
        assert_eq!(r.status, 200, "system history: {}", r.text);
        for e in entries(&r.body) {
            let Some((t, id)) =
                e["fullUrl"].as_str().and_then(|u| u.strip_prefix(&prefix)).and_then(|p| p.split_once('/'))
            else {
                continue;
            };
            if t == "AuditEvent" {
                continue;
            }
            let n = e["response"]["etag"].as_str().and_then(etag_version).expect("etag");
            ctx.world.put(ctx.fhir, (t.to_string(), id.to_string()), n, e.get("resource").cloned());
        }
        next = next_link(&r.body);
    }
}

async fn randomized_access(server: &TestServer) {
    let seed = std::env::var("IKP_LEAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007)
    });
    eprintln!("seed {seed}");
    let started = std::time::Instant::now();
    let mut rng = Rng(seed);
    let mut ctx = Ctx {
        net: Net {
            server,
            requests: Cell::new(0),
            created: RefCell::new(Vec::new()),
            fresh: Cell::new(0),
            judged: Cell::new(0),
            events: Cell::new(0),
            compared: Cell::new(0),
            operations: Cell::new(0),
            visible_operations: Cell::new(0),
        },
        admin: Who::backend(server.admin_token().await),
        world: World::default(),
        fhir: &server.state().session,
        base: server.base.clone(),
        findings: RefCell::new(Vec::new()),
        touring: Cell::new(true),
        owners: BTreeMap::new(),
        disclosed: RefCell::new(BTreeSet::new()),
        resynced: RefCell::new(Vec::new()),
    };
    let admin = Who::backend(server.admin_token().await);
    seed_world(&ctx.net, &admin, &mut rng).await;
    catalogue(&mut ctx, &admin).await;
    ctx.net.created.take();

    // The callers, and what the policy lets each see.
    let token = |user: &str, patient: Option<&str>, scopes: &str| {
        let user = user.to_string();
        let patient = patient.map(str::to_string);
        let scopes = scopes.to_string();
        async move { server.token(Some(&user), patient.as_deref(), &scopes).await }
    };
    // The demo authorisations hold from 2026-01-01.
    let demo_grants = today().0 >= Day::from_ymd(2026, 1, 1).expect("day").0;
    let cruds = "openid fhirUser user/*.cruds";
    let p = |id: &str| format!("Patient/{id}");
    let mut tomasz =
        Who::new("Tomasz (the other parent)", token(&p(TOMASZ), None, cruds).await, Some(&p(TOMASZ)), true)
            .sees(TOMASZ, None, true)
            .home(TOMASZ);
    let mut krystyna = Who::new(
        "Krystyna (Jan's proxy by the demo Consent)",
        token(&p(KRYSTYNA), None, cruds).await,
        Some(&p(KRYSTYNA)),
        true,
    )
    .sees(KRYSTYNA, None, true)
    .home(KRYSTYNA);
    if demo_grants {
        tomasz = tomasz.sees(ZOFIA, None, true);
        krystyna = krystyna.sees(JAN, None, true);
    }
    let callers = vec![
        admin,
        Who::new("Jan (patient)", token(&p(JAN), None, cruds).await, Some(&p(JAN)), true)
            .sees(JAN, None, true)
            .home(JAN),
        Who::new("Anna (patient and mother)", token(&p(ANNA), None, cruds).await, Some(&p(ANNA)), true)
            .sees(ANNA, None, true)
            .sees(ZOFIA, None, true)
            .home(ANNA),
        Who::new("Anna (user/*.rs)", token(&p(ANNA), None, "user/*.rs").await, Some(&p(ANNA)), false)
            .sees(ANNA, None, true)
            .sees(ZOFIA, None, true)
            .home(ZOFIA),
        Who::new(
            "Anna acting for Zofia (patient/*.rs)",
            token(ANNA_AS_MOTHER, Some(ZOFIA), "launch/patient patient/*.rs").await,
            Some(ANNA_AS_MOTHER),
            false,
        )
        .sees(ZOFIA, None, true)
        .home(ZOFIA),
        tomasz,
        krystyna,
        Who::new("a 17-year-old", token(&p(TEEN), None, cruds).await, Some(&p(TEEN)), true)
            .sees(TEEN, None, false)
            .home(TEEN),
        Who::new(
            "a proxy who reads (and a parent of the 17-year-old)",
            token(&p("rz-p1"), None, cruds).await,
            Some(&p("rz-p1")),
            true,
        )
        .sees("rz-p1", None, true)
        .sees("rz-p2", None, false)
        .sees(TEEN, None, true)
        .home("rz-p1"),
        Who::new("a proxy who acts", token(&p("rz-p4"), None, cruds).await, Some(&p("rz-p4")), true)
            .sees("rz-p4", None, true)
            .sees("rz-p3", None, true)
            .sees("rz-p6", Some(&["Condition"]), false)
            .home("rz-p3"),
        Who::new(
            "a doctor with a 24-hour authorisation",
            token(&format!("Practitioner/{DOCTOR}"), None, cruds).await,
            Some(&format!("Practitioner/{DOCTOR}")),
            true,
        )
        .sees(ANNA, None, true)
        .home(ANNA),
        Who::new(
            "dr Nowak (primary care)",
            token(&format!("Practitioner/{PIOTR}"), None, cruds).await,
            Some(&format!("Practitioner/{PIOTR}")),
            true,
        )
        .sees(KRYSTYNA, None, true)
        .sees("rz-p7", None, true)
        .home(KRYSTYNA),
        Who::new(
            "a pharmacist (prescriptions only)",
            token(&format!("Practitioner/{EWA}"), None, cruds).await,
            Some(&format!("Practitioner/{EWA}")),
            true,
        )
        .sees(JAN, Some(RX), false)
        .sees("rz-p5", Some(RX), false),
    ];

    // Adults who may authorise access to their own record (the 17-year-old may not).
    ctx.owners = callers
        .iter()
        .filter(|w| w.writes && w.user.as_deref() != Some(&p(TEEN)))
        .filter_map(|w| Some((w.user.as_deref()?.strip_prefix("Patient/")?.to_string(), w.token.clone())))
        .fold(BTreeMap::new(), |mut owners, (patient, token)| {
            owners.entry(patient).or_insert(token);
            owners
        });

    // Every route once per caller, then a random mix.
    let mut plan: Vec<(usize, Route)> = Vec::new();
    for (i, who) in callers.iter().enumerate() {
        plan.extend(ROUTES.iter().filter(|r| !(who.unconfined && writes(**r))).map(|r| (i, *r)));
    }
    rng.shuffle(&mut plan);
    let seeded = ctx.net.requests.get();
    for (i, route) in plan {
        probe(&ctx, &callers[i], route, &mut rng).await;
        ctx.absorb();
    }
    let toured = ctx.net.requests.get() - seeded;
    ctx.touring.set(false);
    let mut mixed = 0;
    let mut probes = 0;
    while mixed < 400 {
        let who = &callers[rng.below(callers.len())];
        let route = *rng.pick(ROUTES);
        if who.unconfined && (writes(route) || route == Route::Export) {
            continue;
        }
        let before = ctx.net.requests.get();
        probe(&ctx, who, route, &mut rng).await;
        ctx.absorb();
        mixed += ctx.net.requests.get() - before;
        probes += 1;
    }
    // The reads of the run are audited through a queue: once stored, every caller's whole
    // audit trail is searched.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    for who in &callers {
        all_events(&ctx, who).await;
    }
    assert!(ctx.net.events.get() > 0, "no audit event was judged");
    audit_oracle(&ctx, &callers).await;
    let findings = ctx.findings.take();
    eprintln!(
        "{}: seed {seed}: {} callers, {} requests ({toured} visiting every route per caller, {mixed} in {probes} random \
         probes), {} resources and {} audit events judged, {} answers on hidden ids compared with missing ones ({} of \
         them of operations), {} operations on visible targets judged, in {:?}",
        server.backend,
        callers.len(),
        ctx.net.requests.get(),
        ctx.net.judged.get(),
        ctx.net.events.get(),
        ctx.net.compared.get(),
        ctx.net.operations.get(),
        ctx.net.visible_operations.get(),
        started.elapsed()
    );
    let mut kinds: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for (kind, message) in &findings {
        kinds.entry(kind).or_insert((0, message.as_str())).0 += 1;
    }
    let summary: Vec<String> =
        kinds.iter().map(|(kind, (n, example))| format!("{n} × {kind}; the first:\n{example}")).collect();
    assert!(
        findings.is_empty(),
        "{} (seed {seed}): {} answers went against the access policy (IKP_LEAK_SEED={seed} replays the run):\n\n{}",
        server.backend,
        findings.len(),
        summary.join("\n\n")
    );
}
