//! The only way interactions and operations reach stored data.
//!
//! A [`Session`] is the server's context ([`Fhir`]: model, search parameters, profiles) plus the
//! database, seen through one policy: unconfined (authorization off, the server's own work) or
//! an authenticated [`Caller`] and its reach. Every read is judged before anything about the
//! target is revealed (a resource outside the reach answers exactly as one that does not exist,
//! version by version), every search is narrowed in SQL, and every write goes through one commit
//! ([`commit`]) that judges the targets before preconditions, patches or validation, checks the
//! new versions, and writes the AuditEvents in the same database transaction.
//!
//! What may see beyond the caller's reach is a distinct type, so a function's signature says
//! whether it can:
//! - [`Lookup`] (`session.lookup()`): the server's own look-ups (a prescription by its access
//!   code, a user by PESEL). Its results are [`Sealed`]: readable for decisions, handed to the
//!   caller only through [`Session::reveal`], which judges them like any read.
//! - [`Session::widen`] and [`Write::vouched_by`]: an operation's own rule lets the caller see
//!   or change more, for this request, with a [`Reason`] that the audit trail records.
//! - [`Unconfined`]: all stored data, for backend services with `system/*` scopes (`$export`,
//!   `$reindex`) and the server's background work.

mod audit_queue;
mod commit;
pub mod ingest;
mod judge;
mod lookup;
pub mod prepare;
mod read;
mod search;
mod vitals;
pub mod write;

use std::ops::Deref;
use std::sync::{Arc, Mutex};

pub use audit_queue::AuditQueue;
pub use commit::entry_error;
pub use judge::{Judging, Prepared};
pub use lookup::{Lookup, Sealed};
pub use read::Current;
pub use search::Page;
pub use vitals::Vitals;
pub use write::{Action, Target, Write, WriteRule, WriteSet, Written};

use crate::access::scopes::Interaction;
use crate::access::{Caller, Reason};
use crate::audit::Entity;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::search::parse::Parser;
use crate::search::plan::{Dialect, Planner};
use crate::search::query::Filter;
use crate::search::reach::{Reach, Visible};
use crate::search::run::Searcher;
use crate::store::Store;
use crate::store::replicas::Lsn;

/// The server's context and the database, seen through the policy of one request.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    policy: Policy,
    /// What this request has been handed and why, for the audit trail.
    trail: Arc<Trail>,
    /// The operation being run (`$book`), named in the audit trail of its changes.
    operation: Option<Arc<str>>,
    /// The caller's network address, for the audit trail.
    source: Option<Arc<str>>,
    /// Where this request's reads go when not to the primary: a read replica that holds the
    /// caller's own writes (read-only requests only; see [`Session::reading_after`]).
    replica: Option<Arc<dyn Store>>,
}

struct Shared {
    fhir: Fhir,
    store: Arc<dyn Store>,
    /// Server-managed content, applied to every new version of their types (see [`WriteRule`]).
    write_rules: &'static [WriteRule],
}

/// Why requests with authorization off are unconfined (they are requests, not the server's work).
const AUTHORIZATION_OFF: &str = "authorization off";

