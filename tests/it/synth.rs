//! `ikp synth`: determinism, structural validity of every resource, identifier check digits,
//! referential integrity of NDJSON and transaction Bundles, and population counts.
//! Identifier checks are implemented here independently of the generator's own code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use ikp::outcome::Severity;
use ikp::synth::{Config, Format, Synth, SynthArgs, calendar::Day};
use serde_json::Value;

fn args(out: &Path, patients: usize, seed: u64, format: Format) -> SynthArgs {
    SynthArgs {
        patients,
        seed,
        out: out.to_path_buf(),
        format,
        start_date: Day::parse("2015-01-01").expect("date"),
        end_date: Day::parse("2025-12-31").expect("date"),
    }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        out.insert(entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).expect("read"));
    }
    out
}

fn ndjson(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, bytes) in files(dir) {
        if name.ends_with(".ndjson") {
            for line in String::from_utf8(bytes).expect("utf-8").lines() {
                out.push(serde_json::from_str(line).expect("json line"));
            }
        }
    }
    out
}

fn key(r: &Value) -> String {
    format!("{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""))
}

/// Every `reference` string in a resource.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(obj) => {
            for (k, v) in obj {
                match (k.as_str(), v) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn identifier<'a>(r: &'a Value, system: &str) -> Option<&'a str> {
    r["identifier"].as_array()?.iter().find(|i| i["system"] == system)?["value"].as_str()
}

const PESEL: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";

