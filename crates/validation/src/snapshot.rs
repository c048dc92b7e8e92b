//! Snapshot generation: a profile's differential applied to its base definition's snapshot, with
//! slices materialised (a copy of the sliced element and its children per slice) and complex data
//! types expanded where the differential reaches into them (`Patient.identifier.system`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use ikp_model::conformance::{DefinitionBundle, Definitions};

/// The base definitions (resources and data types) by url.
pub struct Bases {
    by_url: HashMap<String, Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("snapshot of {url}: {message}")]
pub struct SnapshotError {
    pub url: String,
    pub message: String,
}

impl Bases {
    /// The R4 base definitions from the embedded conformance resources.
    pub fn r4() -> Result<Bases, ikp_model::conformance::ConformanceError> {
        let mut by_url = HashMap::new();
        for definitions in [Definitions::ProfilesResources, Definitions::ProfilesTypes] {
            let bundle: DefinitionBundle<Value> = definitions.parse()?;
            for entry in bundle.entry {
                if entry.resource.get("resourceType").and_then(Value::as_str) == Some("StructureDefinition")
                    && let Some(url) = entry.resource.get("url").and_then(Value::as_str)
                {
                    by_url.insert(url.to_string(), entry.resource);
                }
            }
        }
        Ok(Bases { by_url })
    }

    fn elements(&self, url: &str) -> Option<Vec<Value>> {
        self.by_url.get(url)?.get("snapshot")?.get("element")?.as_array().cloned()
    }
}

fn id_of(e: &Value) -> &str {
    e.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// Is `id` the element `of` or one of its descendants (children or slices)?
fn within(id: &str, of: &str) -> bool {
    id == of || id.strip_prefix(of).is_some_and(|rest| rest.starts_with('.') || rest.starts_with(':'))
}

/// `id` with its last segment's slice name removed (`Patient.identifier:pesel` → `Patient.identifier`).
fn unsliced(id: &str) -> Option<String> {
    let (head, last) = id.rsplit_once('.').map_or(("", id), |(h, l)| (h, l));
    let (name, _) = last.split_once(':')?;
    Some(if head.is_empty() { name.to_string() } else { format!("{head}.{name}") })
}

fn parent(id: &str) -> Option<&str> {
    id.rsplit_once('.').map(|(h, _)| h)
}

/// One past the last element that is `id` or below it.
fn end_of(elements: &[Value], id: &str) -> Option<usize> {
    let start = elements.iter().position(|e| id_of(e) == id)?;
    Some(start + 1 + elements[start + 1..].iter().take_while(|e| within(id_of(e), id)).count())
}

/// Copies of `elements` under a new id prefix (and path prefix).
fn rebased(elements: &[Value], from_id: &str, to_id: &str, from_path: &str, to_path: &str) -> Vec<Value> {
    elements
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(o) = e.as_object_mut() {
                let id = id_of(&Value::Object(o.clone())).to_string();
                o.insert("id".into(), Value::String(format!("{to_id}{}", &id[from_id.len().min(id.len())..])));
                if let Some(path) = o.get("path").and_then(Value::as_str).map(str::to_string) {
                    o.insert(
                        "path".into(),
                        Value::String(format!("{to_path}{}", &path[from_path.len().min(path.len())..])),
                    );
                }
            }
            e
        })
        .collect()
}

/// Makes room for a differential element: materialises its slice, or expands the data type of
/// its nearest existing ancestor. Returns false when neither helps.
fn make_room(bases: &Bases, elements: &mut Vec<Value>, id: &str) -> bool {
    if let Some(base_id) = unsliced(id)
        && let Some(end) = end_of(elements, &base_id)
    {
        let start = elements.iter().position(|e| id_of(e) == base_id).unwrap_or(end);
        // The unsliced element and its children (not its other slices) are the template.
        let template: Vec<Value> = elements[start..end]
            .iter()
            .filter(|e| {
                let i = id_of(e);
                i == base_id || (i.starts_with(&format!("{base_id}.")) && !i[base_id.len()..].contains(':'))
            })
            .cloned()
            .collect();
        let mut copies = rebased(&template, &base_id, id, "", "");
        if let Some(first) = copies.first_mut().and_then(Value::as_object_mut) {
            let slice = id.rsplit_once(':').map_or(id, |(_, s)| s);
            first.insert("sliceName".into(), Value::String(slice.to_string()));
            first.remove("slicing");
        }
        elements.splice(end..end, copies);
        return true;
    }
    // Expand the data type of the nearest ancestor that exists.
    let mut ancestor = parent(id);
    while let Some(a) = ancestor {
        if let Some(position) = elements.iter().position(|e| id_of(e) == a) {
            let element = &elements[position];
            let types: Vec<&str> = element
                .get("type")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.get("code").and_then(Value::as_str))
                .collect();
            let [code] = types.as_slice() else { return false };
            let Some(type_elements) = bases.elements(&format!("http://hl7.org/fhir/StructureDefinition/{code}")) else {
                return false;
            };
            let path = element.get("path").and_then(Value::as_str).unwrap_or(a).to_string();
            let children: Vec<Value> = type_elements.into_iter().skip(1).collect();
            let copies = rebased(&children, code, a, code, &path);
            let end = end_of(elements, a).unwrap_or(position + 1);
            if copies.is_empty() || elements[position + 1..end].iter().any(|e| parent(id_of(e)) == Some(a)) {
                return false;
            }
            elements.splice(position + 1..position + 1, copies);
            return true;
        }
        ancestor = parent(a);
    }
    false
}

