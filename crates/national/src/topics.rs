//! The subscription topics of the national events (Subscriptions R5 Backport IG, topics on R4):
//! what happened, to which resource type, told apart by comparing the version before a change
//! with the version after it, and which search parameters a subscription may filter by. Each is
//! published as an R4 `Basic` in the IG's cross-version form; `generic` makes the
//! create/update/delete topic of any resource type, filtered by any of its search parameters.
//!
//! Triggers look only at the two versions (never at the database), so that one change can be
//! tried against every topic cheaply wherever the change is dispatched.

use serde_json::{Value, json};

use crate::access::entitlements::AUTHORIZATION_TYPES;
use crate::booking::TASK_SYSTEM as CER_TASK;
use crate::prescription::STATUS_REASON_SYSTEM;
use crate::referral::BOOKING_STATUS;

/// Where the topics' canonical URLs live.
pub const TOPIC_BASE: &str = "https://ikp.example.org/fhir/SubscriptionTopic";
/// The IG's cross-version extensions for a SubscriptionTopic in R4.
const TOPIC_EXTENSION: &str = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic";
const TASK_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-task-type";

/// Whether a change (the version before, the version after; `None` = absent or deleted) is an
/// event of the topic.
pub type Trigger = fn(Option<&Value>, Option<&Value>) -> bool;

/// A topic of the national events.
#[derive(Clone, Copy)]
pub struct Topic {
    /// The last part of its canonical URL.
    pub code: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub resource_type: &'static str,
    pub trigger: Trigger,
    /// The search parameters of `resource_type` a subscription may filter by.
    pub filters: &'static [&'static str],
}

impl Topic {
    pub fn url(&self) -> String {
        format!("{TOPIC_BASE}/{}", self.code)
    }

    /// Whether the change is an event of this topic.
    pub fn fires(&self, before: Option<&Value>, after: Option<&Value>) -> bool {
        let kind = after.or(before).and_then(|r| r.get("resourceType")).and_then(Value::as_str);
        kind == Some(self.resource_type) && (self.trigger)(before, after)
    }

    /// The topic as an R4 `Basic` in the backport IG's cross-version form.
    pub fn as_basic(&self) -> Value {
        let part = |name: &str| format!("{TOPIC_EXTENSION}.{name}");
        let mut extension = vec![
            json!({"url": part("url"), "valueUri": self.url()}),
            json!({"url": part("title"), "valueString": self.title}),
            json!({"url": part("status"), "valueCode": "active"}),
            json!({"url": part("description"), "valueMarkdown": self.description}),
            json!({"url": part("resourceTrigger"), "extension": [
                {"url": "description", "valueMarkdown": self.description},
                {"url": "resource", "valueUri": format!("http://hl7.org/fhir/StructureDefinition/{}", self.resource_type)},
            ]}),
        ];
        for filter in self.filters {
            extension.push(json!({"url": part("canFilterBy"), "extension": [
                {"url": "resource", "valueUri": self.resource_type},
                {"url": "filterParameter", "valueString": filter},
            ]}));
        }
        json!({
            "resourceType": "Basic",
            "id": self.code,
            "extension": extension,
            "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]},
        })
    }
}

fn text<'v>(resource: Option<&'v Value>, pointer: &str) -> Option<&'v str> {
    resource?.pointer(pointer).and_then(Value::as_str)
}

fn status(resource: Option<&Value>) -> Option<&str> {
    text(resource, "/status")
}

/// `after` has `status` and `before` did not (a creation counts).
fn became(before: Option<&Value>, after: Option<&Value>, wanted: &[&str]) -> bool {
    status(after).is_some_and(|s| wanted.contains(&s)) && !status(before).is_some_and(|s| wanted.contains(&s))
}

/// The code of the first coding in `system` among the resource's `field` CodeableConcept(s).
fn code_in<'v>(resource: Option<&'v Value>, field: &str, system: &str) -> Option<&'v str> {
    let value = resource?.get(field)?;
    let concepts: Vec<&Value> = match value.as_array() {
        Some(list) => list.iter().collect(),
        None => vec![value],
    };
    concepts
        .into_iter()
        .filter_map(|c| c.get("coding").and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(system))
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)
}

/// The code of the resource's extension `url` (a `valueCoding`).
fn extension_code<'v>(resource: Option<&'v Value>, url: &str) -> Option<&'v str> {
    resource?
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
        .and_then(|e| e.pointer("/valueCoding/code"))
        .and_then(Value::as_str)
}

