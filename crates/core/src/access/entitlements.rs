//! What a person may see, computed from the FHIR data on every request (so a revoked Consent, an
//! expired 24-hour authorisation or a child's 18th birthday take effect at once):
//!
//! - a patient: their own compartment;
//! - a parent or guardian (a `RelatedPerson` with their PESEL and a parental relationship): the
//!   child's compartment until the child's 18th birthday;
//! - anyone named as actor of an active, current `Consent` (PL IKP authorisation): the grantor's
//!   compartment, all of it or only prescriptions, read-only or also to act, per its category
//!   (and `provision.class`, when it lists types);
//! - a practitioner: their own compartment (what they authored or performed), their primary-care
//!   patients (`Patient.generalPractitioner`), and Consents naming them, one of their roles or an
//!   organisation they work for.

use std::collections::HashMap;

use serde_json::Value;

use crate::clock::{Micros, age_in_years, instant_micros, now, start_of_day_after, today};
use crate::error::FhirResult;
use crate::search::reach::{Reach, Visible};
use crate::terminology::naming::PESEL;

/// Age from which a parent's access to a child's record ends.
pub const ADULT_AGE: i32 = 18;

/// `RelatedPerson.relationship` codes (v3 RoleCode) that make someone a parent or guardian.
const PARENTAL: &[&str] = &["PRN", "MTH", "FTH", "NPRN", "NMTH", "NFTH", "GUARD", "STPPRN", "STPMTH", "STPFTH"];

/// The IKP authorisation types (`Consent.category`) and what each grants.
pub const AUTHORIZATION_TYPES: &str = "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type";

/// Types a prescriptions-only authorisation reaches.
const PRESCRIPTION_TYPES: &[&str] = &["MedicationRequest", "MedicationDispense", "MedicationStatement"];

/// A person's entitlements, with the relationships behind them (who may grant access for whom).
#[derive(Debug, Clone, Default)]
pub struct Entitlements {
    pub reach: Reach,
    /// The person's own Patient id.
    pub own_patient: Option<String>,
    /// Whether that patient is an adult (18 or older, or of unknown age).
    pub adult: bool,
    /// Minor children the person is the parent or guardian of (by RelatedPerson, not by Consent):
    /// (child's Patient id, the RelatedPerson id the person acts as).
    pub children: Vec<(String, String)>,
    /// Until when these entitlements hold by themselves: the next change of date (ages, and so
    /// a parent's access, change at midnight UTC) or the next start or end of a Consent's period.
    /// Changes to the data that decides them advance the policy generation instead.
    pub valid_until: Micros,
}

/// Age from which patients log in to their own account (with limited functions until 18).
pub const OWN_ACCOUNT_AGE: i32 = 16;

