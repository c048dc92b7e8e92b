//! The core of the server: everything a request passes through between the HTTP layer and the
//! store. `access` decides what a caller may reach; `session` is the only way to data (reads
//! judged, searches narrowed in SQL, writes committed in one path with their audit events);
//! `audit` shapes the trail; `interaction` holds one module per FHIR interaction; `context` is
//! what every request shares; `error` is the one error type, mapped to OperationOutcome above.
//! Modules import only modules listed before them here (checked by tests/it/layers.rs).

pub mod access;
pub mod audit;
pub mod context;
pub mod error;
pub mod interaction;
pub mod patch;
pub mod session;

// The layers below, under the names the modules use (`crate::store`, `crate::model`...).
use ikp_fhirpath as fhirpath;
use ikp_model::{clock, format, model, outcome, references};
use ikp_store::{self as store, index, search};
use ikp_terminology as terminology;
use ikp_validation as validation;
