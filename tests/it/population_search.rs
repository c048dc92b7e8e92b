//! Population-level searches (no patient): a population large enough that the planner walks the
//! type (or a date index) in page order instead of letting a filter drive, and totals counted
//! only up to their bound. What is asserted is what a client sees: every match exactly once and
//! in order across all pages (forward and back), a total that is either absent or exact,
//! `_total=accurate` exact, and a confined caller's search narrowed to its reach.

use std::collections::BTreeSet;

use crate::common;

use common::{TestServer, json};
use serde_json::{Value, json};

on_both_backends_configured!(crate::common::auth_on; population_pages_and_totals);

/// Observations in the population: above the planner's walk threshold (2,000 matching index
/// rows for a page) and the total's bound (1,000).
const N: usize = 2_400;
const CODE: &str = "http://example.org/population|walk";
const PATIENTS: usize = 20;

/// The effective date (days after 2020-01-01) of observation `i`, or none for every tenth: out of
/// creation order, with ties.
fn day(i: usize) -> Option<usize> {
    (!i.is_multiple_of(10)).then_some((i * 37) % 1_000)
}

fn date(day: usize) -> String {
    let d = chrono_free_date(day);
    format!("{}-{:02}-{:02}T08:00:00Z", d.0, d.1, d.2)
}

