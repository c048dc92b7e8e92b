//! The authenticated request path: a token's caller is worked out once per policy generation, so
//! an authenticated request in steady state runs only the statements that answer it (plus one
//! read of the generation), and a change to the policy made on any node (a revoked Consent, a
//! revoked token) applies on every node at the next request.

use crate::common;

use ikp::cli::{AuthMode, ServeArgs};
use reqwest::Method;
use serde_json::{Value, json};

use common::TestServer;

pub fn auth_on_counted(args: &mut ServeArgs) {
    args.auth = Some(AuthMode::On);
    args.demo = Some(true);
    args.expose_statements = true;
}

on_both_backends_configured!(super::auth_on_counted; statement_budget, policy_changes_apply_at_the_next_request);

const JAN: &str = "demo-jan-kowalski";
const KRYSTYNA: &str = "demo-krystyna-nowak";

/// The statements a request ran (`x-ikp-statements`).
async fn statements(server: &TestServer, token: &str, path: &str) -> (u16, u32) {
    let r = server.get(path).bearer_auth(token).send().await.expect("get");
    let count = r.headers().get("x-ikp-statements").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (r.status().as_u16(), count.expect("the server exposes statement counts"))
}

/// In steady state an authenticated search runs at most three statements (the policy generation,
/// the page with its resources, a total) and a read two (the generation, the read), for a
/// patient's own token and for a backend service alike.
async fn statement_budget(server: &TestServer) {
    let patient = server.token(Some(&format!("Patient/{JAN}")), None, "user/*.rs").await;
    let backend = server.admin_token().await;
    for token in [&patient, &backend] {
        let cases = [
            (format!("Patient/{JAN}"), 2),
            (format!("MedicationRequest?patient={JAN}"), 3),
            (format!("MedicationRequest?patient={JAN}&_count=2"), 3),
            (format!("Observation?patient={JAN}&_total=none"), 2),
        ];
        // The first request works the caller out; the budget holds from the second on.
        let (status, first) = statements(server, token, &cases[0].0).await;
        assert_eq!(status, 200);
        assert!(first >= 2, "the first request reads the token and the entitlements");
        for (path, budget) in &cases {
            let (status, count) = statements(server, token, path).await;
            assert_eq!(status, 200, "{path}");
            assert!(count <= *budget, "{path} ran {count} statements, more than {budget}");
        }
    }
    // A write on the policy (a Consent) moves the generation on: the next request works the
    // caller out again, and the one after is back within the budget.
    let admin = server.admin_token().await;
    let consent = json!({
        "resourceType": "Consent", "status": "inactive",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{JAN}")},
    });
    let r = server.send(Method::POST, "Consent", &consent).bearer_auth(&admin).send().await.expect("post");
    assert_eq!(r.status(), 201);
    let (_, after_change) = statements(server, &patient, &format!("Patient/{JAN}")).await;
    assert!(after_change > 2, "the caller is worked out again after a policy change ({after_change})");
    let (_, steady) = statements(server, &patient, &format!("Patient/{JAN}")).await;
    assert!(steady <= 2, "back within the budget ({steady})");
}

/// A revoked Consent and a revoked token stop working at once, on the same node.
async fn policy_changes_apply_at_the_next_request(server: &TestServer) {
    revocation(server, server).await;
}

/// Krystyna acts for Jan under the demo's `proxy-act` Consent. Jan revokes it through `node_a`;
/// her next request through `node_b` no longer sees his record. A token revoked through `node_a`
/// is refused by `node_b` at its next request.
async fn revocation(node_a: &TestServer, node_b: &TestServer) {
    let krystyna = node_b.token(Some(&format!("Patient/{KRYSTYNA}")), None, "user/*.rs").await;
    let jan = node_a.token(Some(&format!("Patient/{JAN}")), None, "user/*.cruds").await;
    let jan_record = format!("Patient/{JAN}");
    assert_eq!(node_b.get_as(&krystyna, &jan_record).await.status(), 200, "the proxy sees Jan's record");
    assert_eq!(node_b.get_as(&krystyna, &jan_record).await.status(), 200, "(kept for the next request)");
    let r = node_a.post_as(&jan, "Consent/demo-jan-authorises-krystyna/$revoke", None).await;
    assert_eq!(r.status(), 200, "Jan revokes the authorisation");
    assert_eq!(node_b.get_as(&krystyna, &jan_record).await.status(), 404, "revoked at the next request");

    // RFC 7009 revocation of an access token, through the other node.
    let token = node_b.token(Some(&format!("Patient/{JAN}")), None, "user/*.rs").await;
    assert_eq!(node_b.get_as(&token, &jan_record).await.status(), 200);
    let form = format!("token={token}&client_id=test-tokens");
    let r = node_a
        .client
        .post(node_a.url("auth/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    assert_eq!(node_b.get_as(&token, &jan_record).await.status(), 401, "the revoked token is refused");
}

/// Two server nodes on one PostgreSQL database: what one node revokes, the other refuses at its
/// next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_across_nodes() {
    let Some(admin) = common::postgres_url() else { return };
    let (url, schema) = common::fresh_postgres_schema(&admin).await;
    let node_a = TestServer::start_configured(&url, "postgres", auth_on_counted).await;
    let node_b = TestServer::start_configured(&url, "postgres", auth_on_counted).await;
    revocation(&node_a, &node_b).await;
    // The nodes share one trail: the revocation made on node A is in the trail node B serves.
    let backend = node_b.admin_token().await;
    let events: Value = node_b
        .get_as(&backend, "AuditEvent?entity=Consent/demo-jan-authorises-krystyna&action=U")
        .await
        .json()
        .await
        .expect("json");
    assert!(events["entry"].as_array().is_some_and(|e| !e.is_empty()), "{events}");
    node_b.stop().await;
    node_a.stop().await;
    common::drop_postgres_schema(&admin, &schema).await;
}
