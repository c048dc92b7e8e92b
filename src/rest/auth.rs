//! HTTP face of the authorization server: discovery documents, the authorize → login → consent
//! pages (plain HTML forms, scriptable, no JavaScript), and the token, introspection and
//! revocation endpoints. OAuth errors are rendered here and nowhere else: JSON for the back
//! channel, a redirect or an HTML page for the browser.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body as HttpBody;
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, PRAGMA, REFERRER_POLICY, SET_COOKIE,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response as HttpResponse;
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use super::{AppState, State};
use crate::access::scopes::Scopes;
use crate::auth::authorize::{self, Consent, Refusal};
use crate::auth::identity::{self, Account};
use crate::auth::launch::{self, LaunchRequest};
use crate::auth::registration::{self, RegistrationError};
use crate::auth::throttle::{self, Subject};
use crate::auth::token::{self, TokenRequest};
use crate::auth::{AuthError, AuthServer, bearer, binding, demo, discovery, grants, keys};

/// Largest form the authorization endpoints accept.
const FORM_LIMIT: usize = 64 * 1024;

pub fn auth_routes() -> Router<State> {
    Router::new()
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/auth/authorize", get(authorize_get).post(authorize_post))
        .route("/auth/login", get(login_page).post(login_submit))
        .route("/auth/upstream", get(upstream_start))
        .route("/auth/upstream/callback", get(upstream_callback))
        .route("/auth/consent", get(consent_page).post(consent_submit))
        .route("/auth/token", post(token_endpoint))
        .route("/auth/introspect", post(introspect_endpoint))
        .route("/auth/revoke", post(revoke_endpoint))
        .route("/auth/launch", get(launch_page).post(launch_submit))
        .route("/auth/register", post(register_endpoint))
}

fn json_response(status: u16, body: &Value, no_store: bool) -> HttpResponse {
    let mut builder = HttpResponse::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(CONTENT_TYPE, "application/json");
    if no_store {
        builder = builder.header(CACHE_CONTROL, "no-store").header(PRAGMA, "no-cache");
    }
    builder.body(HttpBody::from(body.to_string())).unwrap_or_default()
}

/// An OAuth error for the back channel (RFC 6749 §5.2).
fn oauth_error(e: &AuthError, basic_used: bool) -> HttpResponse {
    log(e);
    let mut response =
        json_response(e.http_status(), &json!({"error": e.code(), "error_description": e.description()}), true);
    if matches!(e, AuthError::InvalidClient(_)) && basic_used {
        response.headers_mut().insert(WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Basic realm=\"ikp\""));
    }
    response
}

fn log(e: &AuthError) {
    if e.http_status() >= 500 {
        tracing::error!(error = %e, "authorization request failed");
    } else {
        tracing::info!(error = %e, "authorization request refused");
    }
}

fn redirect(location: &str) -> HttpResponse {
    redirect_with_status(StatusCode::SEE_OTHER, location)
}

/// A redirect of the browser. No referrer: the URLs it comes from carry request handles.
fn redirect_with_status(status: StatusCode, location: &str) -> HttpResponse {
    HttpResponse::builder()
        .status(status)
        .header(LOCATION, location)
        .header(CACHE_CONTROL, "no-store")
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(REFERRER_POLICY, "no-referrer")
        .body(HttpBody::empty())
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn html(status: u16, title: &str, body: &str) -> HttpResponse {
    html_page(status, title, body, &Look::PLAIN)
}

/// How a page of the login flow looks: its language and whether it wears the portal's stylesheet.
struct Look {
    polish: bool,
    styled: bool,
}

impl Look {
    const PLAIN: Look = Look { polish: false, styled: false };

    /// Polish for a browser that chose it in the portal (`ikp_lang`) or asks for it first
    /// (`Accept-Language`); English otherwise. Styled like the portal when it is served.
    fn of(state: &AppState, headers: &HeaderMap) -> Look {
        let chosen = cookie(headers, "ikp_lang");
        let asked = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("pl"));
        Look { polish: chosen.map_or(asked, |c| c == "pl"), styled: state.portal.is_some() }
    }

    fn pick<'a>(&self, polish: &'a str, english: &'a str) -> &'a str {
        if self.polish { polish } else { english }
    }
}

