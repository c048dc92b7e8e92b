//! SMART EHR launch and RFC 7591 dynamic client registration, black-box over HTTP (reference
//! checklist the project was specified with, §1.L, D6, X5): the launch page redirecting to the
//! app's launch URL with `iss` and `launch`, /authorize with the launch (the launch's patient and
//! encounter in the token, no picker), refusals of foreign, unknown, expired, used and unauthorised
//! launches; registration of public, symmetric and asymmetric clients, a full flow with a
//! registered client, the metadata errors, and the switch.

use crate::common;

use common::TestServer;
use common::browser::{browser, browser_of, form, location, pkce, post_form, query_param};
use ikp::auth::clients::{ClientType, NewClient};
use ikp::auth::jose::{self, Algorithm};
use ikp::cli::{AuthMode, ServeArgs};
use openssl::pkey::{PKey, Private};
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};

const APP: &str = "launch-app";
const OTHER: &str = "other-app";
const REDIRECT: &str = "https://app.example/callback";
const OTHER_REDIRECT: &str = "https://other.example/callback";
const LAUNCH_URI: &str = "https://app.example/launch";
const JAN: &str = "80051412351";
const ANNA: &str = "85030204565";
const ZOFIA: &str = "16272107822";
const JAN_ID: &str = "demo-jan-kowalski";
const ZOFIA_ID: &str = "demo-zofia-kowalska";
const EHR_SCOPE: &str = "launch openid fhirUser patient/*.rs";

pub fn smart_on(args: &mut ServeArgs) {
    args.auth = Some(AuthMode::On);
    args.demo = Some(true);
}

pub fn registration_off(args: &mut ServeArgs) {
    smart_on(args);
    args.dynamic_registration = Some(AuthMode::Off);
}

pub fn backend_registration(args: &mut ServeArgs) {
    smart_on(args);
    args.dynamic_registration_system_scopes = true;
}

on_both_backends_configured!(super::smart_on;
    discovery_advertises_launch_and_registration,
    ehr_launch,
    ehr_launch_with_encounter,
    launch_page_refusals,
    foreign_unknown_expired_and_used_launches,
    launch_needs_the_launch_scope_and_the_same_user,
    register_public_client_and_launch,
    register_symmetric_client,
    register_asymmetric_client,
    registration_refusals,
);
on_both_backends_configured!(super::registration_off; registration_switched_off);
on_both_backends_configured!(super::backend_registration; register_backend_client_when_allowed);

async fn register(server: &TestServer, client_id: &str, redirect: &str, launch_uri: Option<&str>) {
    let client = NewClient {
        client_id: client_id.to_string(),
        client_type: ClientType::Public,
        secret: None,
        redirect_uris: vec![redirect.to_string()],
        launch_uri: launch_uri.map(str::to_string),
        jwks: None,
        jwks_url: None,
        scopes: None,
    };
    ikp::auth::clients::add(server.state().auth.store(), &client).await.expect("register client");
}

/// Opens `client_id` for `patient` from the launch page as the user `pesel`.
async fn open_app(
    server: &TestServer,
    client_id: &str,
    patient: &str,
    encounter: Option<&str>,
    pesel: &str,
) -> Response {
    let mut pairs = vec![("client_id", client_id), ("patient", patient), ("pesel", pesel), ("password", "demo")];
    if let Some(e) = encounter {
        pairs.push(("encounter", e));
    }
    post_form(&browser(), &format!("{}/auth/launch", server.base), &pairs).await
}

/// A launch id for `client_id`, checking the redirect to the launch URL.
async fn launch_id(server: &TestServer, client_id: &str, patient: &str, pesel: &str) -> String {
    let r = open_app(server, client_id, patient, None, pesel).await;
    assert_eq!(r.status(), StatusCode::FOUND, "the launch page redirects to the app");
    let to = location(&r);
    assert!(to.starts_with(&format!("{LAUNCH_URI}?")), "{to}");
    assert_eq!(query_param(&to, "iss").as_deref(), Some(server.base.as_str()), "iss is the FHIR base, exactly");
    query_param(&to, "launch").filter(|l| l.len() >= 32).expect("an unguessable launch id")
}

struct Authorization<'a> {
    client_id: &'a str,
    redirect: &'a str,
    scope: &'a str,
    launch: Option<&'a str>,
}

