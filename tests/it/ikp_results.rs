//! Lab results, imaging reports and care plans over HTTP with real tokens: the demo population's
//! results as searchable resources reachable from their documents, `Observation/$lastn`,
//! `Observation/$stats` and the results section of `$summary`; `Bundle/$submit-document`
//! storing the data a document carries; and who sees what: the patient, a parent of a minor, the
//! primary-care doctor see the results, anyone else learns nothing (answers identical to those
//! for an id or a patient that does not exist).

use crate::common;

use reqwest::Method;
use serde_json::{Value, json};

use common::{TestServer, json, listed, resources, type_and_id};

on_both_backends_configured!(crate::common::auth_on; demo_results, lastn_and_stats, summary_results, submitted_document_data);

const LOINC: &str = "http://loinc.org";

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = server.get(path).bearer_auth(token).send().await.expect("get");
    let status = r.status().as_u16();
    (status, json(r).await)
}

async fn ok(server: &TestServer, token: &str, path: &str) -> Value {
    let (status, body) = get(server, token, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn matches(bundle: &Value) -> Vec<Value> {
    resources(bundle, "match")
}

async fn patient(server: &TestServer, id: &str) -> String {
    server.token(Some(&format!("Patient/{id}")), None, "user/*.cruds").await
}

async fn doctor(server: &TestServer) -> String {
    server.token(Some("Practitioner/demo-piotr-nowak"), None, "user/*.cruds").await
}

/// A refused answer must be the answer for something that does not exist: same status, same
/// body once the names asked about are put aside.
fn same_answer(hidden: &(u16, Value), missing: &(u16, Value), names: (&str, &str)) {
    let strip = |v: &Value, name: &str| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("id");
            o.remove("meta");
            o.remove("link");
        }
        v.to_string().replace(name, "{target}")
    };
    assert_eq!(hidden.0, missing.0, "{} vs {}", hidden.1, missing.1);
    assert_eq!(strip(&hidden.1, names.0), strip(&missing.1, names.1));
}

