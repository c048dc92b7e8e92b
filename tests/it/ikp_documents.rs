//! Documents, visits and the patient summary over HTTP with real tokens: the nine demo documents
//! listed by class and date, `Bundle/$submit-document` (Composition + DocumentReference + the
//! original Bundle), `Composition/[id]/$document` (the stored original or assembled), a parent
//! seeing the child's documents, another patient getting 404, visit searches, `$summary`.

use crate::common;

use reqwest::Method;
use serde_json::{Value, json};

use common::{TestServer, json};

on_both_backends_configured!(crate::common::auth_on; documents_listing, submit_and_document, visits, patient_summary);

const P1: &str = "urn:oid:2.16.840.1.113883.3.4424.11.1.32";

async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server.get(path).bearer_auth(token).send().await.expect("get")
}

async fn ids(server: &TestServer, token: &str, path: &str) -> Vec<String> {
    let r = get(server, token, path).await;
    let status = r.status();
    let body = json(r).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] != "include")
        .filter_map(|e| e["resource"]["id"].as_str().map(str::to_string))
        .collect()
}

async fn patient(server: &TestServer, id: &str) -> String {
    server.token(Some(&format!("Patient/{id}")), None, "user/*.cruds").await
}

async fn documents_listing(server: &TestServer) {
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;
    let admin = server.admin_token().await;

    // The nine classes are all there.
    let all = json(get(server, &admin, "DocumentReference?_count=100").await).await;
    let mut classes: Vec<String> = all["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["resource"]["category"][0]["coding"][0]["code"].as_str().map(str::to_string))
        .collect();
    classes.sort();
    classes.dedup();
    assert_eq!(classes.len(), 9, "{classes:?}");

    let mine = ids(server, &jan, "DocumentReference?patient=Patient/demo-jan-kowalski").await;
    assert_eq!(mine.len(), 12, "five documents and seven lab results: {mine:?}");
    let discharge =
        ids(server, &jan, &format!("DocumentReference?patient=Patient/demo-jan-kowalski&type={P1}|00.20")).await;
    assert_eq!(discharge, vec!["demo-dok-karta-wypisowa-jan"]);
    let by_category =
        ids(server, &jan, &format!("DocumentReference?patient=Patient/demo-jan-kowalski&category={P1}|08.90")).await;
    assert_eq!(by_category, vec!["demo-dok-informacja-jan"]);
    let mut october =
        ids(server, &jan, "DocumentReference?patient=Patient/demo-jan-kowalski&date=ge2026-10-01&date=lt2026-11-01")
            .await;
    october.sort();
    assert_eq!(october, vec!["demo-dok-informacja-jan", "demo-dok-karta-wypisowa-jan"]);
    let loinc =
        ids(server, &jan, "DocumentReference?patient=Patient/demo-jan-kowalski&type=http://loinc.org|18842-5").await;
    assert_eq!(loinc, vec!["demo-dok-karta-wypisowa-jan"]);
    // In the patient compartment too.
    let compartment = ids(server, &jan, "Patient/demo-jan-kowalski/DocumentReference?date=ge2026-10-01").await;
    assert_eq!(compartment.len(), 2);

    // The document itself: the stored original.
    let r = get(server, &jan, "Composition/demo-dok-karta-wypisowa-jan/$document").await;
    assert_eq!(r.status(), 200);
    let doc = json(r).await;
    assert_eq!(doc["type"], "document");
    assert_eq!(doc["entry"][0]["resource"]["resourceType"], "Composition");
    assert_eq!(doc["identifier"]["value"], "BUNDLE-demo-dok-karta-wypisowa-jan");

    // Another patient: nothing, everywhere.
    assert_eq!(get(server, &anna, "Composition/demo-dok-karta-wypisowa-jan/$document").await.status(), 404);
    assert_eq!(get(server, &anna, "DocumentReference/demo-dok-karta-wypisowa-jan").await.status(), 404);
    assert_eq!(get(server, &anna, "Bundle/demo-dok-karta-wypisowa-jan").await.status(), 404);
    assert!(ids(server, &anna, "DocumentReference?patient=Patient/demo-jan-kowalski").await.is_empty());
    assert!(ids(server, &anna, &format!("DocumentReference?type={P1}|00.20")).await.is_empty());
    // A parent sees the child's documents.
    let mut zofia = ids(server, &anna, "DocumentReference?patient=Patient/demo-zofia-kowalska").await;
    zofia.sort();
    assert_eq!(zofia, vec!["demo-dok-skierowanie-zofia", "demo-dok-wynik-zofia", "demo-dok-wynik-zofia-rok"]);
    let r = get(server, &anna, "Composition/demo-dok-skierowanie-zofia/$document").await;
    assert_eq!(r.status(), 200);
    assert!(get(server, &jan, "Composition/demo-dok-skierowanie-zofia/$document").await.status() == 404);
    // persist=true is not supported.
    assert_eq!(get(server, &jan, "Composition/demo-dok-karta-wypisowa-jan/$document?persist=true").await.status(), 501);
}

fn document(id: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", uuid::Uuid::new_v4())},
        "type": "document",
        "timestamp": "2026-11-25T10:00:00+01:00",
        "entry": [{"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": {
            "resourceType": "Composition",
            "id": id,
            "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLComposition"]},
            "extension": [{"url": "https://ikp.example.org/fhir/StructureDefinition/PLDocumentVersion", "valueString": "1"}],
            "identifier": {"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.9999.20.1", "value": id},
            "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
            "category": [{"coding": [{"system": P1, "code": "06.10"}]}],
            "subject": {"reference": "Patient/demo-jan-kowalski"},
            "date": "2026-11-25T10:00:00+01:00",
            "author": [{"reference": "Practitioner/demo-piotr-nowak"}],
            "title": "Wynik badania laboratoryjnego",
            "attester": [{"mode": "legal", "time": "2026-11-25T10:00:00+01:00", "party": {"reference": "Practitioner/demo-piotr-nowak"}}],
            "custodian": {"reference": "Organization/demo-szpital-wojewodzki"},
            "section": [{"title": "Wynik", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">CRP 3 mg/l</div>"}}],
        }}],
    })
}

