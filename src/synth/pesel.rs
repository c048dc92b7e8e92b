//! PESEL: `YYMMDDZZZXC`, the birth date with the century folded into the month, a serial, the sex
//! digit (odd = male) and a check digit with weights 1,3,7,9 (reference §3.1).

use super::calendar::Day;

const WEIGHTS: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

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
    let digits: Vec<u32> = first_ten.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if digits.len() != 10 {
        return None;
    }
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    Some((10 - sum % 10) % 10)
}

/// The birth date and sex a valid PESEL encodes; `None` when the format, date or checksum is wrong.
pub fn decode(pesel: &str) -> Option<(Day, Sex)> {
    if pesel.len() != 11 || !pesel.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digit = |i: usize| u32::from(pesel.as_bytes()[i] - b'0');
    if check_digit(&pesel[..10])? != digit(10) {
        return None;
    }
    let yy = digit(0) * 10 + digit(1);
    let mm = digit(2) * 10 + digit(3);
    let dd = digit(4) * 10 + digit(5);
    let century = match mm / 20 {
        0 => 1900,
        1 => 2000,
        2 => 2100,
        3 => 2200,
        _ => 1800,
    };
    let day = Day::from_ymd(century + yy as i32, mm % 20, dd)?;
    let sex = if digit(9) % 2 == 1 { Sex::Male } else { Sex::Female };
    Some((day, sex))
}

#[cfg(test)]
mod tests {
    use super::*;

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
