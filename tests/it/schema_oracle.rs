//! The official R4 JSON schema (`tests/fixtures/fhir.schema.json.gz`, from the FHIR R4
//! definitions) as a test oracle for the validator. Whatever the schema rejects, the validator
//! (`ikp::validation::validate` against the base definitions, no national profiles) must reject
//! too, for: the official examples, a synthetic population, and a few thousand seeded random
//! mutations of both. The schema is checked per resource type (`#/definitions/Patient`, ...),
//! which is far cheaper than its `oneOf` over every type.
//!
//! The other direction is informative only: the validator knows more than the schema (choice
//! exclusivity, real dates, FHIR's integer and decimal lexical forms, the `_element` companions,
//! business rules), so resources only it rejects are counted and printed, not failed.
//!
//! This oracle would have caught the missing required-binding checks: the schema's `enum` for
//! `Patient.gender` refuses "robot" (see `a_code_outside_a_required_binding_is_caught`).

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Instant;

use ikp::outcome::Severity;
use ikp::validation::profile::NoCodes;
use ikp::validation::profiles::ProfileSet;
use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value, json};

/// Where the schema refuses what R4 allows; each entry is one documented difference.
struct KnownDifference {
    reason: &'static str,
    /// Given the value the schema refused, why, and where (a JSON pointer).
    applies: fn(&Value, &ValidationErrorKind, &str) -> bool,
}

const SCHEMA_FALSE_REJECTIONS: &[KnownDifference] = &[
    KnownDifference {
        reason: "JSON null stands for an absent item in a primitive array whose `_` companion has an \
                 entry at the same position (R4 JSON representation); the schema types every item",
        applies: |value, kind, at| {
            value.is_null()
                && kind.keyword() == "type"
                && at.rsplit('/').next().is_some_and(|i| i.parse::<usize>().is_ok())
        },
    },
    KnownDifference {
        reason: "the schema's regexes read \\s and \\S with Unicode whitespace (ECMAScript), so a \
                 no-break space makes a string invalid; the specification's regexes mean ASCII \
                 whitespace (as its Java reference validator reads them, and official examples such \
                 as DiagnosticReport-gingival-mass contain U+00A0)",
        applies: |value, kind, _| match (value.as_str(), kind) {
            (Some(text), ValidationErrorKind::Pattern { pattern }) if text.chars().any(unicode_space) => {
                let ascii: String = text.chars().map(|c| if unicode_space(c) { 'x' } else { c }).collect();
                regex::Regex::new(pattern).is_ok_and(|r| r.is_match(&ascii))
            }
            _ => false,
        },
    },
    KnownDifference {
        reason: "Expression.language is bound extensible in R4 (any media type of an expression \
                 language may be used), the schema makes its value set an enum",
        applies: |_, kind, _| {
            matches!(kind, ValidationErrorKind::Enum { options }
                if options.as_array().is_some_and(|o| o.iter().any(|v| v == "text/cql")))
        },
    },
];

/// Whitespace beyond ASCII's.
fn unicode_space(c: char) -> bool {
    c.is_whitespace() && !c.is_ascii()
}

/// The schema's own id (its `id`), under which it is registered.
const SCHEMA_ID: &str = "http://hl7.org/fhir/json-schema/4.0";

struct Oracle {
    /// Dispatches on `resourceType` to that type's definition (the schema's own `discriminator`,
    /// which JSON Schema validators do not read, as `if`/`then` branches): compiled once.
    validator: jsonschema::Validator,
    model: &'static ikp::model::Model,
    profiles: ProfileSet,
}

