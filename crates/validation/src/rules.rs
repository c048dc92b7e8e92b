//! Polish national business rules that StructureDefinitions cannot express well, as typed checks:
//! PESEL (checksum, birth date, sex), NIP and REGON checksums. They apply to every resource that
//! carries such an identifier, whatever its profile: a national system must never store an
//! impossible PESEL.

use serde_json::Value;

use ikp_model::outcome::{Issue, IssueType};

pub use ikp_terminology::naming::{NIP, PESEL, REGON_9, REGON_14};

/// What a PESEL encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pesel {
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub female: bool,
}

fn digits(value: &str, len: usize) -> Option<Vec<u32>> {
    (value.len() == len).then(|| value.chars().map(|c| c.to_digit(10)).collect::<Option<Vec<u32>>>()).flatten()
}

fn weighted(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum()
}

const PESEL_WEIGHTS: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

/// The PESEL check digit for the first ten digits.
pub fn pesel_check_digit(first_ten: &str) -> Option<u32> {
    let d = digits(first_ten, 10)?;
    Some((10 - weighted(&d, &PESEL_WEIGHTS) % 10) % 10)
}

/// Decodes a PESEL, or says what is wrong with it.
pub fn pesel(value: &str) -> Result<Pesel, String> {
    let d = digits(value, 11).ok_or("a PESEL has exactly 11 digits")?;
    let check = (10 - weighted(&d, &PESEL_WEIGHTS) % 10) % 10;
    if check != d[10] {
        return Err(format!("the PESEL check digit should be {check}, not {}", d[10]));
    }
    let (yy, mm, dd) = (d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    let (century, month) = match mm {
        1..=12 => (1900, mm),
        21..=32 => (2000, mm - 20),
        41..=52 => (2100, mm - 40),
        61..=72 => (2200, mm - 60),
        81..=92 => (1800, mm - 80),
        _ => return Err(format!("the PESEL encodes no valid month ({mm:02})")),
    };
    let year = century + yy;
    let month_u8 = u8::try_from(month).map_err(|_| "bad month".to_string())?;
    let date = time::Month::try_from(month_u8)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(year as i32, m, u8::try_from(dd).ok()?).ok())
        .ok_or_else(|| format!("the PESEL encodes an impossible birth date ({year}-{month:02}-{dd:02})"))?;
    Ok(Pesel { birth_date: date.to_string(), female: d[9] % 2 == 0 })
}

/// Checks a NIP (tax number).
pub fn nip(value: &str) -> Result<(), String> {
    let d = digits(value, 10).ok_or("a NIP has exactly 10 digits")?;
    let sum = weighted(&d, &[6, 5, 7, 2, 3, 4, 5, 6, 7]) % 11;
    if sum == 10 || sum != d[9] {
        return Err("the NIP check digit is wrong".to_string());
    }
    Ok(())
}

/// Checks a 9- or 14-digit REGON.
pub fn regon(value: &str) -> Result<(), String> {
    let weights: &[u32] = match value.len() {
        9 => &[8, 9, 2, 3, 4, 5, 6, 7],
        14 => &[2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8],
        _ => return Err("a REGON has 9 or 14 digits".to_string()),
    };
    let d = digits(value, value.len()).ok_or("a REGON has only digits")?;
    let check = weighted(&d, weights) % 11 % 10;
    if Some(&check) != d.last() {
        return Err("the REGON check digit is wrong".to_string());
    }
    Ok(())
}

/// Checks the identifiers of a resource (and, for persons, PESEL against birth date and sex).
pub fn check(resource: &Value) -> Vec<Issue> {
    let mut issues = Vec::new();
    let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let Some(identifiers) = resource.get("identifier").and_then(Value::as_array) else { return issues };
    for (i, identifier) in identifiers.iter().enumerate() {
        let (Some(system), Some(value)) =
            (identifier.get("system").and_then(Value::as_str), identifier.get("value").and_then(Value::as_str))
        else {
            continue;
        };
        let at = format!("{resource_type}.identifier[{i}].value");
        let problem = match system {
            PESEL => match pesel(value) {
                Ok(decoded) => person_consistency(resource, &decoded),
                Err(e) => Some(e),
            },
            NIP => nip(value).err(),
            REGON_9 | REGON_14 => regon(value).err(),
            _ => None,
        };
        if let Some(message) = problem {
            issues.push(Issue::error(IssueType::Invalid, format!("{message} ('{value}')")).at(at));
        }
    }
    issues
}

/// A PESEL must agree with the person's recorded birth date and administrative sex.
fn person_consistency(resource: &Value, pesel: &Pesel) -> Option<String> {
    if let Some(birth) = resource.get("birthDate").and_then(Value::as_str)
        && birth.len() == 10
        && birth != pesel.birth_date
    {
        return Some(format!("the PESEL encodes the birth date {}, but birthDate is {birth}", pesel.birth_date));
    }
    match resource.get("gender").and_then(Value::as_str) {
        Some("male") if pesel.female => Some("the PESEL encodes a woman, but gender is male".to_string()),
        Some("female") if !pesel.female => Some("the PESEL encodes a man, but gender is female".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pesel_decodes_birth_date_and_sex_across_centuries() {
        assert_eq!(pesel("44051401359"), Ok(Pesel { birth_date: "1944-05-14".into(), female: false }));
        assert_eq!(pesel("02270803624"), Ok(Pesel { birth_date: "2002-07-08".into(), female: true }));
        assert!(pesel("44051401358").unwrap_err().contains("check digit"));
        assert!(pesel("4405140135").is_err());
        assert!(pesel("4405140135a").is_err());
        assert!(pesel("44133101351").is_err());
    }

    #[test]
    fn nip_and_regon_checksums() {
        assert!(nip("5261040828").is_ok());
        assert!(nip("5261040827").is_err());
        assert!(regon("012100784").is_ok());
        assert!(regon("012100785").is_err());
        assert!(regon("12345678512347").is_ok());
        assert!(regon("12345678512346").is_err());
        assert!(regon("1234").is_err());
    }

    #[test]
    fn patient_pesel_must_agree_with_birth_date_and_gender() {
        let patient = |birth: &str, gender: &str| {
            json!({"resourceType": "Patient", "birthDate": birth, "gender": gender,
                "identifier": [{"system": "urn:oid:1.2.3", "value": "x"}, {"system": PESEL, "value": "44051401359"}]})
        };
        assert!(check(&patient("1944-05-14", "male")).is_empty());
        let wrong_date = check(&patient("1944-05-15", "male"));
        assert_eq!(wrong_date[0].expression.as_deref(), Some("Patient.identifier[1].value"));
        assert!(wrong_date[0].message.contains("birth date"));
        assert!(check(&patient("1944-05-14", "female"))[0].message.contains("encodes a man"));
    }
}
