//! SMART App Launch, black-box over HTTP (the SMART server checklist the project was specified with, §0-§2):
//! discovery, the standalone launch driven by a script through the HTML forms, PKCE, redirect and
//! audience checks, code and refresh-token reuse, backend services with RS384 and ES384
//! private_key_jwt, bearer enforcement on the FHIR API, introspection, revocation, id_tokens
//! verified with the JWKS, and key rotation.

use crate::common;

use common::TestServer;
use common::browser::{browser, browser_of, form, location, pkce, post_form, query_param};
use ikp::auth::clients::{ClientType, NewClient};
use ikp::auth::jose::{self, Algorithm, Unverified};
use ikp::cli::{AuthMode, ServeArgs};
use openssl::pkey::{PKey, Private};
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};

const APP: &str = "test-app";
const REDIRECT: &str = "https://app.example/callback";
const JAN: &str = "80051412351";
const ANNA: &str = "85030204565";

pub fn smart_on(args: &mut ServeArgs) {
    args.auth = Some(AuthMode::On);
    args.demo = Some(true);
}

on_both_backends_configured!(super::smart_on;
    discovery,
    standalone_launch,
    parent_acts_for_child,
    pkce_is_enforced,
    authorize_refusals,
    code_reuse_revokes,
    refresh_rotation_and_reuse,
    symmetric_client,
    backend_services,
    bearer_enforcement,
    patient_scope_enforcement,
    granular_scopes_and_clinicians,
    key_rotation,
);

async fn register(server: &TestServer, client_id: &str, client_type: ClientType, extra: impl FnOnce(&mut NewClient)) {
    let mut client = NewClient {
        client_id: client_id.to_string(),
        client_type,
        secret: None,
        redirect_uris: vec![REDIRECT.to_string()],
        launch_uri: None,
        jwks: None,
        jwks_url: None,
        scopes: None,
    };
    extra(&mut client);
    ikp::auth::clients::add(server.state().auth.store(), &client).await.expect("register client");
}

fn authorize_params<'a>(server: &'a TestServer, scope: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "state-123/&x"),
        ("aud", server.base.as_str()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("nonce", "nonce-abc"),
    ]
}

async fn authorize(server: &TestServer, params: &[(&str, &str)]) -> Response {
    browser().get(format!("{}/auth/authorize?{}", server.base, form(params))).send().await.expect("authorize")
}

/// Drives the login and consent forms as a user would; returns the final redirect to the app.
async fn login_and_consent(server: &TestServer, login: Response, pesel: &str, patient: Option<&str>) -> String {
    let http = browser_of(&login);
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "authorize redirects to the login");
    let login_url = location(&login);
    let request = query_param(&login_url, "request").expect("request handle");
    let page = http.get(&login_url).send().await.expect("login page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("name=\"pesel\"") && html.contains("name=\"password\""), "{html}");
    let logged_in = post_form(
        &http,
        &format!("{}/auth/login", server.base),
        &[("request", &request), ("pesel", pesel), ("password", "demo")],
    )
    .await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER, "login");
    let consent_url = location(&logged_in);
    let consent = http.get(&consent_url).send().await.expect("consent page");
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.expect("html");
    // Every offered scope is a checkbox; approve them all.
    let scopes: Vec<String> = html
        .split("name=\"scope\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect();
    let mut pairs: Vec<(&str, &str)> = vec![("request", &request), ("decision", "approve")];
    pairs.extend(scopes.iter().map(|s| ("scope", s.as_str())));
    if let Some(p) = patient {
        pairs.push(("patient", p));
    }
    let decided = post_form(&http, &format!("{}/auth/consent", server.base), &pairs).await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER, "consent");
    location(&decided)
}

async fn exchange(server: &TestServer, code: &str, verifier: &str) -> Response {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("client_id", APP),
    ];
    post_form(&server.client, &format!("{}/auth/token", server.base), &pairs).await
}

/// A full standalone launch as `pesel`; returns the token response.
async fn launch(server: &TestServer, scope: &str, pesel: &str, patient: Option<&str>) -> Value {
    let (verifier, challenge) = pkce();
    let back = login_and_consent(
        server,
        authorize(server, &authorize_params(server, scope, &challenge)).await,
        pesel,
        patient,
    )
    .await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("state-123/&x"), "state echoed byte for byte");
    let code = query_param(&back, "code").expect("code");
    let r = exchange(server, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("token json")
}

fn bearer(server: &TestServer, path: &str, token: &str) -> reqwest::RequestBuilder {
    server.get(path).bearer_auth(token)
}

