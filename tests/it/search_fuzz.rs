//! Random searches over HTTP, on both backends: every R4 search parameter of a few types, with
//! random modifiers, prefixes and values built from the classes that broke servers before
//! (escapes, separators, huge and odd numbers, impossible dates, long and non-ASCII text). No
//! answer may be a 5xx, and each comes within a bound. The seed is fixed so a failure repeats;
//! `IKP_FUZZ_CASES` runs more, `IKP_FUZZ_SEED` other ones.

use crate::common;

use std::time::{Duration, Instant};

use common::TestServer;
use common::rng::{Rng, cases};
use serde_json::json;

on_both_backends!(random_searches_never_fail_the_server);

const TYPES: &[&str] = &["Patient", "Observation", "MedicationRequest", "Encounter", "Condition", "Consent"];
const MODIFIERS: &[&str] = &[
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    ":missing",
    ":exact",
    ":contains",
    ":not",
    ":text",
    ":in",
    ":not-in",
    ":above",
    ":below",
    ":identifier",
    ":of-type",
    ":Patient",
    ":iterate",
    ":bogus",
];
const PREFIXES: &[&str] = &["", "", "", "", "", "", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap", "zz"];
const ATOMS: &[&str] = &[
    "1",
    "0",
    "-0",
    "1.50",
    "1e2",
    "1E-2",
    "1e999",
    "-1e999",
    "99999999999999999999999999999",
    "NaN",
    "Infinity",
    "2020",
    "2020-02",
    "2020-02-29",
    "2021-02-29",
    "2020-13-01",
    "0000",
    "9999-12-31T23:59:59+14:00",
    "2020-01-01T25:00:00Z",
    "2020-01-01T10:00",
    "http://loinc.org",
    "urn:sys",
    "Patient/x",
    "Patient/",
    "x|y|z",
    "a\\,b",
    "a\\|b",
    "a\\$b",
    "\\\\",
    "$",
    "|",
    ",",
    ",,",
    "Łukasz",
    "żółć",
    "漢字",
    "🙂",
    "%",
    "'",
    "\"",
    ";",
    "--",
    "*",
    "_",
    "Observation/1/_history/2",
    "http://x/fhir/Patient/1",
    "1|http://unitsofmeasure.org|mg",
    "1||mg",
    "10|urn:x|",
    "52.2:21.0:10:km",
    "true",
    "false",
    "",
];

fn value(rng: &mut Rng) -> String {
    let parts = if rng.below(3) == 0 { 2 + rng.below(2) } else { 1 };
    let mut out = rng.pick(PREFIXES).to_string();
    for k in 0..parts {
        if k > 0 {
            out.push_str(rng.pick(&["", "|", ",", "$", ":", "\\,"]));
        }
        out.push_str(rng.pick(ATOMS));
    }
    if rng.below(20) == 0 {
        out = out.repeat(1 + rng.below(40));
    }
    out
}

async fn random_searches_never_fail_the_server(s: &TestServer) {
    s.create(&json!({"resourceType": "Patient", "name": [{"family": "Kowalska", "given": ["Anna"]}],
        "birthDate": "1980-02-29", "identifier": [{"system": "urn:sys", "value": "1"}]}))
        .await;
    let model = ikp::model::r4().expect("model");
    let registry = ikp::search::registry::Registry::build(model, &[]).expect("registry");
    let cases = cases(300);
    let mut rng = Rng::from_env(0x1CE5_EED5);
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for case in 0..cases {
        let resource_type = rng.pick(TYPES);
        let params = registry.params(resource_type);
        let mut pairs = Vec::new();
        for _ in 0..1 + rng.below(2) {
            let code = if rng.below(8) == 0 {
                rng.pick(&["_sort", "_count", "_include", "_has:Observation:subject:code", "subject.name", "_total"])
                    .to_string()
            } else {
                params[rng.below(params.len())].code.clone()
            };
            pairs.push((format!("{code}{}", rng.pick(MODIFIERS)), value(&mut rng)));
        }
        let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let url = format!("{resource_type}?{query}");
        let started = Instant::now();
        let response = s
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {case} [{}] {url}: {e}", s.backend));
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        *answered.entry(status).or_default() += 1;
        assert!(status < 500, "case {case} [{}] {url} answered {status}: {body}", s.backend);
        assert!(started.elapsed() < Duration::from_secs(10), "case {case} [{}] {url} was slow", s.backend);
    }
    // The generator must reach the database, not only the parser's refusals.
    let searched = answered.get(&200).copied().unwrap_or(0);
    assert!(searched * 5 >= cases, "only {searched} of {cases} searches ran: {answered:?}");
    eprintln!("[{}] answers by status: {answered:?}", s.backend);
}
