//! The FHIR R4 type model: every resource, data type and backbone element with its elements in
//! definition order, built once from the official StructureDefinition snapshots.
//!
//! Validation, the XML codec, `_summary`, FHIRPath typing and the CapabilityStatement all read this
//! one model, so that what the server accepts, emits and advertises cannot drift apart.

pub mod datetime;
pub mod primitive;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::conformance::{ConformanceError, DefinitionBundle, Definitions};

/// How a type participates in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Primitive,
    Complex,
    Resource,
    /// An element with its own children, named by its path ("Observation.component").
    Backbone,
}

/// The largest number of repetitions an element allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    Zero,
    One,
    Many,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingStrength {
    Required,
    Extensible,
    Preferred,
    Example,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub strength: BindingStrength,
    /// Canonical URL of the value set, without a version.
    pub value_set: String,
}

#[derive(Debug, Clone)]
pub struct ElementDef {
    /// Name without any `[x]` suffix.
    pub name: String,
    /// Full path as in the StructureDefinition ("Patient.contact.name").
    pub path: String,
    pub min: u32,
    pub max: Max,
    /// Type names: FHIR type names, or backbone type names (element paths).
    pub types: Vec<String>,
    pub choice: bool,
    pub summary: bool,
    pub modifier: bool,
    /// Represented as an XML attribute (`id` of elements, `Extension.url`).
    pub xml_attr: bool,
    pub binding: Option<Binding>,
}

impl ElementDef {
    pub fn is_array(&self) -> bool {
        self.max == Max::Many
    }

    /// The JSON property name for one of the element's types.
    pub fn json_name(&self, type_name: &str) -> String {
        if self.choice { format!("{}{}", self.name, capitalize(type_name)) } else { self.name.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub kind: TypeKind,
    pub base: Option<String>,
    pub is_abstract: bool,
    pub elements: Vec<ElementDef>,
    /// JSON property name → (element index, index into that element's types).
    json_fields: HashMap<String, (usize, usize)>,
    /// Element name (choice elements without `[x]`) → element index.
    names: HashMap<String, usize>,
}

impl TypeDef {
    /// Looks up a JSON property (without a leading `_`) of this type.
    pub fn field(&self, json_name: &str) -> Option<(&ElementDef, &str)> {
        let &(element, type_index) = self.json_fields.get(json_name)?;
        let def = self.elements.get(element)?;
        Some((def, def.types.get(type_index)?.as_str()))
    }

    pub fn element(&self, name: &str) -> Option<&ElementDef> {
        self.names.get(name).and_then(|&i| self.elements.get(i))
    }

    /// Position of an element in definition order (used to order XML output).
    pub fn element_index(&self, json_name: &str) -> Option<usize> {
        self.json_fields.get(json_name).map(|&(i, _)| i)
    }
}

pub struct Model {
    types: HashMap<String, TypeDef>,
    resource_types: Vec<String>,
}

static MODEL: OnceLock<Result<Model, String>> = OnceLock::new();

/// The R4 model, loaded from the embedded definitions on first use.
pub fn r4() -> Result<&'static Model, ConformanceError> {
    MODEL.get_or_init(|| Model::load().map_err(|e| e.to_string())).as_ref().map_err(|e| ConformanceError(e.clone()))
}

impl Model {
    fn load() -> Result<Model, ConformanceError> {
        let mut model = Model { types: HashMap::new(), resource_types: Vec::new() };
        for source in [Definitions::ProfilesTypes, Definitions::ProfilesResources] {
            let bundle: DefinitionBundle<StructureDefinitionIn> = source.parse()?;
            for entry in bundle.entry {
                model.add(entry.resource);
            }
        }
        model.resource_types.sort();
        Ok(model)
    }