async fn authorize(server: &TestServer, a: &Authorization<'_>, challenge: &str) -> Response {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", a.client_id),
        ("redirect_uri", a.redirect),
        ("scope", a.scope),
        ("state", "st-1"),
        ("aud", server.base.as_str()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(launch) = a.launch {
        params.push(("launch", launch));
    }
    browser().get(format!("{}/auth/authorize?{}", server.base, form(&params))).send().await.expect("authorize")
}

/// Logs in at the authorization request and approves every scope; returns the consent page's
/// HTML and the final redirect to the app.
async fn login_and_consent(server: &TestServer, login: Response, pesel: &str) -> (String, String) {
    let http = browser_of(&login);
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "authorize redirects to the login");
    let request = query_param(&location(&login), "request").expect("request handle");
    let logged_in = post_form(
        &http,
        &format!("{}/auth/login", server.base),
        &[("request", &request), ("pesel", pesel), ("password", "demo")],
    )
    .await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER, "login");
    let consent = http.get(location(&logged_in)).send().await.expect("consent page");
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.expect("html");
    let scopes: Vec<String> = html
        .split("name=\"scope\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect();
    let mut pairs: Vec<(&str, &str)> = vec![("request", &request), ("decision", "approve")];
    pairs.extend(scopes.iter().map(|s| ("scope", s.as_str())));
    let decided = post_form(&http, &format!("{}/auth/consent", server.base), &pairs).await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER, "consent");
    (html, location(&decided))
}

async fn exchange(server: &TestServer, client_id: &str, redirect: &str, code: &str, verifier: &str) -> Response {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
        ("client_id", client_id),
    ];
    post_form(&server.client, &format!("{}/auth/token", server.base), &pairs).await
}

/// A whole authorization as `pesel`; returns the consent page and the token response.
async fn authorize_fully(server: &TestServer, a: &Authorization<'_>, pesel: &str) -> (String, Value) {
    let (verifier, challenge) = pkce();
    let (consent, back) = login_and_consent(server, authorize(server, a, &challenge).await, pesel).await;
    assert!(back.starts_with(a.redirect), "{back}");
    assert_eq!(query_param(&back, "error"), None, "{back}");
    let code = query_param(&back, "code").expect("code");
    let r = exchange(server, a.client_id, a.redirect, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    (consent, r.json().await.expect("token json"))
}

/// The error an authorization request was redirected back with (and that no code came).
async fn refused_with(server: &TestServer, a: &Authorization<'_>) -> String {
    let (_, challenge) = pkce();
    let r = authorize(server, a, &challenge).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = location(&r);
    assert!(back.starts_with(a.redirect), "errors go back to the client: {back}");
    assert!(query_param(&back, "code").is_none());
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
    query_param(&back, "error").expect("an error")
}

async fn discovery_advertises_launch_and_registration(server: &TestServer) {
    let config: Value =
        server.get(".well-known/smart-configuration").send().await.expect("get").json().await.expect("json");
    let capabilities = config["capabilities"].as_array().expect("capabilities");
    for c in ["launch-ehr", "context-ehr-patient", "launch-standalone"] {
        assert!(capabilities.contains(&json!(c)), "{c}");
    }
    assert!(config["scopes_supported"].as_array().expect("scopes").contains(&json!("launch")));
    let endpoint = format!("{}/auth/register", server.base);
    assert_eq!(config["registration_endpoint"], endpoint.as_str());
    let oidc: Value =
        server.get(".well-known/openid-configuration").send().await.expect("get").json().await.expect("json");
    assert_eq!(oidc["registration_endpoint"], endpoint.as_str());
    assert_eq!(metadata_uri(server, "register").await, json!(endpoint), "the CapabilityStatement agrees");
}

/// A URI of the CapabilityStatement's `oauth-uris` extension (`null` when absent).
async fn metadata_uri(server: &TestServer, name: &str) -> Value {
    let metadata: Value = server.get("metadata").send().await.expect("metadata").json().await.expect("json");
    let uris = metadata["rest"][0]["security"]["extension"][0]["extension"].as_array().cloned().unwrap_or_default();
    uris.iter().find(|e| e["url"] == name).map(|e| e["valueUri"].clone()).unwrap_or(Value::Null)
}

async fn ehr_launch(server: &TestServer) {
    register(server, APP, REDIRECT, Some(LAUNCH_URI)).await;
    // The launch page is a login form carrying the launch's parameters.
    let page = browser()
        .get(format!("{}/auth/launch?client_id={APP}&patient={JAN_ID}", server.base))
        .send()
        .await
        .expect("launch page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("name=\"pesel\"") && html.contains(&format!("value=\"{JAN_ID}\"")), "{html}");

    let launch = launch_id(server, APP, JAN_ID, JAN).await;
    let a = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let (consent, token) = authorize_fully(server, &a, JAN).await;
    assert!(!consent.contains("name=\"patient\""), "no patient picker on an EHR launch: {consent}");
    assert!(consent.contains("Jan Kowalski"), "the launch's patient is shown: {consent}");
    assert_eq!(token["patient"], JAN_ID);
    assert!(token.get("encounter").is_none());
    assert_eq!(token["scope"], EHR_SCOPE);
    let access = token["access_token"].as_str().expect("access token");
    let own = server.get(&format!("Patient/{JAN_ID}")).bearer_auth(access).send().await.expect("read");
    assert_eq!(own.status(), 200);

    // A parent launches for her child: the token is in the child's context.
    let launch = launch_id(server, APP, ZOFIA_ID, ANNA).await;
    let a = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let (_, token) = authorize_fully(server, &a, ANNA).await;
    assert_eq!(token["patient"], ZOFIA_ID);
}

