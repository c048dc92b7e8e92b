//! One typed description of writes, shared by the RESTful interactions, transactions and the
//! national operations: what to create, update (with an expected version), patch or delete, by
//! id or by search criteria. [`Session::commit`](super::Session::commit) carries a set out
//! atomically under the policy.

use serde_json::Value;

use crate::access::Reason;
use crate::outcome::Issue;
use crate::search::criteria::Criteria;
use crate::store::ResourceVersion;

/// Writes committed together: all of them or none.
#[derive(Debug, Default)]
pub struct WriteSet {
    pub(super) writes: Vec<Write>,
    /// Deleting what does not exist (or is not visible) is a no-op rather than a 404, as
    /// transactions want deletes to be idempotent.
    pub(super) idempotent_deletes: bool,
}

/// One write of a set.
#[derive(Debug, Clone)]
pub struct Write {
    pub resource_type: String,
    pub action: Action,
    /// The entry's `fullUrl`: other writes of the set may reference it (`urn:uuid:...`), and the
    /// references are rewritten to the resource's id.
    pub full_url: Option<String>,
    /// The Bundle entry it came from, for error locations.
    pub entry: Option<usize>,
    /// Set by an operation whose own rule decided this write (a booking changes the facility's
    /// Slot): its target and new version are not judged by the general policy, and the reason is
    /// recorded in the AuditEvents of the change.
    pub vouched: Option<Reason>,
    /// Set by an operation whose own rule decides where the new version belongs (the data a
    /// document carries goes into the record of the document's patient, which its author may
    /// write without otherwise reaching that record): the new version's place is not judged, but
    /// the target it replaces is, as for any write, and the reason is recorded in the
    /// AuditEvents of the change.
    pub placed: Option<Reason>,
    /// The id of an update was assigned by an operation (a submitted document keeps its id), not
    /// chosen by the client: the resource is created with it when it does not exist, and a
    /// resource the caller may not see is never overwritten.
    pub assigned_id: bool,
    /// The caller validated the body as it is (the RESTful create and update do, before the
    /// transaction): the commit validates it again only when it changes it (references
    /// rewritten), so the check runs once and outside the database's write lock.
    pub checked: bool,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// A new resource with a server-assigned id; with `if_none_exist`, nothing is created when
    /// exactly one resource matches (and that one is the result).
    Create {
        resource: Value,
        if_none_exist: Option<Box<Criteria>>,
    },
    /// The next version of a resource; with an id the resource does not have yet, a creation
    /// with that id (for unconfined callers only: see the commit).
    Update {
        target: Target,
        resource: Value,
        if_match: Option<i64>,
    },
    /// A JSON Patch or FHIRPath Patch applied to the current version.
    Patch {
        target: Target,
        document: Value,
        if_match: Option<i64>,
    },
    Delete {
        target: Target,
        if_match: Option<i64>,
    },
}

/// Which resource a write acts on.
#[derive(Debug, Clone)]
pub enum Target {
    Id(String),
    /// The single current resource matching the criteria (within the caller's reach).
    Matching(Box<Criteria>),
}

impl Write {
    pub fn create(resource_type: &str, resource: Value) -> Write {
        Write::new(resource_type, Action::Create { resource, if_none_exist: None })
    }

    pub fn update(resource_type: &str, id: &str, resource: Value, if_match: Option<i64>) -> Write {
        Write::new(resource_type, Action::Update { target: Target::Id(id.to_string()), resource, if_match })
    }

    pub fn delete(resource_type: &str, id: &str, if_match: Option<i64>) -> Write {
        Write::new(resource_type, Action::Delete { target: Target::Id(id.to_string()), if_match })
    }

    /// Creates the resource with an id the operation assigned, or replaces it when it exists and
    /// the caller may write it (see [`Write::assigned_id`]).
    pub fn put_assigned(resource_type: &str, id: &str, resource: Value) -> Write {
        Write::update(resource_type, id, resource, None).assigned()
    }

    pub fn new(resource_type: &str, action: Action) -> Write {
        Write {
            resource_type: resource_type.to_string(),
            action,
            full_url: None,
            entry: None,
            vouched: None,
            placed: None,
            assigned_id: false,
            checked: false,
        }
    }

    /// This write's body as already validated by the caller (see [`Write::checked`]).
    pub fn checked(mut self) -> Write {
        self.checked = true;
        self
    }

    /// This update's id as assigned by the operation (see [`Write::assigned_id`]).
    pub fn assigned(mut self) -> Write {
        self.assigned_id = true;
        self
    }

    /// This write as decided by the calling operation's own rule, for `reason` (see
    /// [`Write::vouched`]).
    pub fn vouched_by(mut self, reason: Reason) -> Write {
        self.vouched = Some(reason);
        self
    }

    /// This write's new version placed by the calling operation's rule, for `reason` (see
    /// [`Write::placed`]).
    pub fn placed_by(mut self, reason: Reason) -> Write {
        self.placed = Some(reason);
        self
    }

    /// Lets other writes of the set reference this one by `url` (a `urn:uuid:`).
    pub fn with_full_url(mut self, url: impl Into<String>) -> Write {
        self.full_url = Some(url.into());
        self
    }

    pub(super) fn if_match(&self) -> Option<i64> {
        match &self.action {
            Action::Create { .. } => None,
            Action::Update { if_match, .. } | Action::Patch { if_match, .. } | Action::Delete { if_match, .. } => {
                *if_match
            }
        }
    }
}

impl WriteSet {
    pub fn new() -> WriteSet {
        WriteSet::default()
    }

    /// A transaction's writes: deleting what does not exist is a no-op.
    pub fn transaction(writes: Vec<Write>) -> WriteSet {
        WriteSet { writes, idempotent_deletes: true }
    }

    pub fn push(&mut self, write: Write) -> &mut WriteSet {
        self.writes.push(write);
        self
    }

    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl From<Write> for WriteSet {
    fn from(write: Write) -> WriteSet {
        WriteSet { writes: vec![write], idempotent_deletes: false }
    }
}

/// What one write did.
#[derive(Debug, Clone)]
pub struct Written {
    pub resource_type: String,
    pub id: String,
    /// 201 created, 200 updated (or an existing resource If-None-Exist matched), 204 deleted (or
    /// nothing to delete).
    pub status: u16,
    /// The version written (a tombstone for a deletion), or the existing one If-None-Exist
    /// matched, or the tombstone of a resource that was already deleted; `None` when nothing was
    /// written and nothing matched.
    pub version: Option<ResourceVersion>,
    /// Informational issues (`Prefer: return=OperationOutcome`).
    pub issues: Vec<Issue>,
}

impl Written {
    /// The content written, parsed (`None` for deletions and when nothing was written).
    pub fn content(&self) -> Option<Value> {
        self.version.as_ref()?.content.as_deref().and_then(|c| crate::format::json::from_str(c).ok())
    }
}

/// Content the server manages on every new version of one resource type, whoever writes it and
/// however (create, update, patch, a Bundle entry): applied after patches and reference
/// rewriting, before validation. A refusal refuses the write.
#[derive(Clone, Copy)]
pub struct WriteRule {
    pub resource_type: &'static str,
    pub apply: fn(&super::Session, &mut serde_json::Value) -> crate::error::FhirResult<()>,
}
