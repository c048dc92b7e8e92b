//! Slot booking, central e-registration and its waiting list, vaccination registration, over
//! HTTP with real tokens: eligibility per service (sex, age edges on the slot's date, e-referral,
//! a parent for HPV), who may book for whom, double booking under concurrency, cancel,
//! reschedule, and the waiting list booking within its window and not beyond.

use crate::common;

use ikp::synth::calendar::Day;
use ikp::synth::pesel::{self, Sex};
use reqwest::Method;
use serde_json::{Value, json};

use common::TestServer;

const PESEL: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";
const SERVICE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-cer-service";

on_both_backends_configured!(crate::common::auth_on; booking_rules, double_booking, waiting_list);

fn today() -> Day {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    Day((secs / 86_400) as i32)
}

async fn put(server: &TestServer, token: &str, resource: &Value) {
    let path = format!("{}/{}", resource["resourceType"].as_str().expect("type"), resource["id"].as_str().expect("id"));
    let r = server.send(Method::PUT, &path, resource).bearer_auth(token).send().await.expect("put");
    let status = r.status().as_u16();
    assert!(status == 200 || status == 201, "PUT {path}: {status} {}", r.text().await.unwrap_or_default());
}

async fn post(server: &TestServer, token: &str, path: &str, params: Value) -> (u16, Value) {
    let body = json!({"resourceType": "Parameters", "parameter": params});
    let r = server.send(Method::POST, path, &body).bearer_auth(token).send().await.expect("post");
    let status = r.status().as_u16();
    (status, common::json(r).await)
}

async fn read(server: &TestServer, token: &str, path: &str) -> Value {
    common::json(server.get(path).bearer_auth(token).send().await.expect("read")).await
}

/// A Location with one Schedule per service, ids prefixed with `prefix`.
async fn facility(server: &TestServer, admin: &str, prefix: &str) {
    put(
        server,
        admin,
        &json!({"resourceType": "Location", "id": format!("{prefix}-loc"), "name": format!("Poradnia {prefix}")}),
    )
    .await;
    for service in ["mammography", "cytology", "cardiology-first", "covid19-vaccination", "hpv-vaccination"] {
        put(
            server,
            admin,
            &json!({
                "resourceType": "Schedule", "id": format!("{prefix}-{service}"),
                "meta": {"profile": ["https://ikp.example.org/fhir/StructureDefinition/PLSchedule"]},
                "active": true,
                "serviceType": [{"coding": [{"system": SERVICE, "code": service}]}],
                "actor": [{"reference": format!("Location/{prefix}-loc")}],
                "planningHorizon": {"start": today().to_string(), "end": today().plus(365).to_string()},
            }),
        )
        .await;
    }
}

/// Publishes `count` slots on `day` at 09:00 UTC; their ids.
async fn slots(server: &TestServer, admin: &str, schedule: &str, day: Day, count: usize) -> Vec<String> {
    let (status, body) = post(
        server,
        admin,
        &format!("Schedule/{schedule}/$publish-slots"),
        json!([
            {"name": "start", "valueDateTime": format!("{day}T09:00:00Z")},
            {"name": "count", "valueInteger": count},
            {"name": "minutes", "valueInteger": 15},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["parameter"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["name"] == "slot")
        .filter_map(|p| p.pointer("/valueReference/reference").and_then(Value::as_str))
        .map(|r| r.trim_start_matches("Slot/").to_string())
        .collect()
}

/// A synthetic patient born on `birth`, with a valid PESEL.
async fn patient(server: &TestServer, admin: &str, id: &str, birth: Day, serial: u32, sex: Sex) -> String {
    let pesel = pesel::encode(birth, serial, sex).expect("pesel");
    let gender = if sex == Sex::Female { "female" } else { "male" };
    put(
        server,
        admin,
        &json!({"resourceType": "Patient", "id": id, "identifier": [{"system": PESEL, "value": pesel}],
                "name": [{"family": "Testowa", "given": [id]}], "gender": gender, "birthDate": birth.to_string()}),
    )
    .await;
    server.token(Some(&format!("Patient/{id}")), None, "user/*.cruds").await
}

fn consent(id: &str, grantor: &str, grantee: &str, category: &str) -> Value {
    json!({
        "resourceType": "Consent", "id": id, "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type", "code": category}]}],
        "patient": {"reference": format!("Patient/{grantor}")},
        "provision": {"type": "permit", "period": {"start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}, "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
            "reference": {"reference": grantee}}]},
    })
}

