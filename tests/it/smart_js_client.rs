//! The official SMART JavaScript client (`fhirclient` from npm, its Node adapter, default
//! settings) against the server: a standalone launch as a public client with PKCE, reads with the
//! token, and a refresh the way it sends it (without `client_id`), driven by tests/node/smart_app.mjs.

use crate::common;
use crate::common::node;

use common::TestServer;
use common::browser::{browser, location, post_form, query_param};
use ikp::auth::clients::{ClientType, NewClient};
use ikp::cli::{AuthMode, ServeArgs};
use reqwest::StatusCode;
use serde_json::{Value, json};

const APP: &str = "fhirclient-app";
const JAN: &str = "80051412351";
const SCOPE: &str = "launch/patient openid fhirUser offline_access patient/*.rs";

fn smart_on(args: &mut ServeArgs) {
    args.auth = Some(AuthMode::On);
    args.demo = Some(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let server = TestServer::sqlite_configured(smart_on).await;
    standalone_launch_and_refresh(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(server) = TestServer::postgres_configured(smart_on).await else { return };
    standalone_launch_and_refresh(&server).await;
    server.stop().await;
}

async fn standalone_launch_and_refresh(server: &TestServer) {
    node::ensure_installed(&["fhirclient"]).await;
    let mut script = node::start("smart_app.mjs", &[]);
    let app = script.next_json().await["app"].as_str().expect("app url").to_string();
    let client = NewClient {
        client_id: APP.into(),
        client_type: ClientType::Public,
        secret: None,
        redirect_uris: vec![format!("{app}/callback")],
        launch_uri: None,
        jwks: None,
        jwks_url: None,
        scopes: None,
    };
    ikp::auth::clients::add(server.state().auth.store(), &client).await.expect("register");
    script.send(&json!({"iss": server.base, "client_id": APP, "scope": SCOPE})).await;
    assert_eq!(script.next_json().await["ready"], true);

    // The app sends the browser to /authorize (after reading our discovery document).
    let http = browser();
    let r = http.get(format!("{app}/launch")).send().await.expect("launch");
    assert!(r.status().is_redirection(), "{:?}", r.text().await);
    let authorize = location(&r);
    assert!(authorize.starts_with(&format!("{}/auth/authorize?", server.base)), "{authorize}");
    assert_eq!(query_param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    let r = http.get(&authorize).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let request = query_param(&location(&r), "request").expect("request");
    // The user logs in and approves what the consent page offers.
    let pairs = [("request", request.as_str()), ("pesel", JAN), ("password", "demo")];
    let r = post_form(&http, &format!("{}/auth/login", server.base), &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = http.get(location(&r)).send().await.expect("consent").text().await.expect("html");
    let scopes: Vec<String> =
        page.split("name=\"scope\" value=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect();
    let mut pairs = vec![("request", request.as_str()), ("decision", "approve")];
    pairs.extend(scopes.iter().map(|s| ("scope", s.as_str())));
    let r = post_form(&http, &format!("{}/auth/consent", server.base), &pairs).await;
    let back = location(&r);
    assert!(back.starts_with(&format!("{app}/callback?")), "{back}");

    // The app exchanges the code, reads, refreshes and reads again.
    let r = http.get(&back).send().await.expect("callback");
    let status = r.status();
    let result: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["patient"], "demo-jan-kowalski");
    assert_eq!(result["read_before"], "demo-jan-kowalski");
    assert_eq!(result["read_after"], "demo-jan-kowalski");
    assert_ne!(result["first_token"], result["refreshed_token"], "the refresh issued a new access token");
}
