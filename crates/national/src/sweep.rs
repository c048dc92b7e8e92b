//! Time moves workflows on by itself: prescriptions whose last valid day has passed become
//! expired, and the central e-registration waiting list is matched against free slots (entries
//! past their window fail). Every server node runs [`run`] periodically (`ikp serve
//! --sweep-seconds`); the writes are conditional on the versions read, so nodes sweeping at the
//! same time cannot both change one resource, and a lost race is simply left to the winner.

use serde_json::Value;

use super::prescription::{self, Status};
use crate::clock::{format_date, today};
use crate::error::{FhirError, FhirResult};
use crate::interaction::update;
use crate::session::Session;

/// Prescriptions expired per batch (the sweep repeats until none is left).
const BATCH: usize = 500;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub expired_prescriptions: usize,
    pub waiting_list_bookings: usize,
}

/// One sweep, as the server itself (no caller).
pub async fn run(session: &Session) -> FhirResult<Swept> {
    let server = session.system("the workflow sweep");
    let expired_prescriptions = expire_prescriptions(&server).await?;
    let waiting_list_bookings = super::booking::match_waiting_list(&server).await?.len();
    Ok(Swept { expired_prescriptions, waiting_list_bookings })
}

/// Active prescriptions whose validity ended before today become `stopped` + expired.
async fn expire_prescriptions(session: &Session) -> FhirResult<usize> {
    let pairs = [("status", "active".to_string()), ("validity-end", format!("lt{}", format_date(today())))];
    let mut expired = 0;
    loop {
        let due = session.find(&["MedicationRequest"], &pairs, BATCH).await?;
        let mut changed = 0;
        for version in &due {
            let mut mr: Value = prescription::content(version)?;
            prescription::set_status(&mut mr, Status::Expired);
            match update::update(session, "MedicationRequest", &version.id, mr, Some(version.version)).await {
                Ok(_) => changed += 1,
                // Dispensed or cancelled meanwhile, or another node was first.
                Err(FhirError::PreconditionFailed(_) | FhirError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        expired += changed;
        if due.len() < BATCH || changed == 0 {
            return Ok(expired);
        }
    }
}
