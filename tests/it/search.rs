//! Search: every parameter type, modifier and prefix, chains, `_has`, includes, sorting, paging,
//! handling of unknown parameters, and conditional writes with search criteria.

use crate::common;

use common::{TestServer, json, outcome};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    strings_ignore_case_and_accents,
    tokens,
    dates_and_prefixes,
    numbers_and_quantities,
    references_chains_and_has,
    includes,
    sorting_and_paging,
    paging_is_stable_while_data_changes,
    unknown_and_malformed_parameters,
    bundle_shape_totals_and_summary,
    compartment_system_and_post_search,
    conditional_writes_with_any_criteria,
    custom_search_parameters_after_reindex,
    combined_parameters_search_their_parts,
);

const PESEL: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";

async fn put(s: &TestServer, resource: Value) {
    let path = format!("{}/{}", resource["resourceType"].as_str().unwrap(), resource["id"].as_str().unwrap());
    let r = s.send(Method::PUT, &path, &resource).send().await.unwrap();
    assert!(r.status().is_success(), "PUT {path}: {}", r.text().await.unwrap());
}

/// The ids of the `match` entries of a search, in order.
async fn ids(s: &TestServer, query: &str) -> Vec<String> {
    let r = s.get(query).send().await.unwrap();
    let status = r.status();
    let body = json(r).await;
    assert_eq!(status, 200, "{query}: {body}");
    matches(&body)
}

