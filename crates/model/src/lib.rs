//! The FHIR R4 data layer: the model built from the official definitions (`conformance`), FHIR
//! primitives and date-times (`model`), the JSON and XML wire formats with narrative checks
//! (`format`), the OperationOutcome issues every layer reports in (`outcome`), rewriting
//! references between resources (`references`), and the clock.
//! Nothing here knows storage, HTTP or the access policy; the server crate builds on it.

pub mod clock;
pub mod conformance;
pub mod format;
pub mod model;
pub mod outcome;
pub mod references;
