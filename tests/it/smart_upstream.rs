//! Login through an upstream OpenID Connect provider, against a small mock provider started in the
//! test: a valid id_token logs the user in (PESEL from the configured claim); a bad signature, a
//! wrong nonce, a wrong audience, an expired token or a too-low `acr` do not; a higher `acr` than
//! required does.

use crate::common;

use std::sync::{Arc, Mutex};

use common::TestServer;
use ikp::auth::clients::{ClientType, NewClient};
use ikp::auth::jose::{self, Algorithm};
use ikp::cli::{AuthMode, ServeArgs};
use openssl::pkey::{PKey, Private};
use reqwest::{Client, StatusCode};
use serde_json::{Map, Value, json};

const APP: &str = "upstream-app";
const REDIRECT: &str = "https://app.example/callback";
const RP_CLIENT_ID: &str = "ikp-rp";
const ACR: &str = "http://eidas.europa.eu/LoA/substantial";

/// What the mock provider's token endpoint answers, and the PKCE challenge it expects.
#[derive(Default)]
struct MockState {
    id_token: String,
    code_challenge: String,
}

struct MockProvider {
    issuer: String,
    key: PKey<Private>,
    state: Arc<Mutex<MockState>>,
}

async fn start_mock() -> MockProvider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let key = jose::generate_rsa(2048).expect("key");
    let mut jwk = jose::public_jwk(&key).expect("jwk");
    jwk.insert("kid".into(), json!("upstream-1"));
    let jwks = json!({"keys": [Value::Object(jwk)]});
    let state = Arc::new(Mutex::new(MockState::default()));
    let token_state = state.clone();
    let app =
        axum::Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(jwks.clone()) })).route(
            "/token",
            axum::routing::post(move |body: String| async move {
                let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                let verifier =
                    form.iter().find(|(k, _)| k == "code_verifier").map(|(_, v)| v.clone()).unwrap_or_default();
                let guard = token_state.lock().expect("lock");
                // Our server must send the PKCE verifier of the challenge it sent to /authorize.
                if jose::b64(&openssl::sha::sha256(verifier.as_bytes())) != guard.code_challenge {
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"})));
                }
                (
                    StatusCode::OK,
                    axum::Json(json!({"id_token": guard.id_token, "access_token": "x", "token_type": "Bearer"})),
                )
            }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    MockProvider { issuer, key, state }
}

fn configure(mock_issuer: String) -> impl FnOnce(&mut ServeArgs) {
    move |args: &mut ServeArgs| {
        args.auth = Some(AuthMode::On);
        args.demo = Some(true);
        let u = &mut args.upstream;
        u.oidc_issuer = Some(mock_issuer.clone());
        u.oidc_client_id = Some(RP_CLIENT_ID.into());
        u.oidc_authorization_endpoint = Some(format!("{mock_issuer}/authorize"));
        u.oidc_token_endpoint = Some(format!("{mock_issuer}/token"));
        u.oidc_jwks_uri = Some(format!("{mock_issuer}/jwks"));
        u.oidc_pesel_claim = "nin".into();
        u.oidc_acr = Some(ACR.into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let mock = start_mock().await;
    let server = TestServer::sqlite_configured(configure(mock.issuer.clone())).await;
    upstream_login(&server, &mock).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let mock = start_mock().await;
    let Some(server) = TestServer::postgres_configured(configure(mock.issuer.clone())).await else { return };
    upstream_login(&server, &mock).await;
    server.stop().await;
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// How to spoil the id_token for a negative case.
enum Spoil {
    Nothing,
    Signature,
    Nonce,
    Audience,
    Expired,
    Acr,
    /// A higher level of assurance than required (accepted).
    HigherAcr,
}

/// Starts a SMART authorization, follows it to the mock provider, and comes back with an id_token
/// spoiled as asked; returns the browser and our callback's response.
async fn upstream_round(server: &TestServer, mock: &MockProvider, spoil: Spoil) -> (Client, reqwest::Response) {
    let http = common::browser::browser();
    let verifier = "v".repeat(50);
    let challenge = jose::b64(&openssl::sha::sha256(verifier.as_bytes()));
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", REDIRECT),
        ("scope", "launch/patient openid fhirUser patient/*.rs"),
        ("state", "s1"),
        ("aud", server.base.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ] {
        query.append_pair(k, v);
    }
    let r = http.get(format!("{}/auth/authorize?{}", server.base, query.finish())).send().await.expect("authorize");
    let request = query_param(&location(&r), "request").expect("request");
    let page = http.get(location(&r)).send().await.expect("login").text().await.expect("html");
    assert!(page.contains("/auth/upstream?request="), "{page}");
    let r =
        http.get(format!("{}/auth/upstream?request={}", server.base, request)).send().await.expect("upstream start");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let upstream = location(&r);
    assert!(upstream.starts_with(&format!("{}/authorize?", mock.issuer)), "{upstream}");
    assert_eq!(query_param(&upstream, "code_challenge_method").as_deref(), Some("S256"));
    let state = query_param(&upstream, "state").expect("state");
    let nonce = query_param(&upstream, "nonce").expect("nonce");
    // The required level and those above it are asked for, as acr_values and an essential claim.
    let acceptable = ["http://eidas.europa.eu/LoA/substantial", "http://eidas.europa.eu/LoA/high"];
    assert_eq!(query_param(&upstream, "acr_values"), Some(acceptable.join(" ")));
    let asked: Value = serde_json::from_str(&query_param(&upstream, "claims").expect("claims")).expect("json");
    assert_eq!(asked, json!({"id_token": {"acr": {"essential": true, "values": acceptable}}}));

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = json!({
        "iss": mock.issuer, "sub": "upstream-user-1", "aud": RP_CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": nonce, "acr": ACR, "nin": "80051412351",
    });
    let mut key = mock.key.clone();
    match spoil {
        Spoil::Nothing => {}
        Spoil::Signature => key = jose::generate_rsa(2048).expect("other key"),
        Spoil::Nonce => claims["nonce"] = json!("another-nonce"),
        Spoil::Audience => claims["aud"] = json!("someone-else"),
        Spoil::Expired => claims["exp"] = json!(now - 3600),
        Spoil::Acr => claims["acr"] = json!("http://eidas.europa.eu/LoA/low"),
        Spoil::HigherAcr => claims["acr"] = json!("http://eidas.europa.eu/LoA/high"),
    }
    let mut header = Map::new();
    header.insert("kid".into(), json!("upstream-1"));
    let id_token = jose::sign(Algorithm::RS256, &key, header, &claims).expect("sign");
    {
        let mut guard = mock.state.lock().expect("lock");
        guard.id_token = id_token;
        guard.code_challenge = query_param(&upstream, "code_challenge").expect("challenge");
    }
    let r = http
        .get(format!("{}/auth/upstream/callback?code=upstream-code&state={state}", server.base))
        .send()
        .await
        .expect("callback");
    (http, r)
}

async fn upstream_login(server: &TestServer, mock: &MockProvider) {
    let client = NewClient {
        client_id: APP.into(),
        client_type: ClientType::Public,
        secret: None,
        redirect_uris: vec![REDIRECT.into()],
        launch_uri: None,
        jwks: None,
        jwks_url: None,
        scopes: None,
    };
    ikp::auth::clients::add(server.state().auth.store(), &client).await.expect("register");

    let (http, r) = upstream_round(server, mock, Spoil::Nothing).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "a valid upstream login");
    let consent = location(&r);
    assert!(consent.contains("/auth/consent?request="), "{consent}");
    let html = http.get(&consent).send().await.expect("consent").text().await.expect("html");
    assert!(html.contains("value=\"demo-jan-kowalski\""), "the PESEL claim resolved to the demo patient: {html}");
    let (_, r) = upstream_round(server, mock, Spoil::HigherAcr).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "a higher level of assurance than required");

    for (name, spoil) in [
        ("bad signature", Spoil::Signature),
        ("wrong nonce", Spoil::Nonce),
        ("wrong aud", Spoil::Audience),
        ("expired", Spoil::Expired),
        ("low acr", Spoil::Acr),
    ] {
        let (_, r) = upstream_round(server, mock, spoil).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(r.headers().get("location").is_none(), "{name}: no login");
    }
}