/// Independent PESEL check: returns (birth date, male) when format, checksum and date are valid.
fn check_pesel(p: &str) -> Option<(String, bool)> {
    let d: Vec<u32> = p.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if d.len() != 11 {
        return None;
    }
    let sum: u32 = d.iter().zip([1, 3, 7, 9, 1, 3, 7, 9, 1, 3, 1]).map(|(a, b)| a * b).sum();
    if !sum.is_multiple_of(10) {
        return None;
    }
    let (yy, mm, dd) = (d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    let (century, month) = match mm {
        81..=92 => (1800, mm - 80),
        1..=12 => (1900, mm),
        21..=32 => (2000, mm - 20),
        41..=52 => (2100, mm - 40),
        61..=72 => (2200, mm - 60),
        _ => return None,
    };
    let year = century + yy;
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
    if dd == 0 || dd > days {
        return None;
    }
    Some((format!("{year:04}-{month:02}-{dd:02}"), d[9] % 2 == 1))
}

fn weighted(digits: &str, weights: &[u32]) -> Option<(u32, u32)> {
    let d: Vec<u32> = digits.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if d.len() != weights.len() + 1 {
        return None;
    }
    Some((d.iter().zip(weights).map(|(a, b)| a * b).sum(), d[weights.len()]))
}

fn check_nip(s: &str) -> bool {
    weighted(s, &[6, 5, 7, 2, 3, 4, 5, 6, 7]).is_some_and(|(sum, c)| sum % 11 == c)
}

fn check_regon(s: &str) -> bool {
    let weights: &[u32] =
        if s.len() == 9 { &[8, 9, 2, 3, 4, 5, 6, 7] } else { &[2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8] };
    weighted(s, weights).is_some_and(|(sum, c)| sum % 11 % 10 == c)
}

fn check_npwz(s: &str) -> bool {
    let d: Option<Vec<u32>> = s.chars().map(|c| c.to_digit(10)).collect();
    match d {
        Some(d) if d.len() == 7 => {
            let sum: u32 = d[1..].iter().zip(1..).map(|(a, w)| a * w).sum();
            sum % 11 == d[0] && d[0] != 0
        }
        _ => false,
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_differ() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let c = tempfile::tempdir().expect("tmp");
    ikp::synth::run(&args(a.path(), 25, 42, Format::Both)).expect("run a");
    ikp::synth::run(&args(b.path(), 25, 42, Format::Both)).expect("run b");
    ikp::synth::run(&args(c.path(), 25, 43, Format::Both)).expect("run c");
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(fa.contains_key("Patient.ndjson") && fa.contains_key("bundle-000025.json"));
    assert!(fa.contains_key("bundle-shared.json") && fa.contains_key("summary.json"));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(fb.get(name) == Some(bytes), "{name} differs between two runs with the same seed");
    }
    assert_ne!(fa.get("Patient.ndjson"), fc.get("Patient.ndjson"), "another seed must give other patients");
    // The library API yields the same resources as the files.
    let synth = Synth::new(Config::new(25, 42));
    let mut from_api: Vec<Value> = synth.shared_resources();
    from_api.extend(synth.patients().flat_map(|r| r.resources));
    let mut from_files = ndjson(a.path());
    let sort = |v: &mut Vec<Value>| v.sort_by_key(key);
    sort(&mut from_api);
    sort(&mut from_files);
    assert_eq!(from_api, from_files);
    // And the free functions agree with Synth.
    let config = Config::new(5, 9);
    let first: Vec<Value> = ikp::synth::population(&config).flat_map(|r| r.resources).collect();
    let second: Vec<Value> = Synth::new(config).patients().flat_map(|r| r.resources).collect();
    assert_eq!(first, second);
    assert_eq!(ikp::synth::shared_resources(&config), Synth::new(config).shared_resources());
}

#[test]
fn every_resource_is_structurally_valid() {
    let model = ikp::model::r4().expect("model");
    let synth = Synth::new(Config::new(30, 7));
    let shared = synth.shared_resources();
    let records: Vec<_> = synth.patients().collect();
    let mut resources: Vec<Value> = shared.clone();
    resources.extend(records.iter().flat_map(|r| r.resources.iter().cloned()));
    // Bundles too: the shared one and a few patients'.
    resources.push(ikp::synth::transaction(7, "bundle-shared", &shared));
    for r in records.iter().take(5) {
        resources.push(ikp::synth::transaction(7, "bundle", &r.resources));
    }
    let mut problems = Vec::new();
    let mut types = HashSet::new();
    for r in &resources {
        types.insert(r["resourceType"].as_str().unwrap_or("").to_string());
        for issue in ikp::validation::structure::validate(model, r) {
            problems.push(format!("{}: {issue:?}", key(r)));
        }
    }
    assert!(problems.is_empty(), "{} issues, first: {:#?}", problems.len(), &problems[..problems.len().min(8)]);
    for t in [
        "Patient",
        "RelatedPerson",
        "Coverage",
        "Encounter",
        "Condition",
        "MedicationRequest",
        "MedicationDispense",
        "ServiceRequest",
        "DiagnosticReport",
        "Observation",
        "Immunization",
        "Procedure",
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "Specimen",
        "ImagingStudy",
        "CarePlan",
        "Goal",
    ] {
        assert!(types.contains(t), "no {t} among 30 patients");
    }
}

/// Every resource that declares a national profile passes the checks every write gets (all
/// errors listed at once), and the population has what those profiles describe: laboratory
/// reports with panels grouping their results, imaging reports and IPOM care plans.
#[test]
fn profiled_resources_conform_to_the_national_profiles() {
    let model = ikp::model::r4().expect("model");
    let profiles = ikp::validation::profiles::ProfileSet::built_in().expect("profiles");
    let codes = ikp::context::BuiltinCodes(&ikp::terminology::builtin::BUILTIN);
    let synth = Synth::new(Config::new(40, 13));
    let mut problems = Vec::new();
    let mut declared: BTreeMap<String, usize> = BTreeMap::new();
    // Each laboratory report's results, and each panel Observation's members.
    let mut reports: Vec<(String, Vec<String>)> = Vec::new();
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    let refs = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|r| r["reference"].as_str().map(str::to_string)).collect()
    };
    for r in synth.patients().flat_map(|r| r.resources) {
        let Some(urls) = r["meta"]["profile"].as_array() else { continue };
        for url in urls.iter().filter_map(Value::as_str) {
            *declared.entry(url.rsplit('/').next().unwrap_or(url).to_string()).or_default() += 1;
        }
        let findings = ikp::validation::validate(model, &profiles, &codes, &r, &[]);
        for issue in findings.all().into_iter().filter(|i| i.severity == Severity::Error) {
            problems.push(format!("{}: {} (at {:?})", key(&r), issue.message, issue.expression));
        }
        let category = r["category"][0]["coding"][0]["code"].as_str().unwrap_or("");
        let kind = match (r["resourceType"].as_str().unwrap_or(""), category) {
            ("DiagnosticReport", "LAB") => {
                reports.push((key(&r), refs(&r["result"])));
                "lab report"
            }
            ("DiagnosticReport", "RAD") => "imaging report",
            ("Observation", "laboratory") if r["hasMember"].is_array() => {
                members.insert(key(&r), refs(&r["hasMember"]));
                "panel"
            }
            ("CarePlan", "IPOM") => "care plan",
            _ => continue,
        };
        *declared.entry(kind.to_string()).or_default() += 1;
    }
    assert!(problems.is_empty(), "{} errors:\n{}", problems.len(), problems.join("\n"));
    for kind in ["lab report", "panel", "imaging report", "care plan"] {
        assert!(declared.get(kind).is_some_and(|&n| n > 0), "no {kind} among 40 patients: {declared:?}");
    }
    // A report of several results lists its panel Observation first, then exactly its members.
    for (report, results) in &reports {
        if let [panel, rest @ ..] = results.as_slice()
            && !rest.is_empty()
        {
            assert_eq!(members.get(panel), Some(&rest.to_vec()), "{report}: results {results:?}");
        }
    }
}