async fn verify_id_token(server: &TestServer, id_token: &str) -> Map<String, Value> {
    let jws = Unverified::parse(id_token).expect("JWS");
    assert_eq!(jws.header_str("alg"), Some("RS256"));
    let kid = jws.header_str("kid").expect("kid").to_string();
    let jwks: Value = server.get(".well-known/jwks.json").send().await.expect("jwks").json().await.expect("json");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .and_then(Value::as_object)
        .expect("the id_token's key is published");
    jws.verify(&jose::key_from_jwk(jwk).expect("jwk")).expect("signature verifies with the JWKS")
}

async fn discovery(server: &TestServer) {
    for accept in ["application/json", "text/html"] {
        let r = server.get(".well-known/smart-configuration").header("accept", accept).send().await.expect("get");
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("application/json"));
    }
    let r = server
        .get(".well-known/smart-configuration")
        .header("origin", "https://app.example")
        .send()
        .await
        .expect("get");
    assert!(r.headers().contains_key("access-control-allow-origin"), "CORS on discovery");
    let config: Value = r.json().await.expect("json");
    assert_eq!(config["issuer"], server.base.as_str());
    assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(config["grant_types_supported"].as_array().expect("grants").contains(&json!(grant)));
    }
    for method in ["private_key_jwt", "client_secret_basic"] {
        assert!(config["token_endpoint_auth_methods_supported"].as_array().expect("methods").contains(&json!(method)));
    }
    assert_eq!(config["token_endpoint_auth_signing_alg_values_supported"], json!(["RS384", "ES384"]));
    let capabilities = config["capabilities"].as_array().expect("capabilities");
    for c in [
        "launch-standalone",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "sso-openid-connect",
        "context-standalone-patient",
        "permission-v1",
        "permission-v2",
        "authorize-post",
    ] {
        assert!(capabilities.contains(&json!(c)), "{c}");
    }
    for field in
        ["authorization_endpoint", "token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"]
    {
        assert!(config[field].as_str().expect(field).starts_with("http://"), "{field} is absolute");
    }
    // OpenID configuration under the issuer.
    let oidc: Value =
        server.get(".well-known/openid-configuration").send().await.expect("get").json().await.expect("json");
    assert_eq!(oidc["issuer"], config["issuer"]);
    assert_eq!(oidc["jwks_uri"], config["jwks_uri"]);
    assert!(oidc["id_token_signing_alg_values_supported"].as_array().expect("algs").contains(&json!("RS256")));
    assert!(oidc["subject_types_supported"].is_array());
    let jwks: Value = server
        .client
        .get(config["jwks_uri"].as_str().expect("uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert!(jwks["keys"].as_array().expect("keys").iter().any(|k| k["kty"] == "RSA" && k["kid"].is_string()));
    // The CapabilityStatement, public, names the same endpoints.
    let metadata: Value = server.get("metadata").send().await.expect("metadata").json().await.expect("json");
    let security = &metadata["rest"][0]["security"];
    assert_eq!(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
    let uris = security["extension"][0]["extension"].as_array().expect("oauth-uris");
    let uri = |name: &str| uris.iter().find(|e| e["url"] == name).map(|e| e["valueUri"].clone()).unwrap_or(Value::Null);
    assert_eq!(uri("authorize"), config["authorization_endpoint"]);
    assert_eq!(uri("token"), config["token_endpoint"]);
    assert_eq!(uri("introspect"), config["introspection_endpoint"]);
    assert_eq!(uri("revoke"), config["revocation_endpoint"]);
}

async fn standalone_launch(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let scope = "launch/patient openid fhirUser offline_access patient/*.rs";
    let (verifier, challenge) = pkce();
    let back =
        login_and_consent(server, authorize(server, &authorize_params(server, scope, &challenge)).await, JAN, None)
            .await;
    assert_eq!(query_param(&back, "iss").as_deref(), Some(server.base.as_str()));
    let code = query_param(&back, "code").expect("code");
    let r = exchange(server, &code, &verifier).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let token: Value = r.json().await.expect("json");
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].as_i64().is_some_and(|e| e > 0 && e <= 3600));
    assert_eq!(token["scope"], scope);
    assert_eq!(token["patient"], "demo-jan-kowalski");
    assert!(token["refresh_token"].is_string());
    let access = token["access_token"].as_str().expect("access token");

    let claims = verify_id_token(server, token["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["iss"], server.base.as_str());
    assert_eq!(claims["aud"], APP);
    assert_eq!(claims["nonce"], "nonce-abc");
    assert_eq!(claims["fhirUser"], format!("{}/Patient/demo-jan-kowalski", server.base));
    let sub = claims["sub"].as_str().expect("sub");
    assert!(!sub.is_empty() && sub.len() < 256 && !sub.contains(JAN), "sub is opaque");

    let own = bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read");
    assert_eq!(own.status(), 200);

    let introspected: Value = server
        .client
        .post(format!("{}/auth/introspect", server.base))
        .bearer_auth(access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", access)]))
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["scope"], scope);
    assert_eq!(introspected["client_id"], APP);
    assert_eq!(introspected["patient"], "demo-jan-kowalski");
    assert_eq!(introspected["sub"], sub);
    assert_eq!(introspected["iss"], claims["iss"]);
    assert_eq!(introspected["fhirUser"], claims["fhirUser"]);
    assert!(introspected["exp"].as_i64().is_some());
    let unknown: Value = server
        .client
        .post(format!("{}/auth/introspect", server.base))
        .bearer_auth(access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", "not-a-token")]))
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(unknown, json!({"active": false}));

    // POST /authorize (authorize-post) continues like GET.
    let (_, challenge) = pkce();
    let params = authorize_params(server, scope, &challenge);
    let r = post_form(&browser(), &format!("{}/auth/authorize", server.base), &params).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).contains("/auth/login?request="));
}

async fn parent_acts_for_child(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let (_, challenge) = pkce();
    let login =
        authorize(server, &authorize_params(server, "launch/patient openid fhirUser patient/*.rs", &challenge)).await;
    let request = query_param(&location(&login), "request").expect("request");
    let http = browser_of(&login);
    let logged_in = post_form(
        &http,
        &format!("{}/auth/login", server.base),
        &[("request", &request), ("pesel", ANNA), ("password", "demo")],
    )
    .await;
    let page = http.get(location(&logged_in)).send().await.expect("consent").text().await.expect("html");
    assert!(page.contains("value=\"demo-anna-kowalska\"") && page.contains("value=\"demo-zofia-kowalska\""), "{page}");
    assert!(!page.contains("value=\"demo-jan-kowalski\""), "Jan has not authorised Anna yet");

    // Once Jan authorises her (a proxy who may act), the picker offers him too, and the token
    // for Jan opens his record.
    let admin = admin_token(server).await;
    let consent = json!({
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type", "code": "proxy-act"}]}],
        "patient": {"reference": "Patient/demo-jan-kowalski"},
        "provision": {"type": "permit", "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
            "reference": {"reference": "Patient/demo-anna-kowalska"}}]},
    });
    let r = server.send(reqwest::Method::POST, "Consent", &consent).bearer_auth(&admin).send().await.expect("consent");
    assert_eq!(r.status(), 201);
    let token = launch(server, "launch/patient patient/*.rs", ANNA, Some("demo-jan-kowalski")).await;
    assert_eq!(token["patient"], "demo-jan-kowalski");
    let access = token["access_token"].as_str().expect("token");
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 200);

    let token = launch(server, "launch/patient openid fhirUser patient/*.rs", ANNA, Some("demo-zofia-kowalska")).await;
    assert_eq!(token["patient"], "demo-zofia-kowalska");
    let claims = verify_id_token(server, token["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["fhirUser"], format!("{}/RelatedPerson/demo-anna-mother-of-zofia", server.base));
    let access = token["access_token"].as_str().expect("token");
    assert_eq!(bearer(server, "Patient/demo-zofia-kowalska", access).send().await.expect("read").status(), 200);
    // The fhirUser resource is readable with the token (Inferno reads it).
    assert_eq!(
        bearer(server, "RelatedPerson/demo-anna-mother-of-zofia", access).send().await.expect("read").status(),
        200
    );
    // Acting for the child gives no access to the parent's own record (outside the token's
    // patient: it looks like no such record).
    assert_eq!(bearer(server, "Patient/demo-anna-kowalska", access).send().await.expect("read").status(), 404);
    // A wrong password is refused with the form again.
    let r = post_form(
        &http,
        &format!("{}/auth/login", server.base),
        &[("request", &request), ("pesel", ANNA), ("password", "nope")],
    )
    .await;
    assert_eq!(r.status(), 401);
}

async fn pkce_is_enforced(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let scope = "launch/patient patient/*.rs";
    // plain is refused, and so is a missing challenge: back to the app with an error, no code.
    let (verifier, challenge) = pkce();
    let mut params = authorize_params(server, scope, &verifier);
    params.retain(|(k, _)| *k != "code_challenge_method");
    params.push(("code_challenge_method", "plain"));
    let r = authorize(server, &params).await;
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));
    assert!(query_param(&back, "code").is_none());
    let mut params = authorize_params(server, scope, &challenge);
    params.retain(|(k, _)| !k.starts_with("code_challenge"));
    let back = location(&authorize(server, &params).await);
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));

    // Wrong, missing and "verifier = challenge" verifiers are refused.
    for bad in ["", "wrong-verifier-wrong-verifier-wrong-verifier-x", challenge.as_str()] {
        let back =
            login_and_consent(server, authorize(server, &authorize_params(server, scope, &challenge)).await, JAN, None)
                .await;
        let code = query_param(&back, "code").expect("code");
        let r = exchange(server, &code, bad).await;
        assert_eq!(r.status(), 400, "verifier {bad:?}");
        assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_grant");
    }
    let _ = verifier;
    // A made-up code is exactly 400.
    let r = exchange(server, "BAD_CODE", "x").await;
    assert_eq!(r.status(), 400);
}

