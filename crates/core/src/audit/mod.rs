//! The audit trail: an AuditEvent (shaped after IHE Basic Audit Log Patterns) for every access and
//! change made by an authenticated caller: who (the user and, for a parent or proxy, the
//! RelatedPerson they act as), through which app, from which address, what (the resources, or
//! the query), the outcome and the time.
//!
//! Events are split per patient, as BALP asks: an event names at most one patient, so a patient
//! searching "who looked at my records" (the AuditEvents in their compartment) never learns about
//! anybody else. Changes are audited in the write's own transaction ([`write_events`], used by
//! the session's commit); reads go through a queue (`crate::session::AuditQueue`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::access::{Caller, REASON_SYSTEM, Reason};
use crate::clock::{Micros, instant};
use crate::store::{Compartments, Method, NewVersion};

/// On whose behalf the user acted (the patient in the token's context), as R4 has no
/// `agent.onBehalfOf`.
pub const ON_BEHALF_OF: &str = "https://ikp.example.org/fhir/StructureDefinition/audit-on-behalf-of";

/// The client id of the app, as an identifier.
pub const CLIENT_ID_SYSTEM: &str = "https://ikp.example.org/fhir/sid/smart-client-id";

/// What was done (AuditEvent.action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Execute,
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Action::Create => "C",
            Action::Read => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Execute => "E",
        }
    }
}

/// One audited request, before it is split per patient.
#[derive(Debug, Clone)]
pub struct Access {
    pub agent: Agent,
    pub action: Action,
    /// The RESTful interaction or operation (`read`, `search-type`, `$everything`...).
    pub subtype: String,
    /// The request as sent (method and URL), for queries and refusals.
    pub query: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The resources returned or changed.
    pub entities: Vec<Entity>,
    /// Why an operation allowed more than the general policy (`purposeOfEvent`).
    pub reasons: Vec<Reason>,
    pub recorded: Micros,
}

/// A resource an event is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entity {
    pub resource_type: String,
    pub id: String,
    /// The patients of the version handed out or written, when known; `None`: those of the
    /// current version, looked up when the event is stored. A past version is audited for the
    /// patients it belonged to, never for where the resource lives now.
    pub patients: Option<Vec<String>>,
}

impl Entity {
    /// A resource whose current version's patients the event is about.
    pub fn current(resource_type: impl Into<String>, id: impl Into<String>) -> Entity {
        Entity { resource_type: resource_type.into(), id: id.into(), patients: None }
    }

    pub fn key(&self) -> (String, String) {
        (self.resource_type.clone(), self.id.clone())
    }
}

/// Who did it: the user's FHIR reference, the app, the address, the patient in context.
#[derive(Debug, Clone)]
pub struct Agent {
    pub who: Option<String>,
    pub client_id: String,
    pub source: Option<String>,
    pub patient_in_context: Option<String>,
}

impl Agent {
    /// The caller, calling from `source` (its network address).
    pub fn of(caller: &Caller, source: Option<&str>) -> Agent {
        Agent {
            who: caller.principal.fhir_user.clone(),
            client_id: caller.principal.client_id.clone(),
            source: source.map(str::to_string),
            patient_in_context: caller.principal.patient.clone(),
        }
    }
}

/// The AuditEvents of one request: one per patient whose data it touched, plus one for what
/// belongs to no patient (or for a refused request that touched nothing).
/// `current_patients` gives the patients of an entity's current version, where they are not
/// known already.
pub fn events(access: &Access, current_patients: impl Fn(&(String, String)) -> Vec<String>) -> Vec<Value> {
    let mut by_patient: BTreeMap<Option<String>, Vec<&Entity>> = BTreeMap::new();
    for entity in &access.entities {
        let patients = match &entity.patients {
            Some(known) => known.clone(),
            None => current_patients(&entity.key()),
        };
        if patients.is_empty() {
            by_patient.entry(None).or_default().push(entity);
        }
        for p in patients {
            by_patient.entry(Some(p)).or_default().push(entity);
        }
    }
    if by_patient.is_empty() {
        by_patient.insert(None, Vec::new());
    }
    by_patient
        .into_iter()
        .map(|(patient, mut entities)| {
            // One resource handed out in several versions is listed once.
            entities.dedup_by(|a, b| a.resource_type == b.resource_type && a.id == b.id);
            event(access, patient.as_deref(), &entities)
        })
        .collect()
}

