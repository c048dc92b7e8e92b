//! Index extraction cost per resource: every applicable search parameter of the 701 official
//! examples, in release mode. `cargo bench --bench index_cost`
use std::time::Instant;

use ikp::index::Extractor;
use ikp::search::registry::Registry;
use serde_json::Value;

fn main() {
    let model = ikp::model::r4().expect("model");
    let registry = Registry::build(model, &[]).expect("registry");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/r4-examples");
    let mut examples: Vec<Value> = std::fs::read_dir(dir)
        .expect("examples")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    examples.sort_by_key(|v| v["id"].as_str().unwrap_or_default().to_string());
    let extractor = Extractor { registry: &registry, model, base_url: "http://127.0.0.1:8080/fhir" };
    let mut rows = 0;
    for e in &examples {
        rows += extractor.extract(e).len();
    }
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for e in &examples {
            std::hint::black_box(extractor.extract(e));
        }
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / (rounds * examples.len()) as f64;
    println!(
        "index extraction: {} resources, {:.1} index rows per resource, {per:.1} µs per resource",
        examples.len(),
        rows as f64 / examples.len() as f64
    );
    let validate = Instant::now();
    for _ in 0..rounds {
        for e in &examples {
            std::hint::black_box(ikp::validation::structure::validate(model, e));
        }
    }
    let per = validate.elapsed().as_secs_f64() * 1e6 / (rounds * examples.len()) as f64;
    println!("structural validation: {per:.1} µs per resource");
    // Required bindings (value sets expanded on first use, so warm them up first).
    for e in &examples {
        std::hint::black_box(ikp::validation::bindings::check(model, e));
    }
    let bindings = Instant::now();
    for _ in 0..rounds {
        for e in &examples {
            std::hint::black_box(ikp::validation::bindings::check(model, e));
        }
    }
    let per = bindings.elapsed().as_secs_f64() * 1e6 / (rounds * examples.len()) as f64;
    println!("required bindings: {per:.1} µs per resource");
}
