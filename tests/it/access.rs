//! The access policy over HTTP with real bearer tokens: families (a parent until the child's
//! 18th birthday), proxies and their Consents (read-only, revocable), doctors (primary care,
//! authorisations with periods, what they authored), pharmacists (prescriptions only), writes,
//! every read path (read, search with totals and paging, includes, chains, `_has`, compartments,
//! `$everything`, batch), and the audit trail. Ends with a randomized leak test: many people,
//! families and Consents, and for every caller and path the returned set equals the policy's.

use crate::common;

use std::collections::BTreeSet;

use ikp::synth::calendar::Day;
use ikp::synth::pesel::Sex;
use reqwest::Method;
use serde_json::{Value, json};

use common::people::{ALWAYS, EXPIRED, consent, parent_link, person, today};
use common::{TestServer, keys};

const CLIENT: &str = "test-tokens";

on_both_backends_configured!(crate::common::auth_on;
    families_and_proxies,
    clinicians_and_pharmacists,
    writes_stay_within_reach,
    writes_reveal_nothing,
    versions_judged_one_by_one,
    audit_trail,
);

async fn token(server: &TestServer, fhir_user: Option<&str>, patient: Option<&str>, scopes: &str) -> String {
    server.token(fhir_user, patient, scopes).await
}

async fn admin(server: &TestServer) -> String {
    server.admin_token().await
}

async fn put(server: &TestServer, token: &str, resource: &Value) -> u16 {
    let path = format!("{}/{}", resource["resourceType"].as_str().expect("type"), resource["id"].as_str().expect("id"));
    let r = server.send(Method::PUT, &path, resource).bearer_auth(token).send().await.expect("put");
    r.status().as_u16()
}

async fn seed(server: &TestServer, token: &str, resources: &[Value]) {
    for r in resources {
        let status = put(server, token, r).await;
        assert!(status == 200 || status == 201, "seeding {}: {status}", r["id"]);
    }
}

async fn post_bundle(server: &TestServer, token: &str, bundle: &Value) -> reqwest::Response {
    let client = reqwest::Client::new();
    let request = client.post(&server.base).header("content-type", "application/fhir+json").bearer_auth(token);
    request.body(bundle.to_string()).send().await.expect("bundle")
}

async fn status(server: &TestServer, token: &str, path: &str) -> u16 {
    server.get(path).bearer_auth(token).send().await.expect("get").status().as_u16()
}

/// GET with an absolute or relative URL, as JSON.
async fn get_json(server: &TestServer, token: &str, url: &str) -> Value {
    let url = if url.starts_with("http") { url.to_string() } else { server.url(url) };
    let r = reqwest::Client::new().get(&url).bearer_auth(token).send().await.expect("get");
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.expect("json")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The Observations this test seeds (the demo's lab results have other codes).
const SEEDED: &str = "Observation?code=http://loinc.org|8302-2";

fn observation(id: &str, patient: &str) -> Value {
    json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
        "subject": {"reference": format!("Patient/{patient}")},
    })
}

fn prescription(id: &str, patient: &str, requester: Option<&str>) -> Value {
    let mut r = json!({
        "resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
        "subject": {"reference": format!("Patient/{patient}")},
    });
    if let Some(p) = requester {
        r["requester"] = json!({"reference": format!("Practitioner/{p}")});
    }
    r
}

const JAN: &str = "demo-jan-kowalski";
const ANNA: &str = "demo-anna-kowalska";
const ZOFIA: &str = "demo-zofia-kowalska";
const PIOTR: &str = "demo-piotr-nowak";
const EWA: &str = "demo-ewa-wisniewska";

async fn seed_family(server: &TestServer, admin: &str) {
    seed(
        server,
        admin,
        &[
            observation("obs-jan", JAN),
            observation("obs-anna", ANNA),
            observation("obs-zofia", ZOFIA),
            prescription("mr-jan", JAN, None),
        ],
    )
    .await;
}