async fn authorize_refusals(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let (_, challenge) = pkce();
    let scope = "launch/patient patient/*.rs";
    // An unregistered redirect URI is never redirected to.
    let mut params = authorize_params(server, scope, &challenge);
    params.retain(|(k, _)| *k != "redirect_uri");
    params.push(("redirect_uri", "https://evil.example/callback"));
    let r = authorize(server, &params).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Nor is one for an unknown client.
    let mut params = authorize_params(server, scope, &challenge);
    params.retain(|(k, _)| *k != "client_id");
    params.push(("client_id", "nobody"));
    let r = authorize(server, &params).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // A wrong audience gets an error and no code.
    let mut params = authorize_params(server, scope, &challenge);
    params.retain(|(k, _)| *k != "aud");
    params.push(("aud", "https://counterfeit.example/fhir"));
    let back = location(&authorize(server, &params).await);
    assert!(back.starts_with(REDIRECT));
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&back, "state").as_deref(), Some("state-123/&x"));
    assert!(query_param(&back, "code").is_none());
    // response_type other than code.
    let mut params = authorize_params(server, scope, &challenge);
    params.retain(|(k, _)| *k != "response_type");
    params.push(("response_type", "token"));
    let back = location(&authorize(server, &params).await);
    assert_eq!(query_param(&back, "error").as_deref(), Some("unsupported_response_type"));
    // The user denies.
    let login = authorize(server, &authorize_params(server, scope, &challenge)).await;
    let request = query_param(&location(&login), "request").expect("request");
    let http = browser_of(&login);
    post_form(
        &http,
        &format!("{}/auth/login", server.base),
        &[("request", &request), ("pesel", JAN), ("password", "demo")],
    )
    .await;
    let r = post_form(&http, &format!("{}/auth/consent", server.base), &[("request", &request), ("decision", "deny")])
        .await;
    assert_eq!(query_param(&location(&r), "error").as_deref(), Some("access_denied"));
}