fn html_page(status: u16, title: &str, body: &str, look: &Look) -> HttpResponse {
    let stylesheet = if look.styled { "<link rel=\"stylesheet\" href=\"/static/portal.css\">" } else { "" };
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>{stylesheet}</head>\
         <body><main class=\"login\"><h1>{t}</h1>\n{body}\n</main></body></html>\n",
        lang = look.pick("pl", "en"),
        t = escape(title)
    );
    HttpResponse::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header(CACHE_CONTROL, "no-store")
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        // The pages' URLs carry request handles: never hand them to another site.
        .header(REFERRER_POLICY, "no-referrer")
        // The pages must never be framed (clickjacking of the consent button). No `form-action`:
        // browsers apply it to the redirect that follows the consent POST, which goes to the app.
        .header("x-frame-options", "DENY")
        .header("content-security-policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'")
        .body(HttpBody::from(page))
        .unwrap_or_default()
}

/// A refused authorization request: back to the client when its redirect URI is trustworthy,
/// else an error page (RFC 6749 §4.1.2.1).
fn refusal(auth: &AuthServer, r: Refusal) -> HttpResponse {
    log(&r.error);
    match r.redirect {
        Some((uri, state)) => {
            let description = r.error.description();
            let mut pairs = vec![("error", r.error.code()), ("error_description", description.as_str())];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            pairs.push(("iss", &auth.issuer));
            redirect(&authorize::redirect_with(&uri, &pairs))
        }
        None => html(
            r.error.http_status().max(400),
            "Authorization failed",
            &format!("<p>{}</p>", escape(&r.error.description())),
        ),
    }
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    let query = request.uri().query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn form_pairs(request: Request) -> Result<(HeaderMap, Vec<(String, String)>), AuthError> {
    let (parts, body) = request.into_parts();
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(AuthError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
    }
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| AuthError::InvalidRequest("the form is too large".into()))?;
    let pairs = form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Ok((parts.headers, pairs))
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// HTTP Basic credentials (`client_id:client_secret`, each form-urlencoded per RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

/// A bearer token from the Authorization header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

async fn smart_configuration(AxumState(state): AxumState<State>) -> HttpResponse {
    json_response(200, &discovery::smart_configuration(&state.auth), false)
}

async fn openid_configuration(AxumState(state): AxumState<State>) -> HttpResponse {
    json_response(200, &discovery::openid_configuration(&state.auth), false)
}

async fn jwks(AxumState(state): AxumState<State>) -> HttpResponse {
    match keys::jwks(state.auth.store()).await {
        Ok(jwks) => {
            let mut response = json_response(200, &jwks, false);
            // Short, so a rotated key is picked up well before tokens signed by it appear.
            response.headers_mut().insert(CACHE_CONTROL, axum::http::HeaderValue::from_static("max-age=300"));
            response
        }
        Err(e) => oauth_error(&e, false),
    }
}

async fn authorize_get(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let pairs = query_pairs(&request);
    start_authorization(&state.auth, &pairs).await
}

/// POST /authorize: the parameters are kept server-side and the browser continues with GETs, so a
/// cross-site auto-submitted form works: it needs no cookie of ours, and the binding cookie set
/// in its answer is kept (SameSite limits when a cookie is sent, not when it is set).
async fn authorize_post(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    match form_pairs(request).await {
        Ok((_, pairs)) => start_authorization(&state.auth, &pairs).await,
        Err(e) => refusal(&state.auth, e.into()),
    }
}

async fn start_authorization(auth: &AuthServer, pairs: &[(String, String)]) -> HttpResponse {
    let result = async {
        let request = authorize::validate(auth, pairs).await?;
        Ok::<_, Refusal>(authorize::save(auth, &request).await?)
    }
    .await;
    match result {
        Ok(saved) => {
            let mut response = redirect(&authorize::redirect_with(&auth.endpoint("login"), &[("request", &saved.id)]));
            set_binding_cookie(auth, &mut response, &saved.id, Some(&saved.browser_secret));
            response
        }
        Err(r) => refusal(auth, r),
    }
}

/// The value of the cookie `name` the browser sent, if any.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The binding secret the browser presents for the pending request `id`.
fn browser_secret<'a>(headers: &'a HeaderMap, id: &str) -> Option<&'a str> {
    cookie(headers, &binding::cookie_name(id))
}