async fn families_and_proxies(server: &TestServer) {
    let admin = admin(server).await;
    seed_family(server, &admin).await;
    let anna = token(server, Some(&format!("Patient/{ANNA}")), None, "openid fhirUser user/*.rs").await;

    // A mother sees her own record and her minor daughter's, with correct totals.
    let bundle = get_json(server, &anna, &format!("{SEEDED}&_total=accurate")).await;
    assert_eq!(keys(&bundle, "match"), set(&["Observation/obs-anna", "Observation/obs-zofia"]));
    assert_eq!(bundle["total"], 2);
    assert_eq!(status(server, &anna, "Observation/obs-jan").await, 404);
    assert_eq!(status(server, &anna, "MedicationRequest/mr-jan").await, 404);
    assert_eq!(status(server, &anna, &format!("Patient/{JAN}")).await, 404);
    let patients = get_json(server, &anna, "Patient").await;
    assert_eq!(keys(&patients, "match"), set(&[&format!("Patient/{ANNA}"), &format!("Patient/{ZOFIA}")]));
    // Includes, chains and _has stay within reach.
    let included = get_json(server, &anna, "Observation?_include=Observation:subject").await;
    assert_eq!(keys(&included, "include"), set(&[&format!("Patient/{ANNA}"), &format!("Patient/{ZOFIA}")]));
    let chained = get_json(server, &anna, "Observation?subject:Patient.family=Kowalski").await;
    assert!(keys(&chained, "match").is_empty(), "Jan's record is not searchable through a chain");
    let has = get_json(server, &anna, "Patient?_has:Observation:subject:status=final").await;
    assert!(!keys(&has, "match").contains(&format!("Patient/{JAN}")));
    let rev = get_json(server, &anna, &format!("Patient?_id={ANNA},{JAN}&_revinclude=Observation:subject")).await;
    let revincluded = keys(&rev, "include");
    assert!(revincluded.contains("Observation/obs-anna"), "{revincluded:?}");
    assert!(!revincluded.iter().any(|k| k.contains("jan")), "nothing of Jan's: {revincluded:?}");
    // $everything and compartments of someone else do not exist for her.
    let everything = get_json(server, &anna, &format!("Patient/{ZOFIA}/$everything")).await;
    assert!(keys(&everything, "match").contains("Observation/obs-zofia"));
    assert!(!keys(&everything, "match").contains("Observation/obs-anna"));
    assert_eq!(status(server, &anna, &format!("Patient/{JAN}/$everything")).await, 404);
    assert_eq!(status(server, &anna, &format!("Patient/{JAN}/Observation")).await, 404);
    assert_eq!(status(server, &anna, "Observation/obs-jan/_history").await, 404);
    assert_eq!(status(server, &anna, "Observation/obs-jan/_history/1").await, 404);
    assert_eq!(status(server, &anna, "Observation/_history").await, 403);
    // Batch entries meet the same policy.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Observation/obs-jan"}},
        {"request": {"method": "GET", "url": "Observation/obs-zofia"}},
        {"request": {"method": "GET", "url": "Observation?_id=obs-jan,obs-anna"}},
    ]});
    let r = post_bundle(server, &anna, &batch).await;
    let out: Value = r.json().await.expect("json");
    assert_eq!(out["entry"][0]["response"]["status"], "404 Not Found", "{out}");
    assert_eq!(out["entry"][1]["response"]["status"], "200 OK");
    assert_eq!(out["entry"][2]["resource"]["total"], 1);

    // Acting for the child (patient/ scopes) narrows to the child.
    let for_zofia =
        token(server, Some("RelatedPerson/demo-anna-mother-of-zofia"), Some(ZOFIA), "launch/patient patient/*.rs")
            .await;
    let bundle = get_json(server, &for_zofia, SEEDED).await;
    assert_eq!(keys(&bundle, "match"), set(&["Observation/obs-zofia"]));

    // Jan authorises Anna to see his record (read only), then revokes it: effective at once.
    let mut grant = consent("proxy-jan-anna", JAN, &format!("Patient/{ANNA}"), "proxy-read", ALWAYS);
    seed(server, &admin, std::slice::from_ref(&grant)).await;
    assert_eq!(status(server, &anna, "Observation/obs-jan").await, 200);
    let bundle = get_json(server, &anna, SEEDED).await;
    assert_eq!(keys(&bundle, "match").len(), 3);
    let anna_writer = token(server, Some(&format!("Patient/{ANNA}")), None, "user/*.cruds").await;
    let mut changed = observation("obs-jan", JAN);
    changed["status"] = json!("amended");
    assert_eq!(put(server, &anna_writer, &changed).await, 403, "a read-only proxy cannot change the record");
    grant["status"] = json!("inactive");
    seed(server, &admin, &[grant]).await;
    assert_eq!(status(server, &anna, "Observation/obs-jan").await, 404);
    // An expired authorisation grants nothing.
    seed(server, &admin, &[consent("old", JAN, &format!("Patient/{ANNA}"), "proxy-act", EXPIRED)]).await;
    assert_eq!(status(server, &anna, "Observation/obs-jan").await, 404);

    // A parent's access ends on the child's 18th birthday: the day before, it still holds.
    let t = today();
    let parent = person("Patient", "parent-p", Day(t.0 - 40 * 365), 11, Sex::Female);
    let adult =
        person("Patient", "child-18", Day::from_ymd(t.ymd().0 - 18, t.ymd().1, t.ymd().2).expect("day"), 12, Sex::Male);
    let (y, m, d) = Day(t.0 + 1).ymd();
    let minor = person("Patient", "child-17", Day::from_ymd(y - 18, m, d).expect("day"), 13, Sex::Male);
    seed(
        server,
        &admin,
        &[
            parent.clone(),
            adult,
            minor,
            parent_link("rp-18", &parent, "child-18"),
            parent_link("rp-17", &parent, "child-17"),
            observation("obs-18", "child-18"),
            observation("obs-17", "child-17"),
        ],
    )
    .await;
    let parent_token = token(server, Some("Patient/parent-p"), None, "user/*.rs").await;
    assert_eq!(status(server, &parent_token, "Observation/obs-17").await, 200);
    assert_eq!(status(server, &parent_token, "Observation/obs-18").await, 404, "18 today: no longer a minor");
}