async fn code_reuse_revokes(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let (verifier, challenge) = pkce();
    let back = login_and_consent(
        server,
        authorize(server, &authorize_params(server, "launch/patient patient/*.rs", &challenge)).await,
        JAN,
        None,
    )
    .await;
    let code = query_param(&back, "code").expect("code");
    let first: Value = exchange(server, &code, &verifier).await.json().await.expect("json");
    let access = first["access_token"].as_str().expect("token");
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 200);
    let again = exchange(server, &code, &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(again.json::<Value>().await.expect("json")["error"], "invalid_grant");
    // The tokens the code produced are revoked.
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 401);

    // A code issued to one client cannot be redeemed by another.
    register(server, "other-app", ClientType::Public, |_| {}).await;
    let (verifier, challenge) = pkce();
    let back = login_and_consent(
        server,
        authorize(server, &authorize_params(server, "launch/patient patient/*.rs", &challenge)).await,
        JAN,
        None,
    )
    .await;
    let code = query_param(&back, "code").expect("code");
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
        ("client_id", "other-app"),
    ];
    let r = post_form(&server.client, &format!("{}/auth/token", server.base), &pairs).await;
    assert_eq!(r.status(), 400);
    // An expired code (codes live 60 seconds) is refused.
    let (verifier, challenge) = pkce();
    let back = login_and_consent(
        server,
        authorize(server, &authorize_params(server, "launch/patient patient/*.rs", &challenge)).await,
        JAN,
        None,
    )
    .await;
    let code = query_param(&back, "code").expect("code");
    let mut expire = ikp::store::sql::Sql::new("UPDATE auth_code SET expires_at = 1 WHERE code_hash = ");
    expire.bind(ikp::store::sql::Bind::Text(ikp::auth::token_hash(&code)));
    server.state().auth.store().execute(expire).await.expect("expire");
    let r = exchange(server, &code, &verifier).await;
    assert_eq!(r.status(), 400);
    // CORS on the token endpoint, even for an error.
    let r = server
        .client
        .post(format!("{}/auth/token", server.base))
        .header("origin", "https://app.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("grant_type", "authorization_code"), ("code", "BAD_CODE"), ("client_id", APP)]))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("access-control-allow-origin"));
}

async fn refresh(server: &TestServer, refresh_token: &str, scope: Option<&str>) -> Response {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", APP)];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    post_form(&server.client, &format!("{}/auth/token", server.base), &pairs).await
}

