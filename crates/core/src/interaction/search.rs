//! search: type (`GET|POST [base]/[type]`), system (`[base]?_type=...`) and compartment
//! (`[base]/Patient/[id]/[type]`) search, with includes, sorting, totals and cursor paging.

use serde_json::{Map, Value, json};

use super::bundle::{Bundle, Entry, EntryResource};
use super::{Body, Response};
use crate::access::scopes::Interaction;
use crate::clock::{instant, now};
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::format::subset::{Subset, Summary};
use crate::outcome::{Issue, IssueType, Severity, operation_outcome};
use crate::search::cursor::{Cursor, Key, Towards};
use crate::search::parse::Parser;
use crate::search::query::{SearchQuery, Total};
use crate::search::run::Hit;
use crate::session::Session;
use crate::session::prepare::new_id;
use crate::store::ResourceVersion;

/// Most matches counted for a Bundle's total unless `_total=accurate` asks for all: counting
/// stops here, so a total costs at most this many matches however many there are.
pub const TOTAL_BOUND: usize = 1000;

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

/// The query `GET [base]/[type]?pairs` runs: parsed, with the caller's granular scope filters.
/// Operations that search a type on the caller's behalf (`$lastn`) start from it.
pub fn type_query(
    session: &Session,
    resource_type: &str,
    pairs: &[(String, String)],
    strict: bool,
) -> FhirResult<SearchQuery> {
    session.check_type(resource_type)?;
    let granted = session.grant(resource_type, Interaction::Search)?;
    let registry = session.registry.current();
    let parser = Parser { registry: &registry, base_url: &session.base_url, strict, limits: &session.limits };
    let mut query = parser.parse(vec![resource_type.to_string()], pairs)?;
    query.filters.extend(granted);
    Ok(query)
}

pub async fn search(session: &Session, scope: Scope, pairs: &[(String, String)], strict: bool) -> FhirResult<Response> {
    let registry = session.registry.current();
    let (types, compartment, path, granted) = match &scope {
        Scope::Type(t) => {
            let query = type_query(session, t, pairs, strict)?;
            let path = format!("{}/{t}", session.base_url);
            return execute(session, query, &path, pairs, PageShape::Search).await;
        }
        Scope::System => {
            let types: Vec<String> = pairs
                .iter()
                .filter(|(k, _)| k == "_type")
                .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string))
                .collect();
            for t in &types {
                session.check_type(t)?;
            }
            session.grant_types(&types, Interaction::Search)?;
            (types, None, session.base_url.clone(), Vec::new())
        }
        Scope::Compartment { compartment_type, compartment_id, resource_type } => {
            session.check_type(compartment_type)?;
            session.check_type(resource_type)?;
            if !crate::search::registry::COMPARTMENTS.contains(&compartment_type.as_str()) {
                return Err(FhirError::NotFound(format!("the {compartment_type} compartment")));
            }
            // A compartment the caller may not see does not exist for them.
            if session.reach().is_some_and(|r| {
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
                format!("{}/{compartment_type}/{compartment_id}/{resource_type}", session.base_url),
                session.grant(resource_type, Interaction::Search)?,
            )
        }
    };
    let parser = Parser { registry: &registry, base_url: &session.base_url, strict, limits: &session.limits };
    let mut query = parser.parse(types, pairs)?;
    query.compartment = compartment;
    query.filters.extend(granted);
    execute(session, query, &path, pairs, PageShape::Search).await
}

/// How a page is put together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageShape {
    /// A search: `_count` matches, and whatever they include besides.
    Search,
    /// `$everything`: at most `_count` resources in all, and nothing included that is itself
    /// one of the searched types (those come as matches on their own page, once, and a
    /// referenced resource of such a type outside the record does not belong in it).
    Everything,
}

