//! Embeds the national profiles (`profiles/StructureDefinition-*.json`) and the code systems and
//! value sets they bind to (`profiles/terminology`) into the binary, so that one file is a
//! complete server.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=../../profiles");
    embed("../../profiles", &["StructureDefinition-"], "profiles.json");
    embed("../../profiles/terminology", &["CodeSystem-", "ValueSet-"], "profile-terminology.json");
}

/// Concatenates the JSON files of `folder` whose names start with one of `prefixes` into one JSON
/// array in `OUT_DIR/name`.
fn embed(folder: &str, prefixes: &[&str], name: &str) {
    println!("cargo:rerun-if-changed={folder}");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(folder).map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| prefixes.iter().any(|prefix| n.starts_with(prefix)) && n.ends_with(".json"))
    });
    files.sort();
    let mut bundle = String::from("[");
    for (i, file) in files.iter().enumerate() {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        if i > 0 {
            bundle.push(',');
        }
        bundle.push_str(&text);
    }
    bundle.push(']');
    let out = std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo");
    std::fs::write(Path::new(&out).join(name), bundle).expect("writing the embedded definitions");
}