#[test]
fn pesels_are_valid_unique_and_match_gender_and_birth_date() {
    let synth = Synth::new(Config::new(400, 11));
    let mut seen = HashSet::new();
    let mut related = 0;
    for record in synth.patients() {
        for r in &record.resources {
            match r["resourceType"].as_str() {
                Some("Patient") => {
                    let pesel = identifier(r, PESEL).expect("PESEL");
                    let (birth, male) = check_pesel(pesel).unwrap_or_else(|| panic!("invalid PESEL {pesel}"));
                    assert_eq!(r["birthDate"], birth.as_str(), "{pesel}");
                    assert_eq!(r["gender"], if male { "male" } else { "female" }, "{pesel}");
                    assert!(seen.insert(pesel.to_string()), "duplicate PESEL {pesel}");
                    assert_eq!(ikp::validation::rules::pesel(pesel).ok().map(|p| p.birth_date), Some(birth));
                    let family = r["name"][0]["family"].as_str().unwrap_or("");
                    if !male {
                        assert!(!family.ends_with("ski") && !family.ends_with("cki"), "{family} for a woman");
                    }
                }
                Some("RelatedPerson") => {
                    related += 1;
                    let pesel = identifier(r, PESEL).expect("PESEL");
                    let (birth, male) = check_pesel(pesel).unwrap_or_else(|| panic!("invalid PESEL {pesel}"));
                    assert_eq!(r["birthDate"], birth.as_str());
                    let code = r["relationship"][0]["coding"][0]["code"].as_str().unwrap_or("");
                    assert!(matches!(code, "MTH" | "FTH" | "GUARD"), "{code}");
                    if code == "MTH" {
                        assert!(!male);
                    }
                    if code == "FTH" {
                        assert!(male);
                    }
                    assert_eq!(r["patient"]["reference"], format!("Patient/{}", record.id).as_str());
                }
                _ => {}
            }
        }
    }
    assert_eq!(seen.len(), 400);
    assert!(related > 40, "only {related} related persons for 400 patients");
}

#[test]
fn licence_and_registry_numbers_have_valid_check_digits() {
    let shared = ikp::synth::shared_resources(&Config::new(2000, 5));
    let (mut npwz, mut regon9, mut regon14, mut nip) = (0, 0, 0, 0);
    let mut licences = HashSet::new();
    for r in &shared {
        for id in r["identifier"].as_array().into_iter().flatten() {
            let value = id["value"].as_str().unwrap_or("");
            match id["system"].as_str().unwrap_or("") {
                "urn:oid:2.16.840.1.113883.3.4424.1.6.2" => {
                    assert!(check_npwz(value), "NPWZ {value}");
                    assert!(licences.insert(value.to_string()), "duplicate NPWZ {value}");
                    npwz += 1;
                }
                "urn:oid:2.16.840.1.113883.3.4424.1.6.3" => {
                    assert!(value.len() == 8 && (value.ends_with('P') || value.ends_with('A')), "{value}")
                }
                "urn:oid:2.16.840.1.113883.3.4424.2.2.1" => {
                    assert!(value.len() == 9 && check_regon(value), "REGON {value}");
                    regon9 += 1;
                }
                "urn:oid:2.16.840.1.113883.3.4424.2.2.2" => {
                    assert!(value.len() == 14 && check_regon(value), "REGON-14 {value}");
                    regon14 += 1;
                }
                "urn:oid:2.16.840.1.113883.3.4424.2.1" => {
                    assert!(value.len() == 10 && check_nip(value), "NIP {value}");
                    nip += 1;
                }
                _ => {}
            }
        }
    }
    assert!(npwz > 10 && regon9 >= 10 && regon14 >= 10 && nip >= 10, "{npwz} {regon9} {regon14} {nip}");
    // The library's validators agree with these (published examples).
    assert!(ikp::synth::identifiers::nip_valid("5260250274"));
    assert!(ikp::synth::identifiers::regon_valid("123456785"));
    assert!(ikp::synth::identifiers::npwz_valid("5425740"));
}