async fn refresh_rotation_and_reuse(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let scope = "launch/patient offline_access patient/*.rs";
    let token = launch(server, scope, JAN, None).await;
    let first_refresh = token["refresh_token"].as_str().expect("refresh").to_string();
    // Refresh without scope, and with the full granted scope (both as Inferno does).
    let r = refresh(server, &first_refresh, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let second: Value = r.json().await.expect("json");
    assert_eq!(second["scope"], scope);
    assert!(second["expires_in"].is_number());
    assert_eq!(second["patient"], "demo-jan-kowalski");
    let second_refresh = second["refresh_token"].as_str().expect("rotated").to_string();
    assert_ne!(second_refresh, first_refresh);
    let r = refresh(server, &second_refresh, Some(scope)).await;
    assert_eq!(r.status(), 200);
    let third: Value = r.json().await.expect("json");
    // Widening is refused.
    let third_refresh = third["refresh_token"].as_str().expect("rotated").to_string();
    let r = refresh(server, &third_refresh, Some("patient/*.cruds offline_access")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_scope");
    // Reusing an old refresh token revokes the whole family, including the live access token.
    let live = third["access_token"].as_str().expect("access").to_string();
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", &live).send().await.expect("read").status(), 200);
    let r = refresh(server, &first_refresh, None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", &live).send().await.expect("read").status(), 401);
    // A garbage refresh token.
    assert_eq!(refresh(server, "garbage", None).await.status(), 400);
    // Revoking a refresh token (RFC 7009) revokes its grant: access and refresh die together.
    let token = launch(server, scope, JAN, None).await;
    let (access, refresh_token) =
        (token["access_token"].as_str().expect("a"), token["refresh_token"].as_str().expect("r"));
    let r = post_form(
        &server.client,
        &format!("{}/auth/revoke", server.base),
        &[("token", refresh_token), ("token_type_hint", "refresh_token"), ("client_id", APP)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 401);
    assert_eq!(refresh(server, refresh_token, None).await.status(), 400);
    // Unknown tokens are "revoked" too (always 200).
    let r =
        post_form(&server.client, &format!("{}/auth/revoke", server.base), &[("token", "nope"), ("client_id", APP)])
            .await;
    assert_eq!(r.status(), 200);
    // Without offline_access or online_access there is no refresh token.
    let token = launch(server, "launch/patient patient/*.rs", JAN, None).await;
    assert!(token.get("refresh_token").is_none());
}

async fn symmetric_client(server: &TestServer) {
    let secret = "a-long-enough-client-secret";
    register(server, APP, ClientType::Symmetric, |c| c.secret = Some(secret.to_string())).await;
    let (verifier, challenge) = pkce();
    let back = login_and_consent(
        server,
        authorize(server, &authorize_params(server, "launch/patient patient/*.rs", &challenge)).await,
        JAN,
        None,
    )
    .await;
    let code = query_param(&back, "code").expect("code");
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    // Without its secret the client is refused (and the code is not consumed by that attempt).
    let r = post_form(&server.client, &format!("{}/auth/token", server.base), &pairs).await;
    assert_eq!(r.status(), 401);
    let wrong = server
        .client
        .post(format!("{}/auth/token", server.base))
        .basic_auth(APP, Some("wrong-secret-wrong-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .expect("token");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    let r = server
        .client
        .post(format!("{}/auth/token", server.base))
        .basic_auth(APP, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let token: Value = r.json().await.expect("json");
    // Revocation (RFC 7009) takes effect at once.
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 200);
    let r = server
        .client
        .post(format!("{}/auth/revoke", server.base))
        .basic_auth(APP, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", access)]))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 401);
    let introspected: Value = server
        .client
        .post(format!("{}/auth/introspect", server.base))
        .basic_auth(APP, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", access)]))
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(introspected, json!({"active": false}));
}

/// A backend client's signed assertion.
fn assertion(
    key: &PKey<Private>,
    alg: Algorithm,
    kid: &str,
    client_id: &str,
    aud: &str,
    lifetime: i64,
    jti: &str,
) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut header = Map::new();
    header.insert("kid".into(), json!(kid));
    header.insert("typ".into(), json!("JWT"));
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + lifetime, "jti": jti});
    jose::sign(alg, key, header, &claims).expect("sign")
}

fn jwks_of(key: &PKey<Private>, kid: &str, alg: &str) -> Value {
    let mut jwk = jose::public_jwk(key).expect("jwk");
    jwk.insert("kid".into(), json!(kid));
    jwk.insert("alg".into(), json!(alg));
    jwk.insert("key_ops".into(), json!(["verify"]));
    json!({"keys": [Value::Object(jwk)]})
}

/// Serves a JWKS over HTTP on a free port; returns its URL.
async fn serve_jwks(jwks: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app =
        axum::Router::new().route("/jwks.json", axum::routing::get(move || async move { axum::Json(jwks.clone()) }));
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    format!("http://{addr}/jwks.json")
}

async fn client_credentials(server: &TestServer, assertion: &str, scope: &str) -> Response {
    let pairs = [
        ("grant_type", "client_credentials"),
        ("scope", scope),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion),
    ];
    post_form(&server.client, &format!("{}/auth/token", server.base), &pairs).await
}

async fn backend_services(server: &TestServer) {
    let token_url = format!("{}/auth/token", server.base);
    // ES384 with an inline JWKS; RS384 with a JWKS URL.
    let ec = jose::generate_p384().expect("ec key");
    let rsa = jose::generate_rsa(2048).expect("rsa key");
    let ec_jwks = jwks_of(&ec, "ec-1", "ES384");
    register(server, "backend-ec", ClientType::Asymmetric, |c| {
        c.redirect_uris.clear();
        c.jwks = Some(ec_jwks);
        c.scopes = Some("system/*.rs system/Observation.cruds".into());
    })
    .await;
    let url = serve_jwks(jwks_of(&rsa, "rsa-1", "RS384")).await;
    register(server, "backend-rsa", ClientType::Asymmetric, |c| {
        c.redirect_uris.clear();
        c.jwks_url = Some(url);
        c.scopes = Some("system/*.read".into());
    })
    .await;

    let jti = uuid::Uuid::new_v4().to_string();
    let es = assertion(&ec, Algorithm::ES384, "ec-1", "backend-ec", &token_url, 300, &jti);
    let r = client_credentials(server, &es, "system/Observation.rs").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let token: Value = r.json().await.expect("json");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "system/Observation.rs");
    assert!(token["expires_in"].as_i64().is_some_and(|e| e > 0 && e <= 300));
    assert!(token.get("refresh_token").is_none());
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(bearer(server, "Observation", access).send().await.expect("search").status(), 200);
    assert_eq!(bearer(server, "Patient", access).send().await.expect("search").status(), 403);

    // The same jti again is a replay.
    let r = client_credentials(server, &es, "system/Observation.rs").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_client");

    // RS384 through the JWKS URL, v1 scope syntax kept.
    let rs = assertion(&rsa, Algorithm::RS384, "rsa-1", "backend-rsa", &token_url, 240, "rs-1");
    let r = client_credentials(server, &rs, "system/*.read").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["scope"], "system/*.read");

    // exp more than five minutes ahead, wrong aud, wrong key, unknown kid: all invalid_client.
    let far = assertion(&rsa, Algorithm::RS384, "rsa-1", "backend-rsa", &token_url, 3600, "rs-2");
    let wrong_aud =
        assertion(&rsa, Algorithm::RS384, "rsa-1", "backend-rsa", "https://elsewhere.example/token", 200, "rs-3");
    let other_key = jose::generate_rsa(2048).expect("rsa");
    let forged = assertion(&other_key, Algorithm::RS384, "rsa-1", "backend-rsa", &token_url, 200, "rs-4");
    let unknown_kid = assertion(&rsa, Algorithm::RS384, "nope", "backend-rsa", &token_url, 200, "rs-5");
    let expired = assertion(&rsa, Algorithm::RS384, "rsa-1", "backend-rsa", &token_url, -600, "rs-6");
    for (name, bad) in
        [("far exp", far), ("aud", wrong_aud), ("forged", forged), ("kid", unknown_kid), ("expired", expired)]
    {
        let r = client_credentials(server, &bad, "system/*.read").await;
        assert_eq!(r.status(), 401, "{name}");
    }
    // A scope beyond the client's registration.
    let over = assertion(&rsa, Algorithm::RS384, "rsa-1", "backend-rsa", &token_url, 200, "rs-7");
    let r = client_credentials(server, &over, "system/Patient.cruds").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_scope");
    // Unknown grant type and assertion type.
    let r = post_form(&server.client, &token_url, &[("grant_type", "not_a_grant_type")]).await;
    assert_eq!(r.status(), 400);
    let r = post_form(
        &server.client,
        &token_url,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "not_an_assertion_type"),
            ("client_assertion", "x"),
        ],
    )
    .await;
    assert!(matches!(r.status().as_u16(), 400 | 401));
}