fn matches(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn set(items: &[&str]) -> Vec<String> {
    sorted(items.iter().map(|s| s.to_string()).collect())
}

async fn people(s: &TestServer) {
    put(s, json!({"resourceType": "Patient", "id": "lukasz", "active": true, "gender": "male", "birthDate": "1985-03-12",
        "name": [{"family": "Żółkiewski", "given": ["Łukasz"]}], "address": [{"city": "Kraków"}],
        "identifier": [{"system": PESEL, "value": "85031212350", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI"}], "text": "PESEL"}}],
        "telecom": [{"system": "phone", "value": "+48 600 100 200"}]})).await;
    put(
        s,
        json!({"resourceType": "Patient", "id": "anna", "active": false, "gender": "female", "birthDate": "1990",
        "name": [{"family": "Nowak", "given": ["Anna", "Maria"]}], "address": [{"city": "Warszawa"}],
        "identifier": [{"system": "http://hospital.example/mrn", "value": "A-1"}]}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Patient", "id": "jan", "gender": "male", "birthDate": "2010-07-01",
        "name": [{"family": "Kowalski", "given": ["Jan"]}], "generalPractitioner": [{"reference": "Practitioner/dr"}]}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Lekarz", "given": ["Ewa"]}],
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.6.2", "value": "1234567"}]}),
    )
    .await;
    put(s, json!({"resourceType": "Organization", "id": "clinic", "name": "Przychodnia Zdrowie"})).await;
}

async fn strings_ignore_case_and_accents(s: &TestServer) {
    people(s).await;
    assert_eq!(ids(s, "Patient?name=lukasz").await, set(&["lukasz"]), "Łukasz found by lukasz");
    assert_eq!(ids(s, "Patient?family=ZOLK").await, set(&["lukasz"]), "starts-with, case and accents");
    assert_eq!(ids(s, "Patient?given=mar").await, set(&["anna"]), "any given name");
    assert!(ids(s, "Patient?family=kiewski").await.is_empty(), "default is starts-with");
    assert_eq!(ids(s, "Patient?family:contains=kiewski").await, set(&["lukasz"]));
    assert_eq!(ids(s, "Patient?family:exact=Nowak").await, set(&["anna"]));
    assert!(ids(s, "Patient?family:exact=nowak").await.is_empty(), ":exact is case sensitive");
    assert_eq!(ids(s, "Patient?address-city=krakow").await, set(&["lukasz"]));
    assert_eq!(sorted(ids(s, "Patient?name=anna,jan").await), set(&["anna", "jan"]), "comma is OR");
    assert!(ids(s, "Patient?name=anna&name=jan").await.is_empty(), "repetition is AND");
    assert_eq!(ids(s, "Patient?family:contains=a%25").await, Vec::<String>::new(), "LIKE wildcards are literal");
}

async fn tokens(s: &TestServer) {
    people(s).await;
    assert_eq!(ids(s, &format!("Patient?identifier={PESEL}|85031212350")).await, set(&["lukasz"]));
    assert_eq!(ids(s, "Patient?identifier=85031212350").await, set(&["lukasz"]), "code without system");
    assert_eq!(ids(s, &format!("Patient?identifier={PESEL}|")).await, set(&["lukasz"]), "system only");
    assert!(ids(s, "Patient?identifier=|85031212350").await.is_empty(), "|code means no system");
    assert_eq!(ids(s, "Patient?gender=female").await, set(&["anna"]));
    assert_eq!(sorted(ids(s, "Patient?gender:not=female").await), set(&["jan", "lukasz"]));
    assert_eq!(ids(s, "Patient?active=true").await, set(&["lukasz"]));
    assert_eq!(sorted(ids(s, "Patient?active:missing=true").await), set(&["jan"]));
    assert_eq!(sorted(ids(s, "Patient?active:missing=false").await), set(&["anna", "lukasz"]));
    assert_eq!(ids(s, "Patient?identifier:text=pes").await, set(&["lukasz"]));
    assert_eq!(
        ids(s, "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NI|85031212350").await,
        set(&["lukasz"])
    );
    assert_eq!(ids(s, "Patient?telecom=phone|%2B48 600 100 200").await, set(&["lukasz"]));
    put(s, json!({"resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}], "text": "Hb"},
        "meta": {"tag": [{"system": "http://ikp.example/tag", "code": "lab"}], "profile": ["http://ikp.example/StructureDefinition/lab"]}})).await;
    assert_eq!(ids(s, "Observation?code=http://loinc.org|718-7").await, set(&["o1"]));
    assert_eq!(ids(s, "Observation?code:text=hemo").await, set(&["o1"]), "display text");
    assert_eq!(ids(s, "Observation?code:text=hb").await, set(&["o1"]), "concept text");
    assert_eq!(ids(s, "Observation?_tag=http://ikp.example/tag|lab").await, set(&["o1"]));
    assert_eq!(ids(s, "Observation?_profile=http://ikp.example/StructureDefinition/lab").await, set(&["o1"]));
    // Modifiers that need terminology are refused, not ignored.
    outcome(s.get("Observation?code:in=http://x/vs").send().await.unwrap(), 400).await;
}

async fn dates_and_prefixes(s: &TestServer) {
    people(s).await;
    put(
        s,
        json!({"resourceType": "Encounter", "id": "e-open", "status": "in-progress", "class": {"code": "IMP"},
        "period": {"start": "2024-03-01T10:00:00+01:00"}}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Encounter", "id": "e-closed", "status": "finished", "class": {"code": "AMB"},
        "period": {"start": "2024-01-10T08:00:00Z", "end": "2024-01-10T09:00:00Z"}}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Encounter", "id": "e-until", "status": "finished", "class": {"code": "AMB"},
        "period": {"end": "2023-12-31"}}),
    )
    .await;

    assert_eq!(ids(s, "Patient?birthdate=1985").await, set(&["lukasz"]), "a year contains the day");
    assert_eq!(ids(s, "Patient?birthdate=1985-03-12").await, set(&["lukasz"]));
    assert!(ids(s, "Patient?birthdate=1990-05-01").await.is_empty(), "a day does not contain the year 1990");
    assert_eq!(ids(s, "Patient?birthdate=1990").await, set(&["anna"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=gt1989").await), set(&["anna", "jan"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=lt1990").await), set(&["lukasz"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=ge1990").await), set(&["anna", "jan"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=le1990").await), set(&["anna", "lukasz"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=ne1990").await), set(&["jan", "lukasz"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=sa1990").await), set(&["jan"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=eb1990").await), set(&["lukasz"]));
    assert_eq!(sorted(ids(s, "Patient?birthdate=ap1985-03").await), set(&["lukasz"]));
    assert_eq!(ids(s, "Patient?birthdate=ge1985&birthdate=lt1986").await, set(&["lukasz"]), "AND of a range");

    // Time zones: 10:00+01:00 is 09:00Z.
    assert_eq!(
        ids(s, "Encounter?date=ge2024-03-01T09:00:00Z&date=lt2024-03-01T09:30:00Z&status=in-progress").await,
        set(&["e-open"])
    );
    // Open-ended periods extend to infinity.
    assert_eq!(sorted(ids(s, "Encounter?date=gt2030-01-01").await), set(&["e-open"]));
    assert_eq!(sorted(ids(s, "Encounter?date=lt2000-01-01").await), set(&["e-until"]));
    assert_eq!(ids(s, "Encounter?date=2024-01-10").await, set(&["e-closed"]), "the day contains the visit");
    assert!(ids(s, "Encounter?date=2024-01-10T08:30:00Z").await.is_empty(), "an instant does not contain an hour");
    assert_eq!(ids(s, "Encounter?date=sa2024-01-10T07:00:00Z&date=eb2024-01-10T10:00:00Z").await, set(&["e-closed"]));
    // _lastUpdated on every type.
    let future = ids(s, "Patient?_lastUpdated=gt2100-01-01").await;
    assert!(future.is_empty());
    assert_eq!(ids(s, "Patient?_lastUpdated=gt2000-01-01").await.len(), 3);
    outcome(s.get("Patient?birthdate=1985-13").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?birthdate=yesterday").send().await.unwrap(), 400).await;
}

async fn numbers_and_quantities(s: &TestServer) {
    let obs = |id: &str, value: Value| json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}, "valueQuantity": value});
    put(s, obs("g1", json!({"value": 100, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"})))
        .await;
    put(s, obs("g2", json!({"value": 1.5, "unit": "g/L", "system": "http://unitsofmeasure.org", "code": "g/L"}))).await;
    put(s, obs("g3", json!({"value": 99.4, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"})))
        .await;
    assert_eq!(ids(s, "Observation?value-quantity=100").await, set(&["g1"]), "100 means [99.5, 100.5)");
    assert_eq!(sorted(ids(s, "Observation?value-quantity=100.0").await), set(&["g1"]));
    assert_eq!(
        sorted(ids(s, "Observation?value-quantity=gt99.5").await),
        set(&["g1"]),
        "without a unit the values compare as written"
    );
    assert_eq!(sorted(ids(s, "Observation?value-quantity=lt100|http://unitsofmeasure.org|mg/dL").await), set(&["g3"]));
    assert_eq!(ids(s, "Observation?value-quantity=100|http://unitsofmeasure.org|mg/dL").await, set(&["g1"]));
    // UCUM: 1.5 g/L is 150 mg/dL.
    assert_eq!(ids(s, "Observation?value-quantity=150|http://unitsofmeasure.org|mg/dL").await, set(&["g2"]));
    assert_eq!(
        sorted(ids(s, "Observation?value-quantity=ge1|http://unitsofmeasure.org|g/L").await),
        set(&["g1", "g2"])
    );
    assert_eq!(
        ids(s, "Observation?code-value-quantity=http://loinc.org|2345-7$lt99.5|http://unitsofmeasure.org|mg/dL").await,
        set(&["g3"]),
        "composite"
    );
    assert!(ids(s, "Observation?code-value-quantity=http://loinc.org|9999-9$gt0").await.is_empty());
    // number parameters
    put(
        s,
        json!({"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/x"},
        "prediction": [{"probabilityDecimal": 0.25}]}),
    )
    .await;
    assert_eq!(ids(s, "RiskAssessment?probability=0.25").await, set(&["r1"]));
    assert_eq!(ids(s, "RiskAssessment?probability=gt0.2").await, set(&["r1"]));
    assert!(ids(s, "RiskAssessment?probability=lt0.2").await.is_empty());
    outcome(s.get("RiskAssessment?probability=abc").send().await.unwrap(), 400).await;
}

async fn references_chains_and_has(s: &TestServer) {
    people(s).await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "o-l", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "Patient/lukasz"}, "performer": [{"reference": "Practitioner/dr"}]}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "o-a", "status": "final", "code": {"coding": [{"code": "718-7"}]},
        "subject": {"reference": format!("{}/Patient/anna", s.base)}}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "o-ext", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "http://other.example/fhir/Patient/zz"}}),
    )
    .await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "o-id", "status": "final", "code": {"text": "x"},
        "subject": {"identifier": {"system": PESEL, "value": "90010112349"}}}),
    )
    .await;

    assert_eq!(ids(s, "Observation?subject=Patient/lukasz").await, set(&["o-l"]));
    assert_eq!(ids(s, "Observation?patient=lukasz").await, set(&["o-l"]), "bare id");
    assert_eq!(ids(s, "Observation?subject:Patient=anna").await, set(&["o-a"]), "absolute URL of this server is local");
    assert_eq!(ids(s, &format!("Observation?subject={}/Patient/anna", s.base)).await, set(&["o-a"]));
    assert_eq!(ids(s, "Observation?subject=http://other.example/fhir/Patient/zz").await, set(&["o-ext"]));
    assert_eq!(ids(s, &format!("Observation?subject:identifier={PESEL}|90010112349")).await, set(&["o-id"]));
    assert_eq!(ids(s, "Observation?subject:missing=true").await, Vec::<String>::new());
    // Chains, with and without a type, and two levels deep.
    assert_eq!(ids(s, "Observation?subject:Patient.name=lukasz").await, set(&["o-l"]));
    assert_eq!(ids(s, "Observation?patient.birthdate=1990").await, set(&["o-a"]));
    assert_eq!(ids(s, "Observation?performer:Practitioner.identifier=1234567").await, set(&["o-l"]));
    assert_eq!(ids(s, "Patient?general-practitioner.name=ewa").await, set(&["jan"]));
    put(s, json!({"resourceType": "Encounter", "id": "enc", "status": "finished", "class": {"code": "AMB"}, "subject": {"reference": "Patient/jan"}})).await;
    put(s, json!({"resourceType": "Observation", "id": "o-enc", "status": "final", "code": {"text": "x"}, "encounter": {"reference": "Encounter/enc"}})).await;
    assert_eq!(
        ids(s, "Observation?encounter.subject:Patient.general-practitioner:Practitioner.family=lekarz").await,
        set(&["o-enc"]),
        "three levels"
    );
    // Reverse chaining, nested.
    assert_eq!(ids(s, "Patient?_has:Observation:subject:code=718-7").await, set(&["anna"]));
    assert_eq!(sorted(ids(s, "Patient?_has:Observation:patient:status=final").await), set(&["anna", "lukasz"]));
    assert_eq!(
        ids(s, "Practitioner?_has:Patient:general-practitioner:_has:Encounter:subject:status=finished").await,
        set(&["dr"])
    );
    outcome(s.get("Observation?subject.nonsense=1").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?_has:Observation:code:status=final").send().await.unwrap(), 400).await;
}

