//! Bundles the server returns (searchset, history). Entries keep stored resources as stored, so
//! a JSON response splices their text instead of parsing and re-serialising each one.

use serde_json::{Map, Value};

use crate::error::{FhirError, FhirResult};
use crate::store::ResourceVersion;

#[derive(Debug, Clone)]
pub enum EntryResource {
    Stored(ResourceVersion),
    Built(Value),
}

impl EntryResource {
    pub fn to_value(&self) -> FhirResult<Value> {
        match self {
            EntryResource::Built(v) => Ok(v.clone()),
            EntryResource::Stored(v) => crate::format::json::from_str(v.content.as_deref().unwrap_or("{}"))
                .map_err(|e| FhirError::Internal(format!("stored {}/{} is not JSON: {e}", v.resource_type, v.id))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub full_url: Option<String>,
    pub resource: Option<EntryResource>,
    /// The entry's other elements (`search`, `request`, `response`), in order.
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Bundle {
    /// Every Bundle element except `entry`, in order.
    pub head: Map<String, Value>,
    pub entries: Vec<Entry>,
}

impl Bundle {
    /// The whole Bundle as a JSON value, with `transform` applied to each entry's resource.
    pub fn to_value(&self, mut transform: impl FnMut(&mut Value)) -> FhirResult<Value> {
        let mut bundle = self.head.clone();
        if !self.entries.is_empty() {
            let mut entries = Vec::with_capacity(self.entries.len());
            for e in &self.entries {
                let mut entry = Map::new();
                if let Some(url) = &e.full_url {
                    entry.insert("fullUrl".into(), Value::String(url.clone()));
                }
                if let Some(r) = &e.resource {
                    let mut resource = r.to_value()?;
                    transform(&mut resource);
                    entry.insert("resource".into(), resource);
                }
                entry.extend(e.rest.clone());
                entries.push(Value::Object(entry));
            }
            bundle.insert("entry".into(), Value::Array(entries));
        }
        Ok(Value::Object(bundle))
    }

    /// Compact JSON, splicing stored resources verbatim.
    pub fn to_json_bytes(&self) -> FhirResult<Vec<u8>> {
        let internal = |e: serde_json::Error| FhirError::Internal(e.to_string());
        let mut out = serde_json::to_vec(&Value::Object(self.head.clone())).map_err(internal)?;
        if self.entries.is_empty() {
            return Ok(out);
        }
        out.pop(); // the closing brace
        out.extend_from_slice(if self.head.is_empty() { b"\"entry\":[" } else { b",\"entry\":[" });
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let mut first = true;
            let mut field = |out: &mut Vec<u8>, name: &str| {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(format!("\"{name}\":").as_bytes());
            };
            if let Some(url) = &e.full_url {
                field(&mut out, "fullUrl");
                out.extend_from_slice(&serde_json::to_vec(url).map_err(internal)?);
            }
            match &e.resource {
                Some(EntryResource::Stored(v)) => {
                    field(&mut out, "resource");
                    out.extend_from_slice(v.content.as_deref().unwrap_or("{}").as_bytes());
                }
                Some(EntryResource::Built(v)) => {
                    field(&mut out, "resource");
                    out.extend_from_slice(&serde_json::to_vec(v).map_err(internal)?);
                }
                None => {}
            }
            for (k, v) in &e.rest {
                field(&mut out, k);
                out.extend_from_slice(&serde_json::to_vec(v).map_err(internal)?);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}