    fn add(&mut self, sd: StructureDefinitionIn) {
        // Only base definitions: constraints such as SimpleQuantity are profiles on a base type.
        if sd.resource_type != "StructureDefinition" || sd.derivation.as_deref() == Some("constraint") {
            return;
        }
        let kind = match sd.kind.as_deref() {
            Some("primitive-type") => TypeKind::Primitive,
            Some("complex-type") => TypeKind::Complex,
            Some("resource") => TypeKind::Resource,
            _ => return,
        };
        let Some(snapshot) = sd.snapshot else { return };
        let name = sd.type_name.as_ref().and_then(|t| t.as_str()).map(str::to_string).unwrap_or(sd.id);
        let base = sd.base_definition.and_then(|b| b.rsplit('/').next().map(str::to_string));
        if kind == TypeKind::Resource && !sd.is_abstract {
            self.resource_types.push(name.clone());
        }

        // Paths that have children become backbone types named by their path.
        let elements = snapshot.element;
        let parents: std::collections::HashSet<&str> =
            elements.iter().filter_map(|e| e.path.rsplit_once('.').map(|(p, _)| p)).collect();
        let mut by_parent: HashMap<String, Vec<ElementDef>> = HashMap::new();
        for el in &elements {
            let Some((parent, last)) = el.path.rsplit_once('.') else { continue };
            let def = element_def(el, last, parents.contains(el.path.as_str()));
            by_parent.entry(parent.to_string()).or_default().push(def);
        }
        for (path, mut children) in by_parent {
            let is_root = path == name;
            if is_root && kind == TypeKind::Resource {
                // R4's snapshots type Resource.id as a plain string; the specification's text
                // (and every server) requires the `id` type's rules.
                for child in children.iter_mut().filter(|c| c.name == "id") {
                    child.types = vec!["id".to_string()];
                }
            }
            let backbone_base = elements
                .iter()
                .find(|e| e.path == path)
                .and_then(|e| e.types.first())
                .map(|t| t.code.clone())
                .unwrap_or_else(|| "BackboneElement".to_string());
            let def = TypeDef {
                json_fields: json_fields(&children),
                names: children.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect(),
                name: path.clone(),
                kind: if is_root { kind } else { TypeKind::Backbone },
                base: if is_root { base.clone() } else { Some(backbone_base) },
                is_abstract: is_root && sd.is_abstract,
                elements: children,
            };
            self.types.insert(path, def);
        }
        // Types with no children at all (none in R4 today) still need an entry.
        self.types.entry(name.clone()).or_insert_with(|| TypeDef {
            name,
            kind,
            base,
            is_abstract: sd.is_abstract,
            elements: Vec::new(),
            json_fields: HashMap::new(),
            names: HashMap::new(),
        });
    }

    pub fn get(&self, type_name: &str) -> Option<&TypeDef> {
        self.types.get(type_name)
    }

    /// Concrete resource types, sorted.
    pub fn resource_types(&self) -> &[String] {
        &self.resource_types
    }

    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types.binary_search_by(|t| t.as_str().cmp(name)).is_ok()
    }

    pub fn is_primitive(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|t| t.kind == TypeKind::Primitive)
    }

    /// Whether `name` is `ancestor` or derives from it.
    pub fn derives_from(&self, name: &str, ancestor: &str) -> bool {
        let mut current = Some(name);
        let mut steps = 0;
        while let Some(t) = current {
            if t == ancestor {
                return true;
            }
            steps += 1;
            if steps > 16 {
                return false;
            }
            current = self.types.get(t).and_then(|d| d.base.as_deref());
        }
        false
    }
}

/// The model as FHIRPath sees it: typed navigation, choice elements and type hierarchy.
impl ikp_fhirpath::ModelInfo for Model {
    fn element(&self, type_name: &str, name: &str) -> Option<ikp_fhirpath::ElementInfo<'_>> {
        let e = self.types.get(type_name)?.element(name)?;
        Some(ikp_fhirpath::ElementInfo { types: &e.types, is_array: e.is_array(), is_choice: e.choice })
    }

    fn base_type(&self, type_name: &str) -> Option<&str> {
        self.types.get(type_name)?.base.as_deref()
    }

    fn is_resource_type(&self, type_name: &str) -> bool {
        self.types.get(type_name).is_some_and(|t| t.kind == TypeKind::Resource)
    }

    fn is_known_type(&self, type_name: &str) -> bool {
        self.types.contains_key(type_name)
    }
}