/// Overlays a differential element on a snapshot element.
fn merge(target: &mut Map<String, Value>, diff: &Map<String, Value>) {
    for (key, value) in diff {
        match key.as_str() {
            "id" | "path" => {}
            "constraint" => {
                let mut all = target.get("constraint").and_then(Value::as_array).cloned().unwrap_or_default();
                all.extend(value.as_array().cloned().unwrap_or_default());
                target.insert(key.clone(), Value::Array(all));
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The profile with its snapshot.
pub fn generate(bases: &Bases, profile: &Value) -> Result<Value, SnapshotError> {
    let url = profile.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
    let fail = |message: String| SnapshotError { url: url.clone(), message };
    let base = profile.get("baseDefinition").and_then(Value::as_str).ok_or_else(|| fail("no baseDefinition".into()))?;
    let mut elements = bases.elements(base).ok_or_else(|| fail(format!("the base {base} is not known")))?;
    let differential = profile
        .get("differential")
        .and_then(|d| d.get("element"))
        .and_then(Value::as_array)
        .ok_or_else(|| fail("no differential".into()))?;
    for diff in differential {
        let id = id_of(diff).to_string();
        let mut attempts = 0;
        while !elements.iter().any(|e| id_of(e) == id) {
            attempts += 1;
            if attempts > 8 || !make_room(bases, &mut elements, &id) {
                return Err(fail(format!("the element {id} matches nothing in the base")));
            }
        }
        if let (Some(target), Some(diff)) =
            (elements.iter_mut().find(|e| id_of(e) == id).and_then(Value::as_object_mut), diff.as_object())
        {
            merge(target, diff);
        }
    }
    let mut out = profile.clone();
    if let Some(o) = out.as_object_mut() {
        o.insert("snapshot".into(), serde_json::json!({ "element": elements }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slices_and_data_type_children_are_materialised() {
        let bases = Bases::r4().expect("bases");
        let profile = json!({
            "resourceType": "StructureDefinition", "url": "https://example.org/P", "type": "Patient",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
            "differential": {"element": [
                {"id": "Patient.identifier", "path": "Patient.identifier", "min": 1,
                    "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}},
                {"id": "Patient.identifier:pesel", "path": "Patient.identifier", "sliceName": "pesel", "max": "1"},
                {"id": "Patient.identifier:pesel.system", "path": "Patient.identifier.system", "fixedUri": "urn:oid:1"},
                {"id": "Patient.name.family", "path": "Patient.name.family", "min": 1}
            ]}
        });
        let snapshot = generate(&bases, &profile).expect("snapshot");
        let elements = snapshot["snapshot"]["element"].as_array().expect("elements");
        let find = |id: &str| elements.iter().find(|e| e["id"] == id).cloned();
        assert_eq!(find("Patient.identifier").expect("identifier")["min"], 1);
        let slice = find("Patient.identifier:pesel").expect("slice");
        assert_eq!(slice["sliceName"], "pesel");
        assert_eq!(slice["max"], "1");
        assert_eq!(find("Patient.identifier:pesel.system").expect("system")["fixedUri"], "urn:oid:1");
        assert_eq!(find("Patient.identifier:pesel.system").expect("system")["path"], "Patient.identifier.system");
        assert_eq!(find("Patient.name.family").expect("family")["min"], 1);
        // Order: the slice follows the sliced element's children.
        let position = |id: &str| elements.iter().position(|e| e["id"] == id).unwrap_or(usize::MAX);
        assert!(position("Patient.identifier") < position("Patient.identifier:pesel"));
        assert!(position("Patient.identifier:pesel") < position("Patient.active"));
        let unknown = json!({"resourceType": "StructureDefinition", "url": "u", "type": "Patient",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
            "differential": {"element": [{"id": "Patient.nonsense", "path": "Patient.nonsense"}]}});
        assert!(generate(&bases, &unknown).is_err());
    }
}
