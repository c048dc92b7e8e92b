//! Embeds the national profiles (`profiles/StructureDefinition-*.json`) into the binary as one
//! JSON array, so that one file is a complete server.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=profiles");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("profiles")
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("StructureDefinition-") && n.ends_with(".json"))
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
    std::fs::write(Path::new(&out).join("profiles.json"), bundle).expect("writing the embedded profiles");
}
