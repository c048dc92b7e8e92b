//! Several stateless nodes on one PostgreSQL database, driven at once, as a national deployment
//! runs them behind a load balancer: a search paged across nodes; a slot booked and a
//! prescription dispensed by racing requests spread over the nodes (exactly one wins); a Consent
//! and a token revoked on one node refused on the others; a signing key rotated on one node
//! published and used by all; the audit trail complete for requests on every node; the expiry
//! sweep run by every node at once changing each prescription once; a Bulk Data export whose
//! worker node is killed with SIGKILL half-way finished by another node.

use crate::common;

use reqwest::Method;
use serde_json::{Value, json};

use common::TestServer;

/// Nodes of the cluster in these tests.
const NODES: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_one_database() {
    let Some(admin) = common::postgres_url() else { return };
    let (url, schema) = common::fresh_postgres_schema(&admin).await;
    let mut started = Vec::with_capacity(NODES);
    for _ in 0..NODES {
        started.push(TestServer::start_configured(&url, "postgres", behind_one_address).await);
    }
    let nodes: Vec<&TestServer> = started.iter().collect();
    paging_across_nodes(&nodes).await;
    crate::ikp_booking::double_booking_over(&nodes).await;
    crate::ikp_prescription::racing_dispensing_over(&nodes).await;
    revocations_across_nodes(&nodes).await;
    key_rotation_seen_by_all(&nodes).await;
    audit_trail_from_every_node(&nodes).await;
    sweep_on_every_node(&nodes).await;
    for node in started {
        node.stop().await;
    }
    common::drop_postgres_schema(&admin, &schema).await;
}

