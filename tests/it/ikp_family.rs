//! National workflows over HTTP with real tokens: authorisations (grant by PESEL and surname,
//! revoke, one-time 24-hour codes, who may grant), primary-care declarations (changes, fees,
//! exemptions, the doctor's access), EHIC applications (states, NFZ-only transitions), insurance
//! and sick leave for the patient, and the limited account of a 16-17-year-old.

use crate::common;

use ikp::synth::calendar::Day;
use ikp::synth::pesel::{self, Sex};
use reqwest::Method;
use serde_json::{Value, json};

use common::TestServer;

on_both_backends_configured!(crate::common::auth_on;
    authorisations,
    one_time_access_code,
    primary_care_declarations,
    ehic_applications,
    insurance_and_sick_leave,
    teenagers_read_but_do_not_act,
);

const JAN: &str = "demo-jan-kowalski";
const ANNA: &str = "demo-anna-kowalska";
const ZOFIA: &str = "demo-zofia-kowalska";
const TOMASZ: &str = "demo-tomasz-kowalski";
const KRYSTYNA: &str = "demo-krystyna-nowak";

async fn user(server: &TestServer, who: &str) -> String {
    server.token(Some(who), None, "user/*.cruds").await
}

/// POSTs a Parameters body to `path`; returns status and JSON.
async fn operation(server: &TestServer, token: &str, path: &str, params: &[(&str, Value)]) -> (u16, Value) {
    let parameter: Vec<Value> = params
        .iter()
        .map(|(name, value)| {
            let mut p = json!({"name": name});
            let key = if value.is_boolean() { "valueBoolean" } else { "valueString" };
            p[key] = value.clone();
            p
        })
        .collect();
    let body = json!({"resourceType": "Parameters", "parameter": parameter});
    let r = server.send(Method::POST, path, &body).bearer_auth(token).send().await.expect("operation");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn status(server: &TestServer, token: &str, path: &str) -> u16 {
    server.get(path).bearer_auth(token).send().await.expect("get").status().as_u16()
}

async fn search(server: &TestServer, token: &str, path: &str) -> Vec<Value> {
    let bundle: Value = server.get(path).bearer_auth(token).send().await.expect("get").json().await.expect("json");
    common::resources(&bundle, "match")
}

async fn authorisations(server: &TestServer) {
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let anna = user(server, &format!("Patient/{ANNA}")).await;
    let tomasz = user(server, &format!("Patient/{TOMASZ}")).await;
    let krystyna = user(server, &format!("Patient/{KRYSTYNA}")).await;
    // The demo population: Krystyna acts for Jan; Anna let Zofia's father in.
    assert_eq!(status(server, &krystyna, &format!("Patient/{JAN}")).await, 200);
    assert_eq!(status(server, &tomasz, &format!("Patient/{ZOFIA}")).await, 200);
    assert_eq!(status(server, &anna, &format!("Patient/{JAN}")).await, 404);

    // Jan authorises Anna by PESEL and surname; a wrong surname finds nobody.
    let grant = |family: &'static str| {
        vec![
            ("category", json!("proxy-read")),
            ("granteePesel", json!("85030204565")),
            ("granteeFamily", json!(family)),
        ]
    };
    let (code, _) = operation(server, &jan, &format!("Patient/{JAN}/$grant-access"), &grant("Nowak")).await;
    assert_eq!(code, 400);
    let (code, consent) = operation(server, &jan, &format!("Patient/{JAN}/$grant-access"), &grant("Kowalska")).await;
    assert_eq!(code, 201, "{consent}");
    assert_eq!(consent["provision"]["actor"][0]["reference"]["reference"], format!("Patient/{ANNA}"));
    assert_eq!(status(server, &anna, &format!("Patient/{JAN}")).await, 200);
    // Nobody else may grant access to Jan's record: not Anna, not his proxy.
    let (code, _) = operation(server, &anna, &format!("Patient/{JAN}/$grant-access"), &grant("Kowalska")).await;
    assert_eq!(code, 403);
    let (code, _) = operation(server, &krystyna, &format!("Patient/{JAN}/$grant-access"), &grant("Kowalska")).await;
    assert_eq!(code, 403, "a proxy cannot pass access on");
    // Revoking ends it at once; only the grantor may.
    let id = consent["id"].as_str().expect("id");
    let (code, _) = operation(server, &anna, &format!("Consent/{id}/$revoke"), &[]).await;
    assert_eq!(code, 403);
    let (code, revoked) = operation(server, &jan, &format!("Consent/{id}/$revoke"), &[]).await;
    assert_eq!(code, 200, "{revoked}");
    assert_eq!(revoked["status"], "inactive");
    assert_eq!(status(server, &anna, &format!("Patient/{JAN}")).await, 404);
    let (code, _) = operation(server, &jan, &format!("Consent/{id}/$revoke"), &[]).await;
    assert_eq!(code, 409, "already revoked");

    // The registering parent (Anna) controls the other parent's access; he cannot grant it on.
    let (code, _) = operation(
        server,
        &tomasz,
        &format!("Patient/{ZOFIA}/$grant-access"),
        &[("category", json!("proxy-read")), ("grantee", json!(format!("Patient/{JAN}")))],
    )
    .await;
    assert_eq!(code, 403);
    let pharmacy = [("category", json!("prescriptions-only")), ("grantee", json!("Practitioner/demo-ewa-wisniewska"))];
    let (code, c) = operation(server, &anna, &format!("Patient/{ZOFIA}/$grant-access"), &pharmacy).await;
    assert_eq!(code, 201, "{c}");
    // A category that does not fit the grantee is refused.
    let wrong = [("category", json!("prescriptions-only")), ("grantee", json!(format!("Patient/{JAN}")))];
    let (code, _) = operation(server, &anna, &format!("Patient/{ANNA}/$grant-access"), &wrong).await;
    assert_eq!(code, 400);
}