async fn store_encounter(server: &TestServer, id: &str, patient: &str) {
    let encounter = json!({
        "resourceType": "Encounter",
        "id": id,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": format!("Patient/{patient}")},
    });
    ikp::interaction::update::update(&server.state().session, "Encounter", id, encounter, None)
        .await
        .expect("encounter");
}

async fn ehr_launch_with_encounter(server: &TestServer) {
    register(server, APP, REDIRECT, Some(LAUNCH_URI)).await;
    store_encounter(server, "enc-jan", JAN_ID).await;
    store_encounter(server, "enc-zofia", ZOFIA_ID).await;
    let r = open_app(server, APP, JAN_ID, Some("enc-jan"), JAN).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let launch = query_param(&location(&r), "launch").expect("launch");
    let a = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let (_, token) = authorize_fully(server, &a, JAN).await;
    assert_eq!(token["patient"], JAN_ID);
    assert_eq!(token["encounter"], "enc-jan");
    // Introspection reports the same context.
    let introspected: Value = server
        .client
        .post(format!("{}/auth/introspect", server.base))
        .bearer_auth(token["access_token"].as_str().expect("access"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token["access_token"].as_str().expect("access"))]))
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(introspected["encounter"], "enc-jan");
    // Another patient's encounter, or an unknown one, is not launched.
    for encounter in ["enc-zofia", "enc-nowhere"] {
        let r = open_app(server, APP, JAN_ID, Some(encounter), JAN).await;
        assert_eq!(r.status(), 400, "{encounter}");
        assert!(r.headers().get("location").is_none());
    }
}

async fn launch_page_refusals(server: &TestServer) {
    register(server, APP, REDIRECT, Some(LAUNCH_URI)).await;
    register(server, OTHER, OTHER_REDIRECT, None).await;
    // A client without a launch URL cannot be launched.
    let page = browser()
        .get(format!("{}/auth/launch?client_id={OTHER}&patient={JAN_ID}", server.base))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 400);
    let r = open_app(server, OTHER, JAN_ID, None, JAN).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Nor an unknown client.
    assert_eq!(open_app(server, "nobody", JAN_ID, None, JAN).await.status(), 400);
    // A patient the user may not act for: another adult, a child of someone else, an unknown id.
    for (pesel, patient) in [(JAN, ZOFIA_ID), (JAN, "demo-anna-kowalska"), (ANNA, JAN_ID), (JAN, "no-such-patient")] {
        let r = open_app(server, APP, patient, None, pesel).await;
        assert_eq!(r.status(), 403, "{pesel} for {patient}");
        assert!(r.headers().get("location").is_none());
    }
    // A wrong password launches nothing.
    let r = post_form(
        &browser(),
        &format!("{}/auth/launch", server.base),
        &[("client_id", APP), ("patient", JAN_ID), ("pesel", JAN), ("password", "wrong")],
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("location").is_none());
    // Nothing was stored by the refusals.
    let rows = server
        .state()
        .auth
        .store()
        .query(ikp::store::sql::Sql::new("SELECT id_hash FROM auth_launch"), &[ikp::store::sql::Column::Text])
        .await
        .expect("query");
    assert!(rows.is_empty());
}