impl Oracle {
    fn new() -> Oracle {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fhir.schema.json.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).expect("schema fixture"))
            .read_to_string(&mut text)
            .expect("gunzip");
        let schema: Value = serde_json::from_str(&text).expect("schema json");
        let types: Vec<String> =
            schema["discriminator"]["mapping"].as_object().expect("discriminator").keys().cloned().collect();
        let registry = jsonschema::Registry::new()
            .draft(jsonschema::Draft::Draft6)
            .add(SCHEMA_ID, schema)
            .and_then(|r| r.prepare())
            .expect("schema registry");
        let branches: Vec<Value> = types
            .into_iter()
            .map(|t| {
                json!({"if": {"properties": {"resourceType": {"const": t}}},
                    "then": {"$ref": format!("{SCHEMA_ID}#/definitions/{t}")}})
            })
            .collect();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .with_registry(&registry)
            .build(&json!({"required": ["resourceType"], "allOf": branches}))
            .expect("schema");
        Oracle { validator, model: ikp::model::r4().expect("model"), profiles: ProfileSet::default() }
    }

    /// The schema's complaints as `path: message`, and the known false rejections it made.
    fn schema_errors(&self, resource: &Value) -> (Vec<String>, Vec<&'static str>) {
        let (mut errors, mut excused) = (Vec::new(), Vec::new());
        for e in self.validator.iter_errors(resource) {
            let at = e.instance_path().to_string();
            match SCHEMA_FALSE_REJECTIONS.iter().find(|k| (k.applies)(e.instance(), e.kind(), &at)) {
                Some(known) => excused.push(known.reason),
                None => errors.push(format!("{}: {e}", e.instance_path())),
            }
        }
        (errors, excused)
    }

    /// The validator's errors.
    fn our_errors(&self, resource: &Value) -> Vec<String> {
        ikp::validation::validate(self.model, &self.profiles, &NoCodes, resource, &[])
            .all()
            .into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| format!("{}: {}", i.expression.unwrap_or_default(), i.message))
            .collect()
    }
}

/// How the two judged a set of resources.
#[derive(Default)]
struct Tally {
    checked: usize,
    /// The schema rejects, the validator accepts: failures.
    missed: Vec<String>,
    /// The validator rejects, the schema accepts: by the validator's first message's shape.
    stricter: BTreeMap<String, usize>,
    /// Both reject.
    agreed: usize,
    /// Schema errors put down to a known false rejection, by reason.
    excused: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn judge(&mut self, oracle: &Oracle, name: &str, resource: &Value) {
        self.checked += 1;
        let ours = oracle.our_errors(resource);
        let (schema, excused) = oracle.schema_errors(resource);
        for reason in excused {
            *self.excused.entry(reason).or_default() += 1;
        }
        if ours.is_empty() && !schema.is_empty() {
            self.missed.push(format!("{name}: the schema says {}", schema.join("; ")));
        } else if !ours.is_empty() && schema.is_empty() {
            *self.stricter.entry(shape(&ours[0])).or_default() += 1;
        } else if !ours.is_empty() {
            self.agreed += 1;
        }
    }

    fn report(&self, what: &str) {
        let stricter: usize = self.stricter.values().sum();
        println!(
            "{what}: {} checked, {} rejected by both, {} missed, {stricter} rejected by the validator only",
            self.checked,
            self.agreed,
            self.missed.len()
        );
        for (shape, n) in &self.stricter {
            println!("  {n:5} × {shape}");
        }
        for (reason, n) in &self.excused {
            println!("  {n:5} schema errors excused: {}", reason.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        let shown: Vec<&String> = self.missed.iter().take(20).collect();
        assert!(self.missed.is_empty(), "{what}: the schema rejects, the validator accepts:\n{shown:#?}");
    }
}

/// A message without its location and quoted values: groups the summary.
fn shape(message: &str) -> String {
    let text = message.split_once(": ").map_or(message, |(_, m)| m);
    let mut out = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '\'' {
            quoted = !quoted;
            out.push_str(if quoted { "'…" } else { "'" });
        } else if !quoted {
            out.push(c);
        }
    }
    out.chars().take(90).collect()
}

fn official_examples() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/r4-examples");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn synthetic_population() -> Vec<(String, Value)> {
    let config = ikp::synth::Config::new(12, 7);
    let shared = ikp::synth::shared_resources(&config);
    let patients = ikp::synth::population(&config).flat_map(|record| record.resources);
    shared
        .into_iter()
        .chain(patients)
        .map(|r| {
            (format!("synth {}/{}", r["resourceType"].as_str().unwrap_or("?"), r["id"].as_str().unwrap_or("?")), r)
        })
        .collect()
}

