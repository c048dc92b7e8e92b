//! search: type (`GET|POST [base]/[type]`), system (`[base]?_type=...`) and compartment
//! (`[base]/Patient/[id]/[type]`) search, with includes, sorting, totals and cursor paging.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::bundle::{Bundle, Entry, EntryResource};
use super::{Body, Fhir, Response, instant, now, write::new_id};
use crate::auth::scopes::Interaction;
use crate::error::{FhirError, FhirResult};
use crate::format::subset::{Subset, Summary};
use crate::outcome::{Issue, IssueType, Severity, operation_outcome};
use crate::search::cursor::{Cursor, Key, Towards};
use crate::search::parse::Parser;
use crate::search::plan::Planner;
use crate::search::query::{Include, SearchQuery, Total};
use crate::store::ResourceVersion;
use crate::store::sql::{Cell, Column};

/// Most resources `_include`/`_revinclude` add to one page.
const MAX_INCLUDES: usize = 1000;
/// Levels of `:iterate`.
const MAX_ITERATIONS: usize = 4;

#[derive(Debug, Clone)]
pub enum Scope {
    Type(String),
    System,
    Compartment { compartment_type: String, compartment_id: String, resource_type: String },
}

/// Canonical form of the query (for binding cursors and building links): sorted, without `_cursor`.
fn canonical_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "_cursor").cloned().collect();
    kept.sort();
    kept
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub async fn search(fhir: &Fhir, scope: Scope, pairs: &[(String, String)], strict: bool) -> FhirResult<Response> {
    let registry = fhir.registry.current();
    let (types, compartment, path, granted) = match &scope {
        Scope::Type(t) => {
            fhir.check_type(t)?;
            let granted = fhir.grant(t, Interaction::Search)?;
            (vec![t.clone()], None, format!("{}/{t}", fhir.base_url), granted)
        }
        Scope::System => {
            let types: Vec<String> = pairs
                .iter()
                .filter(|(k, _)| k == "_type")
                .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string))
                .collect();
            for t in &types {
                fhir.check_type(t)?;
            }
            fhir.grant_types(&types, Interaction::Search)?;
            (types, None, fhir.base_url.clone(), Vec::new())
        }
        Scope::Compartment { compartment_type, compartment_id, resource_type } => {
            fhir.check_type(compartment_type)?;
            fhir.check_type(resource_type)?;
            if !crate::search::registry::COMPARTMENTS.contains(&compartment_type.as_str()) {
                return Err(FhirError::NotFound(format!("the {compartment_type} compartment")));
            }
            // A compartment the caller may not see does not exist for them.
            if fhir.reach().is_some_and(|r| {
                !r.visible.iter().any(|v| v.comp_type == *compartment_type && v.comp_id == *compartment_id)
            }) {
                return Err(FhirError::NotFound(format!("{compartment_type}/{compartment_id}")));
            }
            if compartment_type != resource_type
                && registry.compartment_params(compartment_type, resource_type).is_empty()
            {
                return Err(FhirError::bad_request(format!(
                    "{resource_type} is not part of the {compartment_type} compartment"
                )));
            }
            (
                vec![resource_type.clone()],
                Some((compartment_type.clone(), vec![compartment_id.clone()])),
                format!("{}/{compartment_type}/{compartment_id}/{resource_type}", fhir.base_url),
                fhir.grant(resource_type, Interaction::Search)?,
            )
        }
    };
    let parser = Parser { registry: &registry, base_url: &fhir.base_url, strict };
    let mut query = parser.parse(types, pairs)?;
    query.compartment = compartment;
    query.filters.extend(granted);
    execute(fhir, query, &path, pairs).await
}

/// Current resources of `types` matching `pairs`, at most `limit`, within `fhir`'s reach (pass
/// `fhir.unconfined()` for the server's own lookups). No scope check, paging or audit: for
/// operations' internal use, never an answer to a caller as such.
pub async fn find(
    fhir: &Fhir,
    types: &[&str],
    pairs: &[(&str, String)],
    limit: usize,
) -> FhirResult<Vec<ResourceVersion>> {
    let registry = fhir.registry.current();
    let parser = Parser { registry: &registry, base_url: &fhir.base_url, strict: true };
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let query = parser.parse(types.iter().map(|t| t.to_string()).collect(), &pairs)?;
    let (sql, columns) = fhir.planner().page(&query, limit);
    let rows = fhir.store.query(sql, &columns).await?;
    let rids: Vec<i64> = rows.iter().filter_map(|r| r.first().and_then(Cell::as_int)).collect();
    Ok(fetch_in_order(fhir, &rids).await?.into_iter().map(|(_, v)| v).collect())
}