async fn demo_results(server: &TestServer) {
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;
    let piotr = doctor(server).await;

    // Three years of Jan's lab reports, with their results included.
    let path =
        "DiagnosticReport?patient=Patient/demo-jan-kowalski&category=LAB&_include=DiagnosticReport:result&_count=100";
    let reports = ok(server, &jan, path).await;
    assert_eq!(listed(&reports, "match").len(), 21, "7 samples x 3 reports");
    let included = listed(&reports, "include");
    assert_eq!(included.len(), 7 * (1 + 1 + 5), "glucose, HbA1c, lipid panel + 4 tests");
    // Another patient and a doctor without access see none of it; Krystyna's primary-care
    // doctor sees hers.
    assert!(listed(&ok(server, &anna, path).await, "match").is_empty());
    assert!(listed(&ok(server, &piotr, path).await, "match").is_empty());
    let krystyna =
        ok(server, &piotr, "DiagnosticReport?patient=Patient/demo-krystyna-nowak&category=LAB&_sort=-date").await;
    assert_eq!(listed(&krystyna, "match").len(), 3);
    let egfr =
        ok(server, &piotr, &format!("Observation/$lastn?patient=Patient/demo-krystyna-nowak&code={LOINC}|62238-1"))
            .await;
    assert_eq!(matches(&egfr)[0]["interpretation"][0]["coding"][0]["code"], "L");

    // A trend: HbA1c since 2025, newest first.
    let hba1c = ok(
        server,
        &jan,
        &format!("Observation?patient=Patient/demo-jan-kowalski&code={LOINC}|4548-4&date=ge2025-01-01&_sort=-date"),
    )
    .await;
    let values: Vec<f64> = matches(&hba1c).iter().filter_map(|o| o["valueQuantity"]["value"].as_f64()).collect();
    assert_eq!(values, [6.4, 6.3, 6.1, 5.9]);
    let first = &matches(&hba1c)[0];
    assert_eq!(first["valueQuantity"]["system"], "http://unitsofmeasure.org");
    assert_eq!(first["interpretation"][0]["coding"][0]["code"], "H");
    assert_eq!(first["performer"][0]["reference"], "Organization/demo-laboratorium");
    assert!(first["referenceRange"][0]["high"]["value"].is_number());

    // Each result is reachable from its document, and the document carries it.
    let id = first["id"].as_str().expect("id");
    let documents = ok(server, &jan, &format!("DocumentReference?related=Observation/{id}")).await;
    let document = listed(&documents, "match");
    assert_eq!(document, ["DocumentReference/demo-dok-wynik-jan-2026-09-10"]);
    let bundle = ok(server, &jan, "Composition/demo-dok-wynik-jan-2026-09-10/$document").await;
    let carried: Vec<String> =
        bundle["entry"].as_array().expect("entries").iter().map(|e| type_and_id(&e["resource"])).collect();
    assert!(carried.contains(&format!("Observation/{id}")), "{carried:?}");

    // Anna's last blood count has exactly one flagged value, the haemoglobin.
    let cbc = ok(
        server,
        &anna,
        "DiagnosticReport?patient=Patient/demo-anna-kowalska&code=http://loinc.org|58410-2&_sort=-date&_count=1&_include=DiagnosticReport:result",
    )
    .await;
    let flagged: Vec<Value> = resources(&cbc, "include")
        .into_iter()
        .filter(|o| o.get("valueQuantity").is_some() && o["interpretation"][0]["coding"][0]["code"] != "N")
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0]["code"]["coding"][0]["code"], "718-7");
    // The panel Observation groups the blood count's tests.
    let panel = ok(
        server,
        &anna,
        "Observation?patient=Patient/demo-anna-kowalska&code=http://loinc.org|58410-2&_sort=-date&_count=1",
    )
    .await;
    assert_eq!(matches(&panel)[0]["hasMember"].as_array().map(Vec::len), Some(6));

    // The chest X-ray: an imaging report with its study; Jan's IPOM with its goals.
    let xray = ok(server, &anna, "DiagnosticReport?patient=Patient/demo-anna-kowalska&category=RAD").await;
    let report = &matches(&xray)[0];
    assert!(report["conclusion"].as_str().is_some_and(|c| c.contains("bez zmian")));
    assert_eq!(listed(&ok(server, &anna, "ImagingStudy?patient=Patient/demo-anna-kowalska").await, "match").len(), 1);
    let ipom = ok(
        server,
        &jan,
        "CarePlan?patient=Patient/demo-jan-kowalski&category=https://ikp.example.org/fhir/CodeSystem/pl-care-plan-type|IPOM&_include=CarePlan:goal",
    )
    .await;
    assert_eq!(listed(&ipom, "match"), ["CarePlan/demo-dok-ipom-jan-4"]);
    assert_eq!(listed(&ipom, "include").len(), 3);

    // A parent sees the child's results; nobody else does, and a hidden report reads like a
    // missing one.
    let crp =
        ok(server, &anna, &format!("Observation?patient=Patient/demo-zofia-kowalska&code={LOINC}|1988-5&_sort=-date"))
            .await;
    let crp = matches(&crp);
    assert_eq!(crp.len(), 2);
    assert_eq!(crp[0]["interpretation"][0]["coding"][0]["code"], "H");
    assert!(matches(&ok(server, &jan, "Observation?patient=Patient/demo-zofia-kowalska").await).is_empty());
    assert_eq!(ok(server, &anna, "Observation/demo-dok-wynik-anna-3").await["code"]["coding"][0]["code"], "718-7");
    let hidden = get(server, &jan, "Observation/demo-dok-wynik-anna-3").await;
    let missing = get(server, &jan, "Observation/demo-dok-wynik-brak-3").await;
    same_answer(&hidden, &missing, ("demo-dok-wynik-anna-3", "demo-dok-wynik-brak-3"));
    assert_eq!(hidden.0, 404);
    let hidden = get(server, &jan, "Composition/demo-dok-wynik-anna/$document").await;
    let missing = get(server, &jan, "Composition/demo-dok-wynik-brak/$document").await;
    same_answer(&hidden, &missing, ("demo-dok-wynik-anna", "demo-dok-wynik-brak"));
}

