//! What operators watch, read through the session like everything else: whether the database
//! answers and holds this build's schema (readiness), its connection pools and the export queue
//! (metrics). Counts and states only: nothing here names a resource, a patient or a caller.

use crate::error::FhirResult;
use crate::store::export_jobs::{self, Status};
use crate::store::ops::{PoolStats, ReplicaState, Schema};

/// The database's vitals, from [`super::Session::vitals`].
pub struct Vitals<'s> {
    session: &'s super::Session,
}

impl<'s> Vitals<'s> {
    pub(super) fn new(session: &'s super::Session) -> Vitals<'s> {
        Vitals { session }
    }

    /// One trivial statement: whether the database answers.
    pub async fn ping(&self) -> FhirResult<()> {
        Ok(self.session.store().ping().await?)
    }

    /// The applied schema against this build's migrations.
    pub async fn schema(&self) -> FhirResult<Schema> {
        Ok(self.session.store().schema().await?)
    }

    /// The connection pools' sizes now (no statement).
    pub fn pools(&self) -> Vec<PoolStats> {
        self.session.store().pools()
    }

    /// The read replicas as last polled (no statement).
    pub fn replicas(&self) -> Vec<ReplicaState> {
        self.session.store().replicas()
    }

    /// Export jobs per status, every status named (one statement).
    pub async fn export_jobs(&self) -> FhirResult<Vec<(Status, i64)>> {
        Ok(export_jobs::count_by_status(self.session.store()).await?)
    }
}