/// Runs a parsed search: the page, totals, includes, paging links and the Bundle. `path` and
/// `pairs` are the request's, for links and for binding cursors to the query.
pub async fn execute(
    fhir: &Fhir,
    mut query: SearchQuery,
    path: &str,
    pairs: &[(String, String)],
) -> FhirResult<Response> {
    super::terminology::search_codes::resolve(fhir, &mut query).await?;
    let path = path.to_string();
    let canonical = canonical_pairs(pairs);
    let fingerprint = format!("{path}?{}", encode(&canonical));
    if let Some((_, token)) = pairs.iter().find(|(k, _)| k == "_cursor") {
        query.cursor = Some(fhir.cursors.decode(token, &fingerprint)?);
    }
    let summary = Subset::from_query(pairs)?.summary;
    let planner = fhir.planner();

    if summary == Some(Summary::Count) {
        let total = count(fhir, &planner, &query).await?;
        let links = [("self", format!("{path}?{}", encode(&canonical)))];
        return Ok(Response::bundle(Bundle { head: head(Some(total), &links), entries: Vec::new() }));
    }

    // One row more than the page tells whether another page follows.
    let (sql, columns) = planner.page(&query, query.count + 1);
    let mut rows = if query.count == 0 { Vec::new() } else { fhir.store.query(sql, &columns).await? };
    let more = rows.len() > query.count;
    rows.truncate(query.count);
    let towards = query.cursor.as_ref().map_or(Towards::Next, |c| c.towards);
    if towards == Towards::Previous {
        rows.reverse();
    }
    let rids: Vec<i64> = rows.iter().filter_map(|r| r.first().and_then(Cell::as_int)).collect();
    let matches = fetch_in_order(fhir, &rids).await?;

    let total = match query.total {
        Total::None => None,
        _ if query.cursor.is_none() && !more && query.count > 0 => Some(matches.len() as i64),
        Total::Estimate | Total::Accurate => Some(count(fhir, &planner, &query).await?),
    };

    let included = includes(fhir, &planner, &query, &matches).await?;

    // Paging links: next after the last row, previous before the first.
    let cursor_for = |row: Option<&Vec<Cell>>, towards: Towards| -> FhirResult<Option<String>> {
        let Some(row) = row else { return Ok(None) };
        let rid = row.first().and_then(Cell::as_int).unwrap_or(0);
        let keys = row.iter().skip(1).map(Key::from_cell).collect();
        fhir.cursors.encode(&Cursor { towards, keys, rid }, &fingerprint).map(Some)
    };
    let has_next = if towards == Towards::Next { more } else { true };
    let has_previous = if towards == Towards::Next { query.cursor.is_some() } else { more };
    let next = if has_next && !rows.is_empty() { cursor_for(rows.last(), Towards::Next)? } else { None };
    let previous = if has_previous && !rows.is_empty() { cursor_for(rows.first(), Towards::Previous)? } else { None };

    fhir.record_access(matches.iter().map(|(_, v)| v).chain(included.iter()));
    let mut entries: Vec<Entry> = Vec::with_capacity(matches.len() + included.len() + 1);
    for (_, v) in matches {
        entries.push(entry(fhir, v, "match"));
    }
    for v in included {
        entries.push(entry(fhir, v, "include"));
    }
    if !query.ignored.is_empty() {
        let issues: Vec<Issue> = query
            .ignored
            .iter()
            .map(|m| Issue {
                severity: Severity::Warning,
                code: IssueType::NotSupported,
                message: format!("{m}; it was ignored"),
                expression: None,
            })
            .collect();
        let mut rest = Map::new();
        rest.insert("search".into(), json!({"mode": "outcome"}));
        entries.push(Entry { full_url: None, resource: Some(EntryResource::Built(operation_outcome(&issues))), rest });
    }
    let mut links = vec![(
        "self",
        format!(
            "{path}?{}",
            encode(&with_cursor(&canonical, pairs.iter().find(|(k, _)| k == "_cursor").map(|(_, v)| v.clone())))
        ),
    )];
    if let Some(c) = next {
        links.push(("next", format!("{path}?{}", encode(&with_cursor(&canonical, Some(c))))));
    }
    if let Some(c) = previous {
        links.push(("previous", format!("{path}?{}", encode(&with_cursor(&canonical, Some(c))))));
    }
    let bundle = Bundle { head: head(total, &links), entries };
    Ok(Response::bundle(bundle))
}

fn with_cursor(canonical: &[(String, String)], cursor: Option<String>) -> Vec<(String, String)> {
    let mut pairs = canonical.to_vec();
    if let Some(c) = cursor {
        pairs.push(("_cursor".to_string(), c));
    }
    pairs
}