async fn lastn_and_stats(server: &TestServer) {
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;

    // The newest result of each of Jan's tests: glucose, HbA1c, the lipid panel and its four.
    let last = ok(server, &jan, "Observation/$lastn?patient=Patient/demo-jan-kowalski&category=laboratory").await;
    let newest = matches(&last);
    assert_eq!(newest.len(), 7, "{last}");
    assert_eq!(last["total"], 7);
    assert!(newest.iter().all(|o| o["effectiveDateTime"].as_str().is_some_and(|d| d.starts_with("2026-09-10"))));
    let mut codes: Vec<&str> = newest.iter().filter_map(|o| o["code"]["coding"][0]["code"].as_str()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 7, "one per code");
    // The last three HbA1c, newest first.
    let three =
        ok(server, &jan, &format!("Observation/$lastn?patient=Patient/demo-jan-kowalski&code={LOINC}|4548-4&max=3"))
            .await;
    let values: Vec<f64> = matches(&three).iter().filter_map(|o| o["valueQuantity"]["value"].as_f64()).collect();
    assert_eq!(values, [6.4, 6.3, 6.1]);
    // Grouped: max=2 over glucose and HbA1c gives two of each, each group newest first.
    let two = ok(
        server,
        &jan,
        &format!("Observation/$lastn?subject=Patient/demo-jan-kowalski&code={LOINC}|4548-4,{LOINC}|1558-6&max=2"),
    )
    .await;
    let pairs: Vec<(String, f64)> = matches(&two)
        .iter()
        .map(|o| {
            (
                o["code"]["coding"][0]["code"].as_str().unwrap_or("").to_string(),
                o["valueQuantity"]["value"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 4, "{pairs:?}");
    assert_eq!(pairs[0].0, pairs[1].0);
    assert_eq!(pairs[2].0, pairs[3].0);
    assert!(pairs[0].1 > pairs[1].1 && pairs[2].1 > pairs[3].1, "each group newest first: {pairs:?}");

    // Malformed requests are 400s, never a wider answer.
    for bad in [
        "Observation/$lastn?category=laboratory",
        "Observation/$lastn?patient=Patient/demo-jan-kowalski&max=0",
        "Observation/$lastn?patient=Patient/demo-jan-kowalski&max=abc",
        "Observation/$lastn?patient=Patient/demo-jan-kowalski&max=100000",
        "Observation/$lastn?patient=Patient/demo-jan-kowalski&_sort=date",
        "Observation/$lastn?patient=Patient/demo-jan-kowalski&_count=5",
        "Observation/$stats?subject=Patient/demo-jan-kowalski&code=4548-4",
        "Observation/$stats?subject=Patient/demo-jan-kowalski&statistic=average",
        "Observation/$stats?subject=Patient/demo-jan-kowalski&code=4548-4&statistic=kurtosis",
        "Observation/$stats?subject=Jan&code=4548-4&statistic=average",
        "Observation/$stats?subject=Patient/demo-jan-kowalski&code=4548-4&statistic=average&duration=-5",
    ] {
        assert_eq!(get(server, &jan, bad).await.0, 400, "{bad}");
    }

    // Another patient's results: the answer for a patient that does not exist.
    let hidden = get(server, &anna, "Observation/$lastn?patient=Patient/demo-jan-kowalski").await;
    let missing = get(server, &anna, "Observation/$lastn?patient=Patient/nobody-at-all").await;
    same_answer(&hidden, &missing, ("demo-jan-kowalski", "nobody-at-all"));
    assert!(matches(&hidden.1).is_empty());
    // A parent gets the child's.
    let child =
        ok(server, &anna, &format!("Observation/$lastn?patient=Patient/demo-zofia-kowalska&code={LOINC}|1988-5")).await;
    assert_eq!(matches(&child)[0]["valueQuantity"]["value"], json!(48.0));

    // Statistics of Jan's HbA1c over everything, and over the last year.
    let stats = ok(
        server,
        &jan,
        &format!("Observation/$stats?subject=Patient/demo-jan-kowalski&code=4548-4&system={LOINC}&statistic=average,maximum,minimum,count"),
    )
    .await;
    let statistic = |stats: &Value, code: &str| -> Option<f64> {
        stats["parameter"].as_array()?.iter().find(|p| p["name"] == "statistic")?["resource"]["component"]
            .as_array()?
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == code)?["valueQuantity"]["value"]
            .as_f64()
    };
    assert_eq!(statistic(&stats, "count"), Some(7.0));
    assert_eq!(statistic(&stats, "maximum"), Some(6.4));
    assert_eq!(statistic(&stats, "minimum"), Some(5.5));
    assert_eq!(statistic(&stats, "average"), Some(5.9429));
    let body = json!({"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueUri": "Patient/demo-jan-kowalski"},
        {"name": "coding", "valueCoding": {"system": LOINC, "code": "4548-4"}},
        {"name": "period", "valuePeriod": {"start": "2025-06-01", "end": "2026-12-31"}},
        {"name": "statistic", "valueCode": "median"},
        {"name": "include", "valueBoolean": true},
    ]});
    let r = server.send(Method::POST, "Observation/$stats", &body).bearer_auth(&jan).send().await.expect("post");
    assert_eq!(r.status(), 200);
    let recent = json(r).await;
    assert_eq!(statistic(&recent, "median"), Some(6.2), "5.9, 6.1, 6.3, 6.4");
    let sources = recent["parameter"].as_array().expect("parameters").iter().filter(|p| p["name"] == "source").count();
    assert_eq!(sources, 4);
    // Someone else's statistics are those of nobody.
    let hidden =
        get(server, &anna, "Observation/$stats?subject=Patient/demo-jan-kowalski&code=4548-4&statistic=count").await;
    let missing =
        get(server, &anna, "Observation/$stats?subject=Patient/nobody-at-all&code=4548-4&statistic=count").await;
    same_answer(&hidden, &missing, ("demo-jan-kowalski", "nobody-at-all"));
}