#[test]
fn the_schema_rejects_nothing_the_validator_accepts() {
    let started = Instant::now();
    let oracle = Oracle::new();
    println!("schema compiled in {:?}", started.elapsed());
    let examples = official_examples();
    assert_eq!(examples.len(), 701);
    let mut tally = Tally::default();
    for (name, resource) in &examples {
        tally.judge(&oracle, name, resource);
    }
    tally.report("official examples");
    let population = synthetic_population();
    let mut tally = Tally::default();
    for (name, resource) in &population {
        tally.judge(&oracle, name, resource);
    }
    tally.report("synthetic population");

    // Seeded mutations of the resources both accept.
    let pool: Vec<&(String, Value)> = examples
        .iter()
        .chain(&population)
        .filter(|(_, r)| json_size(r) < 20_000 && oracle.our_errors(r).is_empty())
        .collect();
    let mut rng = Rng(0x5EED_F41E);
    let mut tally = Tally::default();
    for round in 0..MUTATIONS {
        let (name, original) = pool[rng.below(pool.len())];
        let mut resource = original.clone();
        let what = mutate(&mut resource, &mut rng);
        tally.judge(&oracle, &format!("mutation {round} of {name} ({what})"), &resource);
    }
    tally.report("mutations");
    println!("schema oracle: {:?}", started.elapsed());
}

/// The gap this oracle was written for: a code outside a required binding.
#[test]
fn a_code_outside_a_required_binding_is_caught() {
    let oracle = Oracle::new();
    let robot = json!({"resourceType": "Patient", "gender": "robot"});
    assert!(!oracle.schema_errors(&robot).0.is_empty());
    let mut tally = Tally::default();
    tally.judge(&oracle, "gender robot", &robot);
    assert!(tally.missed.is_empty(), "{:?}", tally.missed);
    let status = json!({"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}});
    assert!(!oracle.schema_errors(&status).0.is_empty());
    assert!(!oracle.our_errors(&status).is_empty());
}

/// Each known false rejection is real: valid R4 that the schema refuses, excused by its entry
/// and by nothing broader.
#[test]
fn each_known_false_rejection_is_real() {
    let oracle = Oracle::new();
    let cases = [
        json!({"resourceType": "Patient", "name": [{"given": ["Jo", null],
            "_given": [null, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}]}]}),
        json!({"resourceType": "Patient", "name": [{"text": "Jo\u{a0}Smith"}]}),
        json!({"resourceType": "PlanDefinition", "status": "draft", "action": [{"condition": [{"kind": "applicability",
            "expression": {"language": "text/x-other", "expression": "true"}}]}]}),
    ];
    for (case, known) in cases.iter().zip(SCHEMA_FALSE_REJECTIONS) {
        assert_eq!(oracle.our_errors(case), Vec::<String>::new(), "{case}");
        let (errors, excused) = oracle.schema_errors(case);
        assert_eq!((errors, excused), (vec![], vec![known.reason]), "{case}");
    }
    assert_eq!(cases.len(), SCHEMA_FALSE_REJECTIONS.len());
    // Not excused: a null outside an array, ASCII whitespace the pattern refuses, another enum.
    for wrong in [
        json!({"resourceType": "Patient", "gender": null}),
        json!({"resourceType": "Patient", "name": [{"text": "Jo\u{b}x"}]}),
        json!({"resourceType": "Patient", "gender": "robot"}),
    ] {
        assert!(!oracle.schema_errors(&wrong).0.is_empty(), "{wrong}");
    }
}

const MUTATIONS: usize = 3000;

fn json_size(v: &Value) -> usize {
    match v {
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + json_size(v)).sum::<usize>() + 2,
        Value::Array(a) => a.iter().map(json_size).sum::<usize>() + 2,
        Value::String(s) => s.len() + 2,
        _ => 4,
    }
}

