//! What a confined caller may see, in the terms the SQL planner narrows by: compartments (all of
//! a patient's data, or only some resource types of it) plus the public reference types
//! (organizations, medications, terminology...). The access policy (`crate::access`) decides a
//! caller's [`Reach`]; the planner adds it to every query it emits for that caller, so totals,
//! paging, includes, chains and `_has` never see beyond it.

use crate::sql::{Bind, Sql};

/// Resource types that are reference or definitional data, readable by every authenticated
/// caller whose scopes allow the type. Everything else is personal data, visible only through a
/// compartment the caller may see; a type missing here is therefore hidden, never exposed.
pub const PUBLIC_TYPES: &[&str] = &[
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

pub fn is_public(resource_type: &str) -> bool {
    PUBLIC_TYPES.contains(&resource_type)
}

/// One compartment a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    /// `Patient` or `Practitioner`.
    pub comp_type: String,
    pub comp_id: String,
    /// Only these resource types of the compartment (`None`: all of them).
    pub types: Option<Vec<String>>,
    /// Whether the caller may also write there (create, update, delete).
    pub write: bool,
}

impl Visible {
    pub fn covers_type(&self, resource_type: &str) -> bool {
        self.types.as_ref().is_none_or(|t| t.iter().any(|x| x == resource_type))
    }
}

/// The personal data a confined caller may see: the union of its compartments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub visible: Vec<Visible>,
}

impl Reach {
    /// Whether a resource of `resource_type` in these compartments (`(type, id)` rows) is within
    /// reach; `writing` asks for write permission.
    pub fn admits(&self, resource_type: &str, compartments: &[(String, String)], writing: bool) -> bool {
        if !writing && is_public(resource_type) {
            return true;
        }
        self.visible.iter().any(|v| {
            (!writing || v.write)
                && v.covers_type(resource_type)
                && compartments.iter().any(|(t, id)| *t == v.comp_type && *id == v.comp_id)
        })
    }

    /// Whether nothing about `types` needs narrowing (all of them are public).
    fn all_public(types: &[String]) -> bool {
        !types.is_empty() && types.iter().all(|t| is_public(t))
    }

    /// Appends ` AND (...)`: the resource at `rid`/`kind` is within reach. `types` are the types
    /// the query can return (empty: any). With `drive`, the compartment lookup is written as
    /// `rid IN (...)` so that it can produce the candidates; otherwise it is probed per row.
    pub fn push_condition(&self, sql: &mut Sql, rid: &str, kind: &str, types: &[String], drive: bool) {
        if Reach::all_public(types) {
            return;
        }
        let any_public = types.is_empty() || types.iter().any(|t| is_public(t));
        sql.push(" AND (");
        if any_public {
            sql.push(&format!("{kind} IN ("));
            for (i, t) in PUBLIC_TYPES.iter().enumerate() {
                sql.push(if i > 0 { ", " } else { "" }).bind(Bind::Text(t.to_string()));
            }
            sql.push(") OR ");
        }
        let groups = self.groups(types);
        if groups.is_empty() {
            sql.push("1 = 0)");
            return;
        }
        if drive {
            sql.push(&format!("{rid} IN (SELECT v.rid FROM compartment v WHERE "));
        } else {
            sql.push(&format!("EXISTS (SELECT 1 FROM compartment v WHERE v.rid = {rid} AND "));
        }
        sql.push("(");
        for (i, (comp_type, ids, kinds)) in groups.iter().enumerate() {
            sql.push(if i > 0 { " OR " } else { "" });
            push_compartment_rows(sql, "v", comp_type, ids, kinds.as_deref());
        }
        sql.push(")))");
    }

    /// The compartments grouped by (type, type restriction), so each group is one `IN` list;
    /// restrictions are intersected with the query's types and empty groups dropped.
    #[allow(clippy::type_complexity)]
    fn groups(&self, types: &[String]) -> Vec<(String, Vec<String>, Option<Vec<String>>)> {
        let mut groups: Vec<(String, Vec<String>, Option<Vec<String>>)> = Vec::new();
        for v in &self.visible {
            let kinds = match &v.types {
                Some(k) if !types.is_empty() => {
                    let kept: Vec<String> = k.iter().filter(|t| types.contains(t)).cloned().collect();
                    if kept.is_empty() {
                        continue;
                    }
                    Some(kept)
                }
                Some(k) => Some(k.clone()),
                // Unrestricted, the lookup still names the query's types: the lookup index leads
                // with (comp_type, comp_id, res_type).
                None if !types.is_empty() => Some(types.to_vec()),
                None => None,
            };
            match groups.iter_mut().find(|(t, _, k)| *t == v.comp_type && *k == kinds) {
                Some((_, ids, _)) if !ids.contains(&v.comp_id) => ids.push(v.comp_id.clone()),
                Some(_) => {}
                None => groups.push((v.comp_type.clone(), vec![v.comp_id.clone()], kinds)),
            }
        }
        groups
    }
}