fn element_def(el: &ElementIn, last: &str, has_children: bool) -> ElementDef {
    let choice = last.ends_with("[x]");
    let name = last.trim_end_matches("[x]").to_string();
    let types = if let Some(reference) = &el.content_reference {
        vec![reference.rsplit('#').next().unwrap_or(reference).to_string()]
    } else if has_children {
        vec![el.path.clone()]
    } else {
        el.types.iter().map(TypeRefIn::fhir_type).collect()
    };
    ElementDef {
        name,
        path: el.path.clone(),
        min: el.min.unwrap_or(0),
        max: match el.max.as_deref() {
            Some("0") => Max::Zero,
            Some("1") => Max::One,
            _ => Max::Many,
        },
        types,
        choice,
        summary: el.is_summary.unwrap_or(false),
        modifier: el.is_modifier.unwrap_or(false),
        xml_attr: el.representation.iter().any(|r| r == "xmlAttr"),
        binding: el.binding.as_ref().and_then(|b| {
            let strength = match b.strength.as_str() {
                "required" => BindingStrength::Required,
                "extensible" => BindingStrength::Extensible,
                "preferred" => BindingStrength::Preferred,
                _ => BindingStrength::Example,
            };
            let value_set = b.value_set.as_ref()?;
            Some(Binding { strength, value_set: value_set.split('|').next().unwrap_or(value_set).to_string() })
        }),
    }
}

fn json_fields(elements: &[ElementDef]) -> HashMap<String, (usize, usize)> {
    let mut map = HashMap::new();
    for (i, e) in elements.iter().enumerate() {
        for (t, type_name) in e.types.iter().enumerate() {
            map.insert(e.json_name(type_name), (i, t));
        }
    }
    map
}

pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StructureDefinitionIn {
    resource_type: String,
    #[serde(default)]
    id: String,
    kind: Option<String>,
    derivation: Option<String>,
    #[serde(rename = "abstract", default)]
    is_abstract: bool,
    base_definition: Option<String>,
    /// A string on StructureDefinitions; other resources in the bundle use `type` differently.
    #[serde(rename = "type")]
    type_name: Option<serde_json::Value>,
    snapshot: Option<SnapshotIn>,
}

#[derive(Deserialize)]
struct SnapshotIn {
    element: Vec<ElementIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ElementIn {
    path: String,
    min: Option<u32>,
    max: Option<String>,
    #[serde(rename = "type", default)]
    types: Vec<TypeRefIn>,
    content_reference: Option<String>,
    is_summary: Option<bool>,
    is_modifier: Option<bool>,
    #[serde(default)]
    representation: Vec<String>,
    binding: Option<BindingIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeRefIn {
    code: String,
    #[serde(default)]
    extension: Vec<ExtensionIn>,
}

impl TypeRefIn {
    /// The FHIR type name; elements typed with FHIRPath system types (`id`, `Extension.url`,
    /// primitive `value`) carry their FHIR type in an extension.
    fn fhir_type(&self) -> String {
        self.extension
            .iter()
            .find(|e| e.url == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type")
            .and_then(|e| e.value_url.clone())
            .unwrap_or_else(|| self.code.clone())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExtensionIn {
    url: String,
    value_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BindingIn {
    strength: String,
    value_set: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_model() {
        let m = r4().expect("model");
        assert!(m.is_resource_type("Patient"));
        assert!(!m.is_resource_type("DomainResource"));
        let p = m.get("Patient").expect("Patient");
        let (birth, t) = p.field("birthDate").expect("birthDate");
        assert_eq!(t, "date");
        assert_eq!(birth.max, Max::One);
        let (deceased, t) = p.field("deceasedDateTime").expect("deceased[x]");
        assert!(deceased.choice);
        assert_eq!(t, "dateTime");
        let (contact, t) = p.field("contact").expect("contact");
        assert_eq!(t, "Patient.contact");
        assert!(contact.is_array());
        assert!(m.get("Patient.contact").is_some());
        assert!(m.derives_from("Patient", "Resource"));
        assert!(m.derives_from("Age", "Quantity"));
        let q = m.get("Questionnaire.item").expect("item");
        assert_eq!(q.field("item").expect("nested").1, "Questionnaire.item");
        let e = m.get("Extension").expect("Extension");
        assert!(e.field("url").expect("url").0.xml_attr);
        assert_eq!(e.field("url").expect("url").1, "uri");
        assert_eq!(m.get("Resource").and_then(|r| r.field("id")).map(|f| f.1), Some("id"));
    }
}
