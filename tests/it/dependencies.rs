//! The dependency list, checked (what `cargo deny` checks, offline): every crate linked into the
//! server carries a permissive licence we may ship under Apache-2.0, and no new crate comes in two
//! versions. Security advisories need the RustSec database from the network, which the build
//! machines do not reach (see the README's Dependencies section).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// SPDX licences (and exceptions) compatible with shipping ikp under Apache-2.0.
const ALLOWED_LICENSES: &[&str] = &[
    "0BSD",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "ISC",
    "LLVM-exception",
    "MIT",
    "MIT-0",
    "Unicode-3.0",
    "Unlicense",
    "Zlib",
];

/// Crates linked in more than one version today (older majors pulled in by sqlx, reqwest and
/// proptest; `sha1` 0.10 by axum's websocket handshake, for the notification websocket, beside
/// sqlx's 0.11); the list may only shrink.
const KNOWN_DUPLICATES: &[&str] = &[
    "base64",
    "block-buffer",
    "cpufeatures",
    "crypto-common",
    "digest",
    "getrandom",
    "hashbrown",
    "rand",
    "rand_chacha",
    "rand_core",
    "sha1",
    "sha2",
    "syn",
    "tower-http",
];

/// The platform the tests run on (`rustc -vV`'s host), so that only crates built here count.
fn host() -> String {
    let output = Command::new("rustc").arg("-vV").output().expect("rustc runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host").to_string()
}

/// The packages of the locked dependency graph on this platform.
fn packages() -> Vec<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform"])
        .arg(host())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    metadata["packages"].as_array().cloned().unwrap_or_default()
}

/// The licence identifiers an SPDX expression names (`(MIT OR Apache-2.0) AND Unicode-3.0`).
fn license_identifiers(expression: &str) -> Vec<&str> {
    expression
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '/')
        .filter(|word| !word.is_empty() && !matches!(*word, "OR" | "AND" | "WITH"))
        .collect()
}

#[test]
fn licences_are_permissive() {
    let mut refused = Vec::new();
    for package in packages() {
        let name = package["name"].as_str().unwrap_or_default();
        if name.starts_with("ikp") {
            continue;
        }
        match package["license"].as_str() {
            Some(expression) if license_identifiers(expression).iter().all(|id| ALLOWED_LICENSES.contains(id)) => {}
            other => refused.push(format!("{name} {}: {other:?}", package["version"])),
        }
    }
    assert!(refused.is_empty(), "crates whose licence is not on the list: {refused:#?}");
}

#[test]
fn no_new_duplicate_versions() {
    let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in packages() {
        let name = package["name"].as_str().unwrap_or_default().to_string();
        versions.entry(name).or_default().insert(package["version"].as_str().unwrap_or_default().to_string());
    }
    let duplicated: BTreeSet<&str> =
        versions.iter().filter(|(_, v)| v.len() > 1).map(|(name, _)| name.as_str()).collect();
    let known: BTreeSet<&str> = KNOWN_DUPLICATES.iter().copied().collect();
    let new: Vec<_> = duplicated.difference(&known).map(|n| (n, &versions[*n])).collect();
    let gone: Vec<_> = known.difference(&duplicated).collect();
    assert!(new.is_empty(), "crates now linked in several versions: {new:?}");
    assert!(gone.is_empty(), "KNOWN_DUPLICATES lists crates no longer duplicated; remove them: {gone:?}");
}
