//! FHIR date, dateTime, instant and time values with their precision.
//!
//! FHIR dates may be partial (`2024`, `2024-03`); a partial date denotes the whole interval it names.
//! Search turns values into half-open `[start, end)` ranges of epoch microseconds, so that one
//! representation serves every comparison prefix.

/// How much of a date/time was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Minute,
    Second,
    /// Fractional seconds, with the number of digits given.
    Fraction(u8),
}

/// A parsed FHIR date or dateTime (or instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
    /// Offset from UTC in minutes, when a time was given.
    pub offset_minutes: Option<i32>,
    pub precision: Precision,
}

/// Which lexical form is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// A date, or a date with a time and a mandatory time zone.
    DateTime,
    /// A full date-time to at least seconds, with a time zone.
    Instant,
}

pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    let mut v = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn expect(s: &[u8], at: usize, c: u8) -> Option<()> {
    (s.get(at) == Some(&c)).then_some(())
}

/// Parses a FHIR date/dateTime/instant, checking the calendar (no 13th month, no 30 February).
pub fn parse(text: &str, kind: DateKind) -> Result<DateTime, String> {
    parse_inner(text.as_bytes(), kind).ok_or_else(|| {
        let what = match kind {
            DateKind::Date => "date (YYYY, YYYY-MM or YYYY-MM-DD)",
            DateKind::DateTime => "dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)",
            DateKind::Instant => "instant (YYYY-MM-DDThh:mm:ss[.fff]+zz:zz)",
        };
        format!("'{text}' is not a valid {what}")
    })
}

fn parse_inner(s: &[u8], kind: DateKind) -> Option<DateTime> {
    let year = digits(s, 0, 4)? as i32;
    let mut dt = DateTime {
        year,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset_minutes: None,
        precision: Precision::Year,
    };
    if s.len() == 4 {
        return (kind != DateKind::Instant).then_some(dt);
    }
    expect(s, 4, b'-')?;
    dt.month = digits(s, 5, 2)? as u8;
    if !(1..=12).contains(&dt.month) {
        return None;
    }
    dt.precision = Precision::Month;
    if s.len() == 7 {
        return (kind != DateKind::Instant).then_some(dt);
    }
    expect(s, 7, b'-')?;
    dt.day = digits(s, 8, 2)? as u8;
    if dt.day == 0 || dt.day > days_in_month(year, dt.month) {
        return None;
    }
    dt.precision = Precision::Day;
    if s.len() == 10 {
        return (kind != DateKind::Instant).then_some(dt);
    }
    if kind == DateKind::Date {
        return None;
    }
    expect(s, 10, b'T')?;
    dt.hour = digits(s, 11, 2)? as u8;
    expect(s, 13, b':')?;
    dt.minute = digits(s, 14, 2)? as u8;
    expect(s, 16, b':')?;
    dt.second = digits(s, 17, 2)? as u8;
    // FHIR allows a leap second (60).
    if dt.hour > 23 || dt.minute > 59 || dt.second > 60 {
        return None;
    }
    dt.precision = Precision::Second;
    let mut at = 19;
    if s.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while s.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let n = at - start;
        if n == 0 {
            return None;
        }
        let frac = &s[start..at.min(start + 9)];
        let mut nanos = 0u32;
        for i in 0..9 {
            nanos = nanos * 10 + frac.get(i).map_or(0, |c| u32::from(c - b'0'));
        }
        dt.nanos = nanos;
        dt.precision = Precision::Fraction(n.min(255) as u8);
    }
    dt.offset_minutes = Some(parse_offset(s.get(at..)?)?);
    Some(dt)
}

fn parse_offset(s: &[u8]) -> Option<i32> {
    if s == b"Z" {
        return Some(0);
    }
    if s.len() != 6 {
        return None;
    }
    let sign = match s[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h = digits(s, 1, 2)?;
    expect(s, 3, b':')?;
    let m = digits(s, 4, 2)?;
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m) as i32)
}

/// Checks a FHIR `time` (`hh:mm:ss[.fff]`).
pub fn check_time(text: &str) -> Result<(), String> {
    let s = text.as_bytes();
    let ok = (|| {
        let h = digits(s, 0, 2)?;
        expect(s, 2, b':')?;
        let m = digits(s, 3, 2)?;
        expect(s, 5, b':')?;
        let sec = digits(s, 6, 2)?;
        if h > 23 || m > 59 || sec > 60 {
            return None;
        }
        match s.get(8) {
            None => Some(()),
            Some(b'.') if s.len() > 9 && s[9..].iter().all(u8::is_ascii_digit) => Some(()),
            _ => None,
        }
    })();
    ok.ok_or_else(|| format!("'{text}' is not a valid time (hh:mm:ss)"))
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl DateTime {
    /// Start of the value in microseconds since the epoch (UTC). Values without a time zone are
    /// taken as UTC, which is the server's documented convention for partial dates.
    pub fn start_micros(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - i64::from(self.offset_minutes.unwrap_or(0)) * 60;
        secs * 1_000_000 + i64::from(self.nanos / 1000)
    }

    /// End of the interval the value denotes (exclusive), in epoch microseconds.
    pub fn end_micros(&self) -> i64 {
        let start = self.start_micros();
        match self.precision {
            Precision::Year => DateTime { year: self.year + 1, month: 1, day: 1, ..*self }.start_micros(),
            Precision::Month => {
                let (y, m) = if self.month == 12 { (self.year + 1, 1) } else { (self.year, self.month + 1) };
                DateTime { year: y, month: m, day: 1, ..*self }.start_micros()
            }
            Precision::Day => start + 86_400_000_000,
            Precision::Minute => start + 60_000_000,
            Precision::Second => start + 1_000_000,
            Precision::Fraction(n) => start + 10i64.pow(6u32.saturating_sub(u32::from(n))).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_is_checked() {
        assert!(parse("2024-02-29", DateKind::Date).is_ok());
        assert!(parse("2023-02-29", DateKind::Date).is_err());
        assert!(parse("2024-13", DateKind::Date).is_err());
        assert!(parse("2024-04-31", DateKind::Date).is_err());
        assert!(parse("2024-01-01T10:00:00", DateKind::DateTime).is_err(), "time needs a zone");
        assert!(parse("2024-01-01T10:00:00+01:00", DateKind::DateTime).is_ok());
        assert!(parse("2024-01-01T10:00:00.123Z", DateKind::Instant).is_ok());
        assert!(parse("2024-01-01", DateKind::Instant).is_err());
        assert!(parse("2024-01-01T24:00:00Z", DateKind::DateTime).is_err());
        assert!(parse("24-01-01", DateKind::Date).is_err());
    }

    #[test]
    fn ranges() {
        let d = parse("2024-02", DateKind::Date).expect("date");
        assert_eq!(d.end_micros() - d.start_micros(), 29 * 86_400_000_000);
        let t = parse("1970-01-01T01:00:00+01:00", DateKind::DateTime).expect("dt");
        assert_eq!(t.start_micros(), 0);
        assert!(check_time("10:61:00").is_err());
        assert!(check_time("10:30:00.5").is_ok());
    }
}
