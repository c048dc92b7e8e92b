//! The model abstraction: what the engine needs to know about FHIR types.

/// Type information the evaluator needs. The server implements this from its
/// StructureDefinition-derived model; without a model the engine navigates JSON by key.
///
/// Compared with the original proposal, the returned data is *borrowed* from the model
/// (`ElementInfo<'_>` holds `&[String]`, `base_type` returns `&str`): navigation runs on
/// every step of every expression, and borrowing avoids allocating a `Vec<String>` per step.
/// Type names handed back are also stored inside result items, which borrow the model.
pub trait ModelInfo: Send + Sync {
    /// Element `name` of type `type_name`. Type names are FHIR type names ("Patient",
    /// "HumanName", "Quantity", "string") or, for BackboneElements, the element path that
    /// defines them ("Observation.component", "Questionnaire.item"; contentReference is already
    /// followed, so "Questionnaire.item" element "item" has type "Questionnaire.item"). For
    /// choice elements `name` is the base name without "[x]" ("value") and `types` lists every
    /// allowed type.
    fn element(&self, type_name: &str, name: &str) -> Option<ElementInfo<'_>>;
    /// The parent type: "Patient" -> "DomainResource", "DomainResource" -> "Resource",
    /// "Age" -> "Quantity", "code" -> "string", "Observation.component" -> "BackboneElement",
    /// "Resource"/"Element" -> None.
    fn base_type(&self, type_name: &str) -> Option<&str>;
    fn is_resource_type(&self, type_name: &str) -> bool;
    fn is_known_type(&self, type_name: &str) -> bool;
}

/// Definition of one element, borrowed from the model.
#[derive(Debug, Clone, Copy)]
pub struct ElementInfo<'m> {
    /// Allowed types (one unless `is_choice`).
    pub types: &'m [String],
    pub is_array: bool,
    pub is_choice: bool,
}

/// FHIR primitive type names.
pub(super) fn is_primitive_type(t: &str) -> bool {
    matches!(
        t,
        "boolean"
            | "integer"
            | "integer64"
            | "positiveInt"
            | "unsignedInt"
            | "decimal"
            | "string"
            | "code"
            | "id"
            | "markdown"
            | "uri"
            | "url"
            | "canonical"
            | "oid"
            | "uuid"
            | "base64Binary"
            | "xhtml"
            | "date"
            | "dateTime"
            | "instant"
            | "time"
    )
}

/// Built-in knowledge of base types used when no model is supplied (or it does not know).
pub(super) fn builtin_base(t: &str) -> Option<&'static str> {
    Some(match t {
        "code" | "id" | "markdown" => "string",
        "url" | "canonical" | "oid" | "uuid" => "uri",
        "positiveInt" | "unsignedInt" => "integer",
        "Age" | "Count" | "Distance" | "Duration" | "MoneyQuantity" | "SimpleQuantity" => "Quantity",
        "DomainResource" => "Resource",
        "Bundle" | "Binary" | "Parameters" => "Resource",
        "BackboneElement" => "Element",
        "boolean" | "integer" | "integer64" | "decimal" | "string" | "uri" | "base64Binary" | "xhtml" | "date"
        | "dateTime" | "instant" | "time" => "Element",
        "Quantity" | "HumanName" | "Address" | "ContactPoint" | "Identifier" | "CodeableConcept" | "Coding"
        | "Reference" | "Period" | "Range" | "Ratio" | "Attachment" | "Annotation" | "Extension" | "Meta"
        | "Narrative" | "Money" | "SampledData" | "Signature" => "Element",
        "Timing" | "Dosage" | "ElementDefinition" => "BackboneElement",
        _ => return None,
    })
}

/// Whether `t` is `target` or derives from it.
pub(super) fn is_subtype(model: Option<&dyn ModelInfo>, t: &str, target: &str) -> bool {
    if t == target {
        return true;
    }
    // Concrete resource types only derive from Resource / DomainResource.
    if let Some(m) = model
        && !matches!(target, "Resource" | "DomainResource")
        && m.is_resource_type(target)
    {
        return false;
    }
    let mut cur: Option<&str> = Some(t);
    for _ in 0..32 {
        let Some(c) = cur else { return false };
        if c == target {
            return true;
        }
        let next = match model {
            Some(m) if m.is_known_type(c) => m.base_type(c),
            _ => None,
        };
        cur = match next {
            Some(n) => Some(n),
            None => {
                let b = builtin_base(c);
                if b.is_none()
                    && starts_upper(c)
                    && !c.contains('.')
                    && model.is_none_or(|m| m.is_resource_type(c))
                    && !matches!(c, "Resource" | "DomainResource" | "Element" | "BackboneElement")
                {
                    // Unknown resource types without a model: assume DomainResource.
                    Some("DomainResource")
                } else {
                    b
                }
            }
        };
    }
    false
}

pub(super) fn starts_upper(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|c| c.is_ascii_uppercase())
}