/// A backend token with full access, to set up data behind the guard.
async fn admin_token(server: &TestServer) -> String {
    let key = jose::generate_p384().expect("key");
    let jwks = jwks_of(&key, "admin", "ES384");
    register(server, "admin", ClientType::Asymmetric, |c| {
        c.redirect_uris.clear();
        c.jwks = Some(jwks);
        c.scopes = Some("system/*.cruds".into());
    })
    .await;
    let signed =
        assertion(&key, Algorithm::ES384, "admin", "admin", &format!("{}/auth/token", server.base), 60, "admin-1");
    let token: Value = client_credentials(server, &signed, "system/*.cruds").await.json().await.expect("json");
    token["access_token"].as_str().expect("admin token").to_string()
}

async fn bearer_enforcement(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    // No token: exactly 401 with a Bearer challenge; metadata and discovery stay public.
    let r = server.get("Patient").send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().expect("hdr").starts_with("Bearer"));
    assert_eq!(server.get("metadata").send().await.expect("get").status(), 200);
    // An unknown token.
    let r = bearer(server, "Patient", "made-up").send().await.expect("get");
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().expect("hdr").contains("invalid_token"));
    // An expired token.
    let token = launch(server, "launch/patient patient/*.rs", JAN, None).await;
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 200);
    let mut expire = ikp::store::sql::Sql::new("UPDATE auth_token SET expires_at = 1 WHERE token_hash = ");
    expire.bind(ikp::store::sql::Bind::Text(ikp::auth::token_hash(access)));
    server.state().auth.store().execute(expire).await.expect("expire");
    // A token is verified once per policy generation and kept until its own expiry; editing the
    // table behind the server's back is not a revocation, so move the generation on as one would.
    server.state().auth.store().advance_policy_generation().await.expect("advance");
    assert_eq!(bearer(server, "Patient/demo-jan-kowalski", access).send().await.expect("read").status(), 401);
}