async fn foreign_unknown_expired_and_used_launches(server: &TestServer) {
    register(server, APP, REDIRECT, Some(LAUNCH_URI)).await;
    register(server, OTHER, OTHER_REDIRECT, Some("https://other.example/launch")).await;
    let launch = launch_id(server, APP, JAN_ID, JAN).await;
    // Another client presenting APP's launch.
    let foreign = Authorization { client_id: OTHER, redirect: OTHER_REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    assert_eq!(refused_with(server, &foreign).await, "invalid_request");
    // An unknown launch.
    let unknown = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some("made-up") };
    assert_eq!(refused_with(server, &unknown).await, "invalid_request");
    // The launch still works for its own client, once.
    let own = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let (_, token) = authorize_fully(server, &own, JAN).await;
    assert_eq!(token["patient"], JAN_ID);
    assert_eq!(refused_with(server, &own).await, "invalid_request", "a used launch");
    // An expired launch.
    let launch = launch_id(server, APP, JAN_ID, JAN).await;
    let mut sql = ikp::store::sql::Sql::new("UPDATE auth_launch SET expires_at = ");
    sql.bind(ikp::store::sql::Bind::Int(time::OffsetDateTime::now_utc().unix_timestamp() - 1))
        .push(" WHERE used_at IS NULL");
    assert_eq!(server.state().auth.store().execute(sql).await.expect("expire"), 1);
    let expired = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    assert_eq!(refused_with(server, &expired).await, "invalid_request");
}

async fn launch_needs_the_launch_scope_and_the_same_user(server: &TestServer) {
    register(server, APP, REDIRECT, Some(LAUNCH_URI)).await;
    let launch = launch_id(server, APP, JAN_ID, JAN).await;
    let no_scope =
        Authorization { client_id: APP, redirect: REDIRECT, scope: "openid patient/*.rs", launch: Some(&launch) };
    assert_eq!(refused_with(server, &no_scope).await, "invalid_scope");
    // Someone else logs in at /authorize with Jan's launch: no code, Jan's context is not given away.
    let (_, challenge) = pkce();
    let a = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let (_, back) = login_and_consent(server, authorize(server, &a, &challenge).await, ANNA).await;
    assert!(back.starts_with(REDIRECT));
    assert_eq!(query_param(&back, "error").as_deref(), Some("access_denied"));
    assert!(query_param(&back, "code").is_none());
    // Zofia (10) has no login of her own: children under 16 use the account through a parent.
    let launch = launch_id(server, APP, ZOFIA_ID, ANNA).await;
    let (_, challenge) = pkce();
    let a = Authorization { client_id: APP, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let login = authorize(server, &a, &challenge).await;
    let request = query_param(&location(&login), "request").expect("request");
    let r = post_form(
        &browser_of(&login),
        &format!("{}/auth/login", server.base),
        &[("request", request.as_str()), ("pesel", ZOFIA), ("password", "demo")],
    )
    .await;
    assert!(r.status().is_client_error(), "no code for a 10-year-old's own login");
    assert!(r.text().await.expect("page").contains("under 16"));
    // Without a launch, `launch` is not granted (standalone requests keep working).
    let (_, token) = authorize_fully(
        server,
        &Authorization {
            client_id: APP,
            redirect: REDIRECT,
            scope: "launch launch/patient patient/*.rs",
            launch: None,
        },
        JAN,
    )
    .await;
    assert_eq!(token["scope"], "launch/patient patient/*.rs");
    assert_eq!(token["patient"], JAN_ID);
}

async fn post_registration(server: &TestServer, metadata: &Value) -> Response {
    server
        .client
        .post(format!("{}/auth/register", server.base))
        .header("content-type", "application/json")
        .body(metadata.to_string())
        .send()
        .await
        .expect("register")
}

async fn registered(server: &TestServer, metadata: &Value) -> Value {
    let r = post_registration(server, metadata).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.expect("json");
    assert!(body["client_id"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert!(body["client_id_issued_at"].as_i64().is_some(), "{body}");
    assert_eq!(body["redirect_uris"], metadata["redirect_uris"]);
    body
}

async fn register_public_client_and_launch(server: &TestServer) {
    let body = registered(
        server,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "A registered app",
            "launch_uri": LAUNCH_URI,
            "scope": "launch launch/patient openid fhirUser offline_access patient/*.rs",
        }),
    )
    .await;
    assert!(body.get("client_secret").is_none(), "a public client has no secret");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["client_name"], "A registered app");
    assert_eq!(body["launch_uri"], LAUNCH_URI);
    let client_id = body["client_id"].as_str().expect("client_id").to_string();
    // Stored like `ikp client add` would.
    let stored = ikp::auth::clients::get(server.state().auth.store(), &client_id)
        .await
        .expect("get")
        .expect("the client is stored");
    assert_eq!(stored.client_type, ClientType::Public);
    assert_eq!(stored.launch_uri.as_deref(), Some(LAUNCH_URI));
    assert!(!stored.scopes.contains("system/"), "{}", stored.scopes);

    // A full standalone authorization-code flow with the registered client.
    let scope = "launch/patient openid fhirUser offline_access patient/*.rs";
    let a = Authorization { client_id: &client_id, redirect: REDIRECT, scope, launch: None };
    let (_, token) = authorize_fully(server, &a, JAN).await;
    assert_eq!(token["scope"], scope);
    assert_eq!(token["patient"], JAN_ID);
    assert!(token["refresh_token"].is_string() && token["id_token"].is_string());
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(server.get(&format!("Patient/{JAN_ID}")).bearer_auth(access).send().await.expect("read").status(), 200);

    // And an EHR launch of it through its registered launch URL.
    let launch = launch_id(server, &client_id, JAN_ID, JAN).await;
    let a = Authorization { client_id: &client_id, redirect: REDIRECT, scope: EHR_SCOPE, launch: Some(&launch) };
    let (_, token) = authorize_fully(server, &a, JAN).await;
    assert_eq!(token["patient"], JAN_ID);
}

