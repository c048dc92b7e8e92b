//! The one way writes reach the database. A [`WriteSet`] is carried out in one database
//! transaction, in this order, so that nothing about a target is revealed before the policy has
//! judged it:
//!
//! 1. scopes: the token must allow each interaction on each type (403, before any reading);
//! 2. targets: ids assigned, search criteria matched within the caller's reach, `fullUrl`s and
//!    conditional references resolved;
//! 3. judgement: the current version of every target (a tombstone by the version it deleted) is
//!    judged on its own compartments. One the caller may not see is answered exactly as one that
//!    does not exist, before `If-Match`, patches or validation run. Confined callers create with
//!    server-assigned ids only: an update of an id they cannot see, existing or not, is refused
//!    with one answer, so no id can be taken over from another patient's record or probed;
//! 4. preconditions (`If-Match`), patches, reference rewriting, validation;
//! 5. the new versions must be where the caller may act;
//! 6. the AuditEvents of the change and the policy generation (when the change can alter what
//!    someone may see) are written with the versions, and everything commits at once.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::judge::Sight;
use super::prepare::{NextVersion, activate_profile, check_body, new_id, stamp, tombstone, written};
use super::write::{Action, Target, Write, WriteSet, Written};
use super::{Session, not_found};
use crate::access::scopes::Interaction;
use crate::clock::{Micros, now};
use crate::error::{FhirError, FhirResult};
use crate::outcome::{Issue, IssueType};
use crate::search::criteria::{self, Criteria};
use crate::store::{Compartments, Current, Method, NewVersion, ResourceVersion, StoreError, StoreTx};

/// Writers retry a lost race this many times before reporting the conflict.
const RETRIES: usize = 3;

/// Types whose changes can change what someone may see (see `crate::access::entitlements`):
/// writing one advances the policy generation.
pub(super) const POLICY_TYPES: &[&str] = &["Consent", "Patient", "Practitioner", "PractitionerRole", "RelatedPerson"];

/// What one write of the set resolved to.
struct Plan<'w> {
    write: &'w Write,
    id: String,
    step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A new resource with a server-assigned id.
    Create,
    /// If-None-Exist matched an existing resource: nothing is written.
    Matched,
    /// An update by id (which creates the resource when it does not exist, for callers allowed
    /// to choose ids).
    Update,
    /// A conditional update whose criteria matched nothing, with the id the body names.
    UpdateUnmatched,
    Patch,
    Delete,
    /// A conditional delete that matched nothing, or an idempotent delete of nothing.
    Nothing,
}

impl Session {
    /// Carries out `writes` atomically under the policy (see the module documentation). The
    /// results are in the order of the writes.
    pub async fn commit(&self, writes: impl Into<WriteSet>) -> FhirResult<Vec<Written>> {
        let set = writes.into();
        for w in &set.writes {
            self.check_scope(w, interaction_of(&w.action)).map_err(|e| at_entry(w, e))?;
        }
        let preconditions = set.writes.iter().any(|w| w.if_match().is_some());
        let mut attempt = 0;
        loop {
            let tx = self.store().begin().await?;
            match self.commit_in(tx, &set).await {
                // Another writer changed a target first: with no precondition the writes simply
                // apply on top, so run them again.
                Err(FhirError::Store(StoreError::Conflict(_))) if !preconditions && attempt < RETRIES => attempt += 1,
                // The group commit it joined failed as a whole: nothing was stored, and the
                // preconditions are checked again on the next run.
                Err(FhirError::Store(StoreError::Abandoned(_))) if attempt < RETRIES => attempt += 1,
                Err(FhirError::Store(StoreError::Conflict(what))) if preconditions => {
                    return Err(FhirError::PreconditionFailed(what));
                }
                Err(FhirError::Store(StoreError::Conflict(what))) => return Err(FhirError::Conflict(what)),
                other => return other,
            }
        }
    }