/// Gives the browser the binding cookie of request `id` (or, with `None`, takes it back).
///
/// HttpOnly: no script needs it. SameSite=Lax, not Strict: the upstream provider sends the
/// browser back to our callback with a cross-site top-level GET, which Strict would strip; Lax
/// still keeps the cookie off cross-site POSTs and subresources, and the consent POST comes from
/// our own page. Path: only the authorization endpoints see it. Secure whenever the issuer is
/// https (plain http is for loopback development).
fn set_binding_cookie(auth: &AuthServer, response: &mut HttpResponse, id: &str, secret: Option<&str>) {
    let path = reqwest::Url::parse(&auth.endpoint("")).map(|u| u.path().trim_end_matches('/').to_string());
    let path = path.unwrap_or_else(|_| "/".to_string());
    let (value, max_age) = match secret {
        Some(secret) => (secret, crate::auth::REQUEST_SECONDS),
        None => ("", 0),
    };
    let secure = if auth.issuer.starts_with("https://") { "; Secure" } else { "" };
    let cookie =
        format!("{}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}", binding::cookie_name(id));
    if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

fn login_form(auth: &AuthServer, request_id: &str, message: Option<&str>, look: &Look) -> String {
    let mut body = String::new();
    if let Some(message) = message {
        body.push_str(&format!("<p role=\"alert\" class=\"notice notice-error\">{}</p>\n", escape(message)));
    }
    if auth.demo {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{action}\" class=\"form form-fields\">\n\
             <input type=\"hidden\" name=\"request\" value=\"{id}\">\n\
             <p>{demo}</p>\n\
             <div class=\"field\"><label for=\"pesel\">PESEL</label> <input id=\"pesel\" name=\"pesel\" inputmode=\"numeric\" autocomplete=\"username\"></div>\n\
             <div class=\"field\"><label for=\"password\">{password}</label> <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\"></div>\n\
             <button type=\"submit\">{submit}</button>\n</form>\n",
            action = escape(&auth.endpoint("login")),
            id = escape(request_id),
            demo = look.pick(
                "<strong>Logowanie DEMO</strong>: tylko użytkownicy demonstracyjni, nigdy prawdziwe dane.",
                "<strong>DEMO login</strong>: demo users only, never real data."
            ),
            password = look.pick("Hasło", "Password"),
            submit = look.pick("Zaloguj się", "Log in"),
        ));
    }
    if auth.upstream.is_some() {
        let link = authorize::redirect_with(&auth.endpoint("upstream"), &[("request", request_id)]);
        body.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            escape(&link),
            look.pick("Zaloguj się przez węzeł krajowy", "Log in with the national identity provider")
        ));
    }
    if body.is_empty() {
        body.push_str(look.pick(
            "<p>Na tym serwerze nie skonfigurowano logowania.</p>",
            "<p>No login method is configured on this server.</p>",
        ));
    }
    body
}

