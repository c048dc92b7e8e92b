//! Search-index rows extracted from a resource at write time, one table per parameter type.
//!
//! Row parameter names are the search parameter codes, with internal suffixes for auxiliary rows:
//! `code:text` (string rows holding a token's display text, for `:text`; searched normalised, so
//! their `exact` is empty), `identifier:of-type` (token rows whose system is
//! `type-system|type-code`, for `:of-type`), `subject:identifier` (token rows of a reference's
//! logical identifier, for `:identifier`) and `combo$0`, `combo$1` (the components of composite
//! parameters, tied together by `grp`).

mod extract;
pub mod normalize;
pub mod param_key;

pub use extract::{Extractor, ReferenceTarget, parse_reference};
pub use param_key::param_key;

/// A string value: normalised for the default and `:contains` searches, exact for `:exact`.
#[derive(Debug, Clone, PartialEq)]
pub struct StringRow {
    pub param: String,
    pub grp: Option<i32>,
    pub norm: String,
    pub exact: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub param: String,
    pub grp: Option<i32>,
    pub system: Option<String>,
    pub code: String,
}

/// A date as the half-open range `[lo, hi)` of epoch microseconds it denotes.
#[derive(Debug, Clone, PartialEq)]
pub struct DateRow {
    pub param: String,
    pub grp: Option<i32>,
    pub lo: i64,
    pub hi: i64,
}

/// A number, or a range of numbers (`lo == hi` for a single value).
#[derive(Debug, Clone, PartialEq)]
pub struct NumberRow {
    pub param: String,
    pub grp: Option<i32>,
    pub lo: f64,
    pub hi: f64,
}

/// A quantity (or range) with its unit, and its UCUM-canonical form when the unit is known.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityRow {
    pub param: String,
    pub grp: Option<i32>,
    pub system: Option<String>,
    pub code: Option<String>,
    pub lo: f64,
    pub hi: f64,
    /// Canonical UCUM dimension key and the values in canonical units.
    pub canon: Option<(String, f64, f64)>,
}

/// A reference: to a local resource (`target_type`/`target_id`), or by URL (absolute references to
/// other servers, canonicals).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRow {
    pub param: String,
    pub grp: Option<i32>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub version: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UriRow {
    pub param: String,
    pub grp: Option<i32>,
    pub value: String,
}

/// Membership of a resource in a compartment (`Patient/123`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompartmentRow {
    pub comp_type: String,
    pub comp_id: String,
}

/// Everything one resource version contributes to the search indexes.
#[derive(Debug, Clone, Default)]
pub struct IndexRows {
    pub strings: Vec<StringRow>,
    pub tokens: Vec<TokenRow>,
    pub dates: Vec<DateRow>,
    pub numbers: Vec<NumberRow>,
    pub quantities: Vec<QuantityRow>,
    pub references: Vec<ReferenceRow>,
    pub uris: Vec<UriRow>,
    pub compartments: Vec<CompartmentRow>,
}

impl IndexRows {
    pub fn len(&self) -> usize {
        self.strings.len()
            + self.tokens.len()
            + self.dates.len()
            + self.numbers.len()
            + self.quantities.len()
            + self.references.len()
            + self.uris.len()
            + self.compartments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves every row of `other` into `self`.
    pub fn append(&mut self, mut other: IndexRows) {
        self.strings.append(&mut other.strings);
        self.tokens.append(&mut other.tokens);
        self.dates.append(&mut other.dates);
        self.numbers.append(&mut other.numbers);
        self.quantities.append(&mut other.quantities);
        self.references.append(&mut other.references);
        self.uris.append(&mut other.uris);
        self.compartments.append(&mut other.compartments);
    }
}