fn prescription_issued(before: Option<&Value>, after: Option<&Value>) -> bool {
    before.is_none() && status(after) == Some("active")
}

fn prescription_dispensed(before: Option<&Value>, after: Option<&Value>) -> bool {
    // A dispensation completed: the MedicationDispense written by `$dispense` (or one that
    // reached `completed` later).
    became(before, after, &["completed"])
}

fn prescription_cancelled(before: Option<&Value>, after: Option<&Value>) -> bool {
    became(before, after, &["cancelled"])
}

fn prescription_expired(before: Option<&Value>, after: Option<&Value>) -> bool {
    let expired = |r: Option<&Value>| {
        status(r) == Some("stopped") && code_in(r, "statusReason", STATUS_REASON_SYSTEM) == Some("expired")
    };
    expired(after) && !expired(before)
}

fn referral_issued(before: Option<&Value>, after: Option<&Value>) -> bool {
    became(before, after, &["active"])
}

fn referral_booked(before: Option<&Value>, after: Option<&Value>) -> bool {
    let booked = |r: Option<&Value>| extension_code(r, BOOKING_STATUS) == Some("booked");
    booked(after) && !booked(before)
}

fn referral_completed(before: Option<&Value>, after: Option<&Value>) -> bool {
    became(before, after, &["completed"])
}

fn document_submitted(_before: Option<&Value>, after: Option<&Value>) -> bool {
    // A new document, or a new version of one.
    status(after) == Some("current")
}

fn lab_result_available(before: Option<&Value>, after: Option<&Value>) -> bool {
    let lab =
        |r: Option<&Value>| code_in(r, "category", "http://terminology.hl7.org/CodeSystem/v2-0074") == Some("LAB");
    lab(after) && became(before, after, &["final", "amended", "corrected"])
}

fn appointment_booked(before: Option<&Value>, after: Option<&Value>) -> bool {
    became(before, after, &["booked"])
}

fn appointment_cancelled(before: Option<&Value>, after: Option<&Value>) -> bool {
    became(before, after, &["cancelled"])
}

fn booked_from_waiting_list(before: Option<&Value>, after: Option<&Value>) -> bool {
    code_in(after, "code", CER_TASK) == Some("waiting-list") && became(before, after, &["completed"])
}

fn authorisation(resource: Option<&Value>) -> bool {
    code_in(resource, "category", AUTHORIZATION_TYPES).is_some()
}

fn access_granted(before: Option<&Value>, after: Option<&Value>) -> bool {
    authorisation(after) && became(before, after, &["active"])
}

fn access_revoked(before: Option<&Value>, after: Option<&Value>) -> bool {
    authorisation(before) && status(before) == Some("active") && status(after) != Some("active")
}

fn ehic_status_changed(before: Option<&Value>, after: Option<&Value>) -> bool {
    let state = |r| text(r, "/businessStatus/coding/0/code").map(str::to_string);
    code_in(after, "code", TASK_TYPE) == Some("ehic-application") && state(after) != state(before)
}

