//! Read-your-writes over read replicas (`--database-read-url`).
//!
//! A read-only request (GET, HEAD, `POST _search`) may be answered from a hot standby; everything
//! else runs on the primary. After a request that may have written, the node notes where the
//! primary's log stands as that caller's *floor* and sends it back as `IKP-Read-After`; the
//! caller's later read-only requests go to a replica only once it has replayed that far. The
//! floor is kept per bearer token on the node that took the write (one floor for everyone when
//! authorization is off); a client whose requests are spread over several nodes sends the header
//! back to carry it there. Without replicas none of this runs: no header, no statement.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response as HttpResponse;

use crate::error::{FhirError, FhirResult};
use crate::session::Session;
use crate::store::replicas::Lsn;

/// The header that carries a write position, to the writer and back.
pub const READ_AFTER: &str = "ikp-read-after";

/// Callers whose floors a node keeps; past this the oldest knowledge is folded into one floor
/// for all (see [`Floors::raise`]).
const MAX_FLOORS: usize = 100_000;

/// Each caller's last write position on this node.
#[derive(Debug, Default)]
pub struct Floors {
    by_caller: Mutex<HashMap<String, Lsn>>,
    /// A floor for every caller: the highest of the entries dropped to keep the map bounded, so
    /// that dropping one never lets its caller read past its own write.
    everyone: AtomicU64,
}

impl Floors {
    /// The position `caller`'s reads must see.
    fn of(&self, caller: &str) -> Lsn {
        let own = self.by_caller.lock().ok().and_then(|m| m.get(caller).copied()).unwrap_or_default();
        own.max(Lsn(self.everyone.load(Ordering::Relaxed)))
    }

    /// Notes that `caller` wrote up to `at`.
    fn raise(&self, caller: &str, at: Lsn) {
        let Ok(mut floors) = self.by_caller.lock() else { return };
        if floors.len() >= MAX_FLOORS && !floors.contains_key(caller) {
            let highest = floors.values().max().copied().unwrap_or_default();
            self.everyone.fetch_max(highest.0, Ordering::Relaxed);
            floors.clear();
        }
        let floor = floors.entry(caller.to_string()).or_default();
        *floor = (*floor).max(at);
    }
}

/// What the guard works out before a request runs: whose floor it is, and (for a read-only
/// request) the position its reads must see.
#[derive(Debug, Clone)]
pub struct Consistency {
    caller: String,
    /// `Some` for a read-only request.
    reads_after: Option<Lsn>,
}

/// The request's floor, for the handlers that build its session.
#[derive(Debug, Clone, Copy)]
pub struct ReadFloor(pub Lsn);

impl Consistency {
    /// For `request` by the bearer `token` (if any): 400 when `IKP-Read-After` is malformed.
    pub fn of(request: &Request, token: Option<&str>, floors: &Floors) -> FhirResult<Consistency> {
        let caller = token.map(crate::auth::token_hash).unwrap_or_default();
        let reads_after = if read_only(request.method(), request.uri().path()) {
            Some(floors.of(&caller).max(asked(request.headers())?.unwrap_or_default()))
        } else {
            None
        };
        Ok(Consistency { caller, reads_after })
    }

    /// Marks the request for its session (read-only requests only).
    pub fn mark(&self, request: &mut Request) {
        if let Some(floor) = self.reads_after {
            request.extensions_mut().insert(ReadFloor(floor));
        }
    }

    /// After a request that may have written: notes the caller's new floor and tells it.
    pub async fn after(&self, session: &Session, floors: &Floors, response: &mut HttpResponse) {
        if self.reads_after.is_some() || response.status().is_server_error() {
            return;
        }
        match session.written_position().await {
            Ok(Some(at)) => {
                floors.raise(&self.caller, at);
                if let Ok(value) = HeaderValue::from_str(&at.to_string()) {
                    response.headers_mut().insert(READ_AFTER, value);
                }
            }
            Ok(None) => {}
            // The write itself succeeded; the caller's next read goes to a replica that may not
            // hold it only if one is within the lag bound yet behind this write.
            Err(e) => tracing::warn!(error = %e, "the write position could not be read"),
        }
    }
}

/// `session` reading where the request's floor allows (a replica that holds it), when the
/// request is read-only.
pub fn reading(session: Session, extensions: &axum::http::Extensions) -> Session {
    match extensions.get::<ReadFloor>() {
        Some(ReadFloor(floor)) => session.reading_after(*floor),
        None => session,
    }
}

/// Requests that change nothing: reads, searches (`POST _search` too), history, GET operations.
fn read_only(method: &Method, path: &str) -> bool {
    *method == Method::GET || *method == Method::HEAD || (*method == Method::POST && path.ends_with("/_search"))
}

/// The position a client asks its reads to see, if it sent one.
fn asked(headers: &HeaderMap) -> FhirResult<Option<Lsn>> {
    let Some(value) = headers.get(READ_AFTER) else { return Ok(None) };
    let parsed = value.to_str().ok().and_then(Lsn::parse);
    parsed
        .map(Some)
        .ok_or_else(|| FhirError::bad_request(format!("{READ_AFTER} must be a log position such as 0/16B3748")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_floor_only_rises() {
        let floors = Floors::default();
        assert_eq!(floors.of("a"), Lsn(0));
        floors.raise("a", Lsn(10));
        floors.raise("a", Lsn(5));
        assert_eq!(floors.of("a"), Lsn(10));
        assert_eq!(floors.of("b"), Lsn(0), "another caller's writes do not hold it back");
    }

    #[test]
    fn dropping_floors_to_stay_bounded_never_lowers_one() {
        let floors = Floors::default();
        for i in 0..MAX_FLOORS {
            floors.raise(&format!("caller-{i}"), Lsn(i as u64 + 1));
        }
        floors.raise("newcomer", Lsn(1));
        assert!(floors.by_caller.lock().map(|m| m.len()).unwrap_or(0) <= 1);
        assert_eq!(floors.of("caller-7"), Lsn(MAX_FLOORS as u64), "folded into the floor for everyone");
    }

    #[test]
    fn only_reads_searches_and_get_operations_are_read_only() {
        assert!(read_only(&Method::GET, "/fhir/Patient/1"));
        assert!(read_only(&Method::HEAD, "/fhir/Patient"));
        assert!(read_only(&Method::POST, "/fhir/Observation/_search"));
        assert!(!read_only(&Method::POST, "/fhir/Observation"));
        assert!(!read_only(&Method::POST, "/fhir/"));
        assert!(!read_only(&Method::PUT, "/fhir/Patient/1"));
        assert!(!read_only(&Method::PATCH, "/fhir/Patient/1"));
        assert!(!read_only(&Method::DELETE, "/fhir/Patient/1"));
    }

    #[test]
    fn a_malformed_position_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(READ_AFTER, HeaderValue::from_static("yesterday"));
        assert!(asked(&headers).is_err());
        headers.insert(READ_AFTER, HeaderValue::from_static("1/A"));
        assert_eq!(asked(&headers).ok().flatten(), Some(Lsn((1 << 32) | 10)));
    }
}