async fn summary_results(server: &TestServer) {
    let jan = patient(server, "demo-jan-kowalski").await;
    let ips = ok(server, &jan, "Patient/demo-jan-kowalski/$summary").await;
    let composition = &ips["entry"][0]["resource"];
    let section = |code: &str| {
        composition["section"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["code"]["coding"][0]["code"] == code))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let results = section("30954-2");
    let refs: Vec<&str> =
        results["entry"].as_array().expect("results").iter().filter_map(|e| e["reference"].as_str()).collect();
    let reports = refs.iter().filter(|r| r.starts_with("DiagnosticReport/")).count();
    let observations: Vec<&&str> = refs.iter().filter(|r| r.starts_with("Observation/")).collect();
    assert_eq!(reports, 21);
    assert_eq!(observations.len(), 7, "the newest result of each test: {observations:?}");
    // The newest HbA1c is in the Bundle with its value; the oldest is not.
    let entries = ips["entry"].as_array().expect("entries");
    let hba1c: Vec<&Value> = entries
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Observation" && r["code"]["coding"][0]["code"] == "4548-4")
        .collect();
    assert_eq!(hba1c.len(), 1);
    assert_eq!(hba1c[0]["valueQuantity"]["value"], json!(6.4));
    assert!(
        results["text"]["div"].as_str().is_some_and(|d| d.contains("HbA1c") || d.contains("Hemoglobina glikowana"))
    );
    // The plan of care: the IPOM.
    assert_eq!(section("18776-5")["entry"][0]["reference"], "CarePlan/demo-dok-ipom-jan-4");
}

