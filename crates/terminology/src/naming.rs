//! The identifier systems of the Polish registers (the NamingSystems of the national terminology):
//! what the access policy, the workflows, validation and the synthetic population all mean by a
//! PESEL or an NPWZ. One definition each, so no two parts of the server can disagree.

/// PESEL, the national personal identification number.
pub const PESEL: &str = "urn:oid:2.16.840.1.113883.3.4424.1.1.616";
/// NPWZ (right-to-practise numbers) of pharmacists, physicians, nurses and laboratory diagnosticians.
pub const NPWZ_PHARMACIST: &str = "urn:oid:2.16.840.1.113883.3.4424.1.6.1";
pub const NPWZ_PHYSICIAN: &str = "urn:oid:2.16.840.1.113883.3.4424.1.6.2";
pub const NPWZ_NURSE: &str = "urn:oid:2.16.840.1.113883.3.4424.1.6.3";
pub const NPWZ_LAB: &str = "urn:oid:2.16.840.1.113883.3.4424.1.6.4";
/// Tax identification number of an organisation.
pub const NIP: &str = "urn:oid:2.16.840.1.113883.3.4424.2.1";
/// REGON business register numbers, 9 and 14 digits.
pub const REGON_9: &str = "urn:oid:2.16.840.1.113883.3.4424.2.2.1";
pub const REGON_14: &str = "urn:oid:2.16.840.1.113883.3.4424.2.2.2";
/// The register of medical entities (RPWDL) and its organisational cells.
pub const MEDICAL_ENTITY: &str = "urn:oid:2.16.840.1.113883.3.4424.2.3.1";
pub const ORG_CELL: &str = "urn:oid:2.16.840.1.113883.3.4424.2.3.3";
/// The register of pharmacies.
pub const PHARMACY: &str = "urn:oid:2.16.840.1.113883.3.4424.2.6";
/// NFZ (national health fund) branches.
pub const NFZ_BRANCH: &str = "urn:oid:2.16.840.1.113883.3.4424.3.1";
/// Root of providers' local OID nodes (`{root}.{n}`), under which they mint document ids.
pub const LOCAL_ROOT: &str = "2.16.840.1.113883.3.4424.2.7";