fn patient_param(id: &str) -> Value {
    json!([{"name": "patient", "valueReference": {"reference": format!("Patient/{id}")}}])
}

async fn book(server: &TestServer, token: &str, slot: &str, patient: &str) -> (u16, Value) {
    post(server, token, &format!("Slot/{slot}/$book"), patient_param(patient)).await
}

async fn slot_status(server: &TestServer, token: &str, slot: &str) -> String {
    read(server, token, &format!("Slot/{slot}")).await["status"].as_str().unwrap_or_default().to_string()
}

async fn booking_rules(server: &TestServer) {
    let admin = server.admin_token().await;
    facility(server, &admin, "a").await;
    let day = today().plus(10);
    let mammo = slots(server, &admin, "a-mammography", day, 8).await;
    let later = slots(server, &admin, "a-mammography", day.plus(1), 2).await;

    // Happy path: a 50-year-old woman books for herself; the slot becomes busy.
    let woman = patient(server, &admin, "bk-woman", day.add_years(-50), 11, Sex::Female).await;
    let (status, appt) = book(server, &woman, &mammo[0], "bk-woman").await;
    assert_eq!(status, 201, "{appt}");
    assert_eq!(appt["status"], "booked");
    assert_eq!(appt["slot"][0]["reference"], format!("Slot/{}", mammo[0]));
    assert!(
        appt["participant"]
            .as_array()
            .expect("participants")
            .iter()
            .any(|p| p["actor"]["reference"] == "Location/a-loc")
    );
    assert_eq!(slot_status(server, &woman, &mammo[0]).await, "busy");
    let (status, _) = book(server, &woman, &mammo[0], "bk-woman").await;
    assert_eq!(status, 409, "a busy slot cannot be booked again");
    // The booking is in the audit trail, as done by the patient.
    let audit =
        read(server, &admin, &format!("AuditEvent?entity=Appointment/{}", appt["id"].as_str().expect("id"))).await;
    let events = audit["entry"].as_array().cloned().unwrap_or_default();
    assert!(
        events.iter().any(|e| e["resource"]["subtype"][0]["code"] == "$book"
            && e["resource"]["agent"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["who"]["reference"] == "Patient/bk-woman"))),
        "{audit}"
    );

    // A man is refused mammography.
    let man = patient(server, &admin, "bk-man", day.add_years(-50), 12, Sex::Male).await;
    let (status, body) = book(server, &man, &mammo[1], "bk-man").await;
    assert_eq!(status, 422, "{body}");

    // Age edges on the slot's date: 44 and 75 refused, 45 and 74 allowed.
    let edges = [
        ("bk-44", day.add_years(-45).plus(1), 422),
        ("bk-45", day.add_years(-45), 201),
        ("bk-74", day.add_years(-75).plus(1), 201),
        ("bk-75", day.add_years(-75), 422),
    ];
    for (i, (id, birth, expected)) in edges.into_iter().enumerate() {
        let token = patient(server, &admin, id, birth, 20 + i as u32, Sex::Female).await;
        let (status, body) = book(server, &token, &mammo[2 + i], id).await;
        assert_eq!(status, expected, "{id}: {body}");
    }

    // Someone else cannot book for a patient they may not act for.
    let (status, _) = book(server, &man, &mammo[6], "bk-woman").await;
    assert!(status == 403 || status == 404, "{status}");
    assert_eq!(slot_status(server, &admin, &mammo[6]).await, "free");

    // A proxy with a proxy-act authorisation may book for her; a read-only proxy may not.
    put(server, &admin, &consent("bk-proxy-act", "bk-woman", "Patient/demo-jan-kowalski", "proxy-act")).await;
    put(server, &admin, &consent("bk-proxy-read", "bk-woman", "Patient/bk-man", "proxy-read")).await;
    let (status, body) = book(server, &man, &mammo[7], "bk-woman").await;
    assert_eq!(status, 403, "read-only proxy: {body}");
    let jan = server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.cruds").await;
    let (status, body) = book(server, &jan, &mammo[7], "bk-woman").await;
    assert_eq!(status, 201, "proxy-act: {body}");
    assert_eq!(slot_status(server, &admin, &mammo[7]).await, "busy");

    // Cancel frees the slot; the read-only proxy sees it but cannot cancel it, a stranger does not see it.
    let appt_id = appt["id"].as_str().expect("id");
    let (status, _) = post(server, &man, &format!("Appointment/{appt_id}/$cancel"), json!([])).await;
    assert_eq!(status, 403);
    let child_token = server.token(Some("Patient/demo-zofia-kowalska"), None, "user/*.cruds").await;
    let (status, _) = post(server, &child_token, &format!("Appointment/{appt_id}/$cancel"), json!([])).await;
    assert_eq!(status, 404);
    let (status, cancelled) = post(server, &woman, &format!("Appointment/{appt_id}/$cancel"), json!([])).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(slot_status(server, &admin, &mammo[0]).await, "free");

    // Reschedule: book again, move to another slot atomically.
    let (status, appt) = book(server, &woman, &mammo[0], "bk-woman").await;
    assert_eq!(status, 201, "{appt}");
    let appt_id = appt["id"].as_str().expect("id");
    let (status, moved) = post(
        server,
        &woman,
        &format!("Appointment/{appt_id}/$reschedule"),
        json!([{"name": "slot", "valueReference": {"reference": format!("Slot/{}", later[0])}}]),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["slot"][0]["reference"], format!("Slot/{}", later[0]));
    assert_eq!(moved["status"], "booked");
    assert_eq!(slot_status(server, &admin, &mammo[0]).await, "free");
    assert_eq!(slot_status(server, &admin, &later[0]).await, "busy");

    // Cardiology first visit: refused without an e-referral, allowed with one.
    let cardio = slots(server, &admin, "a-cardiology-first", day, 2).await;
    let (status, body) = book(server, &jan, &cardio[0], "demo-jan-kowalski").await;
    assert_eq!(status, 422, "{body}");
    put(
        server,
        &admin,
        &json!({"resourceType": "ServiceRequest", "id": "bk-referral-jan", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/demo-jan-kowalski"},
                "performerType": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.4", "code": "1100"}]}}),
    )
    .await;
    let (status, body) = book(server, &jan, &cardio[0], "demo-jan-kowalski").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["basedOn"][0]["reference"], "ServiceRequest/bk-referral-jan");
    let (status, body) = book(server, &jan, &cardio[1], "demo-jan-kowalski").await;
    assert_eq!(status, 422, "one e-referral, one booked first visit: {body}");

    // HPV: the mother books for her child (aged 9–13); the child herself and Jan cannot.
    let hpv = slots(server, &admin, "a-hpv-vaccination", day, 3).await;
    let child_birth = day.add_years(-12);
    patient(server, &admin, "bk-child", child_birth, 31, Sex::Female).await;
    let child = server.token(Some("Patient/bk-child"), None, "user/*.cruds").await;
    let mother = patient(server, &admin, "bk-mother", day.add_years(-40), 32, Sex::Female).await;
    let mother_pesel = read(server, &admin, "Patient/bk-mother").await["identifier"][0]["value"].clone();
    put(
        server,
        &admin,
        &json!({"resourceType": "RelatedPerson", "id": "bk-mother-of-child",
                "identifier": [{"system": PESEL, "value": mother_pesel}],
                "patient": {"reference": "Patient/bk-child"},
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]}]}),
    )
    .await;
    let (status, body) = book(server, &child, &hpv[0], "bk-child").await;
    // Children do not act on their own record (under 16 they have no login; until 18 it is read-only).
    assert_eq!(status, 403, "the child cannot register herself: {body}");
    let (status, _) = book(server, &jan, &hpv[0], "bk-child").await;
    assert_eq!(status, 404, "a stranger does not see the child");
    let (status, body) = book(server, &mother, &hpv[0], "bk-child").await;
    assert_eq!(status, 201, "{body}");
    // Demo family: Anna books HPV for Zofia; Zofia's vaccination history is searchable by Anna.
    let anna = server.token(Some("Patient/demo-anna-kowalska"), None, "user/*.cruds").await;
    let zofia_age = Day::parse("2016-07-21").expect("day").age_on(day);
    let (status, body) = book(server, &anna, &hpv[1], "demo-zofia-kowalska").await;
    assert_eq!(status, if (9..=13).contains(&zofia_age) { 201 } else { 422 }, "{body}");
    let history = read(server, &anna, "Immunization?patient=Patient/demo-zofia-kowalska").await;
    assert_eq!(history["resourceType"], "Bundle");
    assert!(history["entry"].as_array().is_some_and(|e| !e.is_empty()), "{history}");
    let recommendation = read(server, &anna, "ImmunizationRecommendation/demo-rekomendacja-hpv-zofia").await;
    assert_eq!(recommendation["patient"]["reference"], "Patient/demo-zofia-kowalska", "{recommendation}");
    let (status, _) = book(server, &woman, &hpv[2], "demo-zofia-kowalska").await;
    assert_eq!(status, 404);

    // COVID-19 vaccination: an adult books for himself.
    let covid = slots(server, &admin, "a-covid19-vaccination", day, 1).await;
    let (status, body) = book(server, &man, &covid[0], "bk-man").await;
    assert_eq!(status, 201, "{body}");
}