/// A lab result document: a report with a panel of two results, the lab as an entry.
fn lab_document(patient: &str, composition_id: &str) -> Value {
    let observation = |uuid: &str, loinc: &str, name: &str, value: f64, unit: &str| {
        json!({"fullUrl": format!("urn:uuid:{uuid}"), "resource": {
            "resourceType": "Observation",
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLObservationLab"]},
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": loinc}], "text": name},
            "subject": {"reference": patient},
            "effectiveDateTime": "2026-11-30T07:30:00+01:00",
            "performer": [{"reference": "urn:uuid:00000000-0000-4000-8000-00000000000a"}],
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        }})
    };
    json!({
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", uuid::Uuid::new_v4())},
        "type": "document",
        "timestamp": "2026-11-30T12:00:00+01:00",
        "entry": [
            {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001", "resource": {
                "resourceType": "Composition",
                "id": composition_id,
                "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLComposition"]},
                "extension": [{"url": "https://ikp.example.org/fhir/StructureDefinition/PLDocumentVersion", "valueString": "1"}],
                "identifier": {"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.9999.20.1", "value": composition_id},
                "status": "final",
                "type": {"coding": [{"system": LOINC, "code": "11502-2"}]},
                "category": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.32", "code": "06.10"}]}],
                "subject": {"reference": patient},
                "date": "2026-11-30T12:00:00+01:00",
                "author": [{"reference": "Practitioner/demo-piotr-nowak"}],
                "title": "Wynik badania laboratoryjnego",
                "attester": [{"mode": "legal", "time": "2026-11-30T12:00:00+01:00", "party": {"reference": "Practitioner/demo-piotr-nowak"}}],
                "custodian": {"reference": "Organization/demo-szpital-wojewodzki"},
                "section": [{"title": "Próby wątrobowe", "entry": [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"}],
                    "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">ALT 31 U/l, AST 28 U/l</div>"}}],
            }},
            {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": {
                "resourceType": "DiagnosticReport",
                "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLDiagnosticReportLab"]},
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                "code": {"coding": [{"system": LOINC, "code": "24325-3"}], "text": "Próby wątrobowe"},
                "subject": {"reference": patient},
                "effectiveDateTime": "2026-11-30T07:30:00+01:00",
                "issued": "2026-11-30T12:00:00+01:00",
                "performer": [{"reference": "urn:uuid:00000000-0000-4000-8000-00000000000a"}],
                "result": [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000003"},
                           {"reference": "urn:uuid:00000000-0000-4000-8000-000000000004"}],
            }},
            observation("00000000-0000-4000-8000-000000000003", "1742-6", "ALT", 31.0, "U/L"),
            observation("00000000-0000-4000-8000-000000000004", "1920-8", "AST", 28.0, "U/L"),
            {"fullUrl": "urn:uuid:00000000-0000-4000-8000-00000000000a", "resource": {
                "resourceType": "Organization", "id": "demo-laboratorium", "name": "Laboratorium Diagnostyka Centrum (demo)"}},
        ],
    })
}

async fn submit(server: &TestServer, token: &str, bundle: &Value) -> (u16, Value) {
    let r = server.send(Method::POST, "Bundle/$submit-document", bundle).bearer_auth(token).send().await.expect("post");
    let status = r.status().as_u16();
    (status, json(r).await)
}