/// The national events.
pub const NATIONAL: &[Topic] = &[
    Topic {
        code: "prescription-issued",
        title: "E-recepta wystawiona (e-prescription issued)",
        description: "A new e-prescription was issued.",
        resource_type: "MedicationRequest",
        trigger: prescription_issued,
        filters: &["patient", "requester", "group-identifier"],
    },
    Topic {
        code: "prescription-dispensed",
        title: "E-recepta zrealizowana (e-prescription dispensed)",
        description: "A pharmacy dispensed (part of) an e-prescription.",
        resource_type: "MedicationDispense",
        trigger: prescription_dispensed,
        filters: &["patient", "performer", "prescription"],
    },
    Topic {
        code: "prescription-cancelled",
        title: "E-recepta anulowana (e-prescription cancelled)",
        description: "The prescriber cancelled an e-prescription.",
        resource_type: "MedicationRequest",
        trigger: prescription_cancelled,
        filters: &["patient", "requester"],
    },
    Topic {
        code: "prescription-expired",
        title: "E-recepta wygasła (e-prescription expired)",
        description: "An e-prescription's last valid day passed before it was dispensed in full.",
        resource_type: "MedicationRequest",
        trigger: prescription_expired,
        filters: &["patient", "requester"],
    },
    Topic {
        code: "referral-issued",
        title: "E-skierowanie wystawione (e-referral issued)",
        description: "A new e-referral was issued.",
        resource_type: "ServiceRequest",
        trigger: referral_issued,
        filters: &["patient", "requester", "performer"],
    },
    Topic {
        code: "referral-booked",
        title: "E-skierowanie zarezerwowane (e-referral booked)",
        description: "A visit was booked on an e-referral.",
        resource_type: "ServiceRequest",
        trigger: referral_booked,
        filters: &["patient", "requester", "performer"],
    },
    Topic {
        code: "referral-completed",
        title: "E-skierowanie zrealizowane (e-referral completed)",
        description: "An e-referral was carried out.",
        resource_type: "ServiceRequest",
        trigger: referral_completed,
        filters: &["patient", "requester", "performer"],
    },
    Topic {
        code: "document-submitted",
        title: "Nowy dokument medyczny (document submitted)",
        description: "A medical document (or a new version of one) was submitted.",
        resource_type: "DocumentReference",
        trigger: document_submitted,
        filters: &["patient", "type", "category", "author", "custodian"],
    },
    Topic {
        code: "lab-result-available",
        title: "Wynik badania dostępny (lab result available)",
        description: "A laboratory report became final (or was amended or corrected).",
        resource_type: "DiagnosticReport",
        trigger: lab_result_available,
        filters: &["patient", "code", "performer"],
    },
    Topic {
        code: "appointment-booked",
        title: "Wizyta zarezerwowana (appointment booked)",
        description: "An appointment was booked.",
        resource_type: "Appointment",
        trigger: appointment_booked,
        filters: &["patient", "service-type", "location", "practitioner"],
    },
    Topic {
        code: "appointment-cancelled",
        title: "Wizyta odwołana (appointment cancelled)",
        description: "An appointment was cancelled.",
        resource_type: "Appointment",
        trigger: appointment_cancelled,
        filters: &["patient", "service-type", "location", "practitioner"],
    },
    Topic {
        code: "waiting-list-booked",
        title: "Termin z listy oczekujących (booked from the waiting list)",
        description: "A slot was found for a waiting-list entry and booked.",
        resource_type: "Task",
        trigger: booked_from_waiting_list,
        filters: &["patient"],
    },
    Topic {
        code: "access-granted",
        title: "Nadano upoważnienie (access granted)",
        description: "Someone was authorised to see or act on a patient's record.",
        resource_type: "Consent",
        trigger: access_granted,
        filters: &["patient", "actor", "category"],
    },
    Topic {
        code: "access-revoked",
        title: "Cofnięto upoważnienie (access revoked)",
        description: "An authorisation ended before its time.",
        resource_type: "Consent",
        trigger: access_revoked,
        filters: &["patient", "actor", "category"],
    },
    Topic {
        code: "ehic-status-changed",
        title: "Zmiana statusu wniosku o EKUZ (EHIC application status changed)",
        description: "An EHIC application moved to another state.",
        resource_type: "Task",
        trigger: ehic_status_changed,
        filters: &["patient", "owner"],
    },
];

fn any_change(_before: Option<&Value>, _after: Option<&Value>) -> bool {
    true
}

/// The canonical URL of the generic topic of a resource type: every create, update and delete.
pub fn generic_url(resource_type: &str) -> String {
    format!("{TOPIC_BASE}/resource-{resource_type}")
}