#[derive(Clone)]
enum Policy {
    /// Everything, nothing audited: authorization off, or the server's own work (named for the
    /// logs: start-up, the command line, a sweep).
    Unconfined(&'static str),
    /// An authenticated caller.
    Caller {
        caller: Arc<Caller>,
        /// The caller's reach, plus what operations widened it by (`None`: not confined).
        reach: Option<Arc<Reach>>,
    },
}

/// What one request was handed, and the reasons it was allowed more than the general policy.
#[derive(Debug, Default)]
pub struct Trail {
    accessed: Mutex<Vec<Entity>>,
    reasons: Mutex<Vec<Reason>>,
    /// Nothing is recorded (see [`Session::recording_nothing`]).
    off: bool,
}

impl Trail {
    /// The resources handed to the caller so far (each once per set of patients).
    pub fn accessed(&self) -> Vec<Entity> {
        let mut keys = self.accessed.lock().map(|a| a.clone()).unwrap_or_default();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Why the general policy was widened during the request (each once).
    pub fn reasons(&self) -> Vec<Reason> {
        self.reasons.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn record(&self, entities: impl IntoIterator<Item = Entity>) {
        if self.off {
            return;
        }
        if let Ok(mut accessed) = self.accessed.lock() {
            accessed.extend(entities);
        }
    }

    fn note(&self, reason: Reason) {
        if self.off {
            return;
        }
        if let Ok(mut reasons) = self.reasons.lock()
            && !reasons.contains(&reason)
        {
            reasons.push(reason);
        }
    }
}

impl Deref for Session {
    type Target = Fhir;

    fn deref(&self) -> &Fhir {
        &self.shared.fhir
    }
}

impl Session {
    /// The server's own session over `store`: unconfined, for start-up and background work.
    /// Requests get theirs from [`Session::unconfined_request`] or [`Session::for_caller`].
    pub fn new(fhir: Fhir, store: Arc<dyn Store>) -> Session {
        Session {
            shared: Arc::new(Shared { fhir, store, write_rules: &[] }),
            policy: Policy::Unconfined("the server"),
            trail: Arc::default(),
            operation: None,
            source: None,
            replica: None,
        }
    }

    /// This server session with `rules` applied to every write (set once, at start-up).
    pub fn with_write_rules(self, rules: &'static [WriteRule]) -> Session {
        let shared = Shared { fhir: self.shared.fhir.clone(), store: self.shared.store.clone(), write_rules: rules };
        Session { shared: Arc::new(shared), ..self }
    }

    /// The rules applied to new versions of `resource_type`.
    pub(crate) fn write_rules(&self, resource_type: &str) -> Vec<&'static WriteRule> {
        self.shared.write_rules.iter().filter(|r| r.resource_type == resource_type).collect()
    }

    /// Whether this is the server's own work (start-up, the command line, a background worker)
    /// rather than a request, authorization off included.
    pub fn is_server_work(&self) -> bool {
        matches!(self.policy, Policy::Unconfined(why) if why != AUTHORIZATION_OFF)
    }

    /// The context, without data access.
    pub fn fhir(&self) -> &Fhir {
        &self.shared.fhir
    }

    /// A session for one request with authorization off: unconfined and not audited.
    pub fn unconfined_request(&self) -> Session {
        Session {
            shared: self.shared.clone(),
            policy: Policy::Unconfined(AUTHORIZATION_OFF),
            trail: Arc::default(),
            operation: None,
            source: None,
            replica: None,
        }
    }

    /// The server's own work (`why` names it in the logs), outside any request's policy.
    pub fn system(&self, why: &'static str) -> Session {
        Session {
            shared: self.shared.clone(),
            policy: Policy::Unconfined(why),
            trail: Arc::default(),
            operation: None,
            source: None,
            replica: None,
        }
    }

    /// A session for one request by `caller`, calling from `source` (its network address).
    pub fn for_caller(&self, caller: Arc<Caller>, source: Option<&str>) -> Session {
        let reach = caller.reach.clone();
        Session {
            shared: self.shared.clone(),
            policy: Policy::Caller { caller, reach },
            trail: Arc::default(),
            operation: None,
            source: source.map(Arc::from),
            replica: None,
        }
    }

    /// This session with a trail that records nothing: for what the server decides as a caller
    /// would, handing nothing to anyone (whom a change is notified to). A long-lived session's
    /// trail would otherwise keep every resource it ever judged.
    pub fn recording_nothing(self) -> Session {
        Session { trail: Arc::new(Trail { off: true, ..Trail::default() }), ..self }
    }

    /// This session reading from a read replica that has replayed the caller's writes up to
    /// `floor`, when one has (else from the primary, as before). Only for read-only requests:
    /// what a request writes is decided on the primary, from what the primary holds. Writes,
    /// server look-ups and the policy generation stay on the primary either way.
    pub fn reading_after(mut self, floor: Lsn) -> Session {
        self.replica = self.shared.store.replica_for(floor);
        self
    }

    /// Where the primary's log stands after this request's writes, for the caller's later reads
    /// (`None`: there are no read replicas).
    pub async fn written_position(&self) -> FhirResult<Option<Lsn>> {
        Ok(self.store().written_position().await?)
    }

    /// Who acts in this session, for the audit trail (`None`: nothing is audited).
    pub fn agent(&self) -> Option<crate::audit::Agent> {
        self.caller().map(|c| crate::audit::Agent::of(c, self.source.as_deref()))
    }

    /// The policy generation (see `crate::access::cache`): one indexed read, counted
    /// (`ikp_policy_generation_checks_total`: one per authenticated request).
    pub async fn policy_generation(&self) -> FhirResult<i64> {
        metrics::counter!("ikp_policy_generation_checks_total").increment(1);
        Ok(self.store().policy_generation().await?)
    }

    /// The database's vitals for health probes and metrics (no resource data).
    pub fn vitals(&self) -> Vitals<'_> {
        Vitals::new(self)
    }