    /// The scopes must allow `interaction` on the type, without a granular filter (whether a
    /// write matches one would need the stored body); the audit trail is the server's own.
    fn check_scope(&self, w: &Write, interaction: Interaction) -> FhirResult<()> {
        if w.resource_type == "AuditEvent" && self.is_confined() {
            return Err(FhirError::Forbidden("the audit trail is written by the server only".into()));
        }
        self.check_type(&w.resource_type)?;
        if self.grant(&w.resource_type, interaction)?.is_empty() {
            Ok(())
        } else {
            Err(FhirError::Forbidden("granular scopes allow reads and searches only".into()))
        }
    }

    /// Stages the set in `tx` and commits it; a set that fails is rolled back, and the rollback
    /// returns only when the transaction is over (a group commit's included: see the store's
    /// `group_commit`), so that what the caller reads next is what it lost to.
    async fn commit_in(&self, mut tx: Box<dyn StoreTx>, set: &WriteSet) -> FhirResult<Vec<Written>> {
        match self.stage(tx.as_mut(), set).await {
            Ok((results, versions)) => {
                tx.commit().await?;
                for v in &versions {
                    activate_profile(self, v);
                }
                Ok(results)
            }
            Err(e) => {
                tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Steps 2 to 6 of the module documentation, inside `tx`: the results, and the versions
    /// written.
    async fn stage(&self, tx: &mut dyn StoreTx, set: &WriteSet) -> FhirResult<(Vec<Written>, Vec<NewVersion>)> {
        tracing::debug!(writes = set.writes.len(), acting_for = self.acting_for(), "commit");
        let at = now();
        let mut plans = Vec::with_capacity(set.writes.len());
        for w in &set.writes {
            let plan = self.plan(&mut *tx, w, set.idempotent_deletes).await.map_err(|e| at_entry(w, e))?;
            plans.push(plan);
        }
        let references = self.references(&mut *tx, &plans).await?;
        let mut seen = HashSet::new();
        for p in plans.iter().filter(|p| writes_target(p.step)) {
            if !seen.insert((p.write.resource_type.as_str(), p.id.as_str())) {
                let message = format!("{}/{} is the target of more than one entry", p.write.resource_type, p.id);
                return Err(at_entry(p.write, FhirError::bad_request(message)));
            }
        }

        // The current state of every target, locked, and what the caller may do with it. A
        // create's id was just drawn by the server (`new_id`, 122 random bits): nothing is there
        // to read or lock, and not asking saves each create a statement.
        let keys: Vec<(String, String)> = plans
            .iter()
            .filter(|p| writes_target(p.step) && p.step != Step::Create)
            .map(|p| (p.write.resource_type.clone(), p.id.clone()))
            .collect();
        let states = tx.lock_current_many(&keys).await?;
        let before = self.compartments_before(&mut *tx, &states).await?;
        let mut patch_bases = HashMap::new();
        for plan in &mut plans {
            let key = (plan.write.resource_type.clone(), plan.id.clone());
            let state = states.get(&key).copied();
            let sight = match (state, plan.write.vouched) {
                (None, _) => None,
                // An operation decided this write by its own rule.
                (Some(_), Some(_)) => Some(Sight::Write),
                (Some(_), None) => Some(self.sight(&key.0, &key.1, before.get(&key).map_or(&[][..], Vec::as_slice))),
            };
            self.judge(plan, state, sight, set.idempotent_deletes).map_err(|e| at_entry(plan.write, e))?;
            check_precondition(plan, state).map_err(|e| at_entry(plan.write, e))?;
            if plan.step == Step::Patch {
                patch_bases.insert(key, ());
            }
        }
        let bases = self.current_contents(&mut *tx, patch_bases.into_keys().collect()).await?;
        let matched = self.matched_versions(&mut *tx, &plans).await?;

        // The new versions.
        let rewriter = crate::references::Rewriter::new(references);
        let mut versions: Vec<NewVersion> = Vec::with_capacity(plans.len());
        let mut results = Vec::with_capacity(plans.len());
        for plan in &plans {
            let key = (plan.write.resource_type.clone(), plan.id.clone());
            let state = states.get(&key).copied();
            let result =
                self.new_version(plan, state, &rewriter, bases.get(&key), at).map_err(|e| at_entry(plan.write, e))?;
            let written = match result {
                Some(version) => {
                    self.check_new_version(plan, &version).map_err(|e| at_entry(plan.write, e))?;
                    let status = match plan.step {
                        Step::Delete => 204,
                        _ if state.is_some_and(|c| !c.deleted) => 200,
                        _ => 201,
                    };
                    versions.push(version.clone());
                    Written {
                        resource_type: key.0,
                        id: key.1,
                        status,
                        version: Some(written(version)),
                        issues: Vec::new(),
                    }
                }
                None => self.unwritten(plan, state, &matched),
            };
            results.push(written);
        }

        if versions.iter().any(|v| POLICY_TYPES.contains(&v.resource_type.as_str())) {
            tx.advance_policy_generation().await?;
        }
        let mut stored = versions.clone();
        if let Some(agent) = self.agent() {
            for reason in plans.iter().filter_map(|p| p.write.vouched.or(p.write.placed)) {
                self.trail.note(reason);
            }
            let reasons = self.trail.reasons();
            for event in crate::audit::write_events(&agent, self.operation(), &reasons, &versions, &before, at) {
                let id = new_id();
                let target = NextVersion { resource_type: "AuditEvent", id: &id, version: 1, replaces_index: false };
                stored.push(stamp(self, event, target, at, Method::Create)?);
            }
        }
        tx.put(stored).await?;
        Ok((results, versions))
    }

    /// Where a write goes: ids assigned, criteria matched within the caller's reach.
    async fn plan<'w>(&self, tx: &mut dyn StoreTx, w: &'w Write, idempotent_deletes: bool) -> FhirResult<Plan<'w>> {
        let t = w.resource_type.as_str();
        let plan = |id: String, step: Step| Ok(Plan { write: w, id, step });
        match &w.action {
            Action::Create { if_none_exist: None, .. } => plan(new_id(), Step::Create),
            Action::Create { if_none_exist: Some(criteria), .. } => match self.matching(tx, criteria).await?.as_slice()
            {
                [] => plan(new_id(), Step::Create),
                [one] => plan(one.clone(), Step::Matched),
                _ => Err(FhirError::PreconditionFailed(format!(
                    "If-None-Exist matches more than one {t}; the request must be more selective"
                ))),
            },
            Action::Update { target: Target::Id(id), resource, .. } => {
                if let Some(body_id) = resource.get("id").and_then(Value::as_str)
                    && body_id != id
                {
                    return Err(FhirError::BadRequest(vec![
                        Issue::error(
                            IssueType::Invalid,
                            format!("the body's id '{body_id}' does not match the URL's id '{id}'"),
                        )
                        .at(format!("{t}.id")),
                    ]));
                }
                plan(id.clone(), Step::Update)
            }
            Action::Update { target: Target::Matching(criteria), resource, .. } => {
                let body_id = resource.get("id").and_then(Value::as_str).map(str::to_string);
                match (self.matching(tx, criteria).await?.as_slice(), body_id) {
                    ([], Some(id)) => plan(id, Step::UpdateUnmatched),
                    ([], None) => plan(new_id(), Step::Create),
                    ([found], Some(id)) if *found != id => Err(FhirError::BadRequest(vec![
                        Issue::error(
                            IssueType::Invalid,
                            format!("the criteria match {t}/{found} but the body's id is '{id}'"),
                        )
                        .at(format!("{t}.id")),
                    ])),
                    ([found], _) => plan(found.clone(), Step::Update),
                    _ => Err(FhirError::PreconditionFailed(format!(
                        "the conditional update's criteria match more than one {t}"
                    ))),
                }
            }
            Action::Patch { target: Target::Id(id), .. } => plan(id.clone(), Step::Patch),
            Action::Patch { target: Target::Matching(criteria), .. } => {
                match self.matching(tx, criteria).await?.as_slice() {
                    [one] => plan(one.clone(), Step::Patch),
                    [] => Err(FhirError::NotFound(format!("no {t} matches {}", criteria.key))),
                    _ => Err(FhirError::PreconditionFailed(format!("the criteria match more than one {t}"))),
                }
            }
            Action::Delete { target: Target::Id(id), .. } => plan(id.clone(), Step::Delete),
            Action::Delete { target: Target::Matching(criteria), .. } => {
                match self.matching(tx, criteria).await?.as_slice() {
                    [] if idempotent_deletes => plan(String::new(), Step::Nothing),
                    [] => plan(String::new(), Step::Nothing),
                    [one] => plan(one.clone(), Step::Delete),
                    _ => Err(FhirError::PreconditionFailed(format!(
                        "the criteria match more than one {t}; this server deletes a single match only"
                    ))),
                }
            }
        }
    }

    /// Ids of current resources matching the criteria within the caller's reach (at most two:
    /// enough to tell one from many), serialised against concurrent conditional writes.
    async fn matching(&self, tx: &mut dyn StoreTx, criteria: &Criteria) -> FhirResult<Vec<String>> {
        tx.lock_key(&criteria.key).await?;
        Ok(criteria::matching(tx, self.planner(), criteria, 2).await?)
    }

    /// What references in the bodies stand for: `fullUrl`s of the set and conditional references
    /// (`Patient?identifier=...`), each of which must match exactly one resource.
    async fn references(&self, tx: &mut dyn StoreTx, plans: &[Plan<'_>]) -> FhirResult<HashMap<String, String>> {
        let mut map = HashMap::new();
        for p in plans.iter().filter(|p| p.step != Step::Nothing) {
            let target = format!("{}/{}", p.write.resource_type, p.id);
            if let Some(full) = &p.write.full_url {
                map.insert(full.clone(), target.clone());
            }
            if let Action::Update { resource, .. } = &p.write.action
                && let Some(body_id) = resource.get("id").and_then(Value::as_str)
            {
                map.insert(format!("{}/{}/{body_id}", self.base_url, p.write.resource_type), target);
            }
        }
        for p in plans {
            let body = match &p.write.action {
                Action::Create { resource, .. } | Action::Update { resource, .. } => resource,
                _ => continue,
            };
            let mut found = Vec::new();
            conditional_references(body, &mut found);
            for reference in found {
                if map.contains_key(&reference) {
                    continue;
                }
                let Some((t, q)) = reference.split_once('?') else { continue };
                let criteria = self.criteria(t, q).map_err(|e| at_entry(p.write, e))?;
                match criteria::matching(tx, self.planner(), &criteria, 2).await?.as_slice() {
                    [one] => {
                        map.insert(reference.clone(), format!("{t}/{one}"));
                    }
                    [] => {
                        let message = format!("the conditional reference '{reference}' matches nothing");
                        return Err(at_entry(p.write, FhirError::NotFound(message)));
                    }
                    _ => {
                        let message = format!("the conditional reference '{reference}' matches more than one resource");
                        return Err(at_entry(p.write, FhirError::PreconditionFailed(message)));
                    }
                }
            }
        }
        Ok(map)
    }

    /// The compartments of the current versions of the targets: of a live version by its index
    /// rows, of a tombstone by the version it deleted.
    async fn compartments_before(
        &self,
        tx: &mut dyn StoreTx,
        states: &HashMap<(String, String), Current>,
    ) -> FhirResult<Compartments> {
        let live: Vec<(String, String)> = states.iter().filter(|(_, c)| !c.deleted).map(|(k, _)| k.clone()).collect();
        let mut found = if live.is_empty() { Compartments::new() } else { tx.current_compartments(&live).await? };
        let deleted: Vec<(String, String, i64)> = states
            .iter()
            .filter(|(_, c)| c.deleted && c.version > 1)
            .map(|((t, id), c)| (t.clone(), id.clone(), c.version - 1))
            .collect();
        if !deleted.is_empty() {
            for version in tx.versions(&deleted).await? {
                let compartments = self.version_compartments(&version).unwrap_or_default();
                found.insert((version.resource_type, version.id), compartments);
            }
        }
        Ok(found)
    }

    /// Decides, from the target's current state and the caller's sight of it, whether the write
    /// may proceed; what the caller may not see is answered as what does not exist.
    fn judge(
        &self,
        plan: &mut Plan<'_>,
        state: Option<Current>,
        sight: Option<Sight>,
        idempotent: bool,
    ) -> FhirResult<()> {
        let t = plan.write.resource_type.as_str();
        let id = plan.id.as_str();
        let unseen = matches!(sight, None | Some(Sight::Hidden));
        // Callers confined to a reach choose no ids: one answer whether or not the id exists.
        let chooses_ids = !self.is_confined() || plan.write.vouched.is_some() || plan.write.assigned_id;
        let read_only = || Err(FhirError::Forbidden(format!("{t}/{id} may be read but not changed by you")));
        match plan.step {
            Step::Create | Step::Matched | Step::Nothing => Ok(()),
            Step::Update | Step::UpdateUnmatched if unseen && !chooses_ids => Err(FhirError::NotFound(format!(
                "{t}/{id} (resources are created with POST; the server assigns their ids)"
            ))),
            // An id an operation assigned never takes over what the caller may not see.
            Step::Update if sight == Some(Sight::Hidden) => {
                Err(FhirError::Conflict(format!("{t}/{id} is taken; it cannot be used for this")))
            }
            Step::Update | Step::UpdateUnmatched if unseen => {
                self.check_scope(plan.write, Interaction::Create)?;
                Ok(())
            }
            Step::UpdateUnmatched if state.is_some_and(|c| !c.deleted) => Err(FhirError::Conflict(format!(
                "{t}/{id} exists but does not match the conditional update's criteria"
            ))),
            Step::Update | Step::UpdateUnmatched if sight == Some(Sight::Read) => read_only(),
            Step::Update | Step::UpdateUnmatched => {
                if state.is_some_and(|c| c.deleted) {
                    self.check_scope(plan.write, Interaction::Create)?;
                }
                Ok(())
            }
            Step::Patch if unseen => Err(not_found(t, id)),
            Step::Patch if state.is_some_and(|c| c.deleted) => Err(FhirError::Gone(format!("{t}/{id}"))),
            Step::Patch | Step::Delete if sight == Some(Sight::Read) => read_only(),
            Step::Patch => Ok(()),
            Step::Delete if unseen && idempotent => {
                plan.step = Step::Nothing;
                Ok(())
            }
            Step::Delete if unseen => Err(not_found(t, id)),
            Step::Delete => Ok(()),
        }
    }

    /// The current contents of live resources (the bases of patches).
    async fn current_contents(
        &self,
        tx: &mut dyn StoreTx,
        keys: Vec<(String, String)>,
    ) -> FhirResult<HashMap<(String, String), Value>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out = HashMap::new();
        for v in tx.current_versions(&keys).await? {
            if let Some(content) = v.content.as_deref() {
                let value = crate::format::json::from_str(content).map_err(|e| {
                    FhirError::Internal(format!("stored {}/{} is not JSON: {e}", v.resource_type, v.id))
                })?;
                out.insert((v.resource_type, v.id), value);
            }
        }
        Ok(out)
    }

    /// The existing resources If-None-Exist matched.
    async fn matched_versions(
        &self,
        tx: &mut dyn StoreTx,
        plans: &[Plan<'_>],
    ) -> FhirResult<HashMap<(String, String), ResourceVersion>> {
        let keys: Vec<(String, String)> = plans
            .iter()
            .filter(|p| p.step == Step::Matched)
            .map(|p| (p.write.resource_type.clone(), p.id.clone()))
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(tx
            .current_versions(&keys)
            .await?
            .into_iter()
            .map(|v| ((v.resource_type.clone(), v.id.clone()), v))
            .collect())
    }

    /// The version a write produces, or `None` when it writes nothing.
    fn new_version(
        &self,
        plan: &Plan<'_>,
        state: Option<Current>,
        rewriter: &crate::references::Rewriter,
        base: Option<&Value>,
        at: Micros,
    ) -> FhirResult<Option<NewVersion>> {
        let t = plan.write.resource_type.as_str();
        let id = plan.id.as_str();
        let live = state.is_some_and(|c| !c.deleted);
        let next = state.map_or(1, |c| c.version + 1);
        let target = NextVersion { resource_type: t, id, version: next, replaces_index: live };
        let mut body = match (&plan.write.action, plan.step) {
            (_, Step::Matched | Step::Nothing) => return Ok(None),
            (_, Step::Delete) if !live => return Ok(None),
            (_, Step::Delete) => return Ok(Some(tombstone(t, id, next, at))),
            (Action::Patch { document, .. }, _) => {
                let base = base.cloned().ok_or_else(|| not_found(t, id))?;
                let patched = crate::patch::apply(self.model, base, document)?;
                if patched.get("id").and_then(Value::as_str) != Some(id) {
                    return Err(FhirError::Unprocessable(vec![Issue::error(
                        IssueType::Processing,
                        "a patch must not change the resource's id",
                    )]));
                }
                patched
            }
            (Action::Create { resource, .. } | Action::Update { resource, .. }, _) => resource.clone(),
            (Action::Delete { .. }, _) => return Ok(None),
        };
        let rewritten = rewriter.rewrite(&mut body);
        if plan.write.entry.is_some()
            && let Some(reference) = crate::references::unresolved_local(&body)
        {
            return Err(FhirError::BadRequest(vec![Issue::error(
                IssueType::NotFound,
                format!("the reference '{reference}' names no entry of the Bundle"),
            )]));
        }
        if let Value::Object(fields) = &mut body {
            fields.insert("id".into(), Value::String(id.to_string()));
        }
        let mut ruled = false;
        for rule in self.write_rules(t) {
            (rule.apply)(self, &mut body)?;
            ruled = true;
        }
        // A patched, rewritten or ruled body is new; one the caller validated as it is needs no
        // second look (the id set above is the one it was checked with, or a fresh server id).
        let unchanged =
            plan.write.checked && !rewritten && !ruled && !matches!(plan.write.action, Action::Patch { .. });
        if !unchanged {
            check_body(self, t, &body)?;
        }
        let method = if plan.step == Step::Create { Method::Create } else { Method::Update };
        stamp(self, body, target, at, method).map(Some)
    }

    /// A confined caller's new version must be where it may act (unless an operation vouched
    /// for the write or placed it): no moving data into another record, no creating reference
    /// data.
    fn check_new_version(&self, plan: &Plan<'_>, version: &NewVersion) -> FhirResult<()> {
        if version.method == Method::Delete || plan.write.vouched.is_some() || plan.write.placed.is_some() {
            return Ok(());
        }
        let Some(reach) = self.reach() else { return Ok(()) };
        let now: Vec<(String, String)> =
            version.index.compartments.iter().map(|c| (c.comp_type.clone(), c.comp_id.clone())).collect();
        if reach.admits(&version.resource_type, &now, true) {
            Ok(())
        } else {
            Err(FhirError::Forbidden(format!(
                "this {} would be outside the records you may act for",
                version.resource_type
            )))
        }
    }

    /// The result of a write that wrote nothing.
    fn unwritten(
        &self,
        plan: &Plan<'_>,
        state: Option<Current>,
        matched: &HashMap<(String, String), ResourceVersion>,
    ) -> Written {
        let t = plan.write.resource_type.clone();
        let mut result =
            Written { resource_type: t.clone(), id: plan.id.clone(), status: 204, version: None, issues: Vec::new() };
        match plan.step {
            Step::Matched => {
                result.status = 200;
                result.version = matched.get(&(t.clone(), plan.id.clone())).cloned();
                self.record_access(result.version.iter());
                result.issues.push(Issue::information(format!(
                    "a {t} matching If-None-Exist already exists ({t}/{}); nothing was created",
                    plan.id
                )));
            }
            Step::Delete => {
                // Already deleted: the tombstone stands.
                if let Some(c) = state {
                    result.version = Some(ResourceVersion {
                        resource_type: t.clone(),
                        id: plan.id.clone(),
                        version: c.version,
                        last_updated: c.last_updated,
                        method: Method::Delete,
                        content: None,
                        seq: 0,
                    });
                }
                result.issues.push(Issue::information(format!("{t}/{} was already deleted", plan.id)));
            }
            _ => result.issues.push(Issue::information(format!("no {t} matched; nothing was deleted"))),
        }
        result
    }
}

/// `If-Match` holds against the judged target.
fn check_precondition(plan: &Plan<'_>, state: Option<Current>) -> FhirResult<()> {
    let Some(expected) = plan.write.if_match() else { return Ok(()) };
    if matches!(plan.step, Step::Nothing | Step::Matched | Step::Create) {
        return Ok(());
    }
    let t = &plan.write.resource_type;
    let id = &plan.id;
    match state {
        Some(c) if c.version == expected && !(c.deleted && plan.step != Step::Delete) => Ok(()),
        Some(c) => Err(FhirError::PreconditionFailed(format!(
            "{t}/{id} is at version {}{}, not {expected}",
            c.version,
            if c.deleted { " (deleted)" } else { "" }
        ))),
        None => Err(FhirError::PreconditionFailed(format!("{t}/{id} does not exist, so If-Match cannot hold"))),
    }
}

/// Whether a step writes (and so locks) its target.
fn writes_target(step: Step) -> bool {
    !matches!(step, Step::Matched | Step::Nothing)
}

fn interaction_of(action: &Action) -> Interaction {
    match action {
        Action::Create { .. } => Interaction::Create,
        Action::Update { .. } | Action::Patch { .. } => Interaction::Update,
        Action::Delete { .. } => Interaction::Delete,
    }
}

/// Reference values of the form `Type?criteria`.
fn conditional_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("reference")
                && r.contains('?')
                && r.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && !out.contains(r)
            {
                out.push(r.clone());
            }
            o.values().for_each(|v| conditional_references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| conditional_references(v, out)),
        _ => {}
    }
}