/// 2020-01-01 plus `days`, as (year, month, day), without a date library.
fn chrono_free_date(mut days: usize) -> (usize, usize, usize) {
    let mut year: usize = 2020;
    loop {
        let length = if year.is_multiple_of(4) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let months = [31, if year.is_multiple_of(4) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= months[month] {
        days -= months[month];
        month += 1;
    }
    (year, month + 1, days + 1)
}

async fn load(s: &TestServer, token: &str) {
    let mut entries: Vec<Value> = (0..PATIENTS)
        .map(|p| {
            json!({"request": {"method": "PUT", "url": format!("Patient/p{p}")},
                "resource": {"resourceType": "Patient", "id": format!("p{p}")}})
        })
        .collect();
    for i in 0..N {
        let mut o = json!({"resourceType": "Observation", "id": format!("o{i}"),
            "status": if i.is_multiple_of(3) { "preliminary" } else { "final" },
            "code": {"coding": [{"system": "http://example.org/population", "code": "walk"}]},
            "subject": {"reference": format!("Patient/p{}", i % PATIENTS)}});
        if let Some(d) = day(i) {
            o["effectiveDateTime"] = json!(date(d));
        }
        entries.push(json!({"request": {"method": "PUT", "url": format!("Observation/o{i}")}, "resource": o}));
    }
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let r = s.post_as(token, "", Some(&bundle)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Every page of `query` (following `next` links), as (id, day) per match, and the totals seen.
async fn all_pages(s: &TestServer, token: &str, query: &str) -> (Vec<(usize, Option<usize>)>, Vec<Option<i64>>) {
    let mut url = query.to_string();
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..200 {
        let b = json(s.get_as(token, &url).await).await;
        assert_eq!(b["resourceType"], "Bundle", "{url}: {b}");
        totals.push(b["total"].as_i64());
        for e in b["entry"].as_array().into_iter().flatten().filter(|e| e["search"]["mode"] == "match") {
            seen.push(id_and_day(&e["resource"]));
        }
        match next(&b, "next") {
            Some(n) => url = n,
            None => return (seen, totals),
        }
    }
    panic!("{query}: more than 200 pages");
}

fn id_and_day(r: &Value) -> (usize, Option<usize>) {
    let id = r["id"].as_str().unwrap();
    let i: usize = id.trim_start_matches('o').parse().unwrap();
    (i, day(i))
}

/// The link `relation` of a Bundle, relative to the base.
fn next(bundle: &Value, relation: &str) -> Option<String> {
    let link = bundle["link"].as_array()?.iter().find(|l| l["relation"] == relation)?;
    let url = link["url"].as_str()?;
    Some(url.split_once("/fhir/").map_or(url, |(_, rest)| rest).to_string())
}

/// Asserts that `seen` holds every one of `expected` exactly once, in the order `key` gives
/// (ties in any order).
fn assert_all_once_in_order<K: Ord + std::fmt::Debug>(
    query: &str,
    seen: &[(usize, Option<usize>)],
    expected: &BTreeSet<usize>,
    key: impl Fn(&(usize, Option<usize>)) -> K,
) {
    let ids: Vec<usize> = seen.iter().map(|(i, _)| *i).collect();
    let unique: BTreeSet<usize> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{query}: a match came twice");
    assert_eq!(&unique, expected, "{query}: the matches");
    for pair in seen.windows(2) {
        assert!(key(&pair[0]) <= key(&pair[1]), "{query}: {:?} before {:?}", pair[0], pair[1]);
    }
}

async fn population_pages_and_totals(s: &TestServer) {
    let admin = s.admin_token().await;
    load(s, &admin).await;
    let all: BTreeSet<usize> = (0..N).collect();
    let code = format!("code={CODE}");

    // Unsorted, a broad filter: walked in key order (not visible to a client; each match once).
    let query = format!("Observation?{code}&_count=97");
    let (seen, totals) = all_pages(s, &admin, &query).await;
    assert_all_once_in_order(&query, &seen, &all, |_| ());
    assert_eq!(totals[0], None, "{query}: more than the bound matches, so no total rather than a wrong one");

    // Sorted by date, latest first, along the date index; those without a date come last.
    let query = format!("Observation?{code}&_sort=-date&_count=101");
    let (seen, _) = all_pages(s, &admin, &query).await;
    assert_all_once_in_order(&query, &seen, &all, |(_, d)| (d.is_none(), std::cmp::Reverse(*d)));

    // Earliest first; and a date range on the sorted parameter itself.
    let query = format!("Observation?{code}&_sort=date&_count=150");
    let (seen, _) = all_pages(s, &admin, &query).await;
    assert_all_once_in_order(&query, &seen, &all, |(_, d)| (d.is_none(), *d));
    let query = format!("Observation?{code}&date=ge2021-01-01&_sort=-date&_count=200");
    let (seen, totals) = all_pages(s, &admin, &query).await;
    let recent: BTreeSet<usize> = (0..N).filter(|i| day(*i).is_some_and(|d| d >= 366)).collect();
    assert!(recent.len() > 1_000, "the range matches more than the total's bound");
    assert_all_once_in_order(&query, &seen, &recent, |(_, d)| std::cmp::Reverse(*d));
    assert!(totals.iter().all(Option::is_none), "{query}: {totals:?}");

    // Totals: exact when present, `accurate` always, none with `none`.
    let b = json(s.get_as(&admin, &format!("Observation?{code}&_count=5&_total=accurate")).await).await;
    assert_eq!(b["total"], N);
    let b = json(s.get_as(&admin, &format!("Observation?{code}&_count=5&_total=estimate")).await).await;
    assert!(b.get("total").is_none(), "over the bound: {}", b["total"]);
    let b = json(s.get_as(&admin, &format!("Observation?{code}&_count=5&_total=none")).await).await;
    assert!(b.get("total").is_none());
    let preliminary = (0..N).filter(|i| i.is_multiple_of(3)).count();
    assert!(preliminary <= 1_000);
    let b = json(s.get_as(&admin, &format!("Observation?{code}&status=preliminary&_count=5")).await).await;
    assert_eq!(b["total"], preliminary, "under the bound the total is exact");
    let b = json(s.get_as(&admin, &format!("Observation?{code}&_summary=count")).await).await;
    assert_eq!(b["total"], N, "_summary=count counts every match");

    // Back from the third page of a walk: the second page again, in the same order.
    let query = format!("Observation?{code}&_sort=-date&_count=50");
    let first = json(s.get_as(&admin, &query).await).await;
    let second = json(s.get_as(&admin, &next(&first, "next").unwrap()).await).await;
    let third = json(s.get_as(&admin, &next(&second, "next").unwrap()).await).await;
    let back = json(s.get_as(&admin, &next(&third, "previous").unwrap()).await).await;
    assert_eq!(common::listed(&back, "match"), common::listed(&second, "match"));

    // A confined caller's population-level search sees its own compartment only, on every page.
    let patient = s.token(Some("Patient/p3"), None, "user/*.rs").await;
    let own: BTreeSet<usize> = (0..N).filter(|i| i % PATIENTS == 3).collect();
    for query in [format!("Observation?{code}&_count=7"), format!("Observation?{code}&_sort=-date&_count=9")] {
        let (seen, totals) = all_pages(s, &patient, &query).await;
        let ids: BTreeSet<usize> = seen.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, own, "{query}");
        assert_eq!(seen.len(), own.len(), "{query}");
        assert_eq!(totals[0], Some(own.len() as i64), "{query}: counted within the reach");
    }
}