/// An export job whose node dies half-way (SIGKILL: no shutdown, no hand-back) is resumed by
/// another node once its lease runs out, from the last file the dead node wrote: every resource
/// is in the files exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_whose_node_is_killed_finishes_on_another() {
    use common::process::{Running, free_port};
    let Some(admin) = common::postgres_url() else { return };
    let (url, schema) = common::fresh_postgres_schema(&admin).await;
    // A node that only serves (no export worker) holds the data and takes the kick-off.
    let front = TestServer::start_configured(&url, "postgres", |a| a.export_workers = 0).await;
    const PATIENTS: usize = 600;
    let mut expected = Vec::with_capacity(PATIENTS);
    for batch in 0..PATIENTS / 200 {
        let entries: Vec<Value> = (0..200)
            .map(|i| {
                let id = format!("k{}", batch * 200 + i);
                json!({"resource": {"resourceType": "Patient", "id": id, "gender": "female"},
                       "request": {"method": "PUT", "url": format!("Patient/{id}")}})
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let r = front.send(Method::POST, "", &bundle).send().await.expect("transaction");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        expected.extend((0..200).map(|i| format!("k{}", batch * 200 + i)));
    }
    expected.sort();

    // The worker node, a process of its own: two resources per file, a two-second lease.
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut worker = Running::start(
        dir.path(),
        &["serve", "--listen", &listen, "--auth", "off", "--demo", "false", "--store-terminology", "false"],
        &[
            ("IKP_DATABASE_URL", url.as_str()),
            ("IKP_EXPORT_WORKERS", "1"),
            ("IKP_EXPORT_FILE_SIZE", "2"),
            ("IKP_EXPORT_LEASE_SECONDS", "2"),
            ("IKP_SWEEP_SECONDS", "0"),
        ],
    );
    worker.wait_ready(&front.client, &format!("http://{listen}/health/ready")).await;
    let status = crate::export::kickoff(&front, "$export?_type=Patient").await;

    // Killed once it has written a few files, well before the end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = front.client.get(&status).send().await.expect("status");
        assert_eq!(r.status(), 202, "the export finished before the worker node could be killed");
        let progress = r.headers().get("x-progress").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let exported: usize = progress
            .split_once("% (")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if exported >= 20 {
            assert!(exported < PATIENTS / 2, "killed half-way, not at the end: {progress}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the worker node never started the job: {progress}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    worker.kill();
    let r = front.client.get(&status).send().await.expect("status");
    assert_eq!(r.status(), 202, "a dead node's job is still in progress");

    // Another node with a worker takes it over after the lease and finishes it.
    let rescuer = TestServer::start_configured(&url, "postgres", |a| {
        a.export_workers = 1;
        a.export_file_size = 2;
    })
    .await;
    let m = crate::export::manifest(&rescuer, &status.replace(&front.base, &rescuer.base)).await;
    let files = m["output"].as_array().expect("output").len();
    assert_eq!(files, PATIENTS / 2, "the files of both nodes, none twice");
    let all = crate::export::exported(&rescuer, &m).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1, expected, "every Patient exactly once");
    rescuer.stop().await;
    front.stop().await;
    common::drop_postgres_schema(&admin, &schema).await;
}

/// A node of the cluster: tokens required, and the public base URL of the load balancer in front
/// of all nodes (links and paging cursors name it, whichever node wrote them).
fn behind_one_address(args: &mut ikp::cli::ServeArgs) {
    common::auth_on(args);
    args.base_url = Some("http://ikp.cluster.test/fhir".to_string());
}

/// The same page of a search from any node: a search started on one node continues on the
/// others (the cursors are signed with the database's shared secret), and the pages together
/// are exactly the whole result, each resource once.
async fn paging_across_nodes(nodes: &[&TestServer]) {
    let admin = nodes[0].admin_token().await;
    let all =
        common::json(nodes[0].get("Observation?_count=1000").bearer_auth(&admin).send().await.expect("search")).await;
    let whole = common::listed(&all, "match");
    assert!(whole.len() > 40, "the demo's results are there: {}", whole.len());
    let mut seen = Vec::new();
    let mut next = Some(nodes[0].url("Observation?_count=7"));
    let mut page = 0;
    while let Some(url) = next {
        // Every page from the next node, whatever node wrote the link.
        let node = nodes[page % nodes.len()];
        let path = url.split_once("/fhir/").map_or(url.as_str(), |(_, p)| p).to_string();
        let r = node.get(&path).bearer_auth(&admin).send().await.expect("page");
        assert_eq!(r.status(), 200, "page {page} on node {}", page % nodes.len());
        let bundle = common::json(r).await;
        seen.extend(common::listed(&bundle, "match"));
        next = bundle["link"]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
        page += 1;
        assert!(page < 200, "paging ends");
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no resource twice across the pages");
    let mut expected = whole;
    expected.sort();
    assert_eq!(sorted, expected, "the pages from three nodes are the whole result");
}

/// A Consent revoked through one node, and a token revoked through another, are refused by
/// every node at its next request.
async fn revocations_across_nodes(nodes: &[&TestServer]) {
    let jan_record = "Patient/demo-jan-kowalski";
    let krystyna = nodes[1].token(Some("Patient/demo-krystyna-nowak"), None, "user/*.rs").await;
    for node in nodes {
        assert_eq!(node.get_as(&krystyna, jan_record).await.status(), 200, "the proxy sees Jan's record");
    }
    let jan = nodes[0].token(Some("Patient/demo-jan-kowalski"), None, "user/*.cruds").await;
    let r = nodes[0].post_as(&jan, "Consent/demo-jan-authorises-krystyna/$revoke", None).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    for node in nodes {
        assert_eq!(node.get_as(&krystyna, jan_record).await.status(), 404, "revoked on every node");
    }
    let token = nodes[2].token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    for node in nodes {
        assert_eq!(node.get_as(&token, jan_record).await.status(), 200);
    }
    let r = nodes[1]
        .client
        .post(nodes[1].url("auth/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&client_id=test-tokens"))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    for node in nodes {
        assert_eq!(node.get_as(&token, jan_record).await.status(), 401, "the revoked token is refused everywhere");
    }
}

/// A signing key rotated through one node is published by every node, and tokens signed with it
/// before and after work on all of them.
async fn key_rotation_seen_by_all(nodes: &[&TestServer]) {
    let before = nodes[0].token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    let kid = ikp::auth::keys::rotate(nodes[0].state().auth.store()).await.expect("rotate");
    let after = nodes[1].token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    for node in nodes {
        let jwks = common::json(node.get(".well-known/jwks.json").send().await.expect("jwks")).await;
        let kids: Vec<&str> = jwks["keys"].as_array().into_iter().flatten().filter_map(|k| k["kid"].as_str()).collect();
        assert!(kids.contains(&kid.as_str()), "the new key is published by every node: {kids:?}");
        for token in [&before, &after] {
            assert_eq!(node.get_as(token, "Patient/demo-jan-kowalski").await.status(), 200);
        }
    }
}

/// Reads through every node all reach the one audit trail.
async fn audit_trail_from_every_node(nodes: &[&TestServer]) {
    let admin = nodes[0].admin_token().await;
    let jan = nodes[0].token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    let targets =
        ["Condition/demo-nadcisnienie-jan", "Condition/demo-zapalenie-pluc-jan", "Encounter/demo-wizyta-jan-poz"];
    for (node, target) in nodes.iter().zip(targets) {
        assert_eq!(node.get_as(&jan, target).await.status(), 200);
    }
    for target in targets {
        // The trail is written after the response: give the queues a moment.
        let mut found = false;
        for _ in 0..100 {
            let path = format!("AuditEvent?entity={target}&action=R");
            let events = common::json(nodes[2].get(&path).bearer_auth(&admin).send().await.expect("audit")).await;
            if events["entry"].as_array().is_some_and(|e| !e.is_empty()) {
                found = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(found, "the read of {target} is in the trail");
    }
}

fn day(offset: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(offset);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Every node sweeps at the same moment: each due prescription is expired exactly once.
async fn sweep_on_every_node(nodes: &[&TestServer]) {
    let admin = nodes[0].admin_token().await;
    let due: Vec<String> = (0..12).map(|i| format!("cluster-due-{i}")).collect();
    for id in &due {
        let prescription = json!({
            "resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
            "subject": {"reference": "Patient/demo-jan-kowalski"},
            "dispenseRequest": {"validityPeriod": {"start": day(-40), "end": day(-1)}},
        });
        let r = nodes[0]
            .send(Method::PUT, &format!("MedicationRequest/{id}"), &prescription)
            .bearer_auth(&admin)
            .send()
            .await
            .expect("put");
        assert!(r.status().is_success());
    }
    let sweeps = nodes.iter().map(|node| ikp::ikp::sweep::run(&node.state().session));
    let results = futures::future::join_all(sweeps).await;
    let expired: usize = results.into_iter().map(|r| r.expect("sweep").expired_prescriptions).sum();
    assert!(expired >= due.len(), "every due prescription expired by some node ({expired})");
    for id in &due {
        let history = common::json(
            nodes[1]
                .get(&format!("MedicationRequest/{id}/_history"))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("history"),
        )
        .await;
        let versions = history["entry"].as_array().map_or(0, Vec::len);
        assert_eq!(versions, 2, "{id} changed exactly once: {history}");
        let current: Value = common::json(
            nodes[2].get(&format!("MedicationRequest/{id}")).bearer_auth(&admin).send().await.expect("read"),
        )
        .await;
        assert_eq!(current["status"], "stopped");
    }
}
