//! Logging in: the SMART App Launch standalone flow, as a confidential client with PKCE (S256).
//! `/logowanie` sends the browser to the authorization server with a fresh `state` and code
//! challenge (kept in a sealed, short-lived cookie); `/callback` checks `state`, exchanges the code
//! with the verifier and the client's secret, and opens the login. The token endpoint is called
//! from the server, so the browser never sees a token. `/wyloguj` revokes the refresh token.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::extract::{Form, Query};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{ApiError, Payload};
use crate::context::Ctx;
use crate::fhir;
use crate::session::{self, LOGIN_COOKIE, LoginFlow, Relation, SessionData};
use crate::view::{Page, Section};
use crate::{CALLBACK_PATH, PortalConfig, SCOPES, Shared};

/// What the token endpoint answered.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    /// `fhirUser`, relative to the FHIR base (`Patient/x`).
    pub user: Option<String>,
}

/// `GET /logowanie`: to the authorization server.
pub async fn start(axum::extract::State(config): axum::extract::State<Shared>) -> Response {
    let (Some(state), Some(verifier)) = (session::random_token::<24>(), session::random_token::<32>()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no randomness").into_response();
    };
    let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    let redirect = format!("{}{CALLBACK_PATH}", config.site);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("aud", &config.fhir_base)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let flow = LoginFlow { state, verifier, started_at: session::now() };
    let Some(sealed) = session::seal(&config.cookie_key, LOGIN_COOKIE, &flow) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the login could not be started").into_response();
    };
    let cookie =
        session::set_cookie(LOGIN_COOKIE, &sealed, Some(session::LOGIN_FLOW_SECONDS), config.secure_cookies, true);
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let (Ok(location), Ok(cookie)) =
        (HeaderValue::from_str(&format!("{}/auth/authorize?{query}", config.fhir_base)), HeaderValue::from_str(&cookie))
    {
        response.headers_mut().insert(LOCATION, location);
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: the authorization server's answer.
pub async fn callback(mut ctx: Ctx, headers: HeaderMap, Query(answer): Query<Callback>) -> Response {
    let flow = session::cookie(&headers, LOGIN_COOKIE)
        .and_then(|c| session::open::<LoginFlow>(&ctx.config.cookie_key, LOGIN_COOKIE, c))
        .filter(|f| session::now() - f.started_at < session::LOGIN_FLOW_SECONDS);
    let same_state = match (&flow, &answer.state) {
        (Some(flow), Some(state)) => session::same_secret(&flow.state, state),
        _ => false,
    };
    let (Some(flow), Some(code), true, None) = (flow, answer.code.as_deref(), same_state, answer.error.as_deref())
    else {
        let text = if answer.error.as_deref() == Some("access_denied") {
            ctx.tr("Logowanie zostało anulowane.", "The login was cancelled.")
        } else {
            ctx.tr(
                "Logowanie nie powiodło się albo trwało zbyt długo. Spróbuj jeszcze raz.",
                "The login failed or took too long. Please try again.",
            )
        };
        return failed_login(ctx, text);
    };
    let redirect = format!("{}{CALLBACK_PATH}", ctx.config.site);
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("redirect_uri", redirect),
        ("code_verifier", flow.verifier),
    ];
    let tokens = match token_request(&ctx.config, form).await {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::info!(status = %e.status, "the portal's code exchange was refused");
            let text =
                ctx.tr("Logowanie nie powiodło się. Spróbuj jeszcze raz.", "The login failed. Please try again.");
            return failed_login(ctx, text);
        }
    };
    let Some(csrf) = session::random_token::<24>() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no randomness").into_response();
    };
    let user = tokens.user.clone().unwrap_or_default();
    let own = user.strip_prefix("Patient/").map(str::to_string);
    ctx.replace(SessionData {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: session::now() + tokens.expires_in,
        started_at: session::now(),
        user: user.clone(),
        user_name: String::new(),
        account: own.clone().unwrap_or_default(),
        account_name: String::new(),
        relation: Relation::Own,
        csrf,
    });
    let name = match ctx.get(&user).await {
        Ok(person) => fhir::human_name(&person),
        Err(_) => user.clone(),
    };
    if let Some(session) = ctx.session.as_mut() {
        session.user_name = name.clone();
        if own.is_some() {
            session.account_name = name;
        }
    }
    let mut response = ctx.redirect(if own.is_some() { "/" } else { "/konta" });
    if let Ok(clear) = HeaderValue::from_str(&session::set_cookie(LOGIN_COOKIE, "", Some(0), false, true)) {
        response.headers_mut().append(SET_COOKIE, clear);
    }
    response
}

fn failed_login(ctx: Ctx, text: &str) -> Response {
    let page = Page {
        title: ctx.tr("Logowanie", "Log in").to_string(),
        notice: Some(ctx.failed(text)),
        sections: vec![Section { forms: vec![crate::pages::home::login_form(ctx.lang)], ..Section::default() }],
        ..Page::default()
    };
    ctx.render_status(page, StatusCode::BAD_REQUEST)
}

#[derive(Deserialize)]
pub struct Csrf {
    csrf: String,
}

/// `POST /wyloguj`: the refresh token revoked (so the grant ends), the cookie removed.
pub async fn logout(mut ctx: Ctx, Form(form): Form<Csrf>) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return ctx.redirect("/");
    }
    if let Some(refresh) = ctx.session.as_ref().and_then(|s| s.refresh_token.clone()) {
        let path = format!("{}/auth/revoke", ctx.config.fhir_path);
        let form = Payload::Form(vec![("token", refresh), ("token_type_hint", "refresh_token".into())]);
        if let Err(e) = ctx.config.api.send(Method::POST, &path, Some(&basic(&ctx.config)), Some(form)).await {
            tracing::info!(status = %e.status, "the portal's revocation was refused");
        }
    }
    ctx.end();
    ctx.redirect("/")
}

