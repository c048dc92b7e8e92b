//! Writing a population: NDJSON files per resource type, transaction Bundles per patient (with
//! `urn:uuid` fullUrls and references rewritten to them), and `summary.json`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use super::fhir::{self, obj};
use super::rng::{label, mix};

/// The deterministic `urn:uuid:` of a resource (`Type/id`) in a population with `seed`.
pub fn full_url(seed: u64, key: &str) -> String {
    let h = label(key);
    format!("urn:uuid:{}", fhir::uuid(mix(seed, &[label("uuid-hi"), h]), mix(seed, &[label("uuid-lo"), h])))
}

fn key_of(resource: &Value) -> Option<String> {
    Some(format!("{}/{}", resource.get("resourceType")?.as_str()?, resource.get("id")?.as_str()?))
}

/// Rewrites references between `resources` to their `urn:uuid` fullUrls, in place; returns each
/// resource's `Type/id` and fullUrl.
fn link(seed: u64, resources: &mut [Value]) -> Vec<(String, String)> {
    let entries: Vec<(String, String)> = resources
        .iter()
        .map(|r| {
            let key = key_of(r).unwrap_or_default();
            let url = full_url(seed, &key);
            (key, url)
        })
        .collect();
    let map: HashMap<String, String> = entries.iter().cloned().collect();
    for r in resources.iter_mut() {
        ikp_model::references::rewrite_references(r, &map);
    }
    entries
}

/// A transaction Bundle of `resources` with `PUT Type/id` entries (idempotent when replayed),
/// `urn:uuid` fullUrls and references between the entries rewritten to them.
pub fn transaction(seed: u64, id: &str, resources: &[Value]) -> Value {
    let mut resources = resources.to_vec();
    let entries = link(seed, &mut resources);
    let entries: Vec<Value> = resources
        .into_iter()
        .zip(entries)
        .map(|(resource, (key, url))| {
            obj!({
                "fullUrl": url,
                "resource": resource,
                "request": {"method": "PUT", "url": key}
            })
        })
        .collect();
    obj!({"resourceType": "Bundle", "id": id, "type": "transaction", "entry": entries})
}

/// Streams the same JSON as `serde_json::to_writer(transaction(seed, id, resources))`, without
/// copying the resources (they are rewritten in place).
fn write_transaction(w: &mut impl Write, seed: u64, id: &str, resources: &mut [Value]) -> anyhow::Result<()> {
    let entries = link(seed, resources);
    write!(w, r#"{{"resourceType":"Bundle","id":{},"type":"transaction","entry":["#, Value::from(id))?;
    for (n, (resource, (key, url))) in resources.iter().zip(entries).enumerate() {
        if n > 0 {
            w.write_all(b",")?;
        }
        write!(w, r#"{{"fullUrl":{},"resource":"#, Value::from(url))?;
        serde_json::to_writer(&mut *w, resource)?;
        write!(w, r#","request":{{"method":"PUT","url":{}}}}}"#, Value::from(key))?;
    }
    w.write_all(b"]}\n")?;
    Ok(())
}

pub struct Output {
    dir: PathBuf,
    ndjson: bool,
    bundles: bool,
    seed: u64,
    files: BTreeMap<String, BufWriter<File>>,
    pub counts: BTreeMap<String, usize>,
    pub shared: BTreeMap<String, usize>,
}

impl Output {
    pub fn create(dir: &Path, ndjson: bool, bundles: bool, seed: u64) -> anyhow::Result<Output> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Output {
            dir: dir.to_path_buf(),
            ndjson,
            bundles,
            seed,
            files: BTreeMap::new(),
            counts: BTreeMap::new(),
            shared: BTreeMap::new(),
        })
    }

    fn append(&mut self, resource: &Value) -> anyhow::Result<()> {
        let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or("Unknown").to_string();
        *self.counts.entry(kind.clone()).or_default() += 1;
        if !self.ndjson {
            return Ok(());
        }
        if !self.files.contains_key(&kind) {
            let path = self.dir.join(format!("{kind}.ndjson"));
            let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            self.files.insert(kind.clone(), BufWriter::with_capacity(256 * 1024, file));
        }
        if let Some(w) = self.files.get_mut(&kind) {
            serde_json::to_writer(&mut *w, resource)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    fn write_json(&self, name: &str, value: &Value) -> anyhow::Result<()> {
        let path = self.dir.join(name);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, value)?;
        w.write_all(b"\n")?;
        w.flush().with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    fn write_bundle(&self, id: &str, resources: &mut [Value]) -> anyhow::Result<()> {
        let path = self.dir.join(format!("{id}.json"));
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::with_capacity(128 * 1024, file);
        write_transaction(&mut w, self.seed, id, resources)?;
        w.flush().with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    pub fn shared(&mut self, mut resources: Vec<Value>) -> anyhow::Result<()> {
        for r in &resources {
            self.append(r)?;
            let kind = r.get("resourceType").and_then(Value::as_str).unwrap_or("Unknown").to_string();
            *self.shared.entry(kind).or_default() += 1;
        }
        if self.bundles {
            self.write_bundle("bundle-shared", &mut resources)?;
        }
        Ok(())
    }

    pub fn patient(&mut self, number: usize, mut resources: Vec<Value>) -> anyhow::Result<()> {
        for r in &resources {
            self.append(r)?;
        }
        if self.bundles {
            self.write_bundle(&format!("bundle-{number:06}"), &mut resources)?;
        }
        Ok(())
    }

    pub fn finish(&mut self, summary: &Value) -> anyhow::Result<()> {
        for (kind, w) in &mut self.files {
            w.flush().with_context(|| format!("writing {kind}.ndjson"))?;
        }
        self.write_json("summary.json", summary)
    }
}