async fn register_symmetric_client(server: &TestServer) {
    // client_secret_basic is the default method.
    let body = registered(server, &json!({"redirect_uris": ["http://localhost:4000/cb"]})).await;
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    assert_eq!(body["client_secret_expires_at"], 0);
    let client_id = body["client_id"].as_str().expect("client_id");
    let secret = body["client_secret"].as_str().expect("a generated secret");
    assert!(secret.len() >= 32);
    let scope = body["scope"].as_str().expect("scope");
    assert!(!scope.contains("system/") && !scope.contains("offline_access"), "{scope}");
    // The secret authenticates the client (introspection needs client authentication); a wrong one does not.
    let introspect = |secret: String| {
        server
            .client
            .post(format!("{}/auth/introspect", server.base))
            .basic_auth(client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("token=not-a-token")
            .send()
    };
    let r = introspect(secret.to_string()).await.expect("introspect");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["active"], false);
    assert_eq!(introspect(format!("{secret}x")).await.expect("introspect").status(), 401);
    let stored = ikp::auth::clients::get(server.state().auth.store(), client_id).await.expect("get").expect("stored");
    assert_eq!(stored.client_type, ClientType::Symmetric);
}

fn jwks_of(key: &PKey<Private>, kid: &str) -> Value {
    let mut jwk = jose::public_jwk(key).expect("jwk");
    jwk.insert("kid".into(), json!(kid));
    jwk.insert("alg".into(), json!("RS384"));
    json!({"keys": [Value::Object(jwk)]})
}

fn client_assertion(key: &PKey<Private>, kid: &str, client_id: &str, aud: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut header = Map::new();
    header.insert("kid".into(), json!(kid));
    header.insert("typ".into(), json!("JWT"));
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string()});
    jose::sign(Algorithm::RS384, key, header, &claims).expect("sign")
}