async fn clinicians_and_pharmacists(server: &TestServer) {
    let admin = admin(server).await;
    seed_family(server, &admin).await;
    let doctor = token(server, Some(&format!("Practitioner/{PIOTR}")), None, "openid fhirUser user/*.cruds").await;
    assert!(keys(&get_json(server, &doctor, SEEDED).await, "match").is_empty());
    // Primary care: Jan chose dr Nowak.
    let mut jan = get_json(server, &admin, &format!("Patient/{JAN}")).await;
    jan["generalPractitioner"] = json!([{"reference": format!("Practitioner/{PIOTR}")}]);
    seed(server, &admin, &[jan]).await;
    assert_eq!(status(server, &doctor, "Observation/obs-jan").await, 200);
    assert_eq!(status(server, &doctor, "Observation/obs-anna").await, 404);
    // A 24-hour authorisation that has ended, then a current one.
    let anna_consent = |period| consent("anna-24h", ANNA, &format!("Practitioner/{PIOTR}"), "doctor-24h", period);
    seed(server, &admin, &[anna_consent(EXPIRED)]).await;
    assert_eq!(status(server, &doctor, "Observation/obs-anna").await, 404);
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).expect("time");
    let start = fmt(now - time::Duration::hours(1));
    let end = fmt(now + time::Duration::hours(23));
    seed(server, &admin, &[anna_consent((&start, &end))]).await;
    assert_eq!(status(server, &doctor, "Observation/obs-anna").await, 200);
    // What the doctor writes for a patient is his to read, even without an authorisation.
    let mut own = observation("by-doctor", ZOFIA);
    own["performer"] = json!([{"reference": format!("Practitioner/{PIOTR}")}]);
    // Confined callers create with server-assigned ids: choosing one is refused like an unknown id.
    assert_eq!(put(server, &doctor, &own).await, 404);
    own.as_object_mut().map(|o| o.remove("id"));
    let r = server.send(Method::POST, "Observation", &own).bearer_auth(&doctor).send().await.expect("post");
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    let by_doctor = format!("Observation/{}", created["id"].as_str().expect("id"));
    assert_eq!(status(server, &doctor, &by_doctor).await, 200);
    assert_eq!(status(server, &doctor, "Observation/obs-zofia").await, 404);

    // A pharmacist with a prescriptions-only authorisation sees prescriptions, nothing else.
    let pharmacist = token(server, Some(&format!("Practitioner/{EWA}")), None, "user/*.rs").await;
    assert_eq!(status(server, &pharmacist, "MedicationRequest/mr-jan").await, 404);
    seed(server, &admin, &[consent("rx-jan", JAN, &format!("Practitioner/{EWA}"), "prescriptions-only", ALWAYS)]).await;
    assert_eq!(status(server, &pharmacist, "MedicationRequest/mr-jan").await, 200);
    // (Jan also has the demo population's prescriptions.)
    let seen: BTreeSet<String> = keys(&get_json(server, &pharmacist, "MedicationRequest").await, "match")
        .into_iter()
        .filter(|k| !k.starts_with("MedicationRequest/demo-"))
        .collect();
    assert_eq!(seen, set(&["MedicationRequest/mr-jan"]));
    assert_eq!(status(server, &pharmacist, "Observation/obs-jan").await, 404);
    assert_eq!(status(server, &pharmacist, &format!("Patient/{JAN}")).await, 404);
    assert!(keys(&get_json(server, &pharmacist, "Observation").await, "match").is_empty());
    // Reference data stays readable.
    assert_eq!(status(server, &pharmacist, &format!("Practitioner/{PIOTR}")).await, 200);
}

