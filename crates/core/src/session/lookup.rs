//! The server's own look-ups, beyond the caller's reach: a prescription by its access code, a
//! patient by PESEL, the dispensations already made on a prescription, a user's entitlements.
//! Their results are [`Sealed`]: an operation may read them to decide, but hands one to the
//! caller only through [`Session::reveal`], which judges it like any read.

use serde_json::Value;

use super::Session;
use super::judge::Sight;
use crate::error::{FhirError, FhirResult};
use crate::search::run::Searcher;
use crate::store::ResourceVersion;

/// Look-ups for the server's own decisions, made for a session.
pub struct Lookup<'a> {
    session: &'a Session,
}

/// A stored resource found by a [`Lookup`]: its content may inform a decision, and reaches the
/// caller only through [`Session::reveal`].
#[derive(Debug, Clone)]
pub struct Sealed {
    version: ResourceVersion,
    content: Value,
}

impl Sealed {
    pub fn content(&self) -> &Value {
        &self.content
    }

    pub fn id(&self) -> &str {
        &self.version.id
    }

    pub fn resource_type(&self) -> &str {
        &self.version.resource_type
    }

    /// The version number (for a write's `ifMatch`).
    pub fn version(&self) -> i64 {
        self.version.version
    }
}

impl<'a> Lookup<'a> {
    pub(super) fn new(session: &'a Session) -> Lookup<'a> {
        Lookup { session }
    }

    /// Current resources of `types` matching `pairs`, whoever's they are, at most `limit`. An
    /// empty value matches nothing.
    pub async fn find(&self, types: &[&str], pairs: &[(&str, String)], limit: usize) -> FhirResult<Vec<Sealed>> {
        if pairs.iter().any(|(_, v)| v.is_empty()) {
            return Ok(Vec::new());
        }
        let query = self.session.parse_lookup(types, pairs)?;
        // A look-up, not the caller's search: whoever's the resources are (see the type's doc).
        let rids = Searcher::new(self.session.store(), None, self.session.registry.current().typed_parts())
            .matching_keys(&query, limit)
            .await?;
        let mut fetched: std::collections::HashMap<i64, ResourceVersion> =
            self.session.store().fetch(&rids).await?.into_iter().collect();
        rids.iter().filter_map(|rid| fetched.remove(rid)).map(seal).collect()
    }

    /// The current, live version of `type/id`, whoever's it is.
    pub async fn read(&self, resource_type: &str, id: &str) -> FhirResult<Option<Sealed>> {
        match self.session.store().read(resource_type, id).await? {
            Some(v) if !v.is_deleted() => seal(v).map(Some),
            _ => Ok(None),
        }
    }

    /// Whether `type/id` exists, live, whoever's it is.
    pub async fn exists(&self, resource_type: &str, id: &str) -> FhirResult<bool> {
        Ok(self.session.store().read(resource_type, id).await?.is_some_and(|v| !v.is_deleted()))
    }

    /// The newest live resource of a (definitional) type with a canonical URL.
    pub async fn by_url(&self, resource_type: &str, url: &str) -> FhirResult<Option<Sealed>> {
        match self.session.store().newest_by_url(resource_type, url).await? {
            Some(version) => seal(version).map(Some),
            None => Ok(None),
        }
    }

    /// The content of every live resource of a (definitional) type: SearchParameter,
    /// StructureDefinition, ConceptMap.
    pub async fn all_of_type(&self, resource_type: &str) -> FhirResult<Vec<Value>> {
        let texts = self.session.store().live_contents_of_type(resource_type).await?;
        Ok(texts.iter().filter_map(|text| crate::format::json::from_str(text).ok()).collect())
    }
}

fn seal(version: ResourceVersion) -> FhirResult<Sealed> {
    let content = crate::format::json::from_str(version.content.as_deref().unwrap_or("{}")).map_err(|e| {
        FhirError::Internal(format!("stored {}/{} is not JSON: {e}", version.resource_type, version.id))
    })?;
    Ok(Sealed { version, content })
}

impl Session {
    /// A sealed resource handed to the caller: judged like any read (404 when the caller may
    /// not see it) and recorded in the audit trail.
    pub fn reveal(&self, sealed: &Sealed) -> FhirResult<ResourceVersion> {
        let compartments = super::judge::pairs(self.compartments_of(&sealed.content));
        if self.sight(sealed.resource_type(), sealed.id(), &compartments) == Sight::Hidden {
            return Err(super::not_found(sealed.resource_type(), sealed.id()));
        }
        self.record_access([&sealed.version]);
        Ok(sealed.version.clone())
    }
}

impl Session {
    /// A sealed resource handed to the caller on an operation's own rule rather than the general
    /// policy (the original Bundle of a document whose Composition the caller may read): recorded
    /// in the audit trail with the reason.
    pub fn disclose(&self, sealed: &Sealed, reason: crate::access::Reason) -> ResourceVersion {
        self.trail.note(reason);
        self.record_access([&sealed.version]);
        sealed.version.clone()
    }
}

/// Entitlements are worked out from what the session's look-ups find (people, roles, Consents).
#[async_trait::async_trait]
impl crate::access::entitlements::Directory for Session {
    async fn find(&self, types: &[&str], pairs: &[(&str, String)], limit: usize) -> FhirResult<Vec<Value>> {
        let found = self.lookup().find(types, pairs, limit).await?;
        Ok(found.iter().map(|sealed| sealed.content().clone()).collect())
    }
}