async fn login_page(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let pairs = query_pairs(&request);
    let id = param(&pairs, "request").unwrap_or_default();
    let look = Look::of(&state, request.headers());
    match authorize::load(&state.auth, id, browser_secret(request.headers(), id)).await {
        Ok(_) => html_page(200, look.pick("Logowanie", "Log in"), &login_form(&state.auth, id, None, &look), &look),
        Err(e) => refusal(&state.auth, e.into()),
    }
}

async fn login_submit(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let address = client_address(&request);
    let (headers, pairs) = match form_pairs(request).await {
        Ok(form) => form,
        Err(e) => return refusal(auth, e.into()),
    };
    let id = param(&pairs, "request").unwrap_or_default();
    let client_id = match authorize::load(auth, id, browser_secret(&headers, id)).await {
        Ok((request, _)) => request.client_id,
        Err(e) => return refusal(auth, e.into()),
    };
    if !auth.demo {
        return html(404, "Log in", "<p>The demo login is not enabled.</p>");
    }
    match throttled_demo_login(&state, &pairs, address.as_deref(), &client_id).await {
        Ok(identity) => finish_login(auth, id, &identity).await,
        Err(e) => {
            log(&e);
            let look = Look::of(&state, &headers);
            let (status, message) = login_failure(&e, &look);
            html_page(status, look.pick("Logowanie", "Log in"), &login_form(auth, id, Some(message), &look), &look)
        }
    }
}

/// The client's network address (for throttling and the audit trail).
fn client_address(request: &Request) -> Option<String> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// The demo login, throttled per account and per client address (`crate::auth::throttle`); a
/// lockout is filed in the audit trail.
async fn throttled_demo_login(
    state: &AppState,
    pairs: &[(String, String)],
    address: Option<&str>,
    client_id: &str,
) -> Result<identity::VerifiedIdentity, AuthError> {
    let auth = &state.auth;
    let pesel = param(pairs, "pesel").unwrap_or_default();
    let account = Subject::Account(auth.subject_for(pesel));
    let mut subjects = vec![account.clone()];
    subjects.extend(address.map(|a| Subject::Address(a.to_string())));
    auth.throttle.check(&subjects)?;
    match demo::login(pesel, param(pairs, "password").unwrap_or_default()) {
        Ok(identity) => {
            auth.throttle.succeeded(&account);
            Ok(identity)
        }
        Err(e) => {
            for locked in auth.throttle.failed(&subjects) {
                tracing::warn!(?locked, "login lockout");
                let patient = match &locked {
                    Subject::Account(_) => identity::patient_with_pesel(auth, pesel).await.unwrap_or_else(|e| {
                        // The lockout is still audited, only not in the patient's own trail.
                        tracing::error!(error = %e, "the patient of a locked account could not be looked up");
                        None
                    }),
                    Subject::Address(_) => None,
                };
                state.audit.send(throttle::lockout_access(&locked, patient, address, client_id));
            }
            Err(e)
        }
    }
}

/// The status and the neutral message of a failed login (the same for unknown accounts).
fn login_failure(e: &AuthError, look: &Look) -> (u16, &'static str) {
    match e {
        AuthError::Throttled => (
            429,
            look.pick("Zbyt wiele nieudanych prób. Spróbuj później.", "Too many failed attempts. Try again later."),
        ),
        _ => (401, look.pick("Nieznany PESEL lub błędne hasło.", "Unknown PESEL or wrong password.")),
    }
}

async fn finish_login(auth: &AuthServer, id: &str, identity: &identity::VerifiedIdentity) -> HttpResponse {
    let result = async {
        let account = identity::resolve_account(auth, identity).await?;
        authorize::attach_account(auth, id, &account).await
    }
    .await;
    match result {
        Ok(()) => redirect(&authorize::redirect_with(&auth.endpoint("consent"), &[("request", id)])),
        Err(e) => refusal(auth, e.into()),
    }
}

