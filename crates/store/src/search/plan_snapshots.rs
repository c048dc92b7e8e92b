//! The SQL the planner writes for representative searches, on both dialects, held as snapshots
//! (`src/search/snapshots/`): a change to a plan shows up as a readable diff in review. After an
//! intended change, `INSTA_UPDATE=always cargo test -p ikp-store plan_snapshots` rewrites them.

use std::sync::{Arc, OnceLock};

use super::explain::page_sql;
use super::limits::SearchLimits;
use super::parse::Parser;
use super::plan::{Dialect, Planner};
use super::reach::{Reach, Visible};
use super::registry::Registry;
use crate::sql::Sql;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let model = ikp_model::model::r4().expect("the R4 definitions load");
        Registry::build(model, &[]).expect("the R4 search parameters load")
    })
}

fn query(search: &str) -> super::query::SearchQuery {
    let (resource_type, query) = search.split_once('?').unwrap_or((search, ""));
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let limits = SearchLimits::default();
    let parser = Parser { registry: registry(), base_url: "http://example.org/fhir", strict: true, limits: &limits };
    parser.parse(vec![resource_type.to_string()], &pairs).unwrap_or_else(|e| panic!("{search}: {e}"))
}

/// The searches whose plans are held: one per kind of parameter and feature the planner handles.
const SEARCHES: &[(&str, &str)] = &[
    ("by_id", "Patient?_id=example"),
    ("token", "Observation?code=http://loinc.org|8867-4"),
    ("token_any_system", "Observation?code=8867-4"),
    ("string", "Patient?name=kowal"),
    ("string_exact", "Patient?family:exact=Kowalska"),
    ("date_range", "Observation?date=ge2024-01-01&date=lt2025-01-01"),
    ("reference", "Observation?subject=Patient/example"),
    ("chain", "Observation?subject:Patient.name=kowal"),
    ("reverse_chain", "Patient?_has:Observation:patient:code=8867-4"),
    ("quantity", "Observation?value-quantity=gt5.4|http://unitsofmeasure.org|mg"),
    ("sort_and_count", "Observation?patient=example&_sort=-date&_count=10"),
    ("missing", "Patient?birthdate:missing=true"),
    ("composite", "Observation?code-value-quantity=http://loinc.org|8867-4$gt60"),
    // What a patient app asks for lab results: a test's trend, the reports, `$lastn`'s scan.
    ("results_trend", "Observation?patient=example&code=http://loinc.org|4548-4&date=ge2024-01-01&_sort=-date"),
    ("lab_reports", "DiagnosticReport?patient=example&category=LAB&_include=DiagnosticReport:result"),
    ("lastn_scan", "Observation?patient=example&category=laboratory&_sort=-date&_count=1000"),
];

fn render(dialect: Dialect) -> String {
    let mut out = String::new();
    for (name, search) in SEARCHES {
        out.push_str(&format!(
            "-- {name}: {search}\n{}\n\n",
            page_sql(dialect, registry().typed_parts(), &query(search))
        ));
    }
    out
}

#[test]
fn plans_on_sqlite() {
    insta::assert_snapshot!(render(Dialect::Sqlite));
}

#[test]
fn plans_on_postgres() {
    insta::assert_snapshot!(render(Dialect::Postgres));
}

/// A patient's confined search: the reach is part of the statement, not a filter afterwards.
#[test]
fn confined_plans() {
    let reach = Reach {
        visible: vec![
            Visible { comp_type: "Patient".into(), comp_id: "anna".into(), types: None, write: true },
            Visible {
                comp_type: "Patient".into(),
                comp_id: "child".into(),
                types: Some(vec!["Observation".into(), "Immunization".into()]),
                write: false,
            },
        ],
    };
    let mut out = String::new();
    for search in ["Observation?code=8867-4", "Patient?name=kowal", "Organization?name=szpital"] {
        let planner = Planner::new(Dialect::Postgres, registry().typed_parts()).within(Some(Arc::new(reach.clone())));
        let parsed = query(search);
        let (sql, _): (Sql, _) = planner.page(&parsed, parsed.count + 1);
        out.push_str(&format!("-- {search}\n{}\n\n", super::explain::inline(&sql)));
    }
    insta::assert_snapshot!(out);
}

/// Population-level searches: the page walked in its order (the type's keys, or a date index
/// latest or earliest first with the resources without a date after), the probe that chooses
/// walking, and a total counted up to its bound.
#[test]
fn walk_plans() {
    use super::plan::Access;
    let mut out = String::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        out.push_str(&format!("==== {dialect:?}\n"));
        for search in [
            "Observation?date=ge2025-01-01&_count=10",
            "Observation?date=ge2025-01-01&_count=10&_sort=-date",
            "Observation?_sort=date&_count=10",
            "Encounter?_has:Condition:encounter:code=E11",
            "MedicationRequest?subject:Patient.name=kowal",
        ] {
            let parsed = query(search);
            let planner = Planner::new(dialect, registry().typed_parts());
            out.push_str(&format!("-- {search}\n"));
            for (sql, _) in planner.page_segments(&parsed, parsed.count + 1, Access::Walk) {
                out.push_str(&format!("page: {}\n", super::explain::inline(&sql)));
            }
            if let Some(probe) = planner.driver_probe(&parsed, 2000) {
                out.push_str(&format!("probe: {}\n", super::explain::inline(&probe)));
            }
            let count = planner.count_up_to(&parsed, 1001, Access::Drive);
            out.push_str(&format!("count: {}\n\n", super::explain::inline(&count)));
        }
    }
    insta::assert_snapshot!(out);
}