/// An error of a Bundle entry, located at the entry (single writes are left as they are).
fn at_entry(w: &Write, e: FhirError) -> FhirError {
    match w.entry {
        Some(index) => entry_error(index, e),
        None => e,
    }
}

/// An error located at `Bundle.entry[index]`: issues inside the entry's resource keep their path
/// under the entry.
pub fn entry_error(index: usize, e: FhirError) -> FhirError {
    let at = format!("Bundle.entry[{index}]");
    let relocate = |issues: Vec<Issue>| -> Vec<Issue> {
        issues
            .into_iter()
            .map(|mut i| {
                i.expression = Some(match i.expression.take() {
                    Some(inner) => match inner.split_once('.') {
                        Some((_, rest)) => format!("{at}.resource.{rest}"),
                        None => format!("{at}.resource"),
                    },
                    None => at.clone(),
                });
                i.message = format!("entry {index}: {}", i.message);
                i
            })
            .collect()
    };
    match e {
        FhirError::BadRequest(issues) => FhirError::BadRequest(relocate(issues)),
        FhirError::Unprocessable(issues) => FhirError::Unprocessable(relocate(issues)),
        FhirError::NotFound(what) => FhirError::NotFound(format!("{what} (entry {index})")),
        FhirError::Gone(what) => FhirError::Gone(format!("{what} (entry {index})")),
        FhirError::PreconditionFailed(what) => FhirError::PreconditionFailed(format!("entry {index}: {what}")),
        FhirError::Conflict(what) => FhirError::Conflict(format!("entry {index}: {what}")),
        FhirError::UnknownType(t) => FhirError::BadRequest(vec![
            Issue::error(IssueType::NotSupported, format!("entry {index}: unknown resource type '{t}'")).at(at),
        ]),
        other => other,
    }
}