/// The entitlements of the person behind `fhir_user` (`Patient/123`), worked out with the
/// server's own look-ups.
pub async fn entitlements(directory: &dyn Directory, fhir_user: Option<&str>) -> FhirResult<Entitlements> {
    let mut out = Entitlements { valid_until: start_of_day_after(today()), ..Entitlements::default() };
    let Some((user_type, user_id)) = fhir_user.and_then(|r| r.split_once('/')) else {
        return Ok(out);
    };
    let mut persons = find(directory, &[user_type], &[("_id", user_id.to_string())]).await?;
    // The same person may be a Patient, a Practitioner and several RelatedPersons: one PESEL.
    if let Some(pesel) = persons.first().and_then(pesel_of) {
        persons = find(
            directory,
            &["Patient", "Practitioner", "RelatedPerson"],
            &[("identifier", format!("{PESEL}|{pesel}"))],
        )
        .await?;
    }
    let mut visible = Vec::new();
    let mut actors: Vec<String> = Vec::new();
    let mut children: Vec<(String, String)> = Vec::new();
    let mut practitioners: Vec<String> = Vec::new();
    for person in &persons {
        let (Some(t), Some(id)) = (person["resourceType"].as_str(), person["id"].as_str()) else { continue };
        actors.push(format!("{t}/{id}"));
        match t {
            "Patient" => {
                let age = person["birthDate"].as_str().and_then(age_in_years);
                out.adult = age.is_none_or(|a| a >= ADULT_AGE);
                out.own_patient = Some(id.to_string());
                // 16- and 17-year-olds read their own record; acting on it stays with the parent.
                visible.push(all_of("Patient", id, out.adult));
            }
            "Practitioner" => {
                visible.push(all_of("Practitioner", id, true));
                practitioners.push(id.to_string());
            }
            "RelatedPerson" if is_parental(person) => {
                if let Some(child) = person.pointer("/patient/reference").and_then(Value::as_str) {
                    children.extend(child.strip_prefix("Patient/").map(|c| (c.to_string(), id.to_string())));
                }
            }
            _ => {}
        }
    }
    if !practitioners.is_empty() {
        let roles = find(directory, &["PractitionerRole"], &[("practitioner", practitioners.join(","))]).await?;
        for role in &roles {
            actors.extend(role["id"].as_str().map(|id| format!("PractitionerRole/{id}")));
            actors.extend(role.pointer("/organization/reference").and_then(Value::as_str).map(str::to_string));
        }
        let mut carers: Vec<String> = practitioners.iter().map(|p| format!("Practitioner/{p}")).collect();
        carers.extend(roles.iter().filter_map(|r| r["id"].as_str()).map(|id| format!("PractitionerRole/{id}")));
        for patient in find(directory, &["Patient"], &[("general-practitioner", carers.join(","))]).await? {
            visible.extend(patient["id"].as_str().map(|id| all_of("Patient", id, true)));
        }
    }
    let consents = find(directory, &["Consent"], &[("actor", actors.join(",")), ("status", "active".into())]).await?;
    let at = now();
    for consent in &consents {
        // A Consent's period starting or ending changes what it grants.
        for bound in ["start", "end"] {
            if let Some(moment) = consent.pointer(&format!("/provision/period/{bound}")).and_then(Value::as_str)
                && let Some(micros) = instant_micros(moment)
                && micros > at
            {
                out.valid_until = out.valid_until.min(micros);
            }
        }
    }
    let granted: Vec<(String, Grant)> = consents.iter().filter_map(|c| consent_grant(c, at)).collect();
    // A parent's own access, and the other parent's by Consent, end at the child's 18th birthday.
    let mut minors_needed: Vec<String> = children.iter().map(|(c, _)| c.clone()).collect();
    minors_needed.extend(granted.iter().filter(|(_, g)| g.parental).map(|(p, _)| p.clone()));
    let minors = minors(directory, &minors_needed).await?;
    for (child, related) in children.into_iter().filter(|(c, _)| minors.get(c) == Some(&true)) {
        visible.push(all_of("Patient", &child, true));
        out.children.push((child, related));
    }
    for (patient, grant) in granted {
        if grant.parental && minors.get(&patient) != Some(&true) {
            continue;
        }
        visible.push(Visible { comp_type: "Patient".into(), comp_id: patient, types: grant.types, write: grant.write });
    }
    out.reach = Reach { visible };
    Ok(out)
}

fn all_of(comp_type: &str, id: &str, write: bool) -> Visible {
    Visible { comp_type: comp_type.into(), comp_id: id.into(), types: None, write }
}

fn pesel_of(resource: &Value) -> Option<String> {
    resource["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"].as_str() == Some(PESEL))
        .and_then(|i| i["value"].as_str())
        .map(str::to_string)
}

fn is_parental(related: &Value) -> bool {
    related["relationship"].as_array().is_some_and(|concepts| {
        concepts
            .iter()
            .filter_map(|c| c["coding"].as_array())
            .flatten()
            .any(|coding| coding["code"].as_str().is_some_and(|code| PARENTAL.contains(&code)))
    })
}

/// What one Consent grants its actors.
struct Grant {
    types: Option<Vec<String>>,
    write: bool,
    /// Another parent's access to a child: ends when the child comes of age.
    parental: bool,
}

