//! The national patient-account (IKP) workflows, one module each: e-prescriptions, e-referrals,
//! e-orders, documents, registration and booking, primary-care declarations, EHIC applications,
//! authorisations, cross-border e-prescriptions. Each is FHIR resources in the national profiles
//! plus operations (`[type]/$name`, `[type]/[id]/$name`) that enforce the workflow's rules; each
//! module's operation handlers are rows of the one operation registry (`crate::api::operations`).
//! The operations go through the same access policy and audit trail as every interaction: they
//! get the request's [`Session`] and write through its commit.

pub mod authorization;
pub mod booking;
pub mod crossborder;
pub mod demo;
pub mod document_data;
pub mod documents;
pub mod ehic;
pub mod order;
pub mod poz;
pub mod prescription;
pub mod referral;
pub mod results;
pub mod sweep;
pub mod topics;

// The layers below, under the names the modules use (`crate::session`, `crate::auth`...).
use ikp_auth as auth;
use ikp_core::{access, context, error, interaction, session};
use ikp_model::{clock, format, model, outcome};
use ikp_store::{self as store, search};
use ikp_terminology as terminology;
use ikp_validation as validation;

use serde_json::Value;

use crate::error::FhirResult;
use crate::interaction::Response;
use crate::session::{Session, not_found};

/// The current version of a resource the caller may see, parsed, with its version number (for
/// `ifMatch`); 404 when absent, deleted or outside the caller's reach.
pub async fn current(session: &Session, resource_type: &str, id: &str) -> FhirResult<(Value, i64)> {
    session.live(resource_type, id).await?.ok_or_else(|| not_found(resource_type, id))
}

/// The matched resources of a search response, as JSON.
pub fn matches(response: Response) -> FhirResult<Vec<Value>> {
    let Some(crate::interaction::Body::Bundle(bundle)) = response.body else { return Ok(Vec::new()) };
    let matched = |e: &&crate::interaction::bundle::Entry| {
        e.rest.get("search").and_then(|s| s.get("mode")).and_then(Value::as_str) == Some("match")
    };
    bundle.entries.iter().filter(matched).filter_map(|e| e.resource.as_ref()).map(|r| r.to_value()).collect()
}

/// A uniformly random decimal code of `digits` digits (access codes, document numbers, one-time
/// authorisation codes): bytes of fresh random UUIDs, which draw on the operating system's secure
/// generator (all bytes but the two that carry the version and variant), rejection-sampled so that
/// no digit is more likely than another. The one generator of codes in the server.
pub fn random_digits(digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        for (i, b) in bytes.into_iter().enumerate() {
            // 250 = 25 * 10: bytes from 250 up would favour 0-5.
            if i != 6 && i != 8 && b < 250 && out.len() < digits {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}
