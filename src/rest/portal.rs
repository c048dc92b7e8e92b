//! The patient portal (`crates/portal`) served at `/`: what the HTTP layer needs to serve it
//! (start-up fills it in: `crate::server::portal`), and the portal's pages beside the API, its
//! requests to the API sent through the same stack as any client's.

/// The portal's client id at our authorization server.
pub const CLIENT_ID: &str = "ikp-portal";

/// What the HTTP layer needs to serve the portal.
#[derive(Clone)]
pub struct PortalSetup {
    /// The public URL of `/` (the FHIR base without `/fhir`).
    pub site: String,
    pub fhir_base: String,
    pub client_secret: String,
    pub cookie_key: [u8; 32],
    pub secure_cookies: bool,
    /// The demo users, listed on the start page when the demo login is on.
    pub demo_users: Vec<(String, String)>,
}

/// The portal's pages, falling back to `api` for every other path.
pub fn beside(api: axum::Router, setup: PortalSetup, layered: impl Fn(axum::Router) -> axum::Router) -> axum::Router {
    let pages = ikp_portal::router(ikp_portal::PortalConfig {
        site: setup.site,
        fhir_base: setup.fhir_base,
        fhir_path: "/fhir".into(),
        client_id: CLIENT_ID.into(),
        client_secret: setup.client_secret,
        cookie_key: setup.cookie_key,
        secure_cookies: setup.secure_cookies,
        api: ikp_portal::Api::new(layered(api.clone())),
        demo_users: setup.demo_users,
    });
    // Pages are compressed for browsers that ask (a page of trend charts is 60–80 kB of SVG);
    // the API's answers are left as they were.
    let pages = pages.layer(tower_http::compression::CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd());
    layered(pages.fallback_service(api))
}