async fn writes_stay_within_reach(server: &TestServer) {
    let admin = admin(server).await;
    seed_family(server, &admin).await;
    let anna = token(server, Some(&format!("Patient/{ANNA}")), None, "user/*.cruds").await;
    let create = |body: Value| {
        let anna = anna.clone();
        async move {
            let t = body["resourceType"].as_str().expect("type").to_string();
            server.send(Method::POST, &t, &body).bearer_auth(&anna).send().await.expect("post").status().as_u16()
        }
    };
    let mut for_zofia = observation("x", ZOFIA);
    for_zofia.as_object_mut().map(|o| o.remove("id"));
    assert_eq!(create(for_zofia).await, 201, "a parent records for her child");
    let mut for_jan = observation("x", JAN);
    for_jan.as_object_mut().map(|o| o.remove("id"));
    assert_eq!(create(for_jan).await, 403);
    assert_eq!(create(json!({"resourceType": "Organization", "name": "Mine"})).await, 403);
    assert_eq!(
        create(json!({"resourceType": "AuditEvent", "type": {"code": "x"}, "recorded": "2026-01-01T00:00:00Z",
        "agent": [{"requestor": true}], "source": {"observer": {"display": "x"}}}))
        .await,
        403
    );
    // Other people's resources: as if they did not exist.
    assert_eq!(put(server, &anna, &observation("obs-jan", JAN)).await, 404);
    let r = server.request(Method::DELETE, "Observation/obs-jan").bearer_auth(&anna).send().await.expect("delete");
    assert_eq!(r.status(), 404);
    // Moving her own resource into Jan's record is refused.
    assert_eq!(put(server, &anna, &observation("obs-anna", JAN)).await, 403);
    // A transaction is all or nothing under the policy too.
    let mut mine = observation("tx-1", ANNA);
    mine["identifier"] = json!([{"system": "urn:test", "value": "tx-1"}]);
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:7c0c1a6e-0000-4000-8000-000000000001", "resource": mine,
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:7c0c1a6e-0000-4000-8000-000000000002", "resource": observation("tx-2", JAN),
         "request": {"method": "POST", "url": "Observation"}},
    ]});
    let r = post_bundle(server, &anna, &tx).await;
    assert_eq!(r.status(), 403, "{}", r.text().await.unwrap_or_default());
    let written = get_json(server, &admin, "Observation?identifier=urn:test|tx-1&_summary=count").await;
    assert_eq!(written["total"], 0, "nothing of the transaction was written");
    // Conditional create does not reveal matches outside her reach.
    let mut cond = observation("x", ANNA);
    cond.as_object_mut().map(|o| o.remove("id"));
    let r = server
        .send(Method::POST, "Observation", &cond)
        .header("If-None-Exist", "_id=obs-jan")
        .bearer_auth(&anna)
        .send()
        .await
        .expect("conditional");
    assert_eq!(r.status(), 201, "obs-jan is invisible, so nothing matched");
}

/// A request's answer with the ids it names replaced, to compare answers about different ids.
async fn answer(request: reqwest::RequestBuilder, ids: &[&str]) -> (u16, String) {
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    let mut text = r.text().await.unwrap_or_default();
    // A response Bundle's own id and time differ from one answer to the next.
    if let Ok(mut body) = serde_json::from_str::<Value>(&text)
        && let Some(o) = body.as_object_mut()
    {
        o.remove("id");
        o.remove("meta");
        text = body.to_string();
    }
    for id in ids {
        text = text.replace(id, "{id}");
    }
    (status, text)
}

