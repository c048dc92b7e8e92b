//! The authorization server under hostile use: a login or consent from a browser that did not
//! start the authorization (login CSRF, session fixation), refresh without `client_id` for public
//! clients only, login throttling, and the headers of every HTML page.

use crate::common;

use base64::Engine;
use common::TestServer;
use common::browser::{browser, form, location, pkce, post_form, query_param};
use ikp::auth::clients::{ClientType, NewClient};
use ikp::cli::{AuthMode, ServeArgs};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

const PUBLIC_APP: &str = "hardening-public";
const CONFIDENTIAL_APP: &str = "hardening-confidential";
/// A secret with every character that form-encoding changes.
const SECRET: &str = "s3cret+with/slash=and+plus==";
const REDIRECT: &str = "https://app.example/callback";
const JAN: &str = "80051412351";

pub fn smart_on(args: &mut ServeArgs) {
    args.auth = Some(AuthMode::On);
    args.demo = Some(true);
}

on_both_backends_configured!(super::smart_on;
    login_is_bound_to_the_browser,
    refresh_without_client_id,
    login_throttling,
    page_headers,
);

async fn register(server: &TestServer) {
    for (client_id, client_type, secret) in
        [(PUBLIC_APP, ClientType::Public, None), (CONFIDENTIAL_APP, ClientType::Symmetric, Some(SECRET.to_string()))]
    {
        let client = NewClient {
            client_id: client_id.into(),
            client_type,
            secret,
            redirect_uris: vec![REDIRECT.into()],
            launch_uri: Some("https://app.example/launch".into()),
            jwks: None,
            jwks_url: None,
            scopes: None,
        };
        ikp::auth::clients::add(server.state().auth.store(), &client).await.expect("register");
    }
}

/// Starts an authorization for `client_id` in `http`; returns the request handle.
async fn start(server: &TestServer, http: &Client, client_id: &str, challenge: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "launch/patient offline_access patient/*.rs"),
        ("state", "st"),
        ("aud", server.base.as_str()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    let r = http.get(format!("{}/auth/authorize?{}", server.base, form(&params))).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/fhir/auth;"), "scoped to the authorization endpoints: {cookie}");
    query_param(&location(&r), "request").expect("request")
}

async fn login(server: &TestServer, http: &Client, request: &str, password: &str) -> Response {
    let pairs = [("request", request), ("pesel", JAN), ("password", password)];
    post_form(http, &format!("{}/auth/login", server.base), &pairs).await
}

async fn consent(server: &TestServer, http: &Client, request: &str) -> Response {
    let pairs = [
        ("request", request),
        ("decision", "approve"),
        ("scope", "launch/patient"),
        ("scope", "offline_access"),
        ("scope", "patient/*.rs"),
    ];
    post_form(http, &format!("{}/auth/consent", server.base), &pairs).await
}

/// Asserts the error page a step from the wrong browser gets: 400, no redirect, a clear message.
async fn refused_page(r: Response, step: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{step}");
    assert!(r.headers().get("location").is_none(), "{step}: nothing issued");
    let page = r.text().await.expect("page");
    assert!(page.contains("another browser"), "{step}: {page}");
}

