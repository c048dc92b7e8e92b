//! The IKP patient portal: the patient's account in a browser.
//!
//! It is a SMART-on-FHIR app of the kind a third party could write, served beside the API as a
//! **backend for frontend**: the browser holds only an encrypted, HttpOnly session cookie; the
//! access and refresh tokens stay on the server, and every page is rendered from requests to the
//! public FHIR API made with the user's own token (so the access policy and the audit trail see
//! the user, not the portal). Logging in is the SMART App Launch standalone flow with PKCE, as a
//! confidential client; the token is refreshed before it expires.
//!
//! The crate depends on none of the server's own crates: its only way to data is [`api::Api`],
//! a `tower` service of HTTP requests (the server's public router in-process, or anything else
//! that answers FHIR over HTTP).

pub mod api;
mod chart;
mod context;
mod fhir;
mod i18n;
mod oauth;
mod pages;
mod session;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use api::Api;

/// How the portal is set up by whoever serves it.
pub struct PortalConfig {
    /// The public URL the portal is served at, without a trailing slash (`https://ikp.example`).
    pub site: String,
    /// The FHIR base URL as the server announces it (`aud` of the authorization request).
    pub fhir_base: String,
    /// The path of the FHIR base on [`PortalConfig::api`] (`/fhir`).
    pub fhir_path: String,
    /// The portal's registration at the authorization server (a confidential client).
    pub client_id: String,
    pub client_secret: String,
    /// The key of the session cookie (AES-256-GCM); the same on every node that serves the portal.
    pub cookie_key: [u8; 32],
    /// Whether cookies are `Secure` (served over HTTPS).
    pub secure_cookies: bool,
    /// The FHIR API.
    pub api: Api,
    /// The demo users (PESEL, who), listed on the start page when the demo login is on.
    pub demo_users: Vec<(String, String)>,
}

/// The scopes the portal asks for: who the user is, a refresh token, and what the user may read
/// and do (the access policy narrows it to the accounts the user may see).
pub const SCOPES: &str = "openid fhirUser offline_access user/*.cruds";

/// The largest form body a page accepts.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Where the authorization server sends the browser back.
pub const CALLBACK_PATH: &str = "/callback";

pub(crate) type Shared = Arc<PortalConfig>;

/// The portal's routes, each page once.
pub fn router(config: PortalConfig) -> Router {
    let shared: Shared = Arc::new(config);
    Router::new()
        .route("/", get(pages::home::page))
        .route("/static/portal.css", get(view::stylesheet))
        .route("/jezyk", get(pages::language::switch))
        .route("/logowanie", get(oauth::start))
        .route(CALLBACK_PATH, get(oauth::callback))
        .route("/wyloguj", post(oauth::logout))
        .route("/konta", get(pages::accounts::page).post(pages::accounts::choose))
        .route("/recepty", get(pages::prescriptions::page))
        .route("/skierowania", get(pages::referrals::page))
        .route("/dokumenty", get(pages::documents::page))
        .route("/dokumenty/{id}", get(pages::documents::open))
        .route("/wyniki", get(pages::results::page))
        .route("/wizyty", get(pages::visits::page))
        .route("/szczepienia", get(pages::vaccinations::page).post(pages::vaccinations::book))
        .route("/rejestracja", get(pages::registration::page).post(pages::registration::act))
        .route("/poz", get(pages::primary_care::page).post(pages::primary_care::choose))
        .route("/ekuz", get(pages::ehic::page).post(pages::ehic::apply))
        .route("/zwolnienia", get(pages::sick_leave::page))
        .route("/ubezpieczenie", get(pages::insurance::page))
        .route("/uprawnienia", get(pages::authorisations::page).post(pages::authorisations::act))
        .route("/historia-dostepu", get(pages::access_log::page))
        .with_state(shared)
        // The portal's forms are a few fields: a larger body is refused (413) before it is read.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::map_response(protect))
}

/// Every page: only this site's stylesheet and forms, never framed, no referrer (paths name
/// accounts and documents), and not to be sniffed as anything but what it says.
async fn protect(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::HeaderValue;
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