async fn includes(s: &TestServer) {
    people(s).await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "Patient/jan"}, "performer": [{"reference": "Practitioner/dr"}]}),
    )
    .await;
    put(s, json!({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/jan"}})).await;
    let entries = |b: &Value| -> Vec<(String, String)> {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (e["search"]["mode"].as_str().unwrap().to_string(), e["resource"]["id"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let b = json(s.get("Observation?_id=o1&_include=Observation:subject").send().await.unwrap()).await;
    assert_eq!(entries(&b), vec![("match".into(), "o1".into()), ("include".into(), "jan".into())]);
    assert_eq!(b["total"], 1, "includes do not count");
    let b = json(s.get("Observation?_id=o1&_include=Observation:*").send().await.unwrap()).await;
    let mut inc: Vec<String> = entries(&b).into_iter().filter(|(m, _)| m == "include").map(|(_, id)| id).collect();
    inc.sort();
    assert_eq!(inc, vec!["dr", "jan"]);
    let b = json(s.get("Observation?_id=o1&_include=Observation:performer:Patient").send().await.unwrap()).await;
    assert_eq!(entries(&b).len(), 1, "target type restricts");
    let b = json(s.get("Patient?_id=jan&_revinclude=Observation:subject").send().await.unwrap()).await;
    let mut rev: Vec<String> = entries(&b).into_iter().filter(|(m, _)| m == "include").map(|(_, id)| id).collect();
    rev.sort();
    assert_eq!(rev, vec!["o1", "o2"]);
    // :iterate follows references of included resources.
    let b = json(
        s.get("Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:general-practitioner")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut inc: Vec<String> = entries(&b).into_iter().filter(|(m, _)| m == "include").map(|(_, id)| id).collect();
    inc.sort();
    assert_eq!(inc, vec!["dr", "jan"]);
    // Without :iterate the second hop does not happen.
    let b = json(
        s.get("Observation?_id=o1&_include=Observation:subject&_include=Patient:general-practitioner")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(entries(&b).len(), 2);
    outcome(s.get("Observation?_include=Observation:nothing").send().await.unwrap(), 400).await;
}

async fn sorting_and_paging(s: &TestServer) {
    for (i, (family, date)) in [
        ("Zieliński", Some("1970")),
        ("adamska", Some("1999-01-01")),
        ("Ćwik", None),
        ("Bąk", Some("1985-05-05")),
        ("Adamski", Some("1985-05-05")),
    ]
    .iter()
    .enumerate()
    {
        let mut p = json!({"resourceType": "Patient", "id": format!("p{i}"), "name": [{"family": family}]});
        if let Some(d) = date {
            p["birthDate"] = json!(d);
        }
        put(s, p).await;
    }
    assert_eq!(
        ids(s, "Patient?_sort=family").await,
        vec!["p1", "p4", "p3", "p2", "p0"],
        "accent- and case-insensitive order"
    );
    assert_eq!(ids(s, "Patient?_sort=-family").await, vec!["p0", "p2", "p3", "p4", "p1"]);
    assert_eq!(
        ids(s, "Patient?_sort=birthdate").await,
        vec!["p0", "p3", "p4", "p1", "p2"],
        "missing values last; ties by insertion"
    );
    assert_eq!(ids(s, "Patient?_sort=-birthdate,family").await, vec!["p1", "p4", "p3", "p0", "p2"]);
    assert_eq!(ids(s, "Patient?_sort=-_id").await, vec!["p4", "p3", "p2", "p1", "p0"]);
    // Paging through a sorted result gives every resource once, in order, both ways.
    let mut seen = Vec::new();
    let mut page = json(s.get("Patient?_sort=-birthdate,family&_count=2").send().await.unwrap()).await;
    let mut pages = vec![page.clone()];
    loop {
        seen.extend(matches(&page));
        let Some(next) = link(&page, "next") else { break };
        page = json(s.client.get(next).send().await.unwrap()).await;
        pages.push(page.clone());
    }
    assert_eq!(seen, vec!["p1", "p4", "p3", "p0", "p2"]);
    assert_eq!(pages.len(), 3);
    let previous = link(pages.last().unwrap(), "previous").unwrap();
    let back = json(s.client.get(previous).send().await.unwrap()).await;
    assert_eq!(matches(&back), vec!["p3", "p0"]);
    assert!(link(&pages[0], "previous").is_none());
    // Tampered or foreign cursors are refused.
    let next = link(&pages[0], "next").unwrap();
    outcome(s.client.get(next.replace("_sort=-birthdate", "_sort=birthdate")).send().await.unwrap(), 400).await;
    outcome(s.get("Patient?_cursor=abc.def").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?_sort=nonsense").send().await.unwrap(), 400).await;
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .map(str::to_string)
}

async fn paging_is_stable_while_data_changes(s: &TestServer) {
    for i in 0..6 {
        put(s, json!({"resourceType": "Patient", "id": format!("x{i}"), "name": [{"family": format!("F{i}")}]})).await;
    }
    for query in ["Patient?_count=2", "Patient?_count=2&_sort=family"] {
        let first = json(s.get(query).send().await.unwrap()).await;
        let mut seen = matches(&first);
        // Insert before and after the cursor position, and delete one not yet seen.
        put(s, json!({"resourceType": "Patient", "id": format!("new-{}", seen.len() + query.len()), "name": [{"family": "F9"}]})).await;
        put(s, json!({"resourceType": "Patient", "id": format!("old-{}", query.len()), "name": [{"family": "A0"}]}))
            .await;
        let mut page = first;
        while let Some(next) = link(&page, "next") {
            page = json(s.client.get(next).send().await.unwrap()).await;
            seen.extend(matches(&page));
        }
        let unique: std::collections::HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{query}: no duplicates across pages: {seen:?}");
        for i in 0..6 {
            assert!(seen.contains(&format!("x{i}")), "{query}: x{i} not skipped: {seen:?}");
        }
    }
}

async fn unknown_and_malformed_parameters(s: &TestServer) {
    people(s).await;
    let b = json(s.get("Patient?nonsense=1&family=nowak").send().await.unwrap()).await;
    assert_eq!(matches(&b), vec!["anna"], "lenient: the unknown parameter is ignored");
    let outcome_entry =
        b["entry"].as_array().unwrap().iter().find(|e| e["search"]["mode"] == "outcome").expect("outcome entry");
    assert!(outcome_entry["resource"]["issue"][0]["diagnostics"].as_str().unwrap().contains("nonsense"));
    let r = s.get("Patient?nonsense=1&family=nowak").header("prefer", "handling=strict").send().await.unwrap();
    outcome(r, 400).await;
    outcome(s.get("Patient?birthdate=abc").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?gender:nonsense=x").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?_count=x").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?_total=maybe").send().await.unwrap(), 400).await;
    outcome(s.get("Patient?name:missing=perhaps").send().await.unwrap(), 400).await;
    outcome(s.get("Unicorn?name=x").send().await.unwrap(), 404).await;
    // _content is not supported: reported, and refused when strict.
    let b = json(s.get("Patient?_content=x").send().await.unwrap()).await;
    assert!(b["entry"].as_array().unwrap().iter().any(|e| e["search"]["mode"] == "outcome"));
}

async fn bundle_shape_totals_and_summary(s: &TestServer) {
    people(s).await;
    let b = json(s.get("Patient?_count=2").send().await.unwrap()).await;
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 3);
    let e = &b["entry"][0];
    assert!(e["fullUrl"].as_str().unwrap().starts_with(&s.base));
    assert_eq!(e["search"]["mode"], "match");
    let model = ikp::model::r4().unwrap();
    assert!(ikp::validation::structure::validate(model, &b).is_empty(), "a valid R4 Bundle");
    let b = json(s.get("Patient?_count=2&_total=none").send().await.unwrap()).await;
    assert!(b.get("total").is_none());
    let b = json(s.get("Patient?_summary=count").send().await.unwrap()).await;
    assert_eq!(b["total"], 3);
    assert!(b.get("entry").is_none());
    let b = json(s.get("Patient?_id=anna&_elements=birthDate").send().await.unwrap()).await;
    let r = &b["entry"][0]["resource"];
    assert_eq!(r["birthDate"], "1990");
    assert!(r.get("name").is_none());
    let b = json(s.get("Patient?_id=anna&_summary=true").send().await.unwrap()).await;
    assert!(b["entry"][0]["resource"].get("name").is_some());
    let xml = s.get("Patient?_count=1&_format=xml").send().await.unwrap().text().await.unwrap();
    assert!(xml.contains("<Bundle xmlns=\"http://hl7.org/fhir\">") && xml.contains("<mode value=\"match\"/>"));
    let b = json(s.get("Patient?_count=0").send().await.unwrap()).await;
    assert_eq!(b["total"], 3);
    assert!(b.get("entry").is_none());
}

async fn compartment_system_and_post_search(s: &TestServer) {
    people(s).await;
    put(s, json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": [{"code": "718-7"}]}, "subject": {"reference": "Patient/jan"}})).await;
    put(s, json!({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"coding": [{"code": "1-1"}]}, "subject": {"reference": "Patient/jan"}})).await;
    put(s, json!({"resourceType": "Observation", "id": "o3", "status": "final", "code": {"coding": [{"code": "718-7"}]}, "subject": {"reference": "Patient/anna"}})).await;
    assert_eq!(sorted(ids(s, "Patient/jan/Observation").await), set(&["o1", "o2"]));
    assert_eq!(ids(s, "Patient/jan/Observation?code=718-7").await, set(&["o1"]));
    assert!(ids(s, "Patient/nobody/Observation").await.is_empty());
    outcome(s.get("Patient/jan/Organization").send().await.unwrap(), 400).await;
    // System search over several types.
    let b =
        json(s.client.get(format!("{}?_type=Patient,Practitioner&name=ewa,jan", s.base)).send().await.unwrap()).await;
    assert_eq!(sorted(matches(&b)), set(&["dr", "jan"]));
    let b = json(s.client.get(format!("{}?_id=o3", s.base)).send().await.unwrap()).await;
    assert_eq!(matches(&b), vec!["o3"]);
    // POST _search with form parameters.
    let r = s
        .request(Method::POST, "Observation/_search")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("code=718-7&subject=Patient/anna")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(matches(&json(r).await), vec!["o3"]);
}

async fn conditional_writes_with_any_criteria(s: &TestServer) {
    people(s).await;
    let r = s
        .send(Method::POST, "Patient", &json!({"resourceType": "Patient", "birthDate": "1990"}))
        .header("if-none-exist", "family=nowak&birthdate=1990")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the existing match is returned");
    assert_eq!(json(r).await["id"], "anna");
    let r = s
        .send(Method::POST, "Patient", &json!({"resourceType": "Patient"}))
        .header("if-none-exist", "gender=male")
        .send()
        .await
        .unwrap();
    outcome(r, 412).await;
    let r = s.send(Method::PUT, "Patient?nickname=ewa", &json!({"resourceType": "Patient"})).send().await.unwrap();
    outcome(r, 400).await;
    let r = s
        .send(
            Method::PUT,
            "Practitioner?identifier=1234567&family=lekarz",
            &json!({"resourceType": "Practitioner", "active": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["id"], "dr");
    assert_eq!(s.request(Method::DELETE, "Patient?address-city=warszawa").send().await.unwrap().status(), 204);
    outcome(s.get("Patient/anna").send().await.unwrap(), 410).await;
}

async fn custom_search_parameters_after_reindex(s: &TestServer) {
    let maiden = |id: &str, name: &str| json!({"resourceType": "Patient", "id": id, "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": name}]});
    put(s, maiden("m1", "Wiśniewska")).await;
    let query = "Patient?mothers-maiden-name=wisniewska";
    outcome(s.get(query).header("prefer", "handling=strict").send().await.unwrap(), 400).await;
    let param = json!({
        "resourceType": "SearchParameter", "url": "http://ikp.example/SearchParameter/mothers-maiden-name",
        "name": "MothersMaidenName", "status": "active", "description": "Mother's maiden name",
        "code": "mothers-maiden-name", "base": ["Patient"], "type": "string",
        "expression": "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName').value"
    });
    assert_eq!(s.send(Method::POST, "SearchParameter", &param).send().await.unwrap().status(), 201);
    outcome(s.get(query).header("prefer", "handling=strict").send().await.unwrap(), 400).await;
    let r = s.request(Method::POST, "Patient/$reindex").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let report = json(r).await;
    assert_eq!(report["parameter"][1]["valueInteger"], 1);
    assert_eq!(ids(s, query).await, set(&["m1"]));
    // Later writes are indexed with it directly.
    put(s, maiden("m2", "Wiśniewska-Kowalska")).await;
    assert_eq!(sorted(ids(s, query).await), set(&["m1", "m2"]));
    let cs = json(s.get("metadata").send().await.unwrap()).await;
    let patient =
        cs["rest"][0]["resource"].as_array().unwrap().iter().find(|r| r["type"] == "Patient").unwrap().clone();
    assert!(patient["searchParam"].as_array().unwrap().iter().any(|p| p["name"] == "mothers-maiden-name"));
    outcome(s.request(Method::POST, "Patient/$nonsense").send().await.unwrap(), 404).await;
}

/// Observation's `combo-*` parameters have no index rows of their own (their rows would repeat
/// those of `code` and `component-code`, `value-quantity` and `component-value-quantity`...):
/// every way of searching them still finds a value wherever it is, top level or component.
async fn combined_parameters_search_their_parts(s: &TestServer) {
    let loinc =
        |code: &str, text: &str| json!({"coding": [{"system": "http://loinc.org", "code": code, "display": text}]});
    let mmhg =
        |value: i64| json!({"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    put(s, json!({"resourceType": "Observation", "id": "bp", "status": "final", "code": loinc("85354-9", "Blood pressure panel"),
        "component": [
            {"code": loinc("8480-6", "Systolic blood pressure"), "valueQuantity": mmhg(150)},
            {"code": loinc("8462-4", "Diastolic blood pressure"), "valueQuantity": mmhg(95)}]})).await;
    put(s, json!({"resourceType": "Observation", "id": "sys", "status": "final", "code": loinc("8480-6", "Systolic blood pressure"),
        "valueQuantity": mmhg(118)})).await;
    put(
        s,
        json!({"resourceType": "Observation", "id": "hr", "status": "final", "code": loinc("8867-4", "Heart rate"),
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}),
    )
    .await;
    put(s, json!({"resourceType": "Observation", "id": "none", "status": "final", "code": {"text": "Note"}})).await;
    let all = |q: &str| format!("Observation?_id=bp,sys,hr,none&{q}");
    assert_eq!(
        sorted(ids(s, &all("combo-code=http://loinc.org|8480-6")).await),
        set(&["bp", "sys"]),
        "top level or component"
    );
    assert_eq!(ids(s, &all("combo-code=85354-9")).await, set(&["bp"]));
    assert_eq!(sorted(ids(s, &all("combo-code:not=8480-6")).await), set(&["hr", "none"]), ":not is neither");
    assert_eq!(sorted(ids(s, &all("combo-code:text=diastolic")).await), set(&["bp"]));
    assert_eq!(sorted(ids(s, &all("combo-value-quantity=gt100")).await), set(&["bp", "sys"]));
    assert_eq!(ids(s, &all("combo-value-quantity=lt80")).await, set(&["hr"]));
    assert_eq!(sorted(ids(s, &all("combo-value-quantity:missing=true")).await), set(&["none"]));
    assert_eq!(sorted(ids(s, &all("combo-value-quantity:missing=false")).await), set(&["bp", "hr", "sys"]));
    // The composite pairs a code with its own value, in a component or at the top level.
    assert_eq!(ids(s, &all("combo-code-value-quantity=8480-6$gt140")).await, set(&["bp"]));
    assert_eq!(ids(s, &all("combo-code-value-quantity=8480-6$lt120")).await, set(&["sys"]));
    assert!(ids(s, &all("combo-code-value-quantity=8462-4$gt140")).await.is_empty(), "95 is not over 140");
    // Sorted by the lowest value anywhere in the observation.
    assert_eq!(
        ids(s, &all("combo-value-quantity:missing=false&_sort=combo-value-quantity")).await,
        ["hr", "bp", "sys"]
    );
    assert_eq!(
        sorted(ids(s, "Patient?_has:Observation:subject:combo-code=8480-6").await),
        Vec::<String>::new(),
        "no patient is the subject of these"
    );
}