fn head(total: Option<i64>, links: &[(&str, String)]) -> Map<String, Value> {
    let mut head = Map::new();
    head.insert("resourceType".into(), json!("Bundle"));
    head.insert("id".into(), json!(new_id()));
    head.insert("meta".into(), json!({"lastUpdated": instant(now())}));
    head.insert("type".into(), json!("searchset"));
    if let Some(t) = total {
        head.insert("total".into(), json!(t));
    }
    head.insert(
        "link".into(),
        Value::Array(links.iter().map(|(relation, url)| json!({"relation": relation, "url": url})).collect()),
    );
    head
}

fn entry(fhir: &Fhir, v: ResourceVersion, mode: &str) -> Entry {
    let mut rest = Map::new();
    rest.insert("search".into(), json!({"mode": mode}));
    Entry { full_url: Some(fhir.resource_url(&v.resource_type, &v.id)), resource: Some(EntryResource::Stored(v)), rest }
}

async fn count(fhir: &Fhir, planner: &Planner, query: &SearchQuery) -> FhirResult<i64> {
    let rows = fhir.store.query(planner.count(query), &[Column::Int]).await?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Cell::as_int).unwrap_or(0))
}

/// Current versions in the order of `rids`, with their keys.
async fn fetch_in_order(fhir: &Fhir, rids: &[i64]) -> FhirResult<Vec<(i64, ResourceVersion)>> {
    if rids.is_empty() {
        return Ok(Vec::new());
    }
    let mut fetched: std::collections::HashMap<i64, ResourceVersion> =
        fhir.store.fetch(rids).await?.into_iter().collect();
    Ok(rids.iter().filter_map(|rid| fetched.remove(rid).map(|v| (*rid, v))).collect())
}

/// `_include` and `_revinclude` (with `:iterate`), one query per include parameter and level.
async fn includes(
    fhir: &Fhir,
    planner: &Planner,
    query: &SearchQuery,
    matches: &[(i64, ResourceVersion)],
) -> FhirResult<Vec<ResourceVersion>> {
    if (query.includes.is_empty() && query.revincludes.is_empty()) || matches.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen: HashSet<i64> = matches.iter().map(|(rid, _)| *rid).collect();
    let mut included: Vec<ResourceVersion> = Vec::new();
    // (type, id, rid) of the resources whose references the next level follows.
    let mut frontier: Vec<(String, String, i64)> =
        matches.iter().map(|(rid, v)| (v.resource_type.clone(), v.id.clone(), *rid)).collect();
    for level in 0..=MAX_ITERATIONS {
        let active = |i: &&Include| level == 0 || i.iterate;
        let mut found: Vec<i64> = Vec::new();
        for include in query.includes.iter().filter(active) {
            let sources: Vec<i64> =
                frontier.iter().filter(|(t, _, _)| *t == include.source_type).map(|(_, _, rid)| *rid).collect();
            if sources.is_empty() {
                continue;
            }
            let rows = fhir.store.query(planner.include(include, &sources, MAX_INCLUDES), &[Column::Int]).await?;
            found.extend(rows.iter().filter_map(|r| r.first().and_then(Cell::as_int)));
        }
        let targets: Vec<(String, String)> = frontier.iter().map(|(t, id, _)| (t.clone(), id.clone())).collect();
        for include in query.revincludes.iter().filter(active) {
            let rows = fhir.store.query(planner.revinclude(include, &targets, MAX_INCLUDES), &[Column::Int]).await?;
            found.extend(rows.iter().filter_map(|r| r.first().and_then(Cell::as_int)));
        }
        found.retain(|rid| !seen.contains(rid));
        found.sort_unstable();
        found.dedup();
        found.truncate(MAX_INCLUDES.saturating_sub(included.len()));
        if found.is_empty() {
            break;
        }
        frontier.clear();
        for (rid, v) in fetch_in_order(fhir, &found).await? {
            seen.insert(rid);
            // Included types need a read scope of their own (and one without a granular filter,
            // which is checked only on the searched type).
            if !fhir.grant(&v.resource_type, Interaction::Read).is_ok_and(|f| f.is_empty()) {
                continue;
            }
            frontier.push((v.resource_type.clone(), v.id.clone(), rid));
            included.push(v);
        }
    }
    Ok(included)
}

impl Response {
    pub fn bundle(bundle: Bundle) -> Response {
        Response {
            status: 200,
            body: Some(Body::Bundle(bundle)),
            location: None,
            version: None,
            last_updated: None,
            issues: Vec::new(),
        }
    }
}