/// The writes a confined caller may try on `Observation/{id}`: every one must answer the same
/// for a resource it may not see as for one that does not exist.
async fn write_attempts(server: &TestServer, token: &str, id: &str) -> Vec<(u16, String)> {
    let path = format!("Observation/{id}");
    let patch = |guess: &str| {
        let ops = json!([{"op": "test", "path": "/status", "value": guess}, {"op": "replace", "path": "/status", "value": "amended"}]);
        server
            .request(Method::PATCH, &path)
            .header("content-type", "application/json-patch+json")
            .bearer_auth(token)
            .body(ops.to_string())
    };
    let fhirpath_patch = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Observation.status.where($this = 'final')"},
        {"name": "value", "valueCode": "amended"}]}]});
    let mine = observation(id, ANNA);
    let tx = |method: &str, resource: Option<Value>| {
        let mut entry = json!({"request": {"method": method, "url": path, "ifMatch": "W/\"1\""}});
        if let Some(r) = resource {
            entry["resource"] = r;
        }
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    };
    let binary_patch = json!({"resourceType": "Binary", "contentType": "application/json-patch+json",
        "data": base64_of(&json!([{"op": "test", "path": "/status", "value": "final"}]).to_string())});
    let ids = [id];
    vec![
        answer(server.send(Method::PUT, &path, &mine).header("if-match", "W/\"1\"").bearer_auth(token), &ids).await,
        answer(server.send(Method::PUT, &path, &mine).bearer_auth(token), &ids).await,
        answer(patch("final"), &ids).await,
        answer(patch("preliminary"), &ids).await,
        answer(server.send(Method::PATCH, &path, &fhirpath_patch).bearer_auth(token), &ids).await,
        answer(server.request(Method::DELETE, &path).header("if-match", "W/\"1\"").bearer_auth(token), &ids).await,
        answer(server.request(Method::DELETE, &path).bearer_auth(token), &ids).await,
        answer(server.send(Method::POST, "", &tx("PUT", Some(mine.clone()))).bearer_auth(token), &ids).await,
        answer(server.send(Method::POST, "", &tx("PATCH", Some(binary_patch))).bearer_auth(token), &ids).await,
        answer(server.send(Method::POST, "", &tx("DELETE", None)).bearer_auth(token), &ids).await,
        answer(server.get(&format!("{path}/_history")).bearer_auth(token), &ids).await,
        answer(server.get(&format!("{path}/_history/1")).bearer_auth(token), &ids).await,
    ]
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Writes on what the caller may not see (someone else's live or deleted resource, an id once
/// used in someone else's record) answer exactly as on an id that never existed: nothing about
/// the target leaks through preconditions, patch tests or validation, alone or in transactions.
async fn writes_reveal_nothing(server: &TestServer) {
    let admin = admin(server).await;
    seed_family(server, &admin).await;
    seed(server, &admin, &[observation("obs-jan-gone", JAN)]).await;
    let r = server.request(Method::DELETE, "Observation/obs-jan-gone").bearer_auth(&admin).send().await.expect("del");
    assert_eq!(r.status(), 204);
    let anna = token(server, Some(&format!("Patient/{ANNA}")), None, "user/*.cruds").await;
    let missing = write_attempts(server, &anna, "obs-never-was").await;
    for (i, (status, _)) in missing.iter().enumerate() {
        assert!(matches!(status, 200 | 404), "attempt {i} on a missing id answered {status}");
    }
    for hidden in ["obs-jan", "obs-jan-gone"] {
        let answers = write_attempts(server, &anna, hidden).await;
        for (i, (got, expected)) in answers.iter().zip(&missing).enumerate() {
            assert_eq!(got, expected, "attempt {i} on {hidden} differs from one on an unknown id");
        }
    }
    // Nothing changed: Jan's observation is as it was, the deleted one still deleted.
    let jan = get_json(server, &admin, "Observation/obs-jan").await;
    assert_eq!((jan["status"].as_str(), jan["meta"]["versionId"].as_str()), (Some("final"), Some("1")));
    assert_eq!(status(server, &admin, "Observation/obs-jan-gone").await, 410);
    // What the caller may see answers as usual: If-Match and patch tests are evaluated.
    let own = observation("obs-anna", ANNA);
    let r = server.send(Method::PUT, "Observation/obs-anna", &own).header("if-match", "W/\"9\"").bearer_auth(&anna);
    assert_eq!(r.send().await.expect("put").status(), 412);
    let wrong = json!([{"op": "test", "path": "/status", "value": "preliminary"}]);
    let r = server
        .request(Method::PATCH, "Observation/obs-anna")
        .header("content-type", "application/json-patch+json")
        .bearer_auth(&anna)
        .body(wrong.to_string());
    assert_eq!(r.send().await.expect("patch").status(), 422);
}

/// Every version is judged on its own compartments: a resource a backend moved from one patient
/// to another, or deleted and created again for someone else under the same id, shows each
/// patient only their own versions.
async fn versions_judged_one_by_one(server: &TestServer) {
    let admin = admin(server).await;
    let anna = token(server, Some(&format!("Patient/{ANNA}")), None, "user/*.rs").await;
    let jan = token(server, Some(&format!("Patient/{JAN}")), None, "user/*.rs").await;
    seed(server, &admin, &[observation("moved", JAN)]).await;
    seed(server, &admin, &[observation("moved", ANNA)]).await;
    seed(server, &admin, &[observation("reused", JAN)]).await;
    let r = server.request(Method::DELETE, "Observation/reused").bearer_auth(&admin).send().await.expect("del");
    assert_eq!(r.status(), 204);
    seed(server, &admin, &[observation("reused", ANNA)]).await;
    let versions = |bundle: Value| -> Vec<String> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["response"]["etag"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // Moved: v1 Jan's, v2 Anna's.
    assert_eq!(status(server, &anna, "Observation/moved").await, 200);
    assert_eq!(status(server, &anna, "Observation/moved/_history/1").await, 404);
    assert_eq!(status(server, &anna, "Observation/moved/_history/2").await, 200);
    assert_eq!(versions(get_json(server, &anna, "Observation/moved/_history").await), vec!["W/\"2\""]);
    assert_eq!(status(server, &jan, "Observation/moved").await, 404);
    assert_eq!(status(server, &jan, "Observation/moved/_history/1").await, 200);
    assert_eq!(status(server, &jan, "Observation/moved/_history/2").await, 404);
    assert_eq!(versions(get_json(server, &jan, "Observation/moved/_history").await), vec!["W/\"1\""]);
    // Reused: v1 Jan's, v2 the tombstone of Jan's, v3 Anna's.
    assert_eq!(versions(get_json(server, &anna, "Observation/reused/_history").await), vec!["W/\"3\""]);
    assert_eq!(status(server, &anna, "Observation/reused/_history/1").await, 404);
    assert_eq!(status(server, &anna, "Observation/reused/_history/2").await, 404);
    assert_eq!(versions(get_json(server, &jan, "Observation/reused/_history").await), vec!["W/\"2\"", "W/\"1\""]);
    assert_eq!(status(server, &jan, "Observation/reused/_history/2").await, 410, "his deletion, a tombstone");
    assert_eq!(status(server, &jan, "Observation/reused").await, 404, "the current version is Anna's");
    // Jan's read of his version is audited in his record, not in Anna's, where it lives now.
    let url = format!("AuditEvent?entity=Observation/moved&subtype=vread&agent=Patient/{JAN}");
    let events = eventually(server, &admin, &url).await;
    for entry in events["entry"].as_array().into_iter().flatten() {
        let about: Vec<&Value> = entry["resource"]["entity"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["role"]["code"] == "1")
            .map(|e| &e["what"]["reference"])
            .collect();
        assert_eq!(about, vec![&json!(format!("Patient/{JAN}"))], "{}", entry["resource"]);
    }
    let annas = get_json(server, &anna, "AuditEvent?entity=Observation/moved&_count=100").await;
    for entry in annas["entry"].as_array().into_iter().flatten() {
        let who = &entry["resource"]["agent"][0]["who"]["reference"];
        assert_ne!(who, &json!(format!("Patient/{JAN}")), "Jan's read shows in Anna's trail: {}", entry["resource"]);
    }
}

/// Polls until `url` (searched with `token`) has at least one match.
async fn eventually(server: &TestServer, token: &str, url: &str) -> Value {
    for _ in 0..50 {
        let bundle = get_json(server, token, url).await;
        if !keys(&bundle, "match").is_empty() {
            return bundle;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no match for {url}");
}

async fn audit_trail(server: &TestServer) {
    let admin = admin(server).await;
    seed_family(server, &admin).await;
    let anna = token(server, Some(&format!("Patient/{ANNA}")), None, "user/*.cruds").await;
    let jan = token(server, Some(&format!("Patient/{JAN}")), None, "user/*.rs").await;
    assert_eq!(status(server, &anna, "Observation/obs-zofia").await, 200);
    // Zofia's record shows who looked: her mother, through which app.
    let events =
        eventually(server, &anna, &format!("AuditEvent?patient={ZOFIA}&entity=Observation/obs-zofia&action=R")).await;
    let event = &events["entry"][0]["resource"];
    assert_eq!(event["action"], "R");
    assert_eq!(event["outcome"], "0");
    assert_eq!(event["agent"][0]["who"]["reference"], format!("Patient/{ANNA}"));
    assert_eq!(event["agent"][1]["who"]["identifier"]["value"], CLIENT);
    assert!(event["agent"][0]["network"]["address"].is_string(), "the source address is recorded");
    // A count names no resources, but it is still about the patient it names.
    assert_eq!(status(server, &anna, &format!("Observation?patient={ZOFIA}&_summary=count")).await, 200);
    let mut recorded = false;
    for _ in 0..50 {
        let events =
            get_json(server, &anna, &format!("AuditEvent?patient={ZOFIA}&subtype=search-type&_count=100")).await;
        if events.to_string().contains(&format!("Observation?patient={ZOFIA}&_summary=count")) {
            recorded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recorded, "the count query is recorded in Zofia's trail");
    // Acting for the child (a patient-context token): the trail says for whom.
    let for_zofia =
        token(server, Some("RelatedPerson/demo-anna-mother-of-zofia"), Some(ZOFIA), "launch/patient patient/*.rs")
            .await;
    assert_eq!(status(server, &for_zofia, "Observation/obs-zofia").await, 200);
    let mut on_behalf = false;
    for _ in 0..50 {
        let events = get_json(server, &admin, "AuditEvent?agent=RelatedPerson/demo-anna-mother-of-zofia").await;
        if events.to_string().contains(&format!("\"valueReference\":{{\"reference\":\"Patient/{ZOFIA}\"}}")) {
            on_behalf = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(on_behalf, "the event records that Anna acted for Zofia");
    // A change is audited in its own transaction: visible at once.
    let mut new = observation("x", ZOFIA);
    new.as_object_mut().map(|o| o.remove("id"));
    let r = server.send(Method::POST, "Observation", &new).bearer_auth(&anna).send().await.expect("create");
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    let audit = get_json(server, &anna, &format!("AuditEvent?entity=Observation/{id}&action=C")).await;
    assert_eq!(keys(&audit, "match").len(), 1, "the create is audited with the write");
    // A refused attempt is audited too (outcome 4).
    assert_eq!(status(server, &anna, "Observation/_history").await, 403);
    eventually(server, &admin, &format!("AuditEvent?agent=Patient/{ANNA}&outcome=4")).await;
    // Jan's attempt on Zofia's record is filed in hers (she may see who tried), not in his: his
    // own trail must not tell an existing record from a missing one.
    assert_eq!(status(server, &jan, &format!("Patient/{ZOFIA}")).await, 404);
    eventually(server, &admin, &format!("AuditEvent?agent=Patient/{JAN}&about-patient={ZOFIA}&outcome=4")).await;
    // Jan sees no events about Anna's family (not even his own attempt), and may not forge or
    // erase the trail.
    let visible = get_json(server, &jan, "AuditEvent?_count=1000").await;
    for entry in visible["entry"].as_array().into_iter().flatten() {
        let text = entry["resource"].to_string();
        assert!(!text.contains(ZOFIA) && !text.contains("obs-zofia"), "a foreign event leaked: {text}");
    }
    let some_event = events["entry"][0]["resource"]["id"].as_str().expect("event id").to_string();
    let r = server.request(Method::DELETE, &format!("AuditEvent/{some_event}")).bearer_auth(&anna).send().await;
    assert_eq!(r.expect("delete").status(), 403);
    // A graceful stop stores everything still queued.
    assert_eq!(status(server, &anna, "Observation/obs-anna").await, 200);
    server.state().audit.stop().await;
    let stored = get_json(server, &admin, "AuditEvent?entity=Observation/obs-anna&action=R").await;
    assert!(!keys(&stored, "match").is_empty(), "the last read was flushed on stop");
}