/// How long a refresh's answer is kept for other requests that spend the same refresh token.
const RECENT_REFRESH_SECONDS: i64 = 60;

/// The refreshes of the last minute, by the hash of the refresh token they spent. The server
/// rotates refresh tokens and takes a second use of one for theft (it revokes the whole grant),
/// so two requests of one browser that both find the access token about to expire (two tabs)
/// must not both spend it: the second waits for the first and gets the same new tokens.
type RecentRefreshes = HashMap<[u8; 32], (i64, Arc<tokio::sync::Mutex<Option<Tokens>>>)>;
static RECENT: LazyLock<std::sync::Mutex<RecentRefreshes>> = LazyLock::new(Default::default);

/// A new access token for a refresh token (once per refresh token, however many ask).
pub async fn refresh(config: &PortalConfig, refresh_token: &str) -> Result<Tokens, ApiError> {
    let key = openssl::sha::sha256(refresh_token.as_bytes());
    let slot = {
        let mut recent = RECENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = session::now();
        recent.retain(|_, (at, _)| now - *at < RECENT_REFRESH_SECONDS);
        recent.entry(key).or_insert_with(|| (now, Arc::default())).1.clone()
    };
    let mut answer = slot.lock().await;
    if let Some(tokens) = answer.as_ref() {
        return Ok(tokens.clone());
    }
    let form = vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_token.into())];
    let tokens = token_request(config, form).await?;
    *answer = Some(tokens.clone());
    Ok(tokens)
}

async fn token_request(config: &PortalConfig, form: Vec<(&'static str, String)>) -> Result<Tokens, ApiError> {
    let path = format!("{}/auth/token", config.fhir_path);
    let body = config.api.send(Method::POST, &path, Some(&basic(config)), Some(Payload::Form(form))).await?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let Some(access_token) = text("access_token") else {
        return Err(ApiError { status: StatusCode::BAD_GATEWAY, detail: "no access token".into() });
    };
    let user = text("fhirUser").or_else(|| text("id_token").and_then(|t| id_token_user(&t))).map(|u| relative(&u));
    Ok(Tokens {
        access_token,
        refresh_token: text("refresh_token"),
        expires_in: body.get("expires_in").and_then(Value::as_i64).unwrap_or(300),
        user,
    })
}

/// HTTP Basic client authentication (RFC 6749 §2.3.1: both parts form-encoded first).
fn basic(config: &PortalConfig) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(&config.client_id), encode(&config.client_secret));
    format!("Basic {}", STANDARD.encode(pair))
}

/// The `fhirUser` claim of an id_token. Its signature is not checked: the token came straight
/// from the token endpoint over the server's own channel (OpenID Connect Core §3.1.3.7).
fn id_token_user(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("fhirUser").and_then(Value::as_str).map(str::to_string)
}

/// `https://host/fhir/Patient/x` → `Patient/x`.
fn relative(user: &str) -> String {
    let mut parts = user.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(id), Some(kind)) => format!("{kind}/{id}"),
        _ => user.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_read_relative_to_the_base_from_the_id_token() {
        assert_eq!(relative("https://ikp.example/fhir/Patient/demo-anna"), "Patient/demo-anna");
        assert_eq!(relative("Patient/x"), "Patient/x");
        let claims = URL_SAFE_NO_PAD.encode(r#"{"fhirUser":"http://h/fhir/Practitioner/p1"}"#);
        assert_eq!(id_token_user(&format!("e30.{claims}.sig")).as_deref(), Some("http://h/fhir/Practitioner/p1"));
        assert_eq!(id_token_user("not-a-jwt"), None);
    }

    #[tokio::test]
    async fn two_requests_refreshing_one_token_spend_it_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let api = crate::Api::new(tower::service_fn(move |_| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let body = format!(r#"{{"access_token":"a{n}","refresh_token":"r{n}","expires_in":3600}}"#);
                Ok::<_, std::convert::Infallible>(axum::http::Response::new(axum::body::Body::from(body)))
            }
        }));
        let config = config_with(api);
        let spent = format!("refresh-{}", session::random_token::<16>().expect("random"));
        let (first, second) = tokio::join!(refresh(&config, &spent), refresh(&config, &spent));
        let (first, second) = (first.expect("first"), second.expect("second"));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one call to the token endpoint");
        assert_eq!((first.access_token.as_str(), second.access_token.as_str()), ("a0", "a0"));
        let other = refresh(&config, "another-refresh-token").await.expect("another");
        assert_eq!(other.access_token, "a1", "another token is refreshed on its own");
    }

    fn config_with(api: crate::Api) -> PortalConfig {
        PortalConfig {
            site: String::new(),
            fhir_base: String::new(),
            fhir_path: "/fhir".into(),
            client_id: "a:b".into(),
            client_secret: "s&t".into(),
            cookie_key: [0; 32],
            secure_cookies: false,
            api,
            demo_users: Vec::new(),
        }
    }

    #[test]
    fn client_credentials_are_form_encoded_before_basic() {
        let config = config_with(crate::Api::new(tower::service_fn(|_| async {
            Ok::<_, std::convert::Infallible>(axum::http::Response::new(axum::body::Body::empty()))
        })));
        assert_eq!(basic(&config), format!("Basic {}", STANDARD.encode("a%3Ab:s%26t")));
    }
}
