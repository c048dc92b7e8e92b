//! The architecture, checked: the crates of the workspace, and the modules inside the core and
//! server crates, depend only downwards, and SQL is written only in the storage crate. ARCHITECTURE.md draws the
//! same plan; a change that breaks it fails here rather than in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's crates, by layer: a crate may depend only on crates of lower layers. A new
/// crate must be placed here deliberately.
const CRATE_LAYERS: &[(&str, usize)] = &[
    ("ikp-fhirpath", 0),
    // The patient portal is an app: it stands on none of our crates (see below), and the server
    // at the top only serves it.
    ("ikp-portal", 0),
    ("ikp-model", 1),
    ("ikp-terminology", 2),
    ("ikp-store", 2),
    ("ikp-validation", 3),
    ("ikp-core", 4),
    ("ikp-synth", 4),
    ("ikp-auth", 5),
    ("ikp-bench", 5),
    ("ikp-national", 6),
    ("ikp-notify", 7),
    ("ikp", 8),
];

/// The top-level modules of the crates that have layers of their own inside, lowest first: a
/// module may import only modules listed before it (or the crates below). Every top-level module
/// of these crates must be listed (`lib.rs` and `main.rs`, which tie them together, are not).
const MODULE_ORDERS: &[(&str, &[&str])] = &[
    ("crates/core/src", &["error", "patch", "context", "access", "audit", "session", "interaction"]),
    ("src", &["api", "rest", "server", "cli"]),
];

/// Upward imports that remain, to be removed (each one listed must still exist, so the list only
/// shrinks). None today; the list is the place to name one that cannot be avoided yet.
const KNOWN_UPWARD: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `ikp-*` crates named in the `[dependencies]` table of a manifest (dev-dependencies are
/// tests' business and may reach anywhere below).
fn workspace_dependencies(manifest: &Path) -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut section = String::new();
    let mut name = String::new();
    let mut dependencies = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if section == "[package]" && line.starts_with("name") {
            name = line.split('"').nth(1).unwrap_or_default().to_string();
        } else if section == "[dependencies]" && line.starts_with("ikp-") {
            let dependency = line.split(['.', ' ', '=']).next().unwrap_or_default();
            dependencies.insert(dependency.to_string());
        }
    }
    (name, dependencies)
}

#[test]
fn crates_depend_only_downwards() {
    let layers: BTreeMap<&str, usize> = CRATE_LAYERS.iter().copied().collect();
    let mut manifests = vec![root().join("Cargo.toml")];
    for entry in std::fs::read_dir(root().join("crates")).expect("crates/ is readable") {
        manifests.push(entry.expect("a crates/ entry").path().join("Cargo.toml"));
    }
    let mut seen = BTreeSet::new();
    for manifest in manifests {
        let (name, dependencies) = workspace_dependencies(&manifest);
        let layer = *layers.get(name.as_str()).unwrap_or_else(|| panic!("{name} is not placed in CRATE_LAYERS"));
        for dependency in &dependencies {
            let below = layers.get(dependency.as_str()).unwrap_or_else(|| panic!("{dependency} is not placed"));
            assert!(
                *below < layer,
                "{name} (layer {layer}) depends on {dependency} (layer {below}), which is not below it"
            );
        }
        seen.insert(name);
    }
    let placed: BTreeSet<String> = layers.keys().map(|k| k.to_string()).collect();
    assert_eq!(seen, placed, "CRATE_LAYERS names a crate the workspace does not have");
}

/// The portal reaches data only through HTTP requests to the public API: no crate of ours, no
/// database driver, no way around the access policy.
#[test]
fn the_portal_depends_on_no_crate_of_ours_and_no_database() {
    let manifest = root().join("crates/portal/Cargo.toml");
    let (name, dependencies) = workspace_dependencies(&manifest);
    assert_eq!(name, "ikp-portal");
    assert!(dependencies.is_empty(), "the portal depends on {dependencies:?}");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    for driver in ["sqlx", "rusqlite", "postgres", "libsqlite3"] {
        assert!(!text.contains(driver), "the portal's manifest names {driver}");
    }
}

/// The top-level modules of the server crate that a source file imports with `crate::`.
fn imported_modules(source: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or_default();
                modules.extend(group.split(',').filter_map(|item| leading_name(item.trim())));
            } else if let Some(name) = leading_name(rest) {
                modules.insert(name);
            }
        }
    }
    modules
}

fn leading_name(path: &str) -> Option<String> {
    let name: String = path.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_import_only_downwards() {
    let mut upward: BTreeSet<(String, String)> = BTreeSet::new();
    for (dir, order) in MODULE_ORDERS {
        upward.extend(upward_imports(&root().join(dir), order));
    }
    let known: BTreeSet<(String, String)> = KNOWN_UPWARD.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let new: Vec<_> = upward.difference(&known).collect();
    let gone: Vec<_> = known.difference(&upward).collect();
    assert!(new.is_empty(), "imports that reach up the layers: {new:?}");
    assert!(gone.is_empty(), "KNOWN_UPWARD lists imports that no longer exist; remove them: {gone:?}");
}

/// The `(module, imported module)` pairs of the crate at `src` that import a module listed after
/// the importer in `order`.
fn upward_imports(src: &Path, order: &[&str]) -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let position = |module: &str| order.iter().position(|m| *m == module);
    let mut upward = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src/");
        let first = relative.iter().next().and_then(|c| c.to_str()).unwrap_or_default();
        let module = first.trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        let at = position(module).unwrap_or_else(|| panic!("{}/{first} is not placed in MODULE_ORDERS", src.display()));
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        for imported in imported_modules(&source) {
            // Modules not in the order are the crates below, imported by name in lib.rs.
            if let Some(target) = position(&imported)
                && target > at
            {
                upward.insert((module.to_string(), imported));
            }
        }
    }
    upward
}

/// SQL statements start with one of these inside a string literal.
const SQL_STARTS: &[&str] = &["\"SELECT ", "\"INSERT INTO", "\"UPDATE ", "\"DELETE FROM", "\"CREATE ", "store::sql"];

#[test]
fn sql_is_written_only_in_the_storage_crate() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    for crate_dir in [
        "fhirpath",
        "model",
        "terminology",
        "validation",
        "core",
        "auth",
        "national",
        "notify",
        "synth",
        "bench",
        "portal",
    ] {
        rust_files(&root().join("crates").join(crate_dir).join("src"), &mut files);
    }
    let mut offenders = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        for (number, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if SQL_STARTS.iter().any(|start| code.contains(start)) {
                offenders.push(format!("{}:{}", file.strip_prefix(root()).unwrap_or(&file).display(), number + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "SQL outside crates/store: {offenders:#?}");
}