async fn double_booking(server: &TestServer) {
    double_booking_over(&[server]).await;
}

/// Eight patients book one slot at the same moment, their requests spread over `nodes` (servers
/// on one database): exactly one wins, the others get 409.
pub(crate) async fn double_booking_over(nodes: &[&TestServer]) {
    let server = nodes[0];
    let admin = server.admin_token().await;
    facility(server, &admin, "d").await;
    let slot = slots(server, &admin, "d-covid19-vaccination", today().plus(5), 1).await.remove(0);
    let mut tokens = Vec::new();
    for i in 0..8u32 {
        let id = format!("dbl-{i}");
        tokens.push((
            id.clone(),
            patient(server, &admin, &id, Day::parse("1990-01-01").expect("day").plus(i64::from(i)), 40 + i, Sex::Male)
                .await,
        ));
    }
    let attempts = tokens.iter().enumerate().map(|(i, (id, token))| book(nodes[i % nodes.len()], token, &slot, id));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| (200..300).contains(s)).count();
    assert_eq!(ok, 1, "exactly one booking wins: {:?}", results.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    assert!(
        results.iter().all(|(s, _)| *s == 201 || *s == 409),
        "{:?}",
        results.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
    let booked = read(server, &admin, &format!("Appointment?slot=Slot/{slot}&status=booked")).await;
    assert_eq!(booked["entry"].as_array().map(Vec::len), Some(1), "{booked}");
}

async fn waiting_list(server: &TestServer) {
    let admin = server.admin_token().await;
    facility(server, &admin, "w").await;
    let today = today();
    let token = patient(server, &admin, "wl-woman", today.add_years(-50), 51, Sex::Female).await;
    let (status, task) = post(
        server,
        &token,
        "Patient/wl-woman/$join-waiting-list",
        json!([
            {"name": "service", "valueCode": "mammography"},
            {"name": "location", "valueReference": {"reference": "Location/w-loc"}},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["status"], "requested");
    assert_eq!(task["restriction"]["period"]["end"], today.plus(90).to_string());
    let task_id = task["id"].as_str().expect("id").to_string();

    // Another patient cannot put her on a list.
    let other = patient(server, &admin, "wl-other", today.add_years(-50), 52, Sex::Female).await;
    let (status, _) = post(
        server,
        &other,
        "Patient/wl-woman/$join-waiting-list",
        json!([{"name": "service", "valueCode": "mammography"}]),
    )
    .await;
    assert_eq!(status, 404);

    // A slot beyond the 90-day window is not booked.
    let far = slots(server, &admin, "w-mammography", today.plus(100), 1).await;
    assert_eq!(read(server, &token, &format!("Task/{task_id}")).await["status"], "requested");
    assert_eq!(slot_status(server, &admin, &far[0]).await, "free");
    // A slot of another service is not booked either.
    let other_service = slots(server, &admin, "w-cytology", today.plus(20), 1).await;
    assert_eq!(slot_status(server, &admin, &other_service[0]).await, "free");

    // A slot within the window, freed by a cancellation, is booked automatically.
    let near = slots(server, &admin, "w-mammography", today.plus(30), 1).await;
    assert_eq!(slot_status(server, &admin, &near[0]).await, "busy", "published slot matched at once");
    let done = read(server, &token, &format!("Task/{task_id}")).await;
    assert_eq!(done["status"], "completed", "{done}");
    let appt_ref = done["output"][0]["valueReference"]["reference"].as_str().expect("appointment").to_string();
    let appt = read(server, &token, &appt_ref).await;
    assert_eq!(appt["slot"][0]["reference"], format!("Slot/{}", near[0]));
    let notes = read(server, &token, "Communication?subject=Patient/wl-woman").await;
    assert_eq!(notes["entry"].as_array().map(Vec::len), Some(1), "{notes}");

    // A cardiology visit waits 40 days: the freed slot at day 35 is taken, day 45 is not.
    put(
        server,
        &admin,
        &json!({"resourceType": "ServiceRequest", "id": "wl-referral", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/wl-other"},
                "performerType": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.4", "code": "1100"}]}}),
    )
    .await;
    let beyond = slots(server, &admin, "w-cardiology-first", today.plus(45), 1).await;
    let within = slots(server, &admin, "w-cardiology-first", today.plus(35), 1).await;
    // Someone books the day-35 slot first; the waiting patient joins; the booking is cancelled.
    let jan = server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.cruds").await;
    put(
        server,
        &admin,
        &json!({"resourceType": "ServiceRequest", "id": "wl-referral-jan", "status": "active", "intent": "order",
                "subject": {"reference": "Patient/demo-jan-kowalski"},
                "performerType": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.4", "code": "1100"}]}}),
    )
    .await;
    let (status, jan_appt) = book(server, &jan, &within[0], "demo-jan-kowalski").await;
    assert_eq!(status, 201, "{jan_appt}");
    let (status, task) = post(
        server,
        &other,
        "Patient/wl-other/$join-waiting-list",
        json!([
            {"name": "service", "valueCode": "cardiology-first"},
            {"name": "location", "valueReference": {"reference": "Location/w-loc"}},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["status"], "requested", "the day-45 slot is beyond the 40-day window");
    assert_eq!(slot_status(server, &admin, &beyond[0]).await, "free");
    let jan_id = jan_appt["id"].as_str().expect("id");
    let (status, _) = post(server, &jan, &format!("Appointment/{jan_id}/$cancel"), json!([])).await;
    assert_eq!(status, 200);
    let task = read(server, &other, &format!("Task/{}", task["id"].as_str().expect("id"))).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(slot_status(server, &admin, &within[0]).await, "busy");
    let appt = read(server, &other, task["output"][0]["valueReference"]["reference"].as_str().expect("ref")).await;
    assert_eq!(appt["basedOn"][0]["reference"], "ServiceRequest/wl-referral");

    // An entry whose window has passed fails on the next matching run.
    put(
        server,
        &admin,
        &json!({"resourceType": "Task", "id": "wl-expired", "status": "requested", "intent": "order",
                "code": {"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-cer-task", "code": "waiting-list"}]},
                "for": {"reference": "Patient/wl-woman"}, "authoredOn": format!("{}T08:00:00Z", today.plus(-100)),
                "restriction": {"period": {"start": today.plus(-100).to_string(), "end": today.plus(-10).to_string()}},
                "input": [{"type": {"text": "service"}, "valueCoding": {"system": SERVICE, "code": "mammography"}}]}),
    )
    .await;

    // Explicit matching is for backend services only.
    let (status, _) = post(server, &other, "Slot/$match-waiting-list", json!([])).await;
    assert_eq!(status, 403);
    let (status, _) = post(server, &admin, "Slot/$match-waiting-list", json!([])).await;
    assert_eq!(status, 200);
    let expired = read(server, &admin, "Task/wl-expired").await;
    assert_eq!(expired["status"], "failed", "{expired}");
    assert_eq!(slot_status(server, &admin, &far[0]).await, "free");
}
