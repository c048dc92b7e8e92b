//! The upstream login against a real, certified OpenID provider: node `oidc-provider`
//! (tests/node/provider.mjs), started by the test. Its client secret holds `+`, `/` and `=`, so a
//! login only works when client_secret_basic is form-encoded; a login at a higher level of
//! assurance than required is accepted, a lower one refused; a login finished in another browser
//! than the one that started it is refused.

use crate::common;
use crate::common::node;

use common::TestServer;
use common::browser::{browser, form, location, pkce, post_form, query_param};
use ikp::auth::clients::{ClientType, NewClient};
use ikp::cli::{AuthMode, ServeArgs};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const APP: &str = "provider-app";
const REDIRECT: &str = "https://app.example/callback";
const RP_CLIENT_ID: &str = "ikp-rp";
const RP_SECRET: &str = "rp+secret/with=signs+/==";
const JAN: &str = "80051412351";
const LOW: &str = "http://eidas.europa.eu/LoA/low";
pub(crate) const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// Our callback at the provider: where the provider sends browsers back to.
fn callback(base: &str) -> String {
    format!("{base}/auth/upstream/callback")
}

fn configure(issuer: String) -> impl FnOnce(&mut ServeArgs) {
    move |args: &mut ServeArgs| {
        args.auth = Some(AuthMode::On);
        args.demo = Some(true);
        let u = &mut args.upstream;
        u.oidc_client_id = Some(RP_CLIENT_ID.into());
        u.oidc_client_secret = Some(RP_SECRET.into());
        u.oidc_authorization_endpoint = Some(format!("{issuer}/auth"));
        u.oidc_token_endpoint = Some(format!("{issuer}/token"));
        u.oidc_jwks_uri = Some(format!("{issuer}/jwks"));
        // The provider's subject is the PESEL in this test.
        u.oidc_pesel_claim = "sub".into();
        u.oidc_acr = Some(SUBSTANTIAL.into());
        u.oidc_issuer = Some(issuer);
    }
}

