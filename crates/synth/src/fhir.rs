//! Identifier and code systems, and small builders for FHIR JSON datatypes.

use serde_json::{Number, Value};

/// Builds JSON like `serde_json::json!`, but moves values in with `Value::from` instead of
/// re-serializing them (json! deep-copies every interpolated `Value`, which dominated the
/// generator's profile). Objects `{ "key": value, ... }` and arrays `[ ... ]` nest.
macro_rules! obj {
    (@entries $m:ident) => {};
    (@entries $m:ident $k:literal : $($rest:tt)*) => { obj!(@value $m $k [] $($rest)*) };
    (@value $m:ident $k:literal [$($v:tt)*] , $($rest:tt)*) => {
        $m.insert(String::from($k), obj!($($v)*));
        obj!(@entries $m $($rest)*)
    };
    (@value $m:ident $k:literal [$($v:tt)*]) => {
        $m.insert(String::from($k), obj!($($v)*));
    };
    (@value $m:ident $k:literal [$($v:tt)*] $t:tt $($rest:tt)*) => { obj!(@value $m $k [$($v)* $t] $($rest)*) };
    (@items $a:ident []) => {};
    (@items $a:ident [$($e:tt)*] , $($rest:tt)*) => {
        $a.push(obj!($($e)*));
        obj!(@items $a [] $($rest)*)
    };
    (@items $a:ident [$($e:tt)+]) => { $a.push(obj!($($e)*)); };
    (@items $a:ident [$($e:tt)*] $t:tt $($rest:tt)*) => { obj!(@items $a [$($e)* $t] $($rest)*) };
    ({ $($body:tt)* }) => {{
        #[allow(unused_mut)]
        let mut m = serde_json::Map::new();
        obj!(@entries m $($body)*);
        serde_json::Value::Object(m)
    }};
    ([ $($body:tt)* ]) => {{
        #[allow(unused_mut)]
        let mut a = $crate::fhir::array();
        obj!(@items a [] $($body)*);
        serde_json::Value::Array(a)
    }};
    ($e:expr) => { serde_json::Value::from($e) };
}
pub(super) use obj;

/// An empty JSON array under construction (for `obj!`).
pub fn array() -> Vec<Value> {
    Vec::with_capacity(4)
}

pub use ikp_terminology::naming::{
    LOCAL_ROOT, MEDICAL_ENTITY, NFZ_BRANCH, NIP, NPWZ_LAB, NPWZ_NURSE, NPWZ_PHARMACIST, NPWZ_PHYSICIAN, ORG_CELL,
    PESEL, PHARMACY, REGON_9, REGON_14,
};

pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
pub const ICD9PL: &str = "urn:oid:2.16.840.1.113883.3.4424.11.2.6";
pub use ikp_terminology::laboratory::{LOINC, SNOMED, UCUM};
pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub const ATC: &str = "http://www.whocc.no/atc";
pub const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const CELL_TYPE: &str = "http://hl7.org.pl/fhir/CodeSystem/pl-medicalEntityCellType-CS";
pub const PROFESSION: &str = "http://hl7.org.pl/fhir/CodeSystem/pl-medicalProfession-CS";
pub const SPECIALTY: &str = "http://hl7.org.pl/fhir/CodeSystem/pl-practitionerSpecialty-CS";
pub const DISCHARGE: &str = "http://hl7.org.pl/fhir/CodeSystem/pl-dischargeDisposition-CS";

pub fn coding(system: &str, code: &str, display: &str) -> Value {
    obj!({"system": system, "code": code, "display": display})
}

pub fn concept(system: &str, code: &str, display: &str) -> Value {
    obj!({"coding": [coding(system, code, display)], "text": display})
}

/// A CodeableConcept with a coding only (no text).
pub fn coded(system: &str, code: &str, display: &str) -> Value {
    obj!({"coding": [coding(system, code, display)]})
}

pub fn identifier(system: &str, value: &str) -> Value {
    obj!({"system": system, "value": value})
}

pub fn reference(kind: &str, id: &str) -> Value {
    obj!({"reference": format!("{kind}/{id}")})
}

pub fn reference_display(kind: &str, id: &str, display: &str) -> Value {
    obj!({"reference": format!("{kind}/{id}"), "display": display})
}

/// An exact decimal `scaled / 10^scale` (e.g. `dec(53, 1)` is 5.3), kept as written.
pub fn dec(scaled: i64, scale: u32) -> Value {
    let text = if scale == 0 {
        scaled.to_string()
    } else {
        let p = 10i64.pow(scale);
        let sign = if scaled < 0 { "-" } else { "" };
        let a = scaled.unsigned_abs();
        format!("{sign}{}.{:0width$}", a / p as u64, a % p as u64, width = scale as usize)
    };
    text.parse::<Number>().map(Value::Number).unwrap_or_else(|_| Value::from(scaled))
}

/// Rounds a float to `scale` decimals and returns the exact decimal.
pub fn decimal(value: f64, scale: u32) -> Value {
    let p = 10f64.powi(scale as i32);
    dec((value * p).round() as i64, scale)
}

/// A UCUM quantity; a dimensionless one (unit `""`, e.g. a specific gravity) has no printed unit.
pub fn quantity(value: Value, unit: &str, code: &str) -> Value {
    let mut q = obj!({"value": value, "unit": unit, "system": UCUM, "code": code});
    if unit.is_empty()
        && let Some(q) = q.as_object_mut()
    {
        q.remove("unit");
    }
    q
}

/// `meta` declaring the national profile `name` (e.g. `PLObservationLab`).
pub fn profiled(name: &str) -> Value {
    obj!({"profile": [format!("{}/StructureDefinition/{name}", ikp_terminology::CANONICAL_BASE)]})
}

/// Standard base64 (RFC 4648) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A deterministic RFC 4122-shaped UUID (version 8, "custom") from two 64-bit hashes.
pub fn uuid(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_8000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(dec(53, 1).to_string(), "5.3");
        assert_eq!(dec(-5, 2).to_string(), "-0.05");
        assert_eq!(dec(500, 2).to_string(), "5.00");
        assert_eq!(decimal(4.25, 1).to_string(), "4.3");
        let u = uuid(u64::MAX, 0);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
    }
}