async fn upstream_start(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let pairs = query_pairs(&request);
    let id = param(&pairs, "request").unwrap_or_default();
    let Some(upstream) = &auth.upstream else {
        return html(404, "Log in", "<p>No upstream identity provider is configured.</p>");
    };
    match authorize::load(auth, id, browser_secret(request.headers(), id)).await {
        Ok(_) => match upstream.login_url(auth, id) {
            Ok(url) => redirect(&url),
            Err(e) => refusal(auth, e.into()),
        },
        Err(e) => refusal(auth, e.into()),
    }
}

async fn upstream_callback(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let pairs = query_pairs(&request);
    let Some(upstream) = &auth.upstream else {
        return html(404, "Log in", "<p>No upstream identity provider is configured.</p>");
    };
    let id = param(&pairs, "state").unwrap_or_default();
    if let Err(e) = authorize::load(auth, id, browser_secret(request.headers(), id)).await {
        return refusal(auth, e.into());
    }
    if let Some(error) = param(&pairs, "error") {
        return html(400, "Login failed", &format!("<p>The identity provider answered: {}</p>", escape(error)));
    }
    let code = param(&pairs, "code").unwrap_or_default();
    match upstream.complete(auth, id, code).await {
        Ok(identity) => finish_login(auth, id, &identity).await,
        Err(e) => refusal(auth, e.into()),
    }
}

fn consent_form(
    auth: &AuthServer,
    id: &str,
    scopes: &Scopes,
    account: &Account,
    launch: Option<&launch::LaunchContext>,
) -> String {
    let mut body = format!(
        "<form method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"request\" value=\"{}\">\n",
        escape(&auth.endpoint("consent")),
        escape(id)
    );
    if let Some(launched) = launch {
        let display = account
            .choices
            .iter()
            .find(|c| c.patient_id == launched.patient)
            .map_or(launched.patient.as_str(), |c| c.display.as_str());
        body.push_str(&format!("<p>Launched for patient: <strong>{}</strong></p>\n", escape(display)));
    } else if authorize::needs_patient(scopes) {
        body.push_str("<fieldset><legend>Whose data</legend>\n");
        for (i, choice) in account.choices.iter().enumerate() {
            body.push_str(&format!(
                "<label><input type=\"radio\" name=\"patient\" value=\"{}\"{}> {}</label><br>\n",
                escape(&choice.patient_id),
                if i == 0 { " checked" } else { "" },
                escape(&choice.display)
            ));
        }
        body.push_str("</fieldset>\n");
    }
    body.push_str("<fieldset><legend>The application asks for</legend>\n");
    for scope in scopes.tokens() {
        body.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"scope\" value=\"{s}\" checked> {s}</label><br>\n",
            s = escape(scope)
        ));
    }
    body.push_str(
        "</fieldset>\n<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>\n",
    );
    body
}

async fn consent_page(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let pairs = query_pairs(&request);
    let id = param(&pairs, "request").unwrap_or_default();
    let secret = browser_secret(request.headers(), id);
    let (asked, account) = match authorize::load(auth, id, secret).await {
        Ok((asked, Some(account))) => (asked, account),
        Ok((_, None)) => return redirect(&authorize::redirect_with(&auth.endpoint("login"), &[("request", id)])),
        Err(e) => return refusal(auth, e.into()),
    };
    let scopes = Scopes::parse(&asked.scope);
    if first_party(&state, &asked.client_id) && asked.launch.is_none() && !authorize::needs_patient(&scopes) {
        // The server's own portal, acting for the user who has just logged in to this server:
        // there is nothing to allow that logging in to it did not ask for.
        let consent = Consent { approved: true, scopes: scopes.tokens().to_vec(), patient: None };
        let mut response = match authorize::decide(auth, id, secret, &consent).await {
            Ok(location) => redirect(&location),
            Err(r) => refusal(auth, r),
        };
        set_binding_cookie(auth, &mut response, id, None);
        return response;
    }
    let page = consent_form(auth, id, &scopes, &account, asked.launch.as_ref());
    html(200, &format!("Allow {}?", asked.client_id), &page)
}