/// The provider and our server, each told about the other: the provider's issuer is known when
/// it listens, our callback once our server listens.
pub(crate) async fn servers(postgres: bool) -> Option<(TestServer, node::Script)> {
    node::ensure_installed(&["oidc-provider"]).await;
    let mut provider = node::start("provider.mjs", &[]);
    let issuer = provider.next_json().await["issuer"].as_str().expect("issuer").to_string();
    let server = if postgres {
        TestServer::postgres_configured(configure(issuer)).await?
    } else {
        TestServer::sqlite_configured(configure(issuer)).await
    };
    let rp = json!({"client_id": RP_CLIENT_ID, "client_secret": RP_SECRET, "redirect_uri": callback(&server.base)});
    provider.send(&rp).await;
    assert_eq!(provider.next_json().await["ready"], true);
    Some((server, provider))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let Some((server, _provider)) = servers(false).await else { return };
    upstream_logins(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some((server, _provider)) = servers(true).await else { return };
    upstream_logins(&server).await;
    server.stop().await;
}

async fn register(server: &TestServer) {
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
}

/// Starts an authorization in `http`; returns the request handle.
async fn authorize(server: &TestServer, http: &Client, challenge: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", REDIRECT),
        ("scope", "launch/patient openid fhirUser patient/*.rs"),
        ("state", "st"),
        ("aud", server.base.as_str()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    let r = http.get(format!("{}/auth/authorize?{}", server.base, form(&params))).send().await.expect("authorize");
    query_param(&location(&r), "request").expect("request")
}

/// Follows redirects in `http` until one leads to our callback (returned, not followed) or a
/// page is reached (returned as the error).
async fn follow_to_callback(server: &TestServer, http: &Client, mut url: String) -> Result<String, Response> {
    for _ in 0..10 {
        if url.starts_with(&callback(&server.base)) {
            return Ok(url);
        }
        let r = http.get(&url).send().await.expect("follow");
        if !r.status().is_redirection() {
            return Err(r);
        }
        let next = location(&r);
        url = if next.starts_with('/') { format!("{}{next}", origin(&url)) } else { next };
    }
    panic!("too many redirects");
}

fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    url[..end].to_string()
}

/// Logs in at the provider in `http`, reaching level `acr`; returns the URL of our callback the
/// provider sends the browser to.
async fn provider_login(server: &TestServer, http: &Client, provider_url: &str, acr: &str) -> String {
    let page = match follow_to_callback(server, http, provider_url.to_string()).await {
        Ok(url) => panic!("logged in without a login: {url}"),
        Err(page) => page,
    };
    let login_url = page.url().to_string();
    assert!(login_url.contains("/interaction/"), "{login_url}");
    let r = post_form(http, &format!("{login_url}/login"), &[("sub", JAN), ("acr", acr)]).await;
    assert!(r.status().is_redirection(), "{}", r.text().await.unwrap_or_default());
    let next = location(&r);
    let next = if next.starts_with('/') { format!("{}{next}", origin(&login_url)) } else { next };
    match follow_to_callback(server, http, next).await {
        Ok(url) => url,
        Err(page) => panic!("the provider did not send the browser back: {:?}", page.text().await),
    }
}

/// From a request handle to the provider's authorization URL (the upstream start, in `http`).
async fn upstream_start(server: &TestServer, http: &Client, request: &str) -> String {
    let r = http.get(format!("{}/auth/upstream?request={request}", server.base)).send().await.expect("start");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

async fn upstream_logins(server: &TestServer) {
    register(server).await;

    // A login at a higher level than required: accepted, through to a token for Jan.
    let http = browser();
    let (verifier, challenge) = pkce();
    let request = authorize(server, &http, &challenge).await;
    let at_provider = upstream_start(server, &http, &request).await;
    assert_eq!(query_param(&at_provider, "acr_values").as_deref(), Some(format!("{SUBSTANTIAL} {HIGH}").as_str()));
    let back = provider_login(server, &http, &at_provider, HIGH).await;
    let r = http.get(&back).send().await.expect("callback");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let consent = location(&r);
    let page = http.get(&consent).send().await.expect("consent").text().await.expect("html");
    assert!(page.contains("value=\"demo-jan-kowalski\""), "{page}");
    let pairs = [
        ("request", request.as_str()),
        ("decision", "approve"),
        ("scope", "launch/patient"),
        ("scope", "patient/*.rs"),
    ];
    let r = post_form(&http, &format!("{}/auth/consent", server.base), &pairs).await;
    let code = query_param(&location(&r), "code").expect("code");
    let token = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
        ("client_id", APP),
    ];
    let r = post_form(&server.client, &format!("{}/auth/token", server.base), &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["patient"], "demo-jan-kowalski");

    // The required level itself is accepted; a lower one is refused and nobody is logged in.
    for (acr, accepted) in [(SUBSTANTIAL, true), (LOW, false)] {
        let http = browser();
        let request = authorize(server, &http, &challenge).await;
        let at_provider = upstream_start(server, &http, &request).await;
        let back = provider_login(server, &http, &at_provider, acr).await;
        let r = http.get(&back).send().await.expect("callback");
        if accepted {
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{acr}");
        } else {
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{acr}");
            assert!(r.headers().get("location").is_none());
            assert!(r.text().await.expect("page").contains("level of assurance"));
        }
    }

    // Cross-browser: the attacker starts the login and hands the provider URL to the victim, who
    // logs in there; the victim's browser comes back to our callback without the binding, so
    // nothing is logged in, and the attacker's consent yields no code.
    let attacker = browser();
    let request = authorize(server, &attacker, &challenge).await;
    let at_provider = upstream_start(server, &attacker, &request).await;
    let victim = browser();
    let back = provider_login(server, &victim, &at_provider, HIGH).await;
    let r = victim.get(&back).send().await.expect("callback");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.expect("page").contains("another browser"));
    let r = post_form(
        &attacker,
        &format!("{}/auth/consent", server.base),
        &[("request", &request), ("decision", "approve")],
    )
    .await;
    assert!(query_param(&location(&r), "code").is_none(), "{}", location(&r));
    // Nor can the victim's browser start the upstream login of a request it did not start.
    let r = victim.get(format!("{}/auth/upstream?request={request}", server.base)).send().await.expect("start");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