async fn login_is_bound_to_the_browser(server: &TestServer) {
    register(server).await;
    let (verifier, challenge) = pkce();
    // The attacker starts an authorization for their app and hands its URLs to the victim.
    let attacker = browser();
    let request = start(server, &attacker, PUBLIC_APP, &challenge).await;
    let victim = browser();
    // The victim's browser never started it: every step is refused, the login too.
    let login_page = format!("{}/auth/login?request={request}", server.base);
    refused_page(victim.get(&login_page).send().await.expect("login page"), "login page").await;
    refused_page(login(server, &victim, &request, "demo").await, "login").await;
    let consent_page = format!("{}/auth/consent?request={request}", server.base);
    refused_page(victim.get(&consent_page).send().await.expect("consent page"), "consent page").await;
    refused_page(consent(server, &victim, &request).await, "consent").await;
    // A browser with the binding of another request of its own is no better.
    let other = browser();
    start(server, &other, PUBLIC_APP, &challenge).await;
    refused_page(login(server, &other, &request, "demo").await, "another request's cookie").await;
    // Nobody logged in for the attacker's request, so their consent yields nothing.
    let r = consent(server, &attacker, &request).await;
    assert!(query_param(&location(&r), "code").is_none(), "{}", location(&r));

    // The browser that started it goes through, and the refusals above did not spoil its request.
    let http = browser();
    let request = start(server, &http, PUBLIC_APP, &challenge).await;
    refused_page(login(server, &victim, &request, "demo").await, "login").await;
    assert_eq!(
        http.get(format!("{}/auth/login?request={request}", server.base)).send().await.expect("page").status(),
        200
    );
    let r = login(server, &http, &request, "demo").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = http.get(location(&r)).send().await.expect("consent page");
    assert_eq!(r.status(), 200);
    refused_page(consent(server, &victim, &request).await, "consent after the login").await;
    let r = consent(server, &http, &request).await;
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    let cleared = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cleared.contains("Max-Age=0"), "the binding is dropped once answered: {cleared}");
    let code = query_param(&back, "code").expect("code");
    let token = exchange(server, &code, &verifier, PUBLIC_APP, None).await;
    assert_eq!(token.status(), 200);
}

/// The code exchange, as a public client (`client_id`) or a confidential one (Basic).
async fn exchange(server: &TestServer, code: &str, verifier: &str, client_id: &str, secret: Option<&str>) -> Response {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    let mut request = server.client.post(format!("{}/auth/token", server.base));
    match secret {
        Some(secret) => request = request.header("authorization", basic(client_id, secret)),
        None => pairs.push(("client_id", client_id)),
    }
    request.header("content-type", "application/x-www-form-urlencoded").body(form(&pairs)).send().await.expect("token")
}

