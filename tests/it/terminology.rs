//! Terminology: `$lookup`, `$expand`, `$validate-code`, `$subsumes`, `$translate` over the built-in
//! R4 and Polish content and over definitions stored on the server; the `:in`, `:not-in`, `:above`
//! and `:below` token modifiers; errors; the built-in set readable over REST.

use crate::common;

use std::collections::BTreeSet;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    lookup_v3_and_polish_codes,
    expand_base_value_set_with_filter_and_paging,
    expand_composed_value_set_with_is_a_and_exclude,
    validate_code_in_value_set_and_code_system,
    subsumes_in_a_hierarchy,
    translate_with_r4_concept_map,
    search_modifiers_in_not_in_above_below,
    stored_code_system_and_value_set_are_used,
    bad_input_is_a_4xx_outcome,
    capability_statement_lists_terminology_operations,
);

on_both_backends_with_terminology!(builtin_terminology_is_readable_and_searchable);

const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const GENDER_VS: &str = "http://hl7.org/fhir/ValueSet/administrative-gender";
const GENDER: &str = "http://hl7.org/fhir/administrative-gender";

/// The named output parameter's value (`value[x]` as JSON).
fn param<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    let p = parameters["parameter"].as_array()?.iter().find(|p| p["name"] == name)?;
    p.as_object()?.iter().find(|(k, _)| k.starts_with("value")).map(|(_, v)| v)
}

