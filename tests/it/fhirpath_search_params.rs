//! Every R4 search-parameter expression must parse, and evaluate without error on the
//! official examples of the resource types it applies to.

use ikp::fhirpath::Expression;
use ikp::fhirpath::{Environment, to_json};
use serde_json::Value as Json;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/r4-examples");

#[test]
fn search_parameter_expressions() {
    let model = ikp::model::r4().expect("model");
    let params = load_params();
    assert_eq!(params.len(), 1372, "expressions parsed");
    let examples = load_examples();
    assert_eq!(examples.len(), 701);
    let mut evaluations = 0usize;
    let mut non_empty = 0usize;
    let mut errors = Vec::new();
    for (file, res) in &examples {
        let rt = res["resourceType"].as_str().unwrap_or("");
        let env = Environment::new().with_model(model);
        for p in params.iter().filter(|p| applies(p, rt)) {
            evaluations += 1;
            match p.expr.evaluate(&env, res) {
                Ok(r) => {
                    if !r.is_empty() {
                        non_empty += 1;
                    }
                    // Specialising to the resource type must not change the result.
                    let spec = p.expr.for_resource_type(rt, Some(model));
                    let r2 = spec.evaluate(&env, res).expect("specialised evaluation");
                    assert_eq!(to_json(&r), to_json(&r2), "{file} {}: {}", p.code, p.expr.source());
                }
                Err(e) => errors.push(format!("{file} {} `{}`: {e}", p.code, p.expr.source())),
            }
        }
    }
    println!("{evaluations} evaluations, {non_empty} non-empty, {} errors", errors.len());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn reference_targets_use_stubs() {
    let model = ikp::model::r4().expect("model");
    let params = load_params();
    let obs: Json =
        serde_json::from_str(&std::fs::read_to_string(format!("{EXAMPLES}/Observation-example.json")).expect("read"))
            .expect("json");
    let env = Environment::new().with_model(model);
    let patient = params
        .iter()
        .find(|p| p.code == "patient" && p.bases.iter().any(|b| b == "Observation"))
        .expect("patient param");
    let r = patient.expr.evaluate(&env, &obs).expect("eval");
    assert_eq!(to_json(&r), serde_json::json!([{"reference": "Patient/example"}]));
    let subject = params
        .iter()
        .find(|p| p.code == "subject" && p.bases.iter().any(|b| b == "Observation"))
        .expect("subject param");
    assert_eq!(subject.expr.evaluate(&env, &obs).expect("eval").len(), 1);
}

struct Param {
    code: String,
    bases: Vec<String>,
    expr: Expression,
}

fn load_params() -> Vec<Param> {
    let bundle: Json = ikp::conformance::Definitions::SearchParameters.parse().expect("search parameters");
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for e in bundle["entry"].as_array().expect("entries") {
        let r = &e["resource"];
        let Some(src) = r.get("expression").and_then(Json::as_str) else {
            continue;
        };
        match Expression::parse(src) {
            Ok(expr) => out.push(Param {
                code: r["code"].as_str().unwrap_or("").to_string(),
                bases: r["base"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Json::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
                expr,
            }),
            Err(err) => failures.push(format!("{}: {err}", r["id"])),
        }
    }
    assert!(failures.is_empty(), "unparsable search expressions: {failures:#?}");
    out
}

fn load_examples() -> Vec<(String, Json)> {
    let mut files: Vec<_> = std::fs::read_dir(EXAMPLES)
        .expect("examples dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read example");
            (
                p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string(),
                serde_json::from_str(&text).expect("example json"),
            )
        })
        .collect()
}

fn applies(p: &Param, rt: &str) -> bool {
    p.bases.iter().any(|b| {
        b == rt || b == "Resource" || (b == "DomainResource" && !matches!(rt, "Bundle" | "Binary" | "Parameters"))
    })
}