/// The resource type whose compartment rows are indexed apart (migration 0018).
const AUDIT_TYPE: &str = "AuditEvent";

/// `(...)`: the rows of compartment `comp_type` of `ids` (any id when empty) held by resources of
/// `types` (`None`: any type), over the `compartment` alias `alias`.
///
/// A patient's compartment also holds every AuditEvent about them (each read of their record
/// adds some), which soon outnumber the record itself; so the audit trail's rows are indexed
/// apart (`compartment_audit`) from the record's (`compartment_lookup`, whose entries are only
/// the record's), and each arm here names its index's condition as written in the index, which
/// is how both SQLite and PostgreSQL know that a partial index covers the rows asked for. A
/// lookup of the record's types never reads through the audit trail, whatever the statistics
/// say about the patient.
pub fn push_compartment_rows(sql: &mut Sql, alias: &str, comp_type: &str, ids: &[String], types: Option<&[String]>) {
    let record: Option<Vec<String>> = types.map(|t| t.iter().filter(|t| *t != AUDIT_TYPE).cloned().collect());
    let wants_record = record.as_ref().is_none_or(|r| !r.is_empty());
    let wants_audit = types.is_none_or(|t| t.iter().any(|t| t == AUDIT_TYPE));
    let compartment = |sql: &mut Sql| {
        sql.push(&format!("({alias}.comp_type = ")).bind(Bind::Text(comp_type.to_string()));
        if !ids.is_empty() {
            in_list(sql, &format!("{alias}.comp_id"), ids);
        }
    };
    sql.push("(");
    if wants_record {
        compartment(sql);
        if let Some(record) = &record {
            in_list(sql, &format!("{alias}.res_type"), record);
        }
        sql.push(&format!(" AND {alias}.res_type <> '{AUDIT_TYPE}')"));
    }
    if wants_audit {
        sql.push(if wants_record { " OR " } else { "" });
        compartment(sql);
        sql.push(&format!(" AND {alias}.res_type = '{AUDIT_TYPE}')"));
    }
    if !wants_record && !wants_audit {
        sql.push("1 = 0");
    }
    sql.push(")");
}

fn in_list(sql: &mut Sql, column: &str, values: &[String]) {
    if let [one] = values {
        sql.push(&format!(" AND {column} = ")).bind(Bind::Text(one.clone()));
        return;
    }
    sql.push(&format!(" AND {column} IN ("));
    for (i, v) in values.iter().enumerate() {
        sql.push(if i > 0 { ", " } else { "" }).bind(Bind::Text(v.clone()));
    }
    sql.push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(id: &str, types: Option<&[&str]>) -> Visible {
        Visible {
            comp_type: "Patient".into(),
            comp_id: id.into(),
            types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
            write: false,
        }
    }

    #[test]
    fn admits_by_compartment_type_and_public_types() {
        let reach = Reach { visible: vec![patient("a", None), patient("b", Some(&["MedicationRequest"]))] };
        let in_a = [("Patient".to_string(), "a".to_string())];
        let in_b = [("Patient".to_string(), "b".to_string())];
        assert!(reach.admits("Observation", &in_a, false));
        assert!(!reach.admits("Observation", &in_b, false));
        assert!(reach.admits("MedicationRequest", &in_b, false));
        assert!(!reach.admits("Observation", &in_a, true), "no write permission");
        assert!(reach.admits("Organization", &[], false));
        assert!(!reach.admits("Task", &[], false), "non-public types are hidden without a compartment");
    }

    #[test]
    fn groups_merge_ids_and_drop_restrictions_outside_the_query() {
        let reach =
            Reach { visible: vec![patient("a", None), patient("b", None), patient("c", Some(&["MedicationRequest"]))] };
        let groups = reach.groups(&["Observation".to_string()]);
        let observation = Some(vec!["Observation".to_string()]);
        assert_eq!(groups, vec![("Patient".to_string(), vec!["a".to_string(), "b".to_string()], observation)]);
        assert_eq!(reach.groups(&[]).first().map(|g| g.2.clone()), Some(None), "any type: no type named");
        let mut sql = Sql::new("");
        Reach::default().push_condition(&mut sql, "r.rid", "r.res_type", &["Observation".to_string()], false);
        assert!(sql.text.contains("1 = 0"), "nothing visible means nothing matches: {}", sql.text);
    }
}