/// xorshift64*: a seeded stream, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn text(&mut self) -> String {
        const PIECES: &[&str] =
            &["a", "Z", "7", "-", ".", " ", "  ", "\t", "ż", "ó", "€", "_", "/", ":", "x y", "robot", "0", "\u{1F600}"];
        let n = 1 + self.below(6);
        (0..n).map(|_| *self.pick(PIECES)).collect()
    }
}

/// JSON pointers of every value below the root, except the root's `resourceType`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                if at.is_empty() && k == "resourceType" {
                    continue;
                }
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(here.clone());
                pointers(v, here, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let here = format!("{at}/{i}");
                out.push(here.clone());
                pointers(v, here, out);
            }
        }
        _ => {}
    }
}

/// Applies one random change and says what it was.
fn mutate(resource: &mut Value, rng: &mut Rng) -> String {
    let mut all = Vec::new();
    pointers(resource, String::new(), &mut all);
    if all.is_empty() {
        return "nothing".into();
    }
    let kind = rng.below(10);
    // Half the random strings go to code-like values (short, no spaces): codes and enums.
    let code_like: Vec<&String> = all
        .iter()
        .filter(|p| resource.pointer(p).and_then(Value::as_str).is_some_and(|s| s.len() < 40 && !s.contains(' ')))
        .collect();
    let at = match code_like.is_empty() {
        false if kind == 9 => (*rng.pick(&code_like)).clone(),
        _ => rng.pick(&all).clone(),
    };
    let (parent, key) =
        at.rsplit_once('/').map(|(p, k)| (p.to_string(), k.replace("~1", "/").replace("~0", "~"))).unwrap_or_default();
    let Some(target) = resource.pointer_mut(&at) else { return "nothing".into() };
    match kind {
        // A code, enum value or any string turned into a random one.
        0 | 1 | 9 => {
            let text = rng.text();
            *target = Value::String(text.clone());
            format!("{at} = {text:?}")
        }
        // The wrong JSON type.
        2 => {
            let wrong = rng
                .pick(&[
                    json!(42),
                    json!(1.5),
                    json!(true),
                    json!("1"),
                    json!([]),
                    json!({}),
                    json!([1]),
                    json!({"a": 1}),
                ])
                .clone();
            *target = wrong.clone();
            format!("{at} = {wrong}")
        }
        // Primitive formats: dates, times, ids, uris, numbers.
        3 | 4 => {
            let bad = rng
                .pick(&[
                    json!("2020-13-01"),
                    json!("2020-02-30"),
                    json!("2021-1-1"),
                    json!("2020-01-01T25:00:00Z"),
                    json!("2020-01-01T10:00"),
                    json!("bad id!"),
                    json!("a".repeat(65)),
                    json!(" leading"),
                    json!("trailing "),
                    json!(""),
                    json!("http://x y"),
                    json!(-1),
                    json!(1e300),
                    json!(2147483648_i64),
                ])
                .clone();
            *target = bad.clone();
            format!("{at} = {bad}")
        }
        // An unknown property in the enclosing object (or this one).
        5 => {
            let name = format!("zz{}", rng.below(1000));
            match target {
                Value::Object(o) => {
                    o.insert(name.clone(), json!("x"));
                    format!("{at}.{name} added")
                }
                _ => match resource.pointer_mut(&parent) {
                    Some(Value::Object(o)) => {
                        o.insert(name.clone(), json!("x"));
                        format!("{parent}.{name} added")
                    }
                    _ => "nothing".into(),
                },
            }
        }
        // A property removed (required ones included).
        6 | 7 => match resource.pointer_mut(&parent) {
            Some(Value::Object(o)) => {
                o.remove(&key);
                format!("{at} removed")
            }
            Some(Value::Array(a)) => {
                let i: usize = key.parse().unwrap_or(0);
                if i < a.len() {
                    a.remove(i);
                }
                format!("{at} removed")
            }
            _ => "nothing".into(),
        },
        // Emptied: empty array, object or string.
        _ => {
            let empty = match target {
                Value::Array(_) => json!([]),
                Value::Object(_) => Value::Object(Map::new()),
                _ => json!(""),
            };
            *target = empty.clone();
            format!("{at} = {empty}")
        }
    }
}