async fn one_time_access_code(server: &TestServer) {
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let doctor = user(server, "Practitioner/demo-piotr-nowak").await;
    assert_eq!(status(server, &doctor, &format!("Patient/{JAN}")).await, 404);
    let (code, issued) = operation(server, &jan, &format!("Patient/{JAN}/$access-code"), &[]).await;
    assert_eq!(code, 200, "{issued}");
    let one_time = issued["parameter"][0]["valueString"].as_str().expect("code").to_string();
    assert_eq!(one_time.len(), 8);
    // A wrong code voids the pending one: the right code no longer works afterwards.
    let redeem = |c: String| vec![("pesel", json!("80051412351")), ("code", json!(c))];
    let (code, _) = operation(server, &doctor, "Patient/$redeem-access-code", &redeem("00000000".into())).await;
    assert_eq!(code, 404);
    let (code, _) = operation(server, &doctor, "Patient/$redeem-access-code", &redeem(one_time)).await;
    assert_eq!(code, 404, "one guess per code");
    // A fresh code, redeemed by the doctor: 24 hours of access.
    let (_, issued) = operation(server, &jan, &format!("Patient/{JAN}/$access-code"), &[]).await;
    let one_time = issued["parameter"][0]["valueString"].as_str().expect("code").to_string();
    let (code, consent) = operation(server, &doctor, "Patient/$redeem-access-code", &redeem(one_time.clone())).await;
    assert_eq!(code, 200, "{consent}");
    assert_eq!(consent["status"], "active");
    assert_eq!(consent["category"][0]["coding"][0]["code"], "doctor-24h");
    assert_eq!(status(server, &doctor, &format!("Patient/{JAN}")).await, 200);
    // Used up.
    let (code, _) = operation(server, &doctor, "Patient/$redeem-access-code", &redeem(one_time)).await;
    assert_eq!(code, 404);
    // Patients do not redeem codes.
    let (code, _) = operation(server, &jan, "Patient/$redeem-access-code", &redeem("12345678".into())).await;
    assert_eq!(code, 403);
}