/// Whether `client_id` is this server's own portal (registered by the server itself).
fn first_party(state: &AppState, client_id: &str) -> bool {
    state.portal.is_some() && client_id == super::portal::CLIENT_ID
}

async fn consent_submit(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let (headers, pairs) = match form_pairs(request).await {
        Ok(form) => form,
        Err(e) => return refusal(auth, e.into()),
    };
    let consent = Consent {
        approved: param(&pairs, "decision") == Some("approve"),
        scopes: pairs.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect(),
        patient: param(&pairs, "patient").map(str::to_string),
    };
    let id = param(&pairs, "request").unwrap_or_default();
    let mut response = match authorize::decide(auth, id, browser_secret(&headers, id), &consent).await {
        Ok(location) => redirect(&location),
        Err(r) => refusal(auth, r),
    };
    // The request is answered (or refused for good): the browser may forget its binding.
    set_binding_cookie(auth, &mut response, id, None);
    response
}

async fn token_endpoint(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let (headers, params) = match form_pairs(request).await {
        Ok(form) => form,
        Err(e) => return oauth_error(&e, false),
    };
    let basic = basic_credentials(&headers);
    let basic_used = basic.is_some();
    match token::token(&state.auth, &TokenRequest { params, basic }).await {
        Ok(body) => json_response(200, &body, true),
        Err(e) => oauth_error(&e, basic_used),
    }
}

/// RFC 7662. The caller authenticates as a client, or with a bearer token of its own.
async fn introspect_endpoint(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let (headers, params) = match form_pairs(request).await {
        Ok(form) => form,
        Err(e) => return oauth_error(&e, false),
    };
    let caller_ok = match bearer_token(&headers) {
        Some(token) => bearer::verify_bearer(auth, token).await.map(|_| ()),
        None => {
            let request = TokenRequest { basic: basic_credentials(&headers), params: params.clone() };
            token::authenticate_client(auth, &request).await.map(|_| ())
        }
    };
    if let Err(e) = caller_ok {
        return oauth_error(&e, basic_credentials(&headers).is_some());
    }
    let Some(token) = param(&params, "token") else {
        return oauth_error(&AuthError::InvalidRequest("token is missing".into()), false);
    };
    match token::introspect(auth, token).await {
        Ok(body) => json_response(200, &body, true),
        Err(e) => oauth_error(&e, false),
    }
}

/// RFC 7009: always 200 for a token that is unknown or not the caller's.
async fn revoke_endpoint(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let (headers, params) = match form_pairs(request).await {
        Ok(form) => form,
        Err(e) => return oauth_error(&e, false),
    };
    let basic = basic_credentials(&headers);
    let basic_used = basic.is_some();
    let request = TokenRequest { basic, params };
    let result = async {
        let client = token::authenticate_client(auth, &request).await?;
        let token = request.param("token").ok_or_else(|| AuthError::InvalidRequest("token is missing".into()))?;
        grants::revoke_token(auth.store(), token, &client.client_id).await
    }
    .await;
    match result {
        Ok(()) => json_response(200, &json!({}), true),
        Err(e) => oauth_error(&e, basic_used),
    }
}