async fn submit_and_document(server: &TestServer) {
    let doctor = server.token(Some("Practitioner/demo-piotr-nowak"), None, "user/*.cruds").await;
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;
    let bundle = document("wynik-crp-jan");
    let r = server.send(Method::POST, "Bundle/$submit-document", &bundle).bearer_auth(&jan).send().await.expect("post");
    assert_eq!(r.status(), 403, "patients do not submit documents");
    let r =
        server.send(Method::POST, "Bundle/$submit-document", &bundle).bearer_auth(&doctor).send().await.expect("post");
    let status = r.status();
    let reference = json(r).await;
    assert_eq!(status, 201, "{reference}");
    assert_eq!(reference["resourceType"], "DocumentReference");
    // A new document gets a server-assigned id (the Composition, its index entry and the
    // original share it), as a create would: the client's id could belong to a hidden record.
    let id = reference["id"].as_str().expect("id").to_string();
    assert_ne!(id, "wynik-crp-jan");
    assert_eq!(reference["masterIdentifier"], bundle["identifier"]);
    assert!(reference["type"].to_string().contains("06.10"));
    assert_eq!(reference["subject"]["reference"], "Patient/demo-jan-kowalski");
    assert!(reference["content"][0]["attachment"]["url"].as_str().expect("url").ends_with(&format!("Bundle/{id}")));

    // The patient finds it by class and date and gets the original.
    let found = ids(
        server,
        &jan,
        &format!("DocumentReference?patient=Patient/demo-jan-kowalski&type={P1}|06.10&date=2026-11-25"),
    )
    .await;
    assert_eq!(found, vec![id.clone()]);
    let doc = json(get(server, &jan, &format!("Composition/{id}/$document")).await).await;
    assert_eq!(doc["identifier"], bundle["identifier"]);
    assert_eq!(get(server, &anna, &format!("Composition/{id}/$document")).await.status(), 404);
    // The admin can read the stored Bundle itself.
    let admin = server.admin_token().await;
    assert_eq!(get(server, &admin, &format!("Bundle/{id}")).await.status(), 200);

    // Resubmitting under the id the author can see replaces it (same ids, new versions).
    let mut again = document(&id);
    again["identifier"]["value"] = json!("urn:uuid:00000000-0000-4000-8000-000000000001");
    let r =
        server.send(Method::POST, "Bundle/$submit-document", &again).bearer_auth(&doctor).send().await.expect("post");
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["id"], json!(id));
    let doc = json(get(server, &jan, &format!("Composition/{id}/$document")).await).await;
    assert_eq!(doc["identifier"]["value"], "urn:uuid:00000000-0000-4000-8000-000000000001");
    // An id the caller cannot see (here a Bundle that is no document of it) is neither taken nor
    // told apart from an unused one: the document gets an id of its own.
    let other = json!({"resourceType": "Bundle", "id": "someone-elses", "type": "collection"});
    let r = server.send(Method::PUT, "Bundle/someone-elses", &other).bearer_auth(&admin).send().await.expect("put");
    assert!(r.status().is_success());
    let r = server
        .send(Method::POST, "Bundle/$submit-document", &document("someone-elses"))
        .bearer_auth(&doctor)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    assert_ne!(json(r).await["id"], "someone-elses");
    assert_eq!(json(get(server, &admin, "Bundle/someone-elses").await).await["type"], "collection");
    // A backend service (unconfined) keeps its own ids; there the Bundle's guard still holds.
    let r = server
        .send(Method::POST, "Bundle/$submit-document", &document("someone-elses"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 409);
    assert_eq!(json(get(server, &admin, "Bundle/someone-elses").await).await["type"], "collection");
    let mut annas = document("dokument-anny");
    annas["entry"][0]["resource"]["subject"] = json!({"reference": "Patient/demo-anna-kowalska"});
    annas["entry"][0]["resource"]["author"] = json!([{"reference": "Practitioner/someone-else"}]);
    annas["entry"][0]["resource"]["attester"][0]["party"] = json!({"reference": "Practitioner/someone-else"});
    let r =
        server.send(Method::POST, "Bundle/$submit-document", &annas).bearer_auth(&doctor).send().await.expect("post");
    assert_eq!(r.status(), 403, "not the author and not Anna's doctor");
    assert_eq!(get(server, &admin, "Bundle/dokument-anny").await.status(), 404, "nothing stored");

    // Not a document / no Composition first: 400.
    let bad = json!({"resourceType": "Bundle", "type": "collection", "entry": []});
    let r = server.send(Method::POST, "Bundle/$submit-document", &bad).bearer_auth(&doctor).send().await.expect("post");
    assert_eq!(r.status(), 400);

    // A Composition stored without a Bundle: $document assembles it with what it references.
    let mut composition = document("x")["entry"][0]["resource"].clone();
    composition.as_object_mut().expect("object").remove("id");
    composition["encounter"] = json!({"reference": "Encounter/demo-pobyt-jan-szpital"});
    let r = server.send(Method::POST, "Composition", &composition).bearer_auth(&doctor).send().await.expect("post");
    let status = r.status();
    let created = json(r).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id");
    let doc = json(get(server, &jan, &format!("Composition/{id}/$document")).await).await;
    assert_eq!(doc["type"], "document");
    let types: Vec<&str> = doc["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["resource"]["resourceType"].as_str())
        .collect();
    assert_eq!(types[0], "Composition");
    assert!(types.contains(&"Patient") && types.contains(&"Encounter"), "{types:?}");
}

async fn visits(server: &TestServer) {
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;
    let all = ids(server, &jan, "Encounter?patient=Patient/demo-jan-kowalski").await;
    assert_eq!(all.len(), 2, "{all:?}");
    let october = ids(server, &jan, "Encounter?patient=Patient/demo-jan-kowalski&date=ge2026-10-01").await;
    assert_eq!(october, vec!["demo-pobyt-jan-szpital"]);
    let hospital = ids(
        server,
        &jan,
        "Encounter?patient=Patient/demo-jan-kowalski&service-provider=Organization/demo-szpital-wojewodzki",
    )
    .await;
    assert_eq!(hospital, vec!["demo-pobyt-jan-szpital"]);
    let at = ids(server, &jan, "Encounter?patient=Patient/demo-jan-kowalski&location=Location/demo-gabinet-1").await;
    assert_eq!(at.len(), 2);
    let stays = ids(
        server,
        &jan,
        "Encounter?patient=Patient/demo-jan-kowalski&class=urn:oid:2.16.840.1.113883.3.4424.11.1.34|1",
    )
    .await;
    assert_eq!(stays, vec!["demo-pobyt-jan-szpital"]);
    let typed = ids(server, &jan, "Encounter?patient=Patient/demo-jan-kowalski&type:text=Hospitalizacja").await;
    assert_eq!(typed, vec!["demo-pobyt-jan-szpital"]);
    let with_diagnosis = ids(
        server,
        &jan,
        "Encounter?patient=Patient/demo-jan-kowalski&diagnosis=Condition/demo-zapalenie-pluc-jan&_include=Encounter:diagnosis",
    )
    .await;
    assert_eq!(with_diagnosis, vec!["demo-pobyt-jan-szpital"]);
    let procedures = ids(server, &jan, "Procedure?encounter=Encounter/demo-pobyt-jan-szpital").await;
    assert_eq!(procedures, vec!["demo-rtg-jan"]);
    assert!(ids(server, &anna, "Encounter?patient=Patient/demo-jan-kowalski").await.is_empty());
    assert_eq!(ids(server, &anna, "Encounter?patient=Patient/demo-zofia-kowalska").await.len(), 1);
}

async fn patient_summary(server: &TestServer) {
    let jan = patient(server, "demo-jan-kowalski").await;
    let anna = patient(server, "demo-anna-kowalska").await;
    let r = get(server, &jan, "Patient/demo-jan-kowalski/$summary").await;
    assert_eq!(r.status(), 200);
    let ips = json(r).await;
    assert_eq!(ips["type"], "document");
    let composition = &ips["entry"][0]["resource"];
    assert_eq!(composition["resourceType"], "Composition");
    assert_eq!(composition["type"]["coding"][0]["code"], "60591-5");
    assert_eq!(composition["subject"]["reference"], "Patient/demo-jan-kowalski");
    let section = |code: &str| {
        composition["section"]
            .as_array()
            .expect("sections")
            .iter()
            .find(|s| s["code"]["coding"][0]["code"] == code)
            .cloned()
            .expect("section")
    };
    let problems = section("11450-4");
    let refs: Vec<&str> =
        problems["entry"].as_array().expect("problems").iter().filter_map(|e| e["reference"].as_str()).collect();
    assert!(refs.contains(&"Condition/demo-nadcisnienie-jan") && refs.contains(&"Condition/demo-zapalenie-pluc-jan"));
    assert!(problems["text"]["div"].as_str().expect("div").contains("nadciśnienie"));
    assert!(section("48765-2")["emptyReason"].is_object(), "no allergies recorded");
    assert_eq!(section("47519-4")["entry"][0]["reference"], "Procedure/demo-rtg-jan");
    // Every referenced resource is in the Bundle; nothing of anyone else.
    let text = ips.to_string();
    assert!(!text.contains("demo-anna-kowalska") && !text.contains("demo-zofia-kowalska"));
    for e in ips["entry"].as_array().expect("entries") {
        if let Some(s) = e["resource"]["subject"]["reference"].as_str() {
            assert_eq!(s, "Patient/demo-jan-kowalski");
        }
    }
    // Access: another patient gets 404; a parent gets the child's summary.
    assert_eq!(get(server, &anna, "Patient/demo-jan-kowalski/$summary").await.status(), 404);
    let r = get(server, &anna, "Patient/demo-zofia-kowalska/$summary").await;
    assert_eq!(r.status(), 200);
    assert!(json(r).await.to_string().contains("demo-astma-zofia"));
}