async fn submitted_document_data(server: &TestServer) {
    let piotr = doctor(server).await;
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;
    let admin = server.admin_token().await;

    let (status, reference) = submit(server, &piotr, &lab_document("Patient/demo-jan-kowalski", "proby-jan")).await;
    assert_eq!(status, 201, "{reference}");
    let id = reference["id"].as_str().expect("id").to_string();
    let related: Vec<&str> = reference["context"]["related"]
        .as_array()
        .expect("related")
        .iter()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    let (report, alt, ast) =
        (format!("DiagnosticReport/{id}-1"), format!("Observation/{id}-2"), format!("Observation/{id}-3"));
    assert_eq!(related, [report.as_str(), alt.as_str(), ast.as_str()]);

    // Searchable data, references rewritten to the server's ids; the lab keeps its own id.
    let found = ok(
        server,
        &jan,
        &format!(
            "DiagnosticReport?patient=Patient/demo-jan-kowalski&code={LOINC}|24325-3&_include=DiagnosticReport:result"
        ),
    )
    .await;
    assert_eq!(listed(&found, "match"), std::slice::from_ref(&report));
    let mut results = listed(&found, "include");
    results.sort();
    assert_eq!(results, [alt.clone(), ast.clone()]);
    let stored = ok(server, &jan, &alt).await;
    assert_eq!(stored["performer"][0]["reference"], "Organization/demo-laboratorium");
    let composition = ok(server, &jan, &format!("Composition/{id}")).await;
    assert_eq!(composition["section"][0]["entry"][0]["reference"], json!(report));
    // The document returns them, under the server's ids.
    let document = ok(server, &jan, &format!("Composition/{id}/$document")).await;
    let urls: Vec<&str> =
        document["entry"].as_array().expect("entries").iter().filter_map(|e| e["fullUrl"].as_str()).collect();
    assert!(urls.iter().any(|u| u.ends_with(&alt)), "{urls:?}");
    assert_eq!(document["entry"][1]["resource"]["result"][0]["reference"], json!(alt));
    // $lastn sees the new results.
    let last =
        ok(server, &jan, &format!("Observation/$lastn?patient=Patient/demo-jan-kowalski&code={LOINC}|1742-6")).await;
    assert_eq!(listed(&last, "match"), std::slice::from_ref(&alt));

    // Nobody else learns anything: Anna's answers are those for ids that do not exist.
    for target in [&report, &alt] {
        let hidden = get(server, &anna, target).await;
        let missing = get(server, &anna, &format!("{target}-none")).await;
        same_answer(&hidden, &missing, (target.as_str(), &format!("{target}-none")));
        assert_eq!(hidden.0, 404);
    }
    assert!(listed(&ok(server, &anna, &format!("DocumentReference?related={alt}")).await, "match").is_empty());

    // A document about Zofia (submitted by a backend service): her parent sees its data, Jan does not.
    let (status, zofias) = submit(server, &admin, &lab_document("Patient/demo-zofia-kowalska", "proby-zofia")).await;
    assert_eq!(status, 201, "{zofias}");
    let zofia_report = format!("DiagnosticReport/{}-1", zofias["id"].as_str().expect("id"));
    assert_eq!(get(server, &anna, &zofia_report).await.0, 200);
    assert_eq!(get(server, &jan, &zofia_report).await.0, 404);

    // A document about Krystyna: her primary-care doctor sees its data.
    let (status, krystynas) =
        submit(server, &admin, &lab_document("Patient/demo-krystyna-nowak", "proby-krystyna")).await;
    assert_eq!(status, 201, "{krystynas}");
    let krystyna_result = format!("Observation/{}-2", krystynas["id"].as_str().expect("id"));
    assert_eq!(ok(server, &piotr, &krystyna_result).await["valueQuantity"]["value"], json!(31.0));
    assert_eq!(get(server, &anna, &krystyna_result).await.0, 404);

    // Resubmitted with one result less: the report is replaced, the dropped result retired.
    let mut again = lab_document("Patient/demo-jan-kowalski", &id);
    let entries = again["entry"].as_array_mut().expect("entries");
    entries.remove(3);
    entries[1]["resource"]["result"].as_array_mut().expect("result").truncate(1);
    let (status, replaced) = submit(server, &piotr, &again).await;
    assert_eq!(status, 201, "{replaced}");
    assert_eq!(replaced["id"], json!(id));
    assert_eq!(get(server, &jan, &ast).await.0, 410, "the result the new version no longer carries is deleted");
    assert_eq!(ok(server, &jan, &alt).await["meta"]["versionId"], "2");

    // Refused documents store nothing: data about another patient (400), invalid data (422),
    // a doctor writing into a record they have no access to (403).
    let count = |bundle: Value| bundle["total"].as_i64().unwrap_or(-1);
    let before = count(ok(server, &admin, "DiagnosticReport?_summary=count").await);
    let mut mixed = lab_document("Patient/demo-jan-kowalski", "mixed");
    mixed["entry"][3]["resource"]["subject"] = json!({"reference": "Patient/demo-anna-kowalska"});
    assert_eq!(submit(server, &piotr, &mixed).await.0, 400);
    let mut invalid = lab_document("Patient/demo-jan-kowalski", "invalid");
    invalid["entry"][2]["resource"].as_object_mut().expect("observation").remove("valueQuantity");
    let (status, outcome) = submit(server, &piotr, &invalid).await;
    assert_eq!(status, 422, "a final lab result needs a value: {outcome}");
    let mut annas = lab_document("Patient/demo-anna-kowalska", "annas");
    annas["entry"][0]["resource"]["author"] = json!([{"reference": "Practitioner/someone-else"}]);
    annas["entry"][0]["resource"]["attester"][0]["party"] = json!({"reference": "Practitioner/someone-else"});
    assert_eq!(submit(server, &piotr, &annas).await.0, 403);
    assert_eq!(count(ok(server, &admin, "DiagnosticReport?_summary=count").await), before, "nothing stored");
}