/// `property` parts of a `$lookup` result with the given code: their values.
fn properties(parameters: &Value, code: &str) -> Vec<String> {
    parameters["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "property" && p["part"][0]["valueCode"] == code)
        .filter_map(|p| p["part"][1].as_object()?.iter().find(|(k, _)| k.starts_with("value")).map(|(_, v)| v.clone()))
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .collect()
}

fn codes(expansion: &Value) -> Vec<String> {
    expansion["expansion"]["contains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["code"].as_str().map(str::to_string))
        .collect()
}

async fn get_ok(s: &TestServer, path: &str) -> Value {
    let r = s.get(path).send().await.expect("request");
    assert_eq!(r.status(), 200, "GET {path}");
    json(r).await
}

async fn post_ok(s: &TestServer, path: &str, body: &Value) -> Value {
    let r = s.send(Method::POST, path, body).send().await.expect("request");
    assert_eq!(r.status(), 200, "POST {path}");
    json(r).await
}

fn parameters(list: Value) -> Value {
    json!({"resourceType": "Parameters", "parameter": list})
}

async fn lookup_v3_and_polish_codes(s: &TestServer) {
    let amb = get_ok(s, "CodeSystem/$lookup?system=http://terminology.hl7.org/CodeSystem/v3-ActCode&code=AMB").await;
    assert_eq!(param(&amb, "display"), Some(&json!("ambulatory")));
    assert_eq!(param(&amb, "name"), Some(&json!("v3.ActCode")));
    assert_eq!(properties(&amb, "parent"), vec!["_ActEncounterCode".to_string()]);

    let nfz = get_ok(s, "CodeSystem/$lookup?system=urn:oid:2.16.840.1.113883.3.4424.3.1&code=07").await;
    assert_eq!(param(&nfz, "display"), Some(&json!("Mazowiecki Oddział Wojewódzki NFZ")));

    // POST with a coding; the ICD-10 chapter lists its categories as children.
    let body = parameters(json!([{"name": "coding", "valueCoding": {"system": ICD10, "code": "IX"}}]));
    let chapter = post_ok(s, "CodeSystem/$lookup", &body).await;
    let children: BTreeSet<String> = properties(&chapter, "child").into_iter().collect();
    assert!(children.contains("I10") && children.contains("I21"), "{children:?}");
    assert!(properties(&chapter, "parent").is_empty());

    let profession = get_ok(
        s,
        "CodeSystem/$lookup?system=http://hl7.org.pl/fhir/CodeSystem/pl-medicalProfession-CS&code=LEKD&property=parent",
    )
    .await;
    assert_eq!(param(&profession, "display"), Some(&json!("Lekarz dentysta")));
}

async fn expand_base_value_set_with_filter_and_paging(s: &TestServer) {
    let all = get_ok(s, &format!("ValueSet/$expand?url={GENDER_VS}")).await;
    assert_eq!(all["resourceType"], "ValueSet");
    assert_eq!(all["expansion"]["total"], 4);
    assert_eq!(codes(&all), ["male", "female", "other", "unknown"]);

    let page = get_ok(s, &format!("ValueSet/$expand?url={GENDER_VS}&count=2&offset=1")).await;
    assert_eq!(page["expansion"]["total"], 4);
    assert_eq!(page["expansion"]["offset"], 1);
    assert_eq!(codes(&page), ["female", "other"]);

    let filtered = get_ok(s, &format!("ValueSet/$expand?url={GENDER_VS}&filter=FEM")).await;
    assert_eq!(filtered["expansion"]["total"], 1);
    assert_eq!(codes(&filtered), ["female"]);

    // Polish designations come with includeDesignations.
    let pl = post_ok(
        s,
        "ValueSet/$expand",
        &parameters(json!([
            {"name": "url", "valueUri": "http://hl7.org.pl/fhir/ValueSet/pl-administrativeGender-VS"},
            {"name": "includeDesignations", "valueBoolean": true},
        ])),
    )
    .await;
    let female = pl["expansion"]["contains"].as_array().unwrap().iter().find(|c| c["code"] == "female").cloned();
    assert_eq!(female.expect("female")["designation"][0]["value"], "Kobieta");
}

async fn expand_composed_value_set_with_is_a_and_exclude(s: &TestServer) {
    let value_set = json!({
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {
            "include": [{"system": ICD10, "filter": [{"property": "concept", "op": "is-a", "value": "IX"}]}],
            "exclude": [
                {"system": ICD10, "concept": [{"code": "I10"}]},
                {"system": ICD10, "filter": [{"property": "concept", "op": "is-a", "value": "I25"}]},
            ],
        },
    });
    let expanded =
        post_ok(s, "ValueSet/$expand", &parameters(json!([{"name": "valueSet", "resource": value_set}]))).await;
    let got: BTreeSet<String> = codes(&expanded).into_iter().collect();
    let expected: BTreeSet<String> = ["IX", "I21", "I21.9", "I48", "I50", "I50.0", "I63", "I63.9", "I83", "I83.9"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(expanded["expansion"]["total"], expected.len());

    // descendent-of leaves the anchor out; regex works on codes.
    let value_set = json!({
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {"include": [{"system": ICD10, "filter": [
            {"property": "concept", "op": "descendent-of", "value": "IX"},
            {"property": "code", "op": "regex", "value": "I2.*"},
        ]}]},
    });
    let expanded =
        post_ok(s, "ValueSet/$expand", &parameters(json!([{"name": "valueSet", "resource": value_set}]))).await;
    let got: BTreeSet<String> = codes(&expanded).into_iter().collect();
    assert_eq!(got, ["I21", "I21.9", "I25", "I25.1"].iter().map(|c| c.to_string()).collect());
}

async fn validate_code_in_value_set_and_code_system(s: &TestServer) {
    let ok = get_ok(s, &format!("ValueSet/$validate-code?url={GENDER_VS}&system={GENDER}&code=male")).await;
    assert_eq!(param(&ok, "result"), Some(&json!(true)));
    assert_eq!(param(&ok, "display"), Some(&json!("Male")));

    let missing = get_ok(s, &format!("ValueSet/$validate-code?url={GENDER_VS}&system={GENDER}&code=mail")).await;
    assert_eq!(param(&missing, "result"), Some(&json!(false)));
    assert!(
        param(&missing, "message")
            .and_then(Value::as_str)
            .unwrap()
            .contains("'http://hl7.org/fhir/administrative-gender|mail'")
    );

    let wrong_display =
        get_ok(s, &format!("ValueSet/$validate-code?url={GENDER_VS}&system={GENDER}&code=male&display=Man")).await;
    assert_eq!(param(&wrong_display, "result"), Some(&json!(false)));
    let message = param(&wrong_display, "message").and_then(Value::as_str).unwrap();
    assert!(message.contains("'Man'") && message.contains("'Male'"), "{message}");

    // A CodeableConcept is valid when one of its codings is.
    let body = parameters(json!([
        {"name": "url", "valueUri": GENDER_VS},
        {"name": "codeableConcept", "valueCodeableConcept": {"coding": [
            {"system": "http://example.org/other", "code": "x"},
            {"system": GENDER, "code": "female"},
        ]}},
    ]));
    let cc = post_ok(s, "ValueSet/$validate-code", &body).await;
    assert_eq!(param(&cc, "result"), Some(&json!(true)));

    let cs = "http://hl7.org.pl/fhir/CodeSystem/pl-practitionerSpecialty-CS";
    let good = get_ok(s, &format!("CodeSystem/$validate-code?url={cs}&code=0748")).await;
    assert_eq!(param(&good, "result"), Some(&json!(true)));
    assert_eq!(param(&good, "display"), Some(&json!("kardiologia")));
    let bad = get_ok(s, &format!("CodeSystem/$validate-code?url={cs}&code=9999")).await;
    assert_eq!(param(&bad, "result"), Some(&json!(false)));
    assert!(param(&bad, "message").and_then(Value::as_str).unwrap().contains("9999"));
}

async fn subsumes_in_a_hierarchy(s: &TestServer) {
    let outcome_of = |a: &str, b: &str| format!("CodeSystem/$subsumes?system={ICD10}&codeA={a}&codeB={b}");
    for (a, b, expected) in [
        ("IX", "I21.9", "subsumes"),
        ("I21.9", "I21", "subsumed-by"),
        ("I10", "I10", "equivalent"),
        ("I10", "J45.9", "not-subsumed"),
    ] {
        let result = get_ok(s, &outcome_of(a, b)).await;
        assert_eq!(param(&result, "outcome"), Some(&json!(expected)), "{a} vs {b}");
    }
    let body = parameters(json!([
        {"name": "codingA", "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "_ActEncounterCode"}},
        {"name": "codingB", "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}},
    ]));
    let v3 = post_ok(s, "CodeSystem/$subsumes", &body).await;
    assert_eq!(param(&v3, "outcome"), Some(&json!("subsumes")));
    outcome(s.get(&outcome_of("I10", "Z99.99")).send().await.unwrap(), 404).await;
}

async fn translate_with_r4_concept_map(s: &TestServer) {
    let map = "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v3";
    let male = get_ok(s, &format!("ConceptMap/$translate?url={map}&system={GENDER}&code=male")).await;
    assert_eq!(param(&male, "result"), Some(&json!(true)));
    let first = &male["parameter"].as_array().unwrap().iter().find(|p| p["name"] == "match").unwrap()["part"];
    assert_eq!(first[0]["valueCode"], "equal");
    assert_eq!(first[1]["valueCoding"]["code"], "M");
    assert_eq!(first[1]["valueCoding"]["system"], "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender");

    // Without a map: every map from the source value set; reverse maps back.
    let body = parameters(json!([
        {"name": "coding", "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender", "code": "F"}},
        {"name": "reverse", "valueBoolean": true},
        {"name": "targetsystem", "valueUri": GENDER},
    ]));
    let back = post_ok(s, "ConceptMap/$translate", &body).await;
    assert_eq!(param(&back, "result"), Some(&json!(true)));
    let matches: Vec<&Value> = back["parameter"].as_array().unwrap().iter().filter(|p| p["name"] == "match").collect();
    assert_eq!(matches.len(), 1, "{back}");
    assert_eq!(matches[0]["part"][1]["valueCoding"]["code"], "female");

    let none = get_ok(s, &format!("ConceptMap/$translate?url={map}&system={GENDER}&code=nonsense")).await;
    assert_eq!(param(&none, "result"), Some(&json!(false)));
    assert!(param(&none, "message").is_some());
}

async fn observation(s: &TestServer, system: &str, code: &str) -> String {
    let created = s
        .create(&json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": system, "code": code}]},
        }))
        .await;
    created["id"].as_str().unwrap().to_string()
}

async fn ids(s: &TestServer, path: &str) -> BTreeSet<String> {
    let bundle = get_ok(s, path).await;
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["resource"]["id"].as_str().map(str::to_string))
        .collect()
}

async fn search_modifiers_in_not_in_above_below(s: &TestServer) {
    let loinc = "http://loinc.org";
    let hb = observation(s, loinc, "718-7").await;
    let hba1c = observation(s, loinc, "4548-4").await;
    let glucose = observation(s, loinc, "2345-7").await;
    let infarct = observation(s, ICD10, "I21.9").await;
    let hypertension = observation(s, ICD10, "I10").await;
    let asthma = observation(s, ICD10, "J45.9").await;
    let chapter = observation(s, ICD10, "IX").await;
    // A value set stored on the server, found by its canonical URL.
    s.create(&json!({
        "resourceType": "ValueSet",
        "url": "http://example.org/fhir/ValueSet/blood-tests",
        "status": "active",
        "compose": {"include": [{"system": loinc, "concept": [{"code": "718-7"}, {"code": "4548-4"}]}]},
    }))
    .await;
    let set = |v: &[&String]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();

    let vs = "http://example.org/fhir/ValueSet/blood-tests";
    assert_eq!(ids(s, &format!("Observation?code:in={vs}")).await, set(&[&hb, &hba1c]));
    assert_eq!(
        ids(s, &format!("Observation?code:not-in={vs}")).await,
        set(&[&glucose, &infarct, &hypertension, &asthma, &chapter])
    );
    assert_eq!(ids(s, &format!("Observation?code:below={ICD10}|IX")).await, set(&[&infarct, &hypertension, &chapter]));
    assert_eq!(ids(s, &format!("Observation?code:below={ICD10}|I21")).await, set(&[&infarct]));
    assert_eq!(ids(s, &format!("Observation?code:above={ICD10}|I21.9")).await, set(&[&infarct, &chapter]));
    // A built-in value set, combined with another filter.
    let in_chapter =
        format!("Observation?code:in={}&status=final", "https://ikp.example.org/fhir/ValueSet/icd-10-pl-vs");
    assert_eq!(ids(s, &in_chapter).await, set(&[&infarct, &hypertension, &asthma, &chapter]));
    let total = get_ok(s, &format!("Observation?code:in={vs}&_summary=count")).await;
    assert_eq!(total["total"], 2);
}

async fn stored_code_system_and_value_set_are_used(s: &TestServer) {
    let system = "http://example.org/fhir/CodeSystem/clinic-kinds";
    s.create(&json!({
        "resourceType": "CodeSystem",
        "url": system,
        "status": "active",
        "content": "complete",
        "concept": [
            {"code": "outpatient", "display": "Poradnia", "concept": [
                {"code": "cardiology", "display": "Poradnia kardiologiczna"},
                {"code": "diabetes", "display": "Poradnia diabetologiczna"},
            ]},
            {"code": "ward", "display": "Oddział"},
        ],
    }))
    .await;
    s.create(&json!({
        "resourceType": "ValueSet",
        "url": "http://example.org/fhir/ValueSet/outpatient-clinics",
        "status": "active",
        "compose": {"include": [{"system": system, "filter": [{"property": "concept", "op": "descendent-of", "value": "outpatient"}]}]},
    }))
    .await;
    let lookup = get_ok(s, &format!("CodeSystem/$lookup?system={system}&code=cardiology")).await;
    assert_eq!(param(&lookup, "display"), Some(&json!("Poradnia kardiologiczna")));
    assert_eq!(properties(&lookup, "parent"), vec!["outpatient".to_string()]);
    let expanded = get_ok(s, "ValueSet/$expand?url=http://example.org/fhir/ValueSet/outpatient-clinics").await;
    assert_eq!(codes(&expanded), ["cardiology", "diabetes"]);
    let cardiology = observation(s, system, "cardiology").await;
    observation(s, system, "ward").await;
    assert_eq!(
        ids(s, "Observation?code:in=http://example.org/fhir/ValueSet/outpatient-clinics").await,
        [cardiology].into_iter().collect()
    );
}

async fn bad_input_is_a_4xx_outcome(s: &TestServer) {
    let message = |issues: &[Value]| issues[0]["diagnostics"].as_str().unwrap_or_default().to_string();
    let issues = outcome(s.get("CodeSystem/$lookup?system=http://loinc.org").send().await.unwrap(), 400).await;
    assert!(message(&issues).contains("code"), "{issues:?}");
    let issues =
        outcome(s.get("CodeSystem/$lookup?system=http://example.org/unknown&code=x").send().await.unwrap(), 404).await;
    assert!(message(&issues).contains("http://example.org/unknown"));
    let issues = outcome(s.get("ValueSet/$expand?url=http://example.org/no-such-vs").send().await.unwrap(), 404).await;
    assert!(message(&issues).contains("no-such-vs"));
    outcome(s.get("ValueSet/$expand").send().await.unwrap(), 400).await;
    outcome(s.get(&format!("ValueSet/$expand?url={GENDER_VS}&count=many")).send().await.unwrap(), 400).await;
    let not_parameters = json!({"resourceType": "Patient"});
    outcome(s.send(Method::POST, "ValueSet/$expand", &not_parameters).send().await.unwrap(), 400).await;
    outcome(s.get(&format!("CodeSystem/$subsumes?system={ICD10}&codeA=I10")).send().await.unwrap(), 400).await;
    let unsupported = parameters(json!([{"name": "valueSet", "resource": {
        "resourceType": "ValueSet", "status": "active",
        "compose": {"include": [{"system": ICD10, "filter": [{"property": "concept", "op": "generalizes-weirdly", "value": "I10"}]}]},
    }}]));
    let issues = outcome(s.send(Method::POST, "ValueSet/$expand", &unsupported).send().await.unwrap(), 400).await;
    assert!(message(&issues).contains("generalizes-weirdly"));
    let issues = outcome(s.get("Observation?code:in=http://example.org/no-such-vs").send().await.unwrap(), 400).await;
    assert!(message(&issues).contains("no-such-vs"));
    outcome(s.get("Observation?code:below=I10").send().await.unwrap(), 400).await;
    outcome(s.get(&format!("Observation?code:below={ICD10}|NOPE")).send().await.unwrap(), 400).await;
    outcome(s.get("ValueSet/unknown-id/$expand").send().await.unwrap(), 404).await;
    // Conditional writes refuse terminology modifiers rather than guess.
    let r = s
        .send(
            Method::POST,
            "Observation",
            &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}),
        )
        .header("if-none-exist", format!("code:in={GENDER_VS}"))
        .send()
        .await
        .unwrap();
    outcome(r, 400).await;
}