/// RFC 6749 §2.3.1: id and secret form-encoded, then base64.
fn basic(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

/// A whole authorization of Jan's for `client_id`; returns the token response.
async fn authorized(server: &TestServer, client_id: &str, secret: Option<&str>) -> Value {
    let (verifier, challenge) = pkce();
    let http = browser();
    let request = start(server, &http, client_id, &challenge).await;
    assert_eq!(login(server, &http, &request, "demo").await.status(), StatusCode::SEE_OTHER);
    let code = query_param(&location(&consent(server, &http, &request).await), "code").expect("code");
    exchange(server, &code, &verifier, client_id, secret).await.json().await.expect("json")
}

async fn refresh_token_for(server: &TestServer, client_id: &str, secret: Option<&str>) -> String {
    authorized(server, client_id, secret).await["refresh_token"].as_str().expect("refresh token").to_string()
}

async fn refresh(server: &TestServer, pairs: &[(&str, &str)], authorization: Option<String>) -> (u16, Value) {
    let mut request = server.client.post(format!("{}/auth/token", server.base));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let r = request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .expect("refresh");
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn refresh_without_client_id(server: &TestServer) {
    register(server).await;
    // A public client may leave client_id out (RFC 6749 §6): the token names its client.
    let token = refresh_token_for(server, PUBLIC_APP, None).await;
    let (status, body) = refresh(server, &[("grant_type", "refresh_token"), ("refresh_token", &token)], None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["patient"], "demo-jan-kowalski");
    let rotated = body["refresh_token"].as_str().expect("rotated").to_string();
    // A client_id that is sent must still be the token's client; the token is not used up by that.
    let wrong = [("grant_type", "refresh_token"), ("refresh_token", rotated.as_str()), ("client_id", CONFIDENTIAL_APP)];
    assert_eq!(refresh(server, &wrong, None).await.0, 401, "another client's id, unauthenticated");
    let (status, _) = refresh(server, &[("grant_type", "refresh_token"), ("refresh_token", &rotated)], None).await;
    assert_eq!(status, 200);
    // An unknown token without a client is an invalid grant.
    let (status, body) = refresh(server, &[("grant_type", "refresh_token"), ("refresh_token", "nope")], None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // A confidential client must authenticate, with or without client_id; its token is not used up.
    let token = refresh_token_for(server, CONFIDENTIAL_APP, Some(SECRET)).await;
    let bare = [("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
    let (status, body) = refresh(server, &bare, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let named = [("grant_type", "refresh_token"), ("refresh_token", token.as_str()), ("client_id", CONFIDENTIAL_APP)];
    assert_eq!(refresh(server, &named, None).await.0, 401);
    let (status, body) = refresh(server, &bare, Some(basic(CONFIDENTIAL_APP, SECRET))).await;
    assert_eq!(status, 200, "{body}");
}

async fn login_as(server: &TestServer, pesel: &str, password: &str) -> (u16, String) {
    let (_, challenge) = pkce();
    let http = browser();
    let request = start(server, &http, PUBLIC_APP, &challenge).await;
    let pairs = [("request", request.as_str()), ("pesel", pesel), ("password", password)];
    let r = post_form(&http, &format!("{}/auth/login", server.base), &pairs).await;
    (r.status().as_u16(), r.text().await.expect("page"))
}

async fn login_throttling(server: &TestServer) {
    register(server).await;
    // Jan's own app, authorised before anyone tries his account.
    let token = authorized(server, PUBLIC_APP, None).await;
    let jans = token["access_token"].as_str().expect("access token").to_string();
    // Five wrong passwords lock the account: then even the right one is refused, neutrally.
    // An unknown PESEL is answered exactly the same way (no account enumeration).
    for pesel in [JAN, "02070803628"] {
        for attempt in 1..=5 {
            let (status, page) = login_as(server, pesel, "wrong").await;
            assert_eq!(status, 401, "{pesel} attempt {attempt}");
            assert!(page.contains("Unknown PESEL or wrong password."));
        }
        let (status, page) = login_as(server, pesel, "demo").await;
        assert_eq!(status, 429, "{pesel}: locked");
        assert!(page.contains("Too many failed attempts. Try again later."), "{page}");
        assert!(!page.contains(pesel), "{page}");
    }
    // Other accounts from the same address still log in (the address has 10 of its 20).
    assert_eq!(login_as(server, "85030204565", "demo").await.0, 303);
    // The EHR-launch login counts on the same account.
    let pairs = [("client_id", PUBLIC_APP), ("pesel", JAN), ("password", "demo")];
    assert_eq!(post_form(&browser(), &format!("{}/auth/launch", server.base), &pairs).await.status(), 429);
    // Jan finds the lockout of his account in his own audit trail.
    let url = format!("{}/AuditEvent?patient=demo-jan-kowalski&subtype=%24login", server.base);
    let mut found = Value::Null;
    for _ in 0..50 {
        let r = server.client.get(&url).bearer_auth(&jans).send().await.expect("audit");
        assert_eq!(r.status(), 200);
        found = r.json().await.expect("bundle");
        if found["entry"].as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let entries = found["entry"].as_array().expect("the lockout is audited");
    assert_eq!(entries.len(), 1, "one lockout of Jan's account: {found}");
    let event = &entries[0]["resource"];
    assert_eq!(event["outcome"], "4");
    let text = event.to_string();
    assert!(text.contains("login lockout") && !text.contains(JAN), "no PESEL in the trail: {text}");
    // Past the address's limit every account is refused from it.
    for attempt in 0..10 {
        assert_eq!(login_as(server, &format!("0000000000{attempt}"), "wrong").await.0, 401);
    }
    assert_eq!(login_as(server, "85030204565", "demo").await.0, 429, "the address is locked");
}

async fn page_headers(server: &TestServer) {
    register(server).await;
    let (_, challenge) = pkce();
    let http = browser();
    let request = start(server, &http, PUBLIC_APP, &challenge).await;
    let pages = [
        format!("{}/auth/login?request={request}", server.base),
        format!("{}/auth/login?request=unknown", server.base),
        format!("{}/auth/launch?client_id={PUBLIC_APP}", server.base),
    ];
    // Redirects leave no referrer either (the URLs carry request handles).
    let r = http.get(format!("{}/auth/consent?request={request}", server.base)).send().await.expect("consent");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "to the login: nobody logged in yet");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    for url in pages {
        let r = http.get(&url).send().await.expect("page");
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(header("content-type").starts_with("text/html"), "{url}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{url}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{url}");
        assert_eq!(header("cache-control"), "no-store", "{url}");
        assert_eq!(header("x-frame-options"), "DENY", "{url}");
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{url}");
    }
}