#[test]
fn ndjson_references_all_resolve() {
    let dir = tempfile::tempdir().expect("tmp");
    ikp::synth::run(&args(dir.path(), 60, 3, Format::Ndjson)).expect("run");
    let all = ndjson(dir.path());
    let keys: HashSet<String> = all.iter().map(key).collect();
    assert_eq!(keys.len(), all.len(), "ids are unique");
    let mut dangling = Vec::new();
    for r in &all {
        let mut refs = Vec::new();
        references(r, &mut refs);
        for reference in refs {
            if !keys.contains(&reference) {
                dangling.push(format!("{} -> {reference}", key(r)));
            }
        }
        // Every clinical resource names its patient.
        let kind = r["resourceType"].as_str().unwrap_or("");
        let patient = match kind {
            "Immunization" | "AllergyIntolerance" | "RelatedPerson" => r["patient"]["reference"].as_str(),
            "Coverage" => r["beneficiary"]["reference"].as_str(),
            "Encounter" | "Condition" | "MedicationRequest" | "MedicationDispense" | "ServiceRequest"
            | "DiagnosticReport" | "Observation" | "Procedure" | "DocumentReference" | "Specimen" | "ImagingStudy"
            | "CarePlan" | "Goal" => r["subject"]["reference"].as_str(),
            _ => Some("Patient/"),
        };
        assert!(patient.is_some_and(|p| p.starts_with("Patient/")), "{} has no patient", key(r));
    }
    assert!(dangling.is_empty(), "{} dangling, first: {:?}", dangling.len(), &dangling[..dangling.len().min(8)]);
    // summary.json counts what was written.
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).expect("summary")).expect("json");
    assert_eq!(summary["total"].as_u64(), Some(all.len() as u64));
    assert_eq!(summary["resources"]["Patient"].as_u64(), Some(60));
}

#[test]
fn bundles_are_idempotent_transactions_with_rewritten_references() {
    let dir = tempfile::tempdir().expect("tmp");
    ikp::synth::run(&args(dir.path(), 40, 8, Format::Bundles)).expect("run");
    let all = files(dir.path());
    assert!(!all.keys().any(|k| k.ends_with(".ndjson")), "bundles format writes no NDJSON");
    let read = |name: &str| -> Value { serde_json::from_slice(&all[name]).expect("bundle json") };
    let shared = read("bundle-shared.json");
    let shared_keys: HashSet<String> =
        shared["entry"].as_array().expect("entries").iter().map(|e| key(&e["resource"])).collect();
    let mut related = 0;
    for n in 1..=40 {
        let bundle = read(&format!("bundle-{n:06}.json"));
        assert_eq!(bundle["type"], "transaction");
        let entries = bundle["entry"].as_array().expect("entries");
        let mut urls = HashSet::new();
        let mut local_keys = HashMap::new();
        for e in entries {
            let url = e["fullUrl"].as_str().expect("fullUrl");
            assert!(url.starts_with("urn:uuid:") && url.len() == 45, "{url}");
            assert!(urls.insert(url.to_string()), "duplicate fullUrl {url}");
            assert_eq!(e["request"]["method"], "PUT");
            assert_eq!(e["request"]["url"], key(&e["resource"]).as_str());
            local_keys.insert(key(&e["resource"]), url.to_string());
        }
        assert_eq!(entries[0]["resource"]["id"], format!("pat-{n:06}").as_str());
        for e in entries {
            let mut refs = Vec::new();
            references(&e["resource"], &mut refs);
            for r in refs {
                if r.starts_with("urn:uuid:") {
                    assert!(urls.contains(&r), "bundle {n}: {r} is not an entry");
                } else {
                    assert!(shared_keys.contains(&r), "bundle {n}: {r} is neither in the bundle nor shared");
                    assert!(!local_keys.contains_key(&r), "bundle {n}: {r} was not rewritten");
                }
            }
            if e["resource"]["resourceType"] == "RelatedPerson" {
                related += 1;
                assert_eq!(e["resource"]["patient"]["reference"], entries[0]["fullUrl"]);
            }
        }
    }
    assert!(related > 0, "children's bundles carry their parents");
    // The files hold exactly what the library's `transaction` builds.
    let synth = Synth::new(Config::new(40, 8));
    assert_eq!(read("bundle-shared.json"), ikp::synth::transaction(8, "bundle-shared", &synth.shared_resources()));
    for record in synth.patients().take(5) {
        let id = format!("bundle-{:06}", record.number);
        assert_eq!(read(&format!("{id}.json")), ikp::synth::transaction(8, &id, &record.resources));
    }
}

