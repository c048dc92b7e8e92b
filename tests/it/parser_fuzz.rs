//! Fuzz harness for the parsers: JSON and XML resources (with validation and the JSON ⇄ XML round
//! trip), search queries, FHIRPath, and patches.
//!
//! Each target runs the seeds in tests/fixtures/fuzz-corpus/<target>/ first, then random
//! mutations of them (proptest; `IKP_FUZZ_CASES` cases per target, 200 by default, e.g.
//! `IKP_FUZZ_CASES=100000` for a long run). Every case runs on a thread with a 2 MiB stack (what
//! the server's workers have) under a time limit: a panic, a hang or a failed property is reported
//! with the smallest input proptest can shrink it to. A stack overflow aborts the process instead;
//! the input is then printed when `IKP_FUZZ_ECHO=1`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use ikp::context::Fhir;
use ikp::format::{json, xml};
use ikp::search::registry::{Registry, SharedRegistry};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

const STACK: usize = 2 << 20;

fn cases() -> u32 {
    std::env::var("IKP_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}

fn time_limit() -> Duration {
    let seconds = std::env::var("IKP_FUZZ_CASE_SECONDS").ok().and_then(|n| n.parse().ok()).unwrap_or(10);
    Duration::from_secs(seconds)
}

fn fhir() -> &'static Fhir {
    static FHIR: OnceLock<Fhir> = OnceLock::new();
    FHIR.get_or_init(|| {
        let model = ikp::model::r4().unwrap();
        Fhir {
            model,
            registry: Arc::new(SharedRegistry::new(Registry::build(model, &[]).unwrap())),
            cursors: ikp::search::cursor::CursorSigner::new(vec![7; 32]),
            base_url: "http://fuzz.example/fhir".to_string(),
            profiles: Arc::new(ikp::validation::profiles::ProfileSet::built_in().unwrap()),
            terminology: &ikp::terminology::builtin::BUILTIN,
            limits: Default::default(),
        }
    })
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-corpus").join(target)
}

/// The seeds of a target: each line of a `.txt` file, each other file whole (`_` files are not seeds).
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target)).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('_') {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".txt") {
            for (i, line) in bytes.split(|&b| b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
                out.push((format!("{name}:{}", i + 1), line.to_vec()));
            }
        } else {
            out.push((name, bytes));
        }
    }
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

fn subject(target: &str) -> Value {
    json::parse(&std::fs::read(corpus_dir(target).join("_subject.json")).unwrap()).unwrap()
}

/// Runs a check on its own thread, with the server's stack size and a time limit.
fn guarded(check: fn(&[u8]) -> Result<(), String>, input: &[u8]) -> Result<(), String> {
    if std::env::var_os("IKP_FUZZ_ECHO").is_some() {
        eprintln!("fuzz input: {:?}", String::from_utf8_lossy(input));
    }
    let (tx, rx) = mpsc::channel();
    let owned = input.to_vec();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| check(&owned));
            let _ = tx.send(outcome);
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    match rx.recv_timeout(time_limit()) {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
        Err(_) => Err(format!("took longer than {:?}", time_limit())),
    }
}

/// How one mutation changes an input. Positions are fractions of the length, so a mutation
/// stays meaningful while proptest shrinks the others away.
#[derive(Debug, Clone)]
enum Mutation {
    Insert { at: u16, token: usize },
    Delete { at: u16, len: u8 },
    Repeat { at: u16, len: u8, times: u8 },
    Byte { at: u16, byte: u8 },
}

fn position(at: u16, len: usize) -> usize {
    (usize::from(at) * (len + 1)) / (usize::from(u16::MAX) + 1)
}