/// Runs a parsed search: the page, totals, includes, paging links and the Bundle. `path` and
/// `pairs` are the request's, for links and for binding cursors to the query.
pub async fn execute(
    session: &Session,
    mut query: SearchQuery,
    path: &str,
    pairs: &[(String, String)],
    shape: PageShape,
) -> FhirResult<Response> {
    super::terminology_operations::search_codes::resolve(session, &mut query).await?;
    let path = path.to_string();
    let canonical = canonical_pairs(pairs);
    let fingerprint = format!("{path}?{}", encode(&canonical));
    if let Some((_, token)) = pairs.iter().find(|(k, _)| k == "_cursor") {
        query.cursor = Some(session.cursors.decode(token, &fingerprint)?);
    }
    let summary = Subset::from_query(pairs)?.summary;

    if summary == Some(Summary::Count) {
        let total = session.count(&query).await?;
        let links = [("self", format!("{path}?{}", encode(&canonical)))];
        return Ok(Response::bundle(Bundle { head: head(Some(total), &links), entries: Vec::new() }));
    }

    let page = session.page(&query, query.count).await?;
    let more = page.more;
    let mut matches = page.hits;
    let towards = query.cursor.as_ref().map_or(Towards::Next, |c| c.towards);
    if towards == Towards::Previous {
        matches.reverse();
    }

    // Bundle.total is never a guess: a complete first page is its own total; `_total=accurate`
    // counts every match; otherwise (`estimate`, the default) matches are counted up to
    // TOTAL_BOUND, and past it the Bundle says nothing rather than a number it cannot back.
    let total = match query.total {
        Total::None => None,
        _ if query.cursor.is_none() && !more && query.count > 0 => Some(matches.len() as i64),
        Total::Accurate => Some(session.count(&query).await?),
        Total::Estimate => session.count_up_to(&query, TOTAL_BOUND).await?,
    };

    let (included, trimmed) = match shape {
        PageShape::Search => (session.includes(&query, &matches).await?, false),
        PageShape::Everything => everything_page(session, &query, &mut matches, towards).await?,
    };

    // Paging links: next after the last row, previous before the first.
    let cursor_for = |hit: Option<&Hit>, towards: Towards| -> FhirResult<Option<String>> {
        let Some(hit) = hit else { return Ok(None) };
        let rid = hit.rid();
        let keys = hit.keys.iter().skip(1).map(Key::from_cell).collect();
        session.cursors.encode(&Cursor { towards, keys, rid }, &fingerprint).map(Some).map_err(Into::into)
    };
    let has_next = if towards == Towards::Next { more || trimmed } else { true };
    let has_previous = if towards == Towards::Next { query.cursor.is_some() } else { more || trimmed };
    let next = if has_next { cursor_for(matches.last(), Towards::Next)? } else { None };
    let previous = if has_previous { cursor_for(matches.first(), Towards::Previous)? } else { None };

    let mut entries: Vec<Entry> = Vec::with_capacity(matches.len() + included.len() + 1);
    for hit in matches {
        entries.push(entry(session, hit.version, "match"));
    }
    for v in included {
        entries.push(entry(session, v, "include"));
    }
    entries.extend(outcome_entry(&ignored_issues(&query)));
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

/// The includes of an `$everything` page, and the page's matches cut so that matches and
/// includes together stay within `_count` (`true` when some were cut: they start the next page).
/// Cutting matches can only shrink what they include, so a few rounds settle it.
async fn everything_page(
    session: &Session,
    query: &SearchQuery,
    matches: &mut Vec<Hit>,
    towards: Towards,
) -> FhirResult<(Vec<ResourceVersion>, bool)> {
    let mut trimmed = false;
    loop {
        let mut included = session.includes(query, matches).await?;
        included.retain(|v| !query.resource_types.contains(&v.resource_type));
        let room = query.count.saturating_sub(included.len()).max(1);
        if matches.len() + included.len() <= query.count || matches.len() <= room {
            return Ok((included, trimmed));
        }
        // The matches nearest the cursor stay: the first ones going forward, the last going back.
        match towards {
            Towards::Next => matches.truncate(room),
            Towards::Previous => {
                matches.drain(..matches.len() - room);
            }
        }
        trimmed = true;
    }
}

/// Warnings for the parameters a lenient search ignored.
fn ignored_issues(query: &SearchQuery) -> Vec<Issue> {
    query
        .ignored
        .iter()
        .map(|m| Issue {
            severity: Severity::Warning,
            code: IssueType::NotSupported,
            message: format!("{m}; it was ignored"),
            expression: None,
        })
        .collect()
}

/// The `search.mode = outcome` entry that carries `issues` (none when there are none).
fn outcome_entry(issues: &[Issue]) -> Option<Entry> {
    if issues.is_empty() {
        return None;
    }
    let mut rest = Map::new();
    rest.insert("search".into(), json!({"mode": "outcome"}));
    Some(Entry { full_url: None, resource: Some(EntryResource::Built(operation_outcome(issues))), rest })
}

/// A searchset of a result an operation computed whole (no paging): `matches` with their
/// total, what the query ignored and `issues` (warnings about the result) as the outcome entry;
/// `path` and `pairs` are the request's, for the self link.
pub fn computed_searchset(
    session: &Session,
    query: &SearchQuery,
    (path, pairs): (&str, &[(String, String)]),
    matches: Vec<ResourceVersion>,
    mut issues: Vec<Issue>,
) -> Response {
    let self_link = format!("{path}?{}", encode(&canonical_pairs(pairs)));
    let total = matches.len() as i64;
    let mut entries: Vec<Entry> = matches.into_iter().map(|v| entry(session, v, "match")).collect();
    issues.extend(ignored_issues(query));
    entries.extend(outcome_entry(&issues));
    Response::bundle(Bundle { head: head(Some(total), &[("self", self_link)]), entries })
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