async fn patient_scope_enforcement(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let admin = admin_token(server).await;
    for (id, patient) in [("obs-jan", "demo-jan-kowalski"), ("obs-anna", "demo-anna-kowalska")] {
        let observation = json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"text": "test"}, "subject": {"reference": format!("Patient/{patient}")},
        });
        let r = server
            .send(reqwest::Method::PUT, &format!("Observation/{id}"), &observation)
            .bearer_auth(&admin)
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 201);
    }
    let token = launch(server, "launch/patient patient/Observation.rs", JAN, None).await;
    let access = token["access_token"].as_str().expect("access");
    // Search is confined to the patient in context.
    // (The seeded Observations, coded "test"; the demo's lab results are coded otherwise.)
    let bundle: Value =
        bearer(server, "Observation?code:text=test", access).send().await.expect("search").json().await.expect("json");
    let ids: Vec<&str> =
        bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str()).collect();
    assert_eq!(ids, ["obs-jan"]);
    assert_eq!(bearer(server, "Observation/obs-jan", access).send().await.expect("read").status(), 200);
    assert_eq!(bearer(server, "Observation/obs-anna", access).send().await.expect("read").status(), 404);
    assert_eq!(
        bearer(server, "Patient/demo-anna-kowalska/Observation", access).send().await.expect("read").status(),
        404
    );
    // No scope for Patient, and no write scope at all.
    let r = bearer(server, "Patient/demo-anna-kowalska", access).send().await.expect("read");
    assert_eq!(r.status(), 403);
    assert!(r.headers()["www-authenticate"].to_str().expect("hdr").contains("insufficient_scope"));
    let patient = json!({"resourceType": "Patient", "name": [{"family": "Intruder"}]});
    let r = server.send(reqwest::Method::POST, "Patient", &patient).bearer_auth(access).send().await.expect("create");
    assert_eq!(r.status(), 403);
    let r = server
        .send(
            reqwest::Method::PUT,
            "Observation/obs-jan",
            &json!({"resourceType": "Observation", "id": "obs-jan", "status": "final", "code": {"text": "x"}}),
        )
        .bearer_auth(access)
        .send()
        .await
        .expect("update");
    assert_eq!(r.status(), 403);
    // System-wide history and searches across all types are not for this patient token.
    assert_eq!(bearer(server, "_history", access).send().await.expect("history").status(), 403);
    let everything = reqwest::Client::new().get(format!("{}?_lastUpdated=gt2000", server.base)).bearer_auth(access);
    assert_eq!(everything.send().await.expect("search").status(), 403);
    // Patient search with patient/*.rs returns only the patient in context.
    let token = launch(server, "launch/patient patient/*.rs", JAN, None).await;
    let access = token["access_token"].as_str().expect("access");
    let bundle: Value = bearer(server, "Patient", access).send().await.expect("search").json().await.expect("json");
    let ids: Vec<&str> =
        bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str()).collect();
    assert_eq!(ids, ["demo-jan-kowalski"]);
}

async fn key_rotation(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let before = launch(server, "launch/patient openid fhirUser patient/*.rs", JAN, None).await;
    let old_kid =
        Unverified::parse(before["id_token"].as_str().expect("id")).expect("jws").header_str("kid").map(str::to_string);
    let new_kid = ikp::auth::keys::rotate(server.state().auth.store()).await.expect("rotate");
    assert_ne!(old_kid.as_deref(), Some(new_kid.as_str()));
    // The old token stays valid and its key stays published; new id_tokens use the new key.
    verify_id_token(server, before["id_token"].as_str().expect("id")).await;
    assert_eq!(
        bearer(server, "Patient/demo-jan-kowalski", before["access_token"].as_str().expect("a"))
            .send()
            .await
            .expect("read")
            .status(),
        200
    );
    let after = launch(server, "launch/patient openid fhirUser patient/*.rs", JAN, None).await;
    let id_token = after["id_token"].as_str().expect("id");
    assert_eq!(Unverified::parse(id_token).expect("jws").header_str("kid"), Some(new_kid.as_str()));
    verify_id_token(server, id_token).await;
}