fn apply(mut input: Vec<u8>, mutations: &[Mutation], tokens: &[&str]) -> Vec<u8> {
    for m in mutations {
        match *m {
            Mutation::Insert { at, token } => {
                let at = position(at, input.len());
                let token = tokens[token % tokens.len()].as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = position(at, input.len());
                let end = (at + usize::from(len)).min(input.len());
                input.drain(at..end);
            }
            Mutation::Repeat { at, len, times } => {
                let at = position(at, input.len());
                let end = (at + usize::from(len)).min(input.len());
                let span = input[at..end].to_vec();
                for _ in 0..times.min(64) {
                    input.splice(end..end, span.iter().copied());
                }
            }
            Mutation::Byte { at, byte } => {
                let at = position(at, input.len());
                if let Some(b) = input.get_mut(at) {
                    *b = byte;
                }
            }
        }
    }
    input
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<u16>(), any::<usize>()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<u16>(), any::<u8>(), 1..8u8).prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Byte { at, byte }),
    ]
}

/// An input, shown as text when proptest reports the minimal failing case.
#[derive(Clone)]
struct Input(Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => write!(f, "bytes {:?} (as text: {:?})", self.0, String::from_utf8_lossy(&self.0)),
        }
    }
}

/// Seeds first, then `cases()` mutated inputs; fails with the smallest failing input.
fn fuzz(target: &str, tokens: &'static [&'static str], check: fn(&[u8]) -> Result<(), String>) {
    let seeds = seeds(target);
    let mut failures = Vec::new();
    for (name, input) in &seeds {
        if let Err(e) = guarded(check, input) {
            failures.push(format!("seed {target}/{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let inputs: Vec<Vec<u8>> = seeds.into_iter().map(|(_, b)| b).collect();
    let strategy = (0..inputs.len(), proptest::collection::vec(mutation(), 0..6))
        .prop_map(move |(seed, mutations)| Input(apply(inputs[seed].clone(), &mutations, tokens)));
    let config = Config { cases: cases(), failure_persistence: None, max_shrink_iters: 2048, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| guarded(check, &input.0).map_err(TestCaseError::fail));
    if let Err(e) = result {
        panic!("{target}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Validation findings with errors, as text; `None` when the resource is valid.
fn invalid(resource: &Value) -> Option<String> {
    let f = fhir();
    let findings = ikp::validation::validate(f.model, &f.profiles, &f.codes(), resource, &[]);
    findings.has_errors().then(|| format!("{:?}", findings.all()))
}

/// The resource as XML carries it: a narrative that JSON sent without a namespace gets the XHTML
/// one, which is what makes it a narrative in XML (and what FHIR requires anyway).
fn with_narrative_namespace(value: &Value) -> Value {
    match value {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("div", Value::String(div)) => {
                        let div = match ikp::format::xhtml::undeclared_name_end(div) {
                            Some(at) => format!("{} xmlns=\"{}\"{}", &div[..at], xml::XHTML_NS, &div[at..]),
                            None => div.clone(),
                        };
                        (k.clone(), Value::String(div))
                    }
                    _ => (k.clone(), with_narrative_namespace(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(with_narrative_namespace).collect()),
        other => other.clone(),
    }
}

/// What the server accepted must write to XML (well-formed) and JSON, and read back unchanged.
fn round_trips(resource: &Value) -> Result<(), String> {
    let model = fhir().model;
    let expected = with_narrative_namespace(resource);
    for pretty in [false, true] {
        let text = xml::write(model, resource, pretty).map_err(|e| format!("accepted but not writable as XML: {e}"))?;
        roxmltree::Document::parse(&text).map_err(|e| format!("written XML is not well-formed ({e}):\n{text}"))?;
        let back =
            xml::parse(model, text.as_bytes()).map_err(|e| format!("written XML does not read back: {e:?}\n{text}"))?;
        if back != expected {
            return Err(format!("XML round trip changed the resource:\n{resource}\n{back}\n{text}"));
        }
    }
    let text = serde_json::to_vec(resource).map_err(|e| e.to_string())?;
    let back = json::parse(&text).map_err(|e| format!("written JSON does not read back: {e}"))?;
    if &back != resource {
        return Err(format!("JSON round trip changed the resource:\n{resource}\n{back}"));
    }
    Ok(())
}

/// A refusal must name a place when the input got that far; structural errors are typed.
fn check_json(input: &[u8]) -> Result<(), String> {
    let Ok(value) = json::parse(input) else { return Ok(()) };
    if invalid(&value).is_none() { round_trips(&value) } else { Ok(()) }
}

fn check_xml(input: &[u8]) -> Result<(), String> {
    let Ok(value) = xml::parse(fhir().model, input) else { return Ok(()) };
    if invalid(&value).is_none() { round_trips(&value) } else { Ok(()) }
}

fn check_search(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    let (resource_type, query) = text.split_once('?').unwrap_or((&text, ""));
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let f = fhir();
    let registry = f.registry.current();
    for strict in [false, true] {
        let parser =
            ikp::search::parse::Parser { registry: &registry, base_url: &f.base_url, strict, limits: &f.limits };
        let types = if resource_type.is_empty() { Vec::new() } else { vec![resource_type.to_string()] };
        let _ = parser.parse(types, &pairs);
    }
    Ok(())
}

fn check_fhirpath(input: &[u8]) -> Result<(), String> {
    static SUBJECT: OnceLock<Value> = OnceLock::new();
    let resource = SUBJECT.get_or_init(|| subject("fhirpath"));
    let Ok(expression) = ikp::fhirpath::Expression::parse(&String::from_utf8_lossy(input)) else { return Ok(()) };
    let _ = expression.evaluate_to_json(resource, Some(fhir().model));
    let _ = expression.evaluate_to_json(resource, None);
    Ok(())
}

fn check_patch(input: &[u8]) -> Result<(), String> {
    static SUBJECT: OnceLock<Value> = OnceLock::new();
    let resource = SUBJECT.get_or_init(|| subject("patch"));
    let Ok(document) = json::parse(input) else { return Ok(()) };
    let _ = ikp::patch::apply(fhir().model, resource.clone(), &document);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Targets

const JSON_TOKENS: &[&str] = &[
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "1E2",
    "-0.0e-0",
    "01",
    "1.",
    "\\u0000",
    "\\u001f",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\u{0}",
    "\u{ffff}",
    "\u{1f600}",
    "é",
    ",\"active\":true",
    "\"active\":false,",
    ",\"resourceType\":\"Patient\"",
    "\"id\":\"x\",",
    ",\"extension\":[{\"url\":\"http://x\",\"valueDecimal\":1.0E+5}]",
    "&#0;",
    "&nbsp;",
    "<b>x</b>",
    "<script/>",
    "[[[[[[[[[[",
    "2147483648",
    "\"\"",
    "\\n",
    "\t",
];

const XML_TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "\"",
    "&amp;",
    "&#0;",
    "&#x1;",
    "&#xFFFE;",
    "&lol;",
    "\u{0}",
    "\u{1}",
    "<!DOCTYPE x>",
    "<![CDATA[x]]>",
    "<!-- c -->",
    "<?pi x?>",
    " xmlns=\"urn:x\"",
    " xmlns:x=\"urn:x\"",
    "x:",
    " xsi:type=\"x\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
    " value=\"1E2\"",
    " value=\".5\"",
    " id=\"a\"",
    "<active value=\"true\"/>",
    "<extension url=\"http://x\"><valueString value=\"y\"/></extension>",
    "<h:p xmlns:h=\"http://www.w3.org/1999/xhtml\">x</h:p>",
    "é",
    "\t",
    "\r\n",
];

const SEARCH_TOKENS: &[&str] = &[
    "&",
    "=",
    "?",
    ":",
    ".",
    ",",
    "|",
    "$",
    "%00",
    "%ZZ",
    "%E2%80%8B",
    "\\",
    "_has:",
    ":missing=",
    ":exact",
    ":not",
    ":contains",
    ":text",
    ":above",
    ":below",
    ":identifier",
    ":Patient",
    "gt",
    "le",
    "sa",
    "eb",
    "ap",
    "1E2",
    "-",
    "_sort=-",
    "_count=",
    "_include=*",
    "_revinclude=",
    "_elements=",
    "_summary=",
    "_total=",
    "_type=",
    "subject.",
    "9999-99-99",
    "2020-01-01T00:00:00+99:00",
    "99999999999999999999",
];

const FHIRPATH_TOKENS: &[&str] = &[
    "(",
    ")",
    ".",
    "[",
    "]",
    "'",
    "`",
    "|",
    "$this",
    "$index",
    "$total",
    "%context",
    "%resource",
    "%ucum",
    "where(",
    "select(",
    "repeat(",
    "descendants()",
    "children()",
    "aggregate(",
    "combine(",
    "iif(",
    "ofType(",
    "as ",
    "is ",
    "resolve()",
    "1E2",
    "@2020-",
    "@T12:",
    "'a'",
    "\\u0000",
    " + ",
    " * ",
    " / ",
    " div ",
    " mod ",
    " and ",
    " implies ",
    "1 'kg'",
    "toQuantity('g')",
    "matches('(a+)+$')",
    "replaceMatches('.*', '$0$0')",
    "substring(-1)",
    "[99999999999]",
    "power(10, 1000)",
    "exp()",
    ".first().trace('x')",
];

const PATCH_TOKENS: &[&str] = &[
    "\"/\"",
    "\"\"",
    "\"/-\"",
    "\"/name/-\"",
    "\"/name/0/given/99\"",
    "~0",
    "~1",
    "~2",
    "\"op\":\"move\",",
    "\"op\":\"copy\",",
    "\"op\":\"test\",",
    "\"from\":\"/name\",",
    "\"value\":1E2,",
    ",{\"op\":\"remove\",\"path\":\"/name\"}",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    "null",
    "18446744073709551616",
];

#[test]
fn json_resources() {
    fuzz("json", JSON_TOKENS, check_json);
}

#[test]
fn xml_resources() {
    fuzz("xml", XML_TOKENS, check_xml);
}

#[test]
fn search_queries() {
    fuzz("search", SEARCH_TOKENS, check_search);
}

#[test]
fn fhirpath_expressions() {
    fuzz("fhirpath", FHIRPATH_TOKENS, check_fhirpath);
}

#[test]
fn patches() {
    fuzz("patch", PATCH_TOKENS, check_patch);
}

/// The seeds that must be refused are refused (so the corpus keeps exercising each class).
#[test]
fn hostile_seeds_are_refused() {
    let model = fhir().model;
    for name in [
        "duplicate-key",
        "batch-duplicate-method",
        "nul-escaped",
        "control-escaped",
        "nul-raw",
        "lone-surrogate",
        "control-in-key",
        "deep",
    ] {
        let input = std::fs::read(corpus_dir("json").join(format!("{name}.json"))).unwrap();
        assert!(json::parse(&input).is_err(), "{name}");
    }
    for name in ["integer-overflow", "narrative-entities", "regression-empty-prefix"] {
        let input = std::fs::read(corpus_dir("json").join(format!("{name}.json"))).unwrap();
        assert!(invalid(&json::parse(&input).unwrap()).is_some(), "{name}");
    }
    for name in ["foreign-namespace", "xxe", "billion-laughs", "char-references", "nul-raw", "bad-decimals"] {
        let input = std::fs::read(corpus_dir("xml").join(format!("{name}.xml"))).unwrap();
        assert!(xml::parse(model, &input).is_err(), "{name}");
    }
    for name in ["patient", "prefixed", "decimals", "bundle"] {
        let input = std::fs::read(corpus_dir("xml").join(format!("{name}.xml"))).unwrap();
        let value = xml::parse(model, &input).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(invalid(&value), None, "{name}");
    }
}