/// The patient and the grant of an active Consent that is in force now; `None` for Consents that
/// grant no access (a denial, a cross-border dispensing consent, outside its period).
fn consent_grant(consent: &Value, at: Micros) -> Option<(String, Grant)> {
    let provision = &consent["provision"];
    if provision["type"].as_str().is_some_and(|t| t != "permit") {
        return None;
    }
    // An unreadable bound grants nothing.
    let period = &provision["period"];
    if period["start"].as_str().is_some_and(|s| instant_micros(s).is_none_or(|start| start > at))
        || period["end"].as_str().is_some_and(|e| instant_micros(e).is_none_or(|end| at > end))
    {
        return None;
    }
    let patient = consent.pointer("/patient/reference")?.as_str()?.strip_prefix("Patient/")?.to_string();
    let category = consent["category"]
        .as_array()?
        .iter()
        .filter_map(|c| c["coding"].as_array())
        .flatten()
        .find(|c| c["system"].as_str() == Some(AUTHORIZATION_TYPES))
        .and_then(|c| c["code"].as_str())?;
    let (mut types, write, parental): (Option<Vec<String>>, bool, bool) = match category {
        "proxy-read" => (None, false, false),
        "proxy-act" | "doctor-history" | "doctor-24h" => (None, true, false),
        "parent-access" => (None, true, true),
        "prescriptions-only" => (Some(PRESCRIPTION_TYPES.iter().map(|t| t.to_string()).collect()), false, false),
        _ => return None,
    };
    let classes: Vec<String> = provision["class"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["code"].as_str()).map(str::to_string).collect())
        .unwrap_or_default();
    if !classes.is_empty() {
        types = Some(match types {
            Some(allowed) => allowed.into_iter().filter(|t| classes.contains(t)).collect(),
            None => classes,
        });
    }
    Some((patient, Grant { types, write, parental }))
}

/// Which of these patients are minors today (by `birthDate`).
async fn minors(directory: &dyn Directory, ids: &[String]) -> FhirResult<HashMap<String, bool>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let patients = find(directory, &["Patient"], &[("_id", ids.join(","))]).await?;
    Ok(patients
        .iter()
        .filter_map(|p| {
            let id = p["id"].as_str()?.to_string();
            let minor = p["birthDate"].as_str().and_then(age_in_years).is_some_and(|a| a < ADULT_AGE);
            Some((id, minor))
        })
        .collect())
}

/// What working out entitlements needs of the data: people, their roles and their Consents,
/// found whoever's they are. The session implements it with its judged look-ups; the policy reads
/// what it finds to decide and hands it to no one.
#[async_trait::async_trait]
pub trait Directory: Send + Sync {
    /// Current resources of `types` matching `pairs`, at most `limit`.
    async fn find(&self, types: &[&str], pairs: &[(&str, String)], limit: usize) -> FhirResult<Vec<Value>>;
}

/// At most 1,000: entitlements are per person, never that many.
async fn find(directory: &dyn Directory, types: &[&str], pairs: &[(&str, String)]) -> FhirResult<Vec<Value>> {
    directory.find(types, pairs, 1000).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn consent(category: &str, start: &str, end: &str) -> Value {
        json!({
            "resourceType": "Consent", "status": "active",
            "patient": {"reference": "Patient/p"},
            "category": [{"coding": [{"system": AUTHORIZATION_TYPES, "code": category}]}],
            "provision": {"type": "permit", "period": {"start": start, "end": end}},
        })
    }

    #[test]
    fn consents_grant_by_category_and_period() {
        let (p, g) = consent_grant(&consent("proxy-read", "2000-01-01", "2999-01-01"), now()).expect("in force");
        assert_eq!(p, "p");
        assert!(g.types.is_none() && !g.write);
        let (_, g) =
            consent_grant(&consent("prescriptions-only", "2000-01-01", "2999-01-01"), now()).expect("in force");
        assert_eq!(g.types.as_deref().map(<[String]>::len), Some(PRESCRIPTION_TYPES.len()));
        assert!(consent_grant(&consent("proxy-act", "2000-01-01", "2001-01-01"), now()).is_none(), "expired");
        assert!(consent_grant(&consent("proxy-act", "2998-01-01", "2999-01-01"), now()).is_none(), "not yet");
        assert!(consent_grant(&consent("cross-border", "2000-01-01", "2999-01-01"), now()).is_none(), "no access");
        let mut denial = consent("proxy-read", "2000-01-01", "2999-01-01");
        denial["provision"]["type"] = json!("deny");
        assert!(consent_grant(&denial, now()).is_none());
        let mut narrowed = consent("proxy-read", "2000-01-01", "2999-01-01");
        narrowed["provision"]["class"] =
            json!([{"system": "http://hl7.org/fhir/resource-types", "code": "Immunization"}]);
        assert_eq!(consent_grant(&narrowed, now()).and_then(|(_, g)| g.types), Some(vec!["Immunization".to_string()]));
    }
}
