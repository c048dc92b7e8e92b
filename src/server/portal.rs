//! The patient portal's place in `ikp serve`: registered at start-up as an ordinary confidential
//! SMART client (`ikp-portal`, redirect URI `<site>/callback`), with a secret and a cookie key
//! derived from a server secret kept in the database, so every node of a cluster serves it
//! alike. The portal itself (`crates/portal`) only ever talks to the public API.

use anyhow::Context;

use super::config::ServeArgs;
use crate::auth::clients::{self, ClientType, NewClient};
use crate::rest::portal::{CLIENT_ID, PortalSetup};
use crate::store::{self, Store};

/// Registers the portal's client (or finds it registered) and derives its secrets; `None` when
/// the public base URL does not end in `/fhir`, so the portal's own place is unknown.
pub async fn setup(store: &dyn Store, args: &ServeArgs) -> anyhow::Result<Option<PortalSetup>> {
    let fhir_base = args.base_url();
    let Some(site) = fhir_base.strip_suffix("/fhir").map(str::to_string) else {
        tracing::warn!(base_url = %fhir_base, "the portal is off: it is served at / only when the FHIR base URL ends in /fhir");
        return Ok(None);
    };
    let secret = store::shared_secret(store, "portal").await.context("reading the portal's secret")?;
    let derive = |label: &str| {
        let mut hash = openssl::sha::Sha256::new();
        hash.update(label.as_bytes());
        hash.update(&secret);
        hash.finish()
    };
    let client_secret: String = derive("ikp-portal client secret").iter().map(|b| format!("{b:02x}")).collect();
    let client = NewClient {
        client_id: CLIENT_ID.into(),
        client_type: ClientType::Symmetric,
        secret: Some(client_secret.clone()),
        redirect_uris: vec![format!("{site}{}", ikp_portal::CALLBACK_PATH)],
        launch_uri: None,
        jwks: None,
        jwks_url: None,
        scopes: Some(ikp_portal::SCOPES.into()),
    };
    clients::ensure(store, &client).await.map_err(|e| anyhow::anyhow!("registering the portal's client: {e}"))?;
    let demo_users = if args.demo_enabled() {
        crate::auth::demo::USERS.iter().map(|u| (u.pesel.to_string(), u.description.to_string())).collect()
    } else {
        Vec::new()
    };
    Ok(Some(PortalSetup {
        secure_cookies: site.starts_with("https://"),
        site,
        fhir_base,
        client_secret,
        cookie_key: derive("ikp-portal cookie key"),
        demo_users,
    }))
}