    /// All stored data for a Bulk Data export worker (the server's own background work).
    pub fn export_worker(&self) -> Unconfined {
        Unconfined { session: self.system("a Bulk Data export worker") }
    }

    /// All stored data for the notification workers (the server's own background work).
    pub fn notification_worker(&self) -> Unconfined {
        Unconfined { session: self.system("notifications") }
    }

    /// Refreshes the database's planner statistics after a bulk load.
    pub async fn refresh_statistics(&self) -> FhirResult<()> {
        Ok(self.store().refresh_statistics().await?)
    }

    /// Waits for in-flight work and closes the database (at shutdown).
    pub async fn close(&self) {
        self.store().close().await;
    }

    /// This session running the operation `name` (`$book`): its changes are audited as it.
    pub fn running(&self, name: &str) -> Session {
        let mut session = self.clone();
        session.operation = Some(Arc::from(name));
        session
    }

    /// The authenticated caller, if any.
    pub fn caller(&self) -> Option<&Caller> {
        match &self.policy {
            Policy::Caller { caller, .. } => Some(caller),
            Policy::Unconfined(_) => None,
        }
    }

    /// The caller's `fhirUser` reference (`Practitioner/x`), when there is one.
    pub fn caller_user(&self) -> Option<String> {
        self.caller().and_then(|c| c.principal.fhir_user.clone())
    }

    /// The confined caller's reach (`None`: unconfined).
    pub fn reach(&self) -> Option<&Arc<Reach>> {
        match &self.policy {
            Policy::Caller { reach, .. } => reach.as_ref(),
            Policy::Unconfined(_) => None,
        }
    }

    /// Whether the caller is confined to a reach.
    pub fn is_confined(&self) -> bool {
        self.reach().is_some()
    }

    /// Who the session acts for, for the logs: the server's own work by name, else the caller.
    pub fn acting_for(&self) -> &str {
        match &self.policy {
            Policy::Unconfined(why) => why,
            Policy::Caller { caller, .. } => {
                caller.principal.fhir_user.as_deref().unwrap_or(&caller.principal.client_id)
            }
        }
    }

    /// What this request was handed, for the audit trail.
    pub fn trail(&self) -> &Trail {
        &self.trail
    }

    /// The operation this session runs, if any.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    pub fn dialect(&self) -> Dialect {
        self.shared.store.dialect()
    }

    /// A SQL planner whose every query stays within the caller's reach (conditional writes'
    /// criteria, planned inside their transaction).
    fn planner(&self) -> Planner {
        Planner::new(self.dialect(), self.registry.current().typed_parts()).within(self.reach().cloned())
    }

