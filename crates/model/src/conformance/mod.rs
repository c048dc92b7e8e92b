//! The official FHIR R4 (4.0.1) definitions the server is built from, embedded in the binary so that
//! one file is a complete server. They are decompressed and parsed on first use.

use std::io::Read;

use serde::de::DeserializeOwned;

pub const FHIR_VERSION: &str = "4.0.1";

const PROFILES_RESOURCES: &[u8] = include_bytes!("../../../../conformance/profiles-resources.json.gz");
const PROFILES_TYPES: &[u8] = include_bytes!("../../../../conformance/profiles-types.json.gz");
const SEARCH_PARAMETERS: &[u8] = include_bytes!("../../../../conformance/search-parameters.json.gz");
const VALUESETS: &[u8] = include_bytes!("../../../../conformance/valuesets.json.gz");
const V2_TABLES: &[u8] = include_bytes!("../../../../conformance/v2-tables.json.gz");
const V3_CODE_SYSTEMS: &[u8] = include_bytes!("../../../../conformance/v3-codesystems.json.gz");
const CONCEPT_MAPS: &[u8] = include_bytes!("../../../../conformance/conceptmaps.json.gz");
pub const COMPARTMENT_PATIENT: &str = include_str!("../../../../conformance/CompartmentDefinition-patient.json");
pub const COMPARTMENT_ENCOUNTER: &str = include_str!("../../../../conformance/CompartmentDefinition-encounter.json");
pub const COMPARTMENT_RELATED_PERSON: &str =
    include_str!("../../../../conformance/CompartmentDefinition-relatedPerson.json");
pub const COMPARTMENT_PRACTITIONER: &str =
    include_str!("../../../../conformance/CompartmentDefinition-practitioner.json");
pub const COMPARTMENT_DEVICE: &str = include_str!("../../../../conformance/CompartmentDefinition-device.json");

/// One of the embedded definition bundles.
#[derive(Debug, Clone, Copy)]
pub enum Definitions {
    ProfilesResources,
    ProfilesTypes,
    SearchParameters,
    ValueSets,
    /// HL7 v2 tables as CodeSystems and ValueSets.
    V2Tables,
    /// HL7 v3 code systems and their value sets.
    V3CodeSystems,
    ConceptMaps,
}

impl Definitions {
    /// The embedded gzip bytes (fingerprinting what a build holds needs no decompression).
    pub fn compressed(self) -> &'static [u8] {
        match self {
            Definitions::ProfilesResources => PROFILES_RESOURCES,
            Definitions::ProfilesTypes => PROFILES_TYPES,
            Definitions::SearchParameters => SEARCH_PARAMETERS,
            Definitions::ValueSets => VALUESETS,
            Definitions::V2Tables => V2_TABLES,
            Definitions::V3CodeSystems => V3_CODE_SYSTEMS,
            Definitions::ConceptMaps => CONCEPT_MAPS,
        }
    }

    /// The decompressed JSON bytes. The embedded data is part of the build, so failure here is a
    /// build defect, reported as an error rather than a panic.
    pub fn bytes(self) -> Result<Vec<u8>, std::io::Error> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(self.compressed()).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Deserialize the bundle into a caller-chosen shape (typically only the fields it needs).
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ConformanceError> {
        let bytes = self.bytes().map_err(|e| ConformanceError(format!("{self:?}: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| ConformanceError(format!("{self:?}: {e}")))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("embedded FHIR definitions are unreadable: {0}")]
pub struct ConformanceError(pub String);

/// A FHIR Bundle of definitions, reduced to its resources.
#[derive(serde::Deserialize)]
pub struct DefinitionBundle<T> {
    pub entry: Vec<DefinitionEntry<T>>,
}

#[derive(serde::Deserialize)]
pub struct DefinitionEntry<T> {
    pub resource: T,
}