async fn primary_care_declarations(server: &TestServer) {
    let admin = server.admin_token().await;
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let doctor = user(server, "Practitioner/demo-piotr-nowak").await;
    // A second doctor at another facility to switch between.
    for resource in [
        json!({"resourceType": "Practitioner", "id": "other-doc", "name": [{"family": "Lis"}]}),
        json!({"resourceType": "PractitionerRole", "id": "other-doc-poz", "practitioner": {"reference": "Practitioner/other-doc"},
            "organization": {"reference": "Organization/demo-przychodnia-zdrowie"}}),
    ] {
        let path =
            format!("{}/{}", resource["resourceType"].as_str().expect("t"), resource["id"].as_str().expect("id"));
        let r = server.send(Method::PUT, &path, &resource).bearer_auth(&admin).send().await.expect("put");
        assert!(r.status().is_success());
    }
    assert_eq!(status(server, &doctor, &format!("Patient/{JAN}")).await, 404);
    let choose = |role: &'static str, pr: &'static str, reason: Option<&'static str>| {
        let mut p = vec![("role", json!(role)), ("practitionerRole", json!(pr))];
        if let Some(r) = reason {
            p.push(("reason", json!(r)));
        }
        p
    };
    let path = format!("Patient/{JAN}/$choose-primary-care");
    let (code, first) =
        operation(server, &jan, &path, &choose("poz-doctor", "PractitionerRole/demo-piotr-nowak-poz", None)).await;
    assert_eq!(code, 201, "{first}");
    assert!(first.get("input").is_none(), "the first declaration is not a change");
    // The chosen doctor now sees Jan's record; generalPractitioner is in step.
    assert_eq!(status(server, &doctor, &format!("Patient/{JAN}")).await, 200);
    let patient: Value =
        server.get(&format!("Patient/{JAN}")).bearer_auth(&jan).send().await.expect("p").json().await.expect("j");
    let gp: Vec<&str> =
        patient["generalPractitioner"].as_array().expect("gp").iter().filter_map(|r| r["reference"].as_str()).collect();
    assert_eq!(gp, ["PractitionerRole/demo-piotr-nowak-poz", "Organization/demo-przychodnia-zdrowie"]);
    // Choosing the same doctor again is not a change.
    let (code, _) =
        operation(server, &jan, &path, &choose("poz-doctor", "PractitionerRole/demo-piotr-nowak-poz", None)).await;
    assert_eq!(code, 409);
    // Two free changes, an exempt one, then a paid one.
    let fee = |t: &Value| t["input"].as_array().into_iter().flatten().any(|i| i["type"]["coding"][0]["code"] == "fee");
    let (_, c1) = operation(server, &jan, &path, &choose("poz-doctor", "PractitionerRole/other-doc-poz", None)).await;
    assert!(!fee(&c1));
    let (_, c2) =
        operation(server, &jan, &path, &choose("poz-doctor", "PractitionerRole/demo-piotr-nowak-poz", None)).await;
    assert!(!fee(&c2));
    let (_, moved) =
        operation(server, &jan, &path, &choose("poz-doctor", "PractitionerRole/other-doc-poz", Some("moved"))).await;
    assert!(!fee(&moved), "moving house is exempt");
    let (code, c3) =
        operation(server, &jan, &path, &choose("poz-doctor", "PractitionerRole/demo-piotr-nowak-poz", None)).await;
    assert_eq!(code, 201);
    assert!(fee(&c3), "the third paid change is flagged: {c3}");
    // Exactly one declaration of the role is current.
    let tasks = search(server, &jan, &format!("Task?patient={JAN}&code=poz-doctor")).await;
    assert_eq!(tasks.iter().filter(|t| t.pointer("/executionPeriod/end").is_none()).count(), 1);
    assert_eq!(tasks.len(), 5);
    // A nurse choice keeps the doctor.
    let (code, _) =
        operation(server, &jan, &path, &choose("poz-nurse", "PractitionerRole/demo-maria-zielinska-poz", None)).await;
    assert_eq!(code, 201);
    let patient: Value =
        server.get(&format!("Patient/{JAN}")).bearer_auth(&jan).send().await.expect("p").json().await.expect("j");
    assert_eq!(patient["generalPractitioner"].as_array().map(Vec::len), Some(3));
    // Someone without the right to act for Jan cannot choose for him.
    let anna = user(server, &format!("Patient/{ANNA}")).await;
    let (code, _) =
        operation(server, &anna, &path, &choose("poz-midwife", "PractitionerRole/demo-maria-zielinska-poz", None))
            .await;
    assert_eq!(code, 404);
    // His proxy may.
    let krystyna = user(server, &format!("Patient/{KRYSTYNA}")).await;
    let (code, _) =
        operation(server, &krystyna, &path, &choose("poz-midwife", "PractitionerRole/demo-maria-zielinska-poz", None))
            .await;
    assert_eq!(code, 201);
}