async fn granular_scopes_and_clinicians(server: &TestServer) {
    register(server, APP, ClientType::Public, |_| {}).await;
    let admin = admin_token(server).await;
    let category = |code: &str| json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code}]}]);
    for (id, code) in [("lab-1", "laboratory"), ("vital-1", "vital-signs")] {
        let observation = json!({
            "resourceType": "Observation", "id": id, "status": "final", "category": category(code),
            "code": {"text": "test"}, "subject": {"reference": "Patient/demo-jan-kowalski"},
        });
        let r = server
            .send(reqwest::Method::PUT, &format!("Observation/{id}"), &observation)
            .bearer_auth(&admin)
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 201);
    }
    // A granular patient scope: searches and reads see laboratory results only.
    let token = launch(server, "launch/patient patient/Observation.rs?category=laboratory", JAN, None).await;
    assert_eq!(token["scope"], "launch/patient patient/Observation.rs?category=laboratory");
    let access = token["access_token"].as_str().expect("access");
    // (The seeded Observations, coded "test"; the demo's lab results are coded otherwise.)
    let bundle: Value =
        bearer(server, "Observation?code:text=test", access).send().await.expect("search").json().await.expect("json");
    let ids: Vec<&str> =
        bundle["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str()).collect();
    assert_eq!(ids, ["lab-1"]);
    assert_eq!(bearer(server, "Observation/lab-1", access).send().await.expect("read").status(), 200);
    assert_eq!(bearer(server, "Observation/vital-1", access).send().await.expect("read").status(), 404);

    // A physician logs in: fhirUser is the Practitioner, no patient context, user/ scopes.
    let token = launch(server, "openid fhirUser user/*.rs", "75113009138", None).await;
    assert!(token.get("patient").is_none());
    let claims = verify_id_token(server, token["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["fhirUser"], format!("{}/Practitioner/demo-piotr-nowak", server.base));
    let access = token["access_token"].as_str().expect("access");
    assert_eq!(bearer(server, "Practitioner/demo-piotr-nowak", access).send().await.expect("read").status(), 200);
    // Without a relationship to Jan (primary care, an authorisation) his record stays closed...
    assert_eq!(bearer(server, "Observation/vital-1", access).send().await.expect("read").status(), 404);
    // ...until Jan authorises the doctor.
    let consent = json!({
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type", "code": "doctor-history"}]}],
        "patient": {"reference": "Patient/demo-jan-kowalski"},
        "provision": {"type": "permit", "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
            "reference": {"reference": "Practitioner/demo-piotr-nowak"}}]},
    });
    let r = server.send(reqwest::Method::POST, "Consent", &consent).bearer_auth(&admin).send().await.expect("consent");
    assert_eq!(r.status(), 201);
    assert_eq!(bearer(server, "Observation/vital-1", access).send().await.expect("read").status(), 200);
    let r = server
        .send(reqwest::Method::POST, "Patient", &json!({"resourceType": "Patient"}))
        .bearer_auth(access)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 403, "user/*.rs does not write");
    // The pharmacist too.
    let token = launch(server, "openid fhirUser user/MedicationRequest.rs", "90011503269", None).await;
    let claims = verify_id_token(server, token["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["fhirUser"], format!("{}/Practitioner/demo-ewa-wisniewska", server.base));
    // A scope the user unticks on the consent page is not granted.
    let (verifier, challenge) = pkce();
    let login = authorize(
        server,
        &authorize_params(server, "launch/patient openid patient/Observation.rs patient/Condition.rs", &challenge),
    )
    .await;
    let request = query_param(&location(&login), "request").expect("request");
    let http = browser_of(&login);
    post_form(
        &http,
        &format!("{}/auth/login", server.base),
        &[("request", &request), ("pesel", JAN), ("password", "demo")],
    )
    .await;
    let pairs = [
        ("request", request.as_str()),
        ("decision", "approve"),
        ("scope", "launch/patient"),
        ("scope", "patient/Observation.rs"),
        ("scope", "patient/Patient.cruds"),
    ];
    let back = location(&post_form(&http, &format!("{}/auth/consent", server.base), &pairs).await);
    let code = query_param(&back, "code").expect("code");
    let token: Value = exchange(server, &code, &verifier).await.json().await.expect("json");
    assert_eq!(token["scope"], "launch/patient patient/Observation.rs", "consent only narrows");
    assert!(token.get("id_token").is_none());
}