/// The EHR-launch form: the user logs in (demo login) to open an app for a patient.
fn launch_form(auth: &AuthServer, pairs: &[(String, String)], message: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(message) = message {
        body.push_str(&format!("<p role=\"alert\">{}</p>\n", escape(message)));
    }
    body.push_str(&format!("<form method=\"post\" action=\"{}\">\n", escape(&auth.endpoint("launch"))));
    for name in ["client_id", "patient", "encounter"] {
        if let Some(value) = param(pairs, name) {
            body.push_str(&format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", escape(value)));
        }
    }
    body.push_str(
        "<p><strong>DEMO login</strong>: demo users only, never real data.</p>\n\
         <label>PESEL <input name=\"pesel\" inputmode=\"numeric\" autocomplete=\"username\"></label>\n\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\n\
         <button type=\"submit\">Log in and open the app</button>\n</form>\n",
    );
    body
}

fn launch_error(e: &AuthError) -> HttpResponse {
    log(e);
    html(e.http_status().max(400), "Launch failed", &format!("<p>{}</p>", escape(&e.description())))
}

/// GET /auth/launch?client_id=...&patient=...[&encounter=...]: the login form that opens an app.
async fn launch_page(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    if !auth.ehr_launch() {
        return html(404, "Launch", "<p>EHR launch needs the demo login, which is not enabled.</p>");
    }
    let pairs = query_pairs(&request);
    let client_id = param(&pairs, "client_id").unwrap_or_default();
    match launch::launch_uri(auth, client_id).await {
        Ok(_) => html(200, &format!("Open {client_id}"), &launch_form(auth, &pairs, None)),
        Err(e) => launch_error(&e),
    }
}

/// POST /auth/launch: logs the user in, creates the launch and sends the browser to the app's
/// launch URL with `iss` and `launch`.
async fn launch_submit(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    if !auth.ehr_launch() {
        return html(404, "Launch", "<p>EHR launch needs the demo login, which is not enabled.</p>");
    }
    let address = client_address(&request);
    let pairs = match form_pairs(request).await {
        Ok((_, pairs)) => pairs,
        Err(e) => return launch_error(&e),
    };
    let client_id = param(&pairs, "client_id").unwrap_or_default();
    // Only a client that can be launched: nothing else is worth a login (or an audit record
    // naming whatever the form claimed).
    if let Err(e) = launch::launch_uri(auth, client_id).await {
        return launch_error(&e);
    }
    let identity = match throttled_demo_login(&state, &pairs, address.as_deref(), client_id).await {
        Ok(identity) => identity,
        Err(e) => {
            log(&e);
            let (status, message) = login_failure(&e, &Look::PLAIN);
            return html(status, "Launch", &launch_form(auth, &pairs, Some(message)));
        }
    };
    let launch_request = LaunchRequest {
        client_id: param(&pairs, "client_id").unwrap_or_default(),
        patient: param(&pairs, "patient"),
        encounter: param(&pairs, "encounter"),
    };
    let result = async {
        let account = identity::resolve_account(auth, &identity).await?;
        launch::start(auth, &account, &launch_request).await
    }
    .await;
    match result {
        Ok(location) => redirect_with_status(StatusCode::FOUND, &location),
        Err(e) => launch_error(&e),
    }
}

/// Largest client-metadata document accepted.
const METADATA_LIMIT: usize = 64 * 1024;

/// RFC 7591: POST /auth/register with the client metadata as JSON.
async fn register_endpoint(AxumState(state): AxumState<State>, request: Request) -> HttpResponse {
    let auth = &state.auth;
    let result = async {
        if !auth.registration.enabled {
            return Err(RegistrationError::Disabled);
        }
        let (parts, body) = request.into_parts();
        let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return Err(RegistrationError::InvalidClientMetadata("the body must be application/json".into()));
        }
        let bytes = axum::body::to_bytes(body, METADATA_LIMIT)
            .await
            .map_err(|_| RegistrationError::InvalidClientMetadata("the metadata is too large".into()))?;
        let metadata: Value = crate::format::json::from_slice(&bytes)
            .map_err(|e| RegistrationError::InvalidClientMetadata(format!("the metadata is not JSON: {e}")))?;
        registration::register(auth, &metadata).await
    }
    .await;
    match result {
        Ok(body) => json_response(201, &body, true),
        Err(e) => {
            if e.http_status() >= 500 {
                tracing::error!(error = %e, "client registration failed");
            } else {
                tracing::info!(error = %e, "client registration refused");
            }
            json_response(e.http_status(), &e.body(), true)
        }
    }
}
