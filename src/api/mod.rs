//! The FHIR RESTful API as one routing table, independent of HTTP. A [`Request`] names its
//! [`Route`] (parsed once, in `route`), and [`dispatch`] runs the interaction or the operation
//! (from the one registry in `operations`) that the route names. The HTTP layer (`crate::rest`),
//! batch and transaction entries go through the same table, so an entry can do whatever a plain
//! request can; the audit trail names the interaction from the same route.

pub mod batch;
pub mod capabilities;
pub mod operations;
pub mod route;
pub mod transaction;

use serde_json::Value;

pub use route::{BodyKind, Method, Route};

use crate::clock::Micros;
use crate::error::{FhirError, FhirResult};
use crate::interaction::history::HistoryParams;
use crate::interaction::read::ReadConditions;
use crate::interaction::{Response, create, delete, history, parse_version, patch, read, search, update};
use crate::session::Session;

/// One request to the API, whatever it came through.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub route: Route,
    /// Decoded query parameters, in order (and, for `_search`, the form body's).
    pub query: Vec<(String, String)>,
    /// The query string as sent (conditional criteria).
    pub raw_query: String,
    /// The body, parsed (a resource, a Bundle, a patch document).
    pub body: Option<Value>,
    pub if_match: Option<i64>,
    pub if_none_match: Option<i64>,
    pub if_modified_since: Option<Micros>,
    pub if_none_exist: Option<String>,
    /// `Prefer: handling=strict`: unknown search parameters are errors.
    pub strict: bool,
    /// `Prefer: respond-async`.
    pub respond_async: bool,
    /// The full URL of the request.
    pub url: String,
}

impl Request {
    /// A request with nothing but its method and route (the rest is set by the caller).
    pub fn new(method: Method, route: Route) -> Request {
        Request {
            method,
            route,
            query: Vec::new(),
            raw_query: String::new(),
            body: None,
            if_match: None,
            if_none_match: None,
            if_modified_since: None,
            if_none_exist: None,
            strict: false,
            respond_async: false,
            url: String::new(),
        }
    }

    fn resource(&mut self) -> FhirResult<Value> {
        self.body.take().ok_or_else(|| FhirError::bad_request("the request has no body; a resource is required"))
    }
}

/// Runs the interaction or operation a request's route names, for `session`.
pub async fn dispatch(session: &Session, mut request: Request) -> FhirResult<Response> {
    match request.route.clone() {
        Route::Capabilities => Ok(capabilities::capabilities(session)),
        Route::Read { resource_type, id } => {
            let conditions =
                ReadConditions { if_none_match: request.if_none_match, if_modified_since: request.if_modified_since };
            read::read(session, &resource_type, &id, conditions).await
        }
        Route::VRead { resource_type, id, version } => match parse_version(&version) {
            Ok(v) => read::vread(session, &resource_type, &id, v).await,
            Err(_) => Err(FhirError::NotFound(format!("{resource_type}/{id}/_history/{version}"))),
        },
        Route::History(scope) => history::history(session, scope, &HistoryParams::from_query(&request.query)).await,
        Route::Search(scope) => search::search(session, scope, &request.query, request.strict).await,
        Route::Create { resource_type } => {
            session.check_type(&resource_type)?;
            let body = request.resource()?;
            create::create(session, &resource_type, body, request.if_none_exist.as_deref()).await
        }
        Route::Update { resource_type, id } => {
            session.check_type(&resource_type)?;
            let body = request.resource()?;
            update::update(session, &resource_type, &id, body, request.if_match).await
        }
        Route::ConditionalUpdate { resource_type } => {
            session.check_type(&resource_type)?;
            let body = request.resource()?;
            update::conditional_update(session, &resource_type, &request.raw_query, body, request.if_match).await
        }
        Route::Patch { resource_type, id } => {
            session.check_type(&resource_type)?;
            let document = request.resource()?;
            patch::patch(session, &resource_type, &id, &document, request.if_match).await
        }
        Route::ConditionalPatch { resource_type } => {
            session.check_type(&resource_type)?;
            let document = request.resource()?;
            patch::conditional_patch(session, &resource_type, &request.raw_query, &document, request.if_match).await
        }
        Route::Delete { resource_type, id } => delete::delete(session, &resource_type, &id, request.if_match).await,
        Route::ConditionalDelete { resource_type } => {
            delete::conditional_delete(session, &resource_type, &request.raw_query).await
        }
        Route::Bundle => {
            let bundle = request.resource()?;
            if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(FhirError::bad_request("POST to the base URL takes a batch or transaction Bundle"));
            }
            match bundle.get("type").and_then(Value::as_str) {
                Some("transaction") => transaction::transaction(session, &bundle).await,
                Some("batch") => batch::batch(session, &bundle).await,
                other => Err(FhirError::bad_request(format!(
                    "a Bundle of type {other:?} cannot be processed; use batch or transaction"
                ))),
            }
        }
        Route::Operation { .. } => operations::invoke(session, request).await,
    }
}