    /// Searches whose every statement stays within the caller's reach.
    fn searcher(&self) -> Searcher<'_> {
        Searcher::new(self.reads(), self.reach().cloned(), self.registry.current().typed_parts())
    }

    /// The primary: writes, look-ups, the policy.
    fn store(&self) -> &dyn Store {
        self.shared.store.as_ref()
    }

    /// Where the caller's reads and searches go: the replica chosen for this request, if any.
    fn reads(&self) -> &dyn Store {
        self.replica.as_deref().unwrap_or(self.store())
    }

    /// The scopes' granular filter for `interaction` on `resource_type`, as search filters; 403
    /// when the scopes do not allow it.
    pub fn grant(&self, resource_type: &str, interaction: Interaction) -> FhirResult<Vec<Filter>> {
        let Some(caller) = self.caller() else { return Ok(Vec::new()) };
        let pairs = caller.grant(resource_type, interaction)?;
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let registry = self.registry.current();
        let parser = Parser { registry: &registry, base_url: &self.base_url, strict: true, limits: &self.limits };
        Ok(parser.parse(vec![resource_type.to_string()], &pairs)?.filters)
    }

    /// A search over several types (all, when empty).
    pub fn grant_types(&self, types: &[String], interaction: Interaction) -> FhirResult<()> {
        self.caller().map_or(Ok(()), |c| c.grant_types(types, interaction))
    }

    /// System-wide work: only for unconfined callers.
    pub fn grant_system(&self, interaction: Interaction) -> FhirResult<()> {
        self.caller().map_or(Ok(()), |c| c.grant_system(interaction))
    }

    /// All stored data, for callers that may have it: backend services with a `system/*` scope
    /// for `interaction`, and the server's own work.
    pub fn unconfined(&self, interaction: Interaction) -> FhirResult<Unconfined> {
        self.grant_system(interaction)?;
        Ok(Unconfined { session: self.system("an unconfined caller") })
    }

    /// This session with the caller's reach widened by `extra`, for one operation whose own rule
    /// grants it (a pharmacist who presents a prescription's access code and the patient's PESEL
    /// may dispense that patient's prescriptions). The reason is recorded in the audit trail.
    pub fn widen(&self, extra: Visible, reason: Reason) -> Session {
        let mut session = self.clone();
        if let Policy::Caller { reach: Some(reach), .. } = &mut session.policy {
            let mut widened = (**reach).clone();
            widened.visible.push(extra);
            *reach = Arc::new(widened);
            self.trail.note(reason);
        }
        session
    }

    /// The server's own look-ups, beyond the caller's reach; their results are sealed.
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup::new(self)
    }

    /// Notes current versions handed to the caller, for the audit trail (their patients are
    /// looked up when the events are stored).
    fn record_access<'a>(&self, versions: impl IntoIterator<Item = &'a crate::store::ResourceVersion>) {
        if self.caller().is_some() {
            self.trail.record(versions.into_iter().map(|v| Entity::current(&v.resource_type, &v.id)));
        }
    }

    /// Notes versions of any age handed to the caller (vread, history), each audited for the
    /// patients of that version.
    fn record_versions<'a>(&self, versions: impl IntoIterator<Item = &'a crate::store::ResourceVersion>) {
        if self.caller().is_some() {
            self.trail.record(versions.into_iter().map(|v| {
                let mut patients: Vec<String> = self
                    .version_compartments(v)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(t, _)| t == "Patient")
                    .map(|(_, id)| id)
                    .collect();
                patients.sort();
                patients.dedup();
                Entity { resource_type: v.resource_type.clone(), id: v.id.clone(), patients: Some(patients) }
            }));
        }
    }
}

/// All stored data, without the policy: obtained from [`Session::unconfined`] by backend
/// services with `system/*` scopes, for work over the whole database (`$export`, `$reindex`).
#[derive(Clone)]
pub struct Unconfined {
    session: Session,
}

impl Unconfined {
    /// The store itself.
    pub fn store(&self) -> &dyn Store {
        self.session.store()
    }

    /// The store, shared (for background work that outlives the request).
    pub fn store_arc(&self) -> Arc<dyn Store> {
        self.session.shared.store.clone()
    }

    /// An unconfined session over the same data.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

/// 404 for `Type/id`: the one answer for what does not exist and for what the caller may not see.
pub fn not_found(resource_type: &str, id: &str) -> FhirError {
    FhirError::NotFound(format!("{resource_type}/{id}"))
}