#[test]
fn population_counts_are_in_range() {
    let config = Config::new(300, 21);
    let synth = Synth::new(config);
    let shared = synth.shared_resources();
    let count = |kind: &str| shared.iter().filter(|r| r["resourceType"] == kind).count();
    assert_eq!(count("Practitioner"), count("PractitionerRole"));
    assert!((12..=30).contains(&count("Practitioner")), "{} practitioners", count("Practitioner"));
    let organisations = count("Organization") - 16;
    assert!((6..=8).contains(&organisations), "{organisations} facilities");
    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    let (mut total, mut children, mut children_with_carers) = (0, 0, 0);
    let mut young_old = (0usize, 0usize, 0usize, 0usize);
    let end = Day::parse("2025-12-31").expect("date");
    for record in synth.patients() {
        total += record.resources.len();
        let patient = &record.resources[0];
        let birth = Day::parse(patient["birthDate"].as_str().unwrap_or("")).expect("birthDate");
        let age = birth.age_on(end);
        if age < 18 {
            children += 1;
            if record.resources.iter().any(|r| r["resourceType"] == "RelatedPerson") {
                children_with_carers += 1;
            }
        }
        if (30..50).contains(&age) {
            young_old.0 += record.resources.len();
            young_old.1 += 1;
        }
        if age >= 70 {
            young_old.2 += record.resources.len();
            young_old.3 += 1;
        }
        for r in &record.resources {
            *per_type.entry(r["resourceType"].as_str().unwrap_or("").to_string()).or_default() += 1;
            // Nothing happens after the reference date or before the start date.
            if r["resourceType"] == "Encounter" {
                let start = r["period"]["start"].as_str().unwrap_or("");
                assert!(("2015-01-01"..="2025-12-31T99").contains(&start), "{start}");
            }
            for field in [
                "effectiveDateTime",
                "issued",
                "authoredOn",
                "occurrenceDateTime",
                "whenHandedOver",
                "performedDateTime",
                "recordedDate",
                "date",
                "onsetDateTime",
                "abatementDateTime",
            ] {
                let planned = r["resourceType"] == "ServiceRequest" && r["status"] == "active";
                if let Some(when) = r[field].as_str().filter(|_| !planned) {
                    assert!(&when[..10] <= "2025-12-31", "{}.{field} = {when}", key(r));
                }
            }
            // A care plan's period is planned: a year from the visit that wrote it.
            if let Some(end) = r["period"]["end"].as_str().filter(|_| r["resourceType"] != "CarePlan") {
                assert!(&end[..10] <= "2025-12-31", "{}.period.end = {end}", key(r));
            }
        }
    }
    let mean = total as f64 / 300.0;
    assert!((40.0..=120.0).contains(&mean), "{mean:.1} resources per patient; {per_type:?}");
    assert_eq!(children, children_with_carers, "every child has a parent or guardian");
    assert!(children > 30, "{children} children");
    let (middle, elderly) = (young_old.0 as f64 / young_old.1 as f64, young_old.2 as f64 / young_old.3 as f64);
    assert!(elderly > middle, "older patients have more history ({elderly:.0} vs {middle:.0})");
    for kind in ["Encounter", "Observation", "MedicationRequest", "Immunization", "Condition"] {
        assert!(per_type.get(kind).copied().unwrap_or(0) > 300, "{kind}: {per_type:?}");
    }
    assert!(per_type.get("MedicationDispense") > Some(&(per_type["MedicationRequest"] / 2)));
    assert!(per_type.contains_key("DocumentReference") && per_type.contains_key("AllergyIntolerance"));
}