async fn ehic_applications(server: &TestServer) {
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let nfz = server.token(None, None, "system/Task.cruds").await;
    let (code, task) = operation(server, &jan, &format!("Patient/{JAN}/$apply-ehic"), &[]).await;
    assert_eq!(code, 201, "{task}");
    assert_eq!(task["businessStatus"]["coding"][0]["code"], "accepted");
    let id = task["id"].as_str().expect("id").to_string();
    let (code, _) = operation(server, &jan, &format!("Patient/{JAN}/$apply-ehic"), &[]).await;
    assert_eq!(code, 409, "one open application at a time");
    // The patient cannot move it on; the NFZ can, along the allowed paths only.
    let step = |s: &'static str| vec![("status", json!(s))];
    let (code, _) = operation(server, &jan, &format!("Task/{id}/$ehic-status"), &step("sent")).await;
    assert_eq!(code, 403);
    let (code, _) = operation(server, &nfz, &format!("Task/{id}/$ehic-status"), &step("sent")).await;
    assert_eq!(code, 409, "not before review");
    let (code, t) = operation(server, &nfz, &format!("Task/{id}/$ehic-status"), &step("under-review")).await;
    assert_eq!((code, t["status"].as_str()), (200, Some("in-progress")));
    let (code, t) = operation(server, &nfz, &format!("Task/{id}/$ehic-status"), &step("sent")).await;
    assert_eq!((code, t["status"].as_str()), (200, Some("completed")));
    let (code, _) = operation(server, &nfz, &format!("Task/{id}/$ehic-status"), &step("returned")).await;
    assert_eq!(code, 400, "a return needs a reason");
    let returned = vec![("status", json!("returned")), ("reason", json!("adresat nieznany"))];
    let (code, t) = operation(server, &nfz, &format!("Task/{id}/$ehic-status"), &returned).await;
    assert_eq!((code, t["status"].as_str()), (200, Some("on-hold")));
    // The patient sees where it stands.
    let mine = search(server, &jan, &format!("Task?patient={JAN}&code=ehic-application")).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["businessStatus"]["coding"][0]["code"], "returned");
    assert_eq!(mine[0]["statusReason"]["text"], "adresat nieznany");
    // Someone else sees nothing of it.
    let anna = user(server, &format!("Patient/{ANNA}")).await;
    assert_eq!(status(server, &anna, &format!("Task/{id}")).await, 404);
    assert!(search(server, &anna, "Task?code=ehic-application").await.iter().all(|t| t["id"] != id.as_str()));
}

async fn insurance_and_sick_leave(server: &TestServer) {
    let jan = user(server, &format!("Patient/{JAN}")).await;
    let anna = user(server, &format!("Patient/{ANNA}")).await;
    assert_eq!(search(server, &jan, &format!("Coverage?beneficiary=Patient/{JAN}")).await.len(), 1);
    assert_eq!(search(server, &jan, &format!("Invoice?subject=Patient/{JAN}")).await.len(), 3);
    let leaves = search(server, &jan, "Composition?type=e-ZLA").await;
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0]["id"], "demo-jan-e-zla");
    assert!(search(server, &anna, "Invoice").await.is_empty());
    assert_eq!(status(server, &anna, "Composition/demo-jan-e-zla").await, 404);
    // His proxy reads them too.
    let krystyna = user(server, &format!("Patient/{KRYSTYNA}")).await;
    assert_eq!(status(server, &krystyna, "Coverage/demo-jan-nfz").await, 200);
}

async fn teenagers_read_but_do_not_act(server: &TestServer) {
    let admin = server.admin_token().await;
    let today = time::OffsetDateTime::now_utc().date();
    let birth = Day::from_ymd(today.year() - 17, 1, 15).expect("day");
    let pesel = pesel::encode(birth, 321, Sex::Female).expect("pesel");
    let (y, m, d) = birth.ymd();
    let teen = json!({"resourceType": "Patient", "id": "teen", "gender": "female",
        "birthDate": format!("{y:04}-{m:02}-{d:02}"), "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.1.616", "value": pesel}]});
    let r = server.send(Method::PUT, "Patient/teen", &teen).bearer_auth(&admin).send().await.expect("put");
    assert!(r.status().is_success());
    let token = user(server, "Patient/teen").await;
    assert_eq!(status(server, &token, "Patient/teen").await, 200);
    let observation = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "Patient/teen"}});
    let r = server.send(Method::POST, "Observation", &observation).bearer_auth(&token).send().await.expect("post");
    assert_eq!(r.status(), 403, "a 17-year-old reads her record; her parent acts on it");
    let (code, _) = operation(
        server,
        &token,
        "Patient/teen/$grant-access",
        &[("category", json!("proxy-read")), ("grantee", json!(format!("Patient/{JAN}")))],
    )
    .await;
    assert_eq!(code, 403);
}
