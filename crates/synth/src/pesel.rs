//! PESEL: `YYMMDDZZZXC`, the birth date with the century folded into the month, a serial, the sex
//! digit (odd = male) and a check digit with weights 1,3,7,9 (reference §3.1).

use super::calendar::Day;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn fhir(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// The PESEL for a birth date, a serial in `0..5000` and a sex, or `None` outside 1800–2299.
pub fn encode(birth: Day, serial: u32, sex: Sex) -> Option<String> {
    let (y, m, d) = birth.ymd();
    let offset = match y {
        1800..=1899 => 80,
        1900..=1999 => 0,
        2000..=2099 => 20,
        2100..=2199 => 40,
        2200..=2299 => 60,
        _ => return None,
    };
    let serial = serial % 5000;
    let zzz = serial / 5;
    let x = (serial % 5) * 2 + u32::from(sex == Sex::Male);
    let body = format!("{:02}{:02}{d:02}{zzz:03}{x}", y.rem_euclid(100), m + offset);
    Some(format!("{body}{}", check_digit(&body)?))
}

/// The check digit for the first ten digits.
pub fn check_digit(first_ten: &str) -> Option<u32> {
    ikp_validation::rules::pesel_check_digit(first_ten)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The birth date and sex a PESEL encodes, read back by the server's validator.
    fn decode(pesel: &str) -> Option<(Day, Sex)> {
        let decoded = ikp_validation::rules::pesel(pesel).ok()?;
        Some((Day::parse(&decoded.birth_date)?, if decoded.female { Sex::Female } else { Sex::Male }))
    }

    #[test]
    fn reference_examples() {
        let d = |s| Day::parse(s).unwrap_or(Day(0));
        assert_eq!(decode("40010151673"), Some((d("1940-01-01"), Sex::Male)));
        assert_eq!(decode("05231412341"), Some((d("2005-03-14"), Sex::Female)));
        assert_eq!(decode("85123100112"), Some((d("1985-12-31"), Sex::Male)));
        assert_eq!(decode("85123100113"), None);
        for (day, sex) in [(d("1899-12-31"), Sex::Female), (d("2024-02-29"), Sex::Male), (d("1950-06-15"), Sex::Male)] {
            for serial in [0, 1, 4999, 1234] {
                let p = encode(day, serial, sex).unwrap_or_default();
                assert_eq!(decode(&p), Some((day, sex)), "{p}");
            }
        }
    }
}