async fn capability_statement_lists_terminology_operations(s: &TestServer) {
    let cs = get_ok(s, "metadata").await;
    let resource =
        |t: &str| cs["rest"][0]["resource"].as_array().unwrap().iter().find(|r| r["type"] == t).unwrap().clone();
    let names = |t: &str| -> BTreeSet<String> {
        resource(t)["operation"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect()
    };
    assert!(names("ValueSet").is_superset(&["expand", "validate-code"].iter().map(|s| s.to_string()).collect()));
    assert!(
        names("CodeSystem")
            .is_superset(&["lookup", "validate-code", "subsumes"].iter().map(|s| s.to_string()).collect())
    );
    assert!(names("ConceptMap").contains("translate"));
    assert!(!names("Patient").contains("expand"));
}

async fn builtin_terminology_is_readable_and_searchable(s: &TestServer) {
    let found = get_ok(s, &format!("ValueSet?url={GENDER_VS}")).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["entry"][0]["resource"]["id"], "administrative-gender");
    let profession = get_ok(s, "CodeSystem/pl-medicalProfession-CS").await;
    assert_eq!(profession["url"], "http://hl7.org.pl/fhir/CodeSystem/pl-medicalProfession-CS");
    let pesel = get_ok(s, "NamingSystem?value=urn:oid:2.16.840.1.113883.3.4424.1.1.616").await;
    assert_eq!(pesel["total"], 1);
    assert_eq!(pesel["entry"][0]["resource"]["id"], "pesel");
    let map = get_ok(s, "ConceptMap?url=http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v3").await;
    assert_eq!(map["total"], 1);
    // The OperationDefinitions of the server's own operations are published from the registry.
    let dispense = get_ok(s, "OperationDefinition/MedicationRequest-dispense").await;
    assert_eq!(dispense["url"], "https://ikp.example.org/fhir/OperationDefinition/MedicationRequest-dispense");
    assert_eq!((dispense["instance"].as_bool(), dispense["affectsState"].as_bool()), (Some(true), Some(true)));
    let by_url = get_ok(s, "OperationDefinition?url=https://ikp.example.org/fhir/OperationDefinition/reindex").await;
    assert_eq!(by_url["total"], 1);
    // Instance-level operations work on the stored built-ins.
    let expanded = get_ok(s, "ValueSet/administrative-gender/$expand").await;
    assert_eq!(expanded["expansion"]["total"], 4);
    let body = parameters(json!([{"name": "code", "valueCode": "LEK"}]));
    let lookup = post_ok(s, "CodeSystem/pl-medicalProfession-CS/$lookup", &body).await;
    assert_eq!(param(&lookup, "display"), Some(&json!("Lekarz")));
    // Loading again changes nothing: no new versions.
    let history = get_ok(s, "ValueSet/administrative-gender/_history").await;
    assert_eq!(history["entry"].as_array().map(Vec::len), Some(1), "{history}");
}