async fn register_asymmetric_client(server: &TestServer) {
    let key = jose::generate_rsa(2048).expect("rsa");
    let body = registered(
        server,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks_of(&key, "k1"),
        }),
    )
    .await;
    assert!(body.get("client_secret").is_none());
    assert_eq!(body["jwks"]["keys"][0]["kid"], "k1");
    let client_id = body["client_id"].as_str().expect("client_id");
    let stored = ikp::auth::clients::get(server.state().auth.store(), client_id).await.expect("get").expect("stored");
    assert_eq!(stored.client_type, ClientType::Asymmetric);
    // It authenticates with a signed assertion.
    let token_url = format!("{}/auth/token", server.base);
    let r = post_form(
        &server.client,
        &format!("{}/auth/introspect", server.base),
        &[
            ("token", "not-a-token"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &client_assertion(&key, "k1", client_id, &token_url)),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    // A JWKS URL instead of an inline JWKS.
    let body = registered(
        server,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://app.example/jwks.json",
        }),
    )
    .await;
    assert_eq!(body["jwks_uri"], "https://app.example/jwks.json");
    // No backend access without the server's permission.
    let r = post_registration(
        server,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "jwks": jwks_of(&key, "k1"),
        }),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_client_metadata");
}

async fn register_backend_client_when_allowed(server: &TestServer) {
    let key = jose::generate_rsa(2048).expect("rsa");
    let body = registered(
        server,
        &json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "jwks": jwks_of(&key, "k1"),
        }),
    )
    .await;
    assert_eq!(body["scope"], "system/*.rs", "backend clients default to read-only system access");
    let client_id = body["client_id"].as_str().expect("client_id");
    let token_url = format!("{}/auth/token", server.base);
    let r = post_form(
        &server.client,
        &token_url,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/Patient.rs"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &client_assertion(&key, "k1", client_id, &token_url)),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["scope"], "system/Patient.rs");
    // Still never for a public client.
    let r = post_registration(
        server,
        &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_client_metadata");
}

async fn registration_refusals(server: &TestServer) {
    let key = jose::generate_rsa(2048).expect("rsa");
    let cases = [
        ("no redirect_uris", json!({"token_endpoint_auth_method": "none"}), "invalid_redirect_uri"),
        (
            "empty redirect_uris",
            json!({"redirect_uris": [], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            "http off localhost",
            json!({"redirect_uris": ["http://app.example/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            "relative redirect",
            json!({"redirect_uris": [REDIRECT, "/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            "private_key_jwt without keys",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            "private key in jwks",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
                   "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]}}),
            "invalid_client_metadata",
        ),
        (
            "unknown auth method",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}),
            "invalid_client_metadata",
        ),
        (
            "client_credentials for a public client",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            "unknown grant type",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            "system scope",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "system/*.rs"}),
            "invalid_client_metadata",
        ),
        (
            "jwks for a public client",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "jwks": jwks_of(&key, "k")}),
            "invalid_client_metadata",
        ),
        (
            "launch_uri not https",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "launch_uri": "http://app.example/l"}),
            "invalid_client_metadata",
        ),
        ("not an object", json!(["redirect_uris"]), "invalid_client_metadata"),
    ];
    for (name, metadata, error) in cases {
        let r = post_registration(server, &metadata).await;
        assert_eq!(r.status(), 400, "{name}");
        assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("application/json"), "{name}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], error, "{name}: {body}");
        assert!(body["error_description"].is_string(), "{name}");
    }
    // Not JSON at all.
    let r = server
        .client
        .post(format!("{}/auth/register", server.base))
        .header("content-type", "application/json")
        .body("{redirect_uris")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_client_metadata");
    // None of the refused registrations left a client behind.
    let clients = clients_other_than_the_portal(server).await;
    assert!(clients.is_empty(), "{clients:?}");
}

/// The clients registered other than the server's own portal.
async fn clients_other_than_the_portal(server: &TestServer) -> Vec<String> {
    let clients = ikp::auth::clients::list(server.state().auth.store()).await.expect("list");
    clients.into_iter().map(|c| c.client_id).filter(|id| id != "ikp-portal").collect()
}

async fn registration_switched_off(server: &TestServer) {
    let r =
        post_registration(server, &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "access_denied");
    assert!(body["error_description"].is_string());
    assert!(clients_other_than_the_portal(server).await.is_empty());
    for path in [".well-known/smart-configuration", ".well-known/openid-configuration"] {
        let config: Value = server.get(path).send().await.expect("get").json().await.expect("json");
        assert!(config.get("registration_endpoint").is_none(), "{path}");
    }
    assert_eq!(metadata_uri(server, "register").await, Value::Null);
    assert!(metadata_uri(server, "token").await.is_string());
}