/// The topic a canonical URL names: a national one, or the generic topic of a resource type
/// (`resource-Observation`), whose filters are any search parameter of the type (checked where
/// the subscription is accepted).
pub fn by_url(url: &str, resource_types: &[&'static str]) -> Option<Topic> {
    let code = url.strip_prefix(TOPIC_BASE)?.strip_prefix('/')?;
    if let Some(found) = NATIONAL.iter().find(|t| t.code == code) {
        return Some(*found);
    }
    let resource_type = *resource_types.iter().find(|t| code.strip_prefix("resource-") == Some(**t))?;
    Some(Topic {
        code: "resource",
        title: "Każda zmiana zasobu (any change of a resource)",
        description: "Any create, update or delete of a resource of the type.",
        resource_type,
        trigger: any_change,
        filters: &[],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mr(status: &str) -> Value {
        json!({"resourceType": "MedicationRequest", "status": status})
    }

    #[test]
    fn prescriptions_fire_on_their_transitions_only() {
        let issued = &NATIONAL[0];
        assert!(issued.fires(None, Some(&mr("active"))));
        assert!(!issued.fires(Some(&mr("active")), Some(&mr("active"))), "an update is not an issue");
        let cancelled = NATIONAL.iter().find(|t| t.code == "prescription-cancelled").expect("topic");
        assert!(cancelled.fires(Some(&mr("active")), Some(&mr("cancelled"))));
        assert!(!cancelled.fires(Some(&mr("cancelled")), Some(&mr("cancelled"))), "no change, no event");
        let expired = NATIONAL.iter().find(|t| t.code == "prescription-expired").expect("topic");
        let mut stopped = mr("stopped");
        stopped["statusReason"] = json!({"coding": [{"system": STATUS_REASON_SYSTEM, "code": "expired"}]});
        assert!(expired.fires(Some(&mr("active")), Some(&stopped)));
        assert!(!expired.fires(Some(&mr("active")), Some(&mr("stopped"))), "stopped for another reason");
        assert!(!issued.fires(None, Some(&json!({"resourceType": "Observation", "status": "active"}))), "another type");
    }

    #[test]
    fn referrals_documents_results_bookings_and_authorisations_fire() {
        let topic = |code: &str| NATIONAL.iter().find(|t| t.code == code).expect("topic");
        let sr = |status: &str, booked: bool| {
            let mut r = json!({"resourceType": "ServiceRequest", "status": status});
            if booked {
                r["extension"] = json!([{"url": BOOKING_STATUS, "valueCoding": {"code": "booked"}}]);
            }
            r
        };
        assert!(topic("referral-booked").fires(Some(&sr("active", false)), Some(&sr("active", true))));
        assert!(!topic("referral-booked").fires(Some(&sr("active", true)), Some(&sr("active", true))));
        assert!(topic("referral-completed").fires(Some(&sr("active", true)), Some(&sr("completed", true))));
        let report = |status: &str| {
            json!({"resourceType": "DiagnosticReport", "status": status,
                   "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}]})
        };
        assert!(topic("lab-result-available").fires(None, Some(&report("final"))));
        assert!(topic("lab-result-available").fires(Some(&report("preliminary")), Some(&report("final"))));
        assert!(!topic("lab-result-available").fires(None, Some(&report("preliminary"))));
        let consent = |status: &str| {
            json!({"resourceType": "Consent", "status": status,
                   "category": [{"coding": [{"system": AUTHORIZATION_TYPES, "code": "proxy-read"}]}]})
        };
        assert!(topic("access-granted").fires(None, Some(&consent("active"))));
        assert!(topic("access-revoked").fires(Some(&consent("active")), Some(&consent("inactive"))));
        assert!(!topic("access-revoked").fires(Some(&consent("inactive")), Some(&consent("inactive"))));
        let task = |state: &str| {
            json!({"resourceType": "Task", "status": "in-progress",
                   "code": {"coding": [{"system": TASK_TYPE, "code": "ehic-application"}]},
                   "businessStatus": {"coding": [{"code": state}]}})
        };
        assert!(topic("ehic-status-changed").fires(Some(&task("accepted")), Some(&task("under-review"))));
        assert!(!topic("ehic-status-changed").fires(Some(&task("sent")), Some(&task("sent"))));
    }

    #[test]
    fn topics_are_found_by_url_and_published_as_basic() {
        let types = ["Observation", "Patient"];
        let topic = by_url(&format!("{TOPIC_BASE}/access-granted"), &types).expect("national");
        assert_eq!(topic.resource_type, "Consent");
        let generic = by_url(&generic_url("Observation"), &types).expect("generic");
        assert!(generic.fires(None, Some(&json!({"resourceType": "Observation"}))));
        assert!(generic.fires(Some(&json!({"resourceType": "Observation"})), None), "a delete");
        assert!(by_url(&generic_url("Nonsense"), &types).is_none());
        assert!(by_url("https://elsewhere.example/SubscriptionTopic/access-granted", &types).is_none());
        let basic = NATIONAL[1].as_basic();
        assert_eq!(basic["resourceType"], "Basic");
        assert_eq!(basic["extension"][0]["valueUri"], format!("{TOPIC_BASE}/prescription-dispensed"));
        let filters = basic["extension"]
            .as_array()
            .expect("extensions")
            .iter()
            .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with("canFilterBy")))
            .count();
        assert_eq!(filters, 3);
        let codes: std::collections::BTreeSet<&str> = NATIONAL.iter().map(|t| t.code).collect();
        assert_eq!(codes.len(), NATIONAL.len(), "codes are unique");
    }
}