fn event(access: &Access, patient: Option<&str>, entities: &[&Entity]) -> Value {
    let outcome = match access.status {
        s if s < 400 => "0",
        s if s < 500 => "4",
        _ => "8",
    };
    let mut agents = vec![json!({
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP", "display": "information recipient"}]},
        "who": match &access.agent.who {
            Some(r) => json!({"reference": r}),
            None => json!({"display": "backend service"}),
        },
        "requestor": true,
    })];
    if let Some(first) = agents.first_mut() {
        if let Some(address) = &access.agent.source {
            first["network"] = json!({"address": address, "type": "2"});
        }
        // A parent or proxy acting for a patient: who they acted for.
        if let Some(patient) = &access.agent.patient_in_context {
            let reference = format!("Patient/{patient}");
            if access.agent.who.as_deref() != Some(reference.as_str()) {
                first["extension"] = json!([{"url": ON_BEHALF_OF, "valueReference": {"reference": reference}}]);
            }
        }
    }
    agents.push(json!({
        "type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110150", "display": "Application"}]},
        "who": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": access.agent.client_id}},
        "requestor": false,
    }));
    let mut entity_list = Vec::new();
    if let Some(p) = patient {
        entity_list.push(json!({
            "what": {"reference": format!("Patient/{p}")},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    // A search is recorded as its query (BALP); reads and changes name their resources.
    let listed: &[&Entity] = if access.action == Action::Read && access.subtype.starts_with("search")
        || access.subtype == "$everything"
        || access.subtype == "history-type"
    {
        &[]
    } else {
        entities
    };
    for (t, id) in listed.iter().map(|e| (&e.resource_type, &e.id)) {
        if t == "Patient" && Some(id.as_str()) == patient {
            continue;
        }
        entity_list.push(json!({
            "what": {"reference": format!("{t}/{id}")},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        }));
    }
    if let Some(query) = &access.query {
        entity_list.push(json!({
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24", "display": "Query"},
            "description": query,
        }));
    }
    let subtype_system = if access.subtype.starts_with('$') {
        "https://ikp.example.org/fhir/CodeSystem/operation"
    } else {
        "http://hl7.org/fhir/restful-interaction"
    };
    let mut event = json!({
        "resourceType": "AuditEvent",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": subtype_system, "code": access.subtype}],
        "action": access.action.code(),
        "recorded": instant(access.recorded),
        "outcome": outcome,
        "agent": agents,
        "source": {
            "observer": {"display": "ikp"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
        },
        "entity": entity_list,
    });
    if !access.reasons.is_empty() {
        // Every exception an operation made to the general policy, with its reason.
        event["purposeOfEvent"] = Value::Array(
            access
                .reasons
                .iter()
                .map(|r| json!({"coding": [{"system": REASON_SYSTEM, "code": r.code, "display": r.display}]}))
                .collect(),
        );
    }
    event
}

/// The AuditEvents of a write. The patients are those of the new versions and of the versions
/// they replace (`before`: compartments by resource), so a deletion is audited for its patient.
pub fn write_events(
    agent: &Agent,
    operation: Option<&str>,
    reasons: &[Reason],
    versions: &[NewVersion],
    before: &Compartments,
    at: Micros,
) -> Vec<Value> {
    let mut groups: BTreeMap<&'static str, Vec<&NewVersion>> = BTreeMap::new();
    for v in versions {
        let action = match v.method {
            Method::Delete => "delete",
            _ if v.version == 1 => "create",
            _ => "update",
        };
        groups.entry(action).or_default().push(v);
    }
    let mut out = Vec::new();
    for (subtype, group) in groups {
        let action = match subtype {
            "delete" => Action::Delete,
            "create" => Action::Create,
            _ => Action::Update,
        };
        let access = Access {
            agent: agent.clone(),
            action,
            // A change made by an operation is recorded as that operation.
            subtype: operation.map_or_else(|| subtype.to_string(), str::to_string),
            query: None,
            status: 200,
            entities: group
                .iter()
                .map(|v| {
                    let key = (v.resource_type.clone(), v.id.clone());
                    let mut patients: Vec<String> = v
                        .index
                        .compartments
                        .iter()
                        .filter(|c| c.comp_type == "Patient")
                        .map(|c| c.comp_id.clone())
                        .chain(
                            before
                                .get(&key)
                                .into_iter()
                                .flatten()
                                .filter(|(t, _)| t == "Patient")
                                .map(|(_, id)| id.clone()),
                        )
                        .collect();
                    patients.sort();
                    patients.dedup();
                    Entity { resource_type: key.0, id: key.1, patients: Some(patients) }
                })
                .collect(),
            reasons: reasons.to_vec(),
            recorded: at,
        };
        out.extend(events(&access, |_| Vec::new()));
    }
    out
}
