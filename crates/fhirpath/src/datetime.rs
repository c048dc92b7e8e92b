//! Partial-precision Date, DateTime and Time values (FHIRPath System types).

use std::cmp::Ordering;
use std::fmt;

/// Precision of a date/time value, from coarsest to finest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl Precision {
    /// Seconds and milliseconds form a single precision for comparisons.
    fn merged(self) -> Precision {
        if self == Precision::Millisecond { Precision::Second } else { self }
    }
}

/// A Date or DateTime value. Components below `precision` are zero/unused.
/// `tz` is the offset from UTC in minutes, when one was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTimeValue {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
    pub precision: Precision,
    pub tz: Option<i16>,
}

/// A Time value (no date, no timezone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeValue {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
    pub precision: Precision,
}

/// Bound on day arithmetic (well beyond year 9999) keeping intermediate values in range.
const MAX_DAYS: i64 = 4_000_000;

pub(super) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(super) fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
        _ => 30,
    }
}

/// Days since 1970-01-01 (proleptic Gregorian), Howard Hinnant's algorithm.
pub(super) fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - if m <= 2 { 1 } else { 0 };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub(super) fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32, m as u8, d as u8)
}

struct Cursor<'s> {
    b: &'s [u8],
    i: usize,
}

impl<'s> Cursor<'s> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let end = self.i.checked_add(n)?;
        let slice = self.b.get(self.i..end)?;
        let mut v: u32 = 0;
        for &c in slice {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i = end;
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    /// Fractional seconds: returns milliseconds (truncated) if present.
    fn fraction(&mut self) -> Option<Option<u16>> {
        if self.peek() != Some(b'.') {
            return Some(None);
        }
        let next = self.b.get(self.i + 1).copied();
        if !next.is_some_and(|c| c.is_ascii_digit()) {
            return Some(None);
        }
        self.i += 1;
        let mut ms: u32 = 0;
        let mut n = 0;
        while let Some(c) = self.peek() {
            if !c.is_ascii_digit() {
                break;
            }
            if n < 3 {
                ms = ms * 10 + u32::from(c - b'0');
            }
            n += 1;
            self.i += 1;
        }
        while n < 3 {
            ms *= 10;
            n += 1;
        }
        Some(Some(ms as u16))
    }
    fn tz(&mut self) -> Option<Option<i16>> {
        match self.peek() {
            Some(b'Z') => {
                self.i += 1;
                Some(Some(0))
            }
            Some(c @ (b'+' | b'-')) => {
                self.i += 1;
                let h = self.digits(2)?;
                if !self.eat(b':') {
                    return None;
                }
                let m = self.digits(2)?;
                if h > 14 || m > 59 {
                    return None;
                }
                let off = (h * 60 + m) as i16;
                Some(Some(if c == b'-' { -off } else { off }))
            }
            _ => Some(None),
        }
    }
}

/// Parses the time part `hh(:mm(:ss(.fff)?)?)?` into a TimeValue (no timezone).
fn parse_time_part(c: &mut Cursor<'_>) -> Option<TimeValue> {
    let hour = c.digits(2)?;
    let mut t = TimeValue { hour: hour as u8, minute: 0, second: 0, millis: 0, precision: Precision::Hour };
    if hour > 23 {
        return None;
    }
    if c.eat(b':') {
        let m = c.digits(2)?;
        if m > 59 {
            return None;
        }
        t.minute = m as u8;
        t.precision = Precision::Minute;
        if c.eat(b':') {
            let s = c.digits(2)?;
            if s > 59 {
                return None;
            }
            t.second = s as u8;
            t.precision = Precision::Second;
            if let Some(ms) = c.fraction()? {
                t.millis = ms;
                t.precision = Precision::Millisecond;
            }
        }
    }
    Some(t)
}

impl DateTimeValue {
    pub fn date(year: i32, month: u8, day: u8, precision: Precision) -> Self {
        DateTimeValue { year, month, day, hour: 0, minute: 0, second: 0, millis: 0, precision, tz: None }
    }

    /// Parses a FHIR/FHIRPath date (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`).
    pub fn parse_date(s: &str) -> Option<Self> {
        let mut c = Cursor { b: s.as_bytes(), i: 0 };
        let v = Self::parse_date_part(&mut c)?;
        if c.done() { Some(v) } else { None }
    }

    fn parse_date_part(c: &mut Cursor<'_>) -> Option<Self> {
        let y = c.digits(4)?;
        let mut v = Self::date(y as i32, 1, 1, Precision::Year);
        if c.peek() == Some(b'-') {
            c.i += 1;
            let m = c.digits(2)?;
            if !(1..=12).contains(&m) {
                return None;
            }
            v.month = m as u8;
            v.precision = Precision::Month;
            if c.peek() == Some(b'-') {
                c.i += 1;
                let d = c.digits(2)?;
                if d < 1 || d > u32::from(days_in_month(v.year, v.month)) {
                    return None;
                }
                v.day = d as u8;
                v.precision = Precision::Day;
            }
        }
        Some(v)
    }

    /// Parses a FHIR dateTime / instant or a FHIRPath DateTime literal body (without `@`).
    /// Accepts `YYYY[-MM[-DD]][T[hh[:mm[:ss[.fff]]]]][Z|+hh:mm]`.
    pub fn parse_datetime(s: &str) -> Option<Self> {
        let mut c = Cursor { b: s.as_bytes(), i: 0 };
        let mut v = Self::parse_date_part(&mut c)?;
        if c.eat(b'T') {
            if c.peek().is_some_and(|b| b.is_ascii_digit()) {
                if v.precision != Precision::Day {
                    return None;
                }
                let t = parse_time_part(&mut c)?;
                v.hour = t.hour;
                v.minute = t.minute;
                v.second = t.second;
                v.millis = t.millis;
                v.precision = t.precision;
                v.tz = c.tz()?;
            }
        } else if v.precision == Precision::Day {
            // FHIR allows a timezone only with a time, but be lenient.
            v.tz = None;
        }
        if c.done() { Some(v) } else { None }
    }

    pub fn has_time(&self) -> bool {
        self.precision >= Precision::Hour
    }

    /// Minutes since epoch (for precision >= Hour), used to normalise timezones.
    fn epoch_millis(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let mins = days * 1440 + i64::from(self.hour) * 60 + i64::from(self.minute) - i64::from(self.tz.unwrap_or(0));
        (mins * 60 + i64::from(self.second)) * 1000 + i64::from(self.millis)
    }

    fn from_epoch_millis(ms: i64, precision: Precision, tz: Option<i16>) -> Self {
        let local = ms.saturating_add(i64::from(tz.unwrap_or(0)) * 60_000);
        let days = local.div_euclid(86_400_000);
        let rem = local.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        DateTimeValue {
            year: y,
            month: m,
            day: d,
            hour: (rem / 3_600_000) as u8,
            minute: ((rem / 60_000) % 60) as u8,
            second: ((rem / 1000) % 60) as u8,
            millis: (rem % 1000) as u16,
            precision,
            tz,
        }
    }

    /// Converts to UTC when a timezone is present and the value has a time part.
    fn normalized(&self) -> Self {
        match self.tz {
            Some(off) if off != 0 && self.has_time() => {
                Self::from_epoch_millis(self.epoch_millis(), self.precision, Some(0))
            }
            _ => *self,
        }
    }

    fn components(&self) -> [i64; 6] {
        [
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
            i64::from(self.hour),
            i64::from(self.minute),
            i64::from(self.second) * 1000 + i64::from(self.millis),
        ]
    }

    /// FHIRPath comparison: `None` when the result is uncertain because of differing precision
    /// (or a timezone on only one side once the time is reached).
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        let (a, b) = if self.tz.is_some() && other.tz.is_some() {
            (self.normalized(), other.normalized())
        } else {
            (*self, *other)
        };
        let pa = a.precision.merged();
        let pb = b.precision.merged();
        let ca = a.components();
        let cb = b.components();
        let levels =
            [Precision::Year, Precision::Month, Precision::Day, Precision::Hour, Precision::Minute, Precision::Second];
        let tz_mismatch = a.tz.is_some() != b.tz.is_some();
        for (i, lvl) in levels.iter().enumerate() {
            let ha = pa >= *lvl;
            let hb = pb >= *lvl;
            if !ha && !hb {
                return Some(Ordering::Equal);
            }
            if ha != hb {
                return None;
            }
            if *lvl == Precision::Hour && tz_mismatch {
                return None;
            }
            match ca[i].cmp(&cb[i]) {
                Ordering::Equal => {}
                o => return Some(o),
            }
        }
        Some(Ordering::Equal)
    }

    /// Equivalence: same precision and equal.
    pub fn equivalent(&self, other: &Self) -> bool {
        self.precision.merged() == other.precision.merged() && self.compare(other) == Some(Ordering::Equal)
    }

    /// Adds a calendar amount. `unit` is one of year, month, week, day, hour, minute, second,
    /// millisecond; `amount` is already truncated to an integer.
    pub fn add(&self, amount: i64, unit: CalendarUnit) -> Option<Self> {
        let mut v = *self;
        match unit {
            CalendarUnit::Year => {
                v.year = i32::try_from(i64::from(v.year).checked_add(amount)?).ok()?;
                v.clamp_day();
            }
            CalendarUnit::Month => {
                if v.precision < Precision::Month {
                    v.year = i32::try_from(i64::from(v.year).checked_add(amount / 12)?).ok()?;
                } else {
                    let total = (i64::from(v.year) * 12 + i64::from(v.month) - 1).checked_add(amount)?;
                    v.year = i32::try_from(total.div_euclid(12)).ok()?;
                    v.month = (total.rem_euclid(12) + 1) as u8;
                    v.clamp_day();
                }
            }
            CalendarUnit::Week => return self.add(amount.checked_mul(7)?, CalendarUnit::Day),
            CalendarUnit::Day => {
                if v.precision < Precision::Day {
                    return self.add(amount / 30, CalendarUnit::Month);
                }
                let days = days_from_civil(v.year, v.month, v.day).checked_add(amount)?;
                if days.abs() > MAX_DAYS {
                    return None;
                }
                let (y, m, d) = civil_from_days(days);
                v.year = y;
                v.month = m;
                v.day = d;
            }
            CalendarUnit::Hour | CalendarUnit::Minute | CalendarUnit::Second | CalendarUnit::Millisecond => {
                let unit_ms = unit.millis();
                let lvl = unit.precision();
                if v.precision < lvl.merged() && !(v.precision == Precision::Second && lvl == Precision::Millisecond) {
                    // Convert to the value's precision, truncating.
                    let target = match v.precision {
                        Precision::Year => return Some(v),
                        Precision::Month => return Some(v),
                        Precision::Day => CalendarUnit::Day,
                        Precision::Hour => CalendarUnit::Hour,
                        Precision::Minute => CalendarUnit::Minute,
                        _ => CalendarUnit::Second,
                    };
                    let n = amount.checked_mul(unit_ms)? / target.millis();
                    return self.add(n, target);
                }
                let tz = v.tz;
                let ms = v.epoch_millis().checked_add(amount.checked_mul(unit_ms)?)?;
                if ms.abs() > MAX_DAYS * 86_400_000 {
                    return None;
                }
                let mut r = Self::from_epoch_millis(ms, v.precision, tz);
                r.tz = tz;
                v = r;
            }
        }
        if v.year < 1 || v.year > 9999 {
            return None;
        }
        Some(v)
    }

    fn clamp_day(&mut self) {
        let dim = days_in_month(self.year, self.month);
        if self.day > dim {
            self.day = dim;
        }
    }

    /// Renders as a FHIR date string (precision <= Day).
    pub fn fmt_date(&self) -> String {
        match self.precision {
            Precision::Year => format!("{:04}", self.year),
            Precision::Month => format!("{:04}-{:02}", self.year, self.month),
            _ => format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
        }
    }

    /// Renders as a FHIR dateTime string. `literal` adds the trailing `T` FHIRPath needs
    /// for DateTime values with date-only precision.
    pub fn fmt_datetime(&self, literal: bool) -> String {
        let mut s = self.fmt_date();
        if self.precision < Precision::Hour {
            if literal {
                s.push('T');
            }
            return s;
        }
        s.push('T');
        s.push_str(&format!("{:02}", self.hour));
        if self.precision >= Precision::Minute {
            s.push_str(&format!(":{:02}", self.minute));
        }
        if self.precision >= Precision::Second {
            s.push_str(&format!(":{:02}", self.second));
        }
        if self.precision >= Precision::Millisecond {
            s.push_str(&format!(".{:03}", self.millis));
        }
        if let Some(tz) = self.tz {
            if tz == 0 {
                s.push('Z');
            } else {
                let sign = if tz < 0 { '-' } else { '+' };
                let a = tz.unsigned_abs();
                s.push_str(&format!("{}{:02}:{:02}", sign, a / 60, a % 60));
            }
        }
        s
    }

    /// The date part (Date with precision at most Day).
    pub fn to_date(&self) -> Self {
        let mut d = Self::date(self.year, self.month, self.day, self.precision.min(Precision::Day));
        d.tz = None;
        d
    }

    /// Number of digits of precision as defined by FHIRPath `precision()`.
    pub fn precision_digits(&self) -> i64 {
        match self.precision {
            Precision::Year => 4,
            Precision::Month => 6,
            Precision::Day => 8,
            Precision::Hour => 10,
            Precision::Minute => 12,
            Precision::Second => 14,
            Precision::Millisecond => 17,
        }
    }

    pub fn precision_from_digits(digits: i64, is_date: bool) -> Option<Precision> {
        Some(match digits {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 if !is_date => Precision::Hour,
            12 if !is_date => Precision::Minute,
            14 if !is_date => Precision::Second,
            17 if !is_date => Precision::Millisecond,
            _ => return None,
        })
    }

    /// Lowest (`high == false`) or highest possible value at the given precision.
    pub fn boundary(&self, precision: Precision, high: bool, is_date: bool) -> Self {
        let mut v = *self;
        if self.precision < Precision::Month {
            v.month = if high { 12 } else { 1 };
        }
        if self.precision < Precision::Day {
            v.day = if high { days_in_month(v.year, v.month) } else { 1 };
        }
        if self.precision < Precision::Hour {
            v.hour = if high { 23 } else { 0 };
        }
        if self.precision < Precision::Minute {
            v.minute = if high { 59 } else { 0 };
        }
        if self.precision < Precision::Second {
            v.second = if high { 59 } else { 0 };
        }
        if self.precision < Precision::Millisecond {
            v.millis = if high { 999 } else { 0 };
        }
        if !is_date && precision >= Precision::Hour && v.tz.is_none() {
            v.tz = Some(if high { -12 * 60 } else { 14 * 60 });
        }
        if precision < Precision::Hour {
            v.tz = None;
        }
        v.precision = precision;
        v
    }
}

impl TimeValue {
    /// Parses `hh(:mm(:ss(.fff)?)?)?` (no timezone).
    pub fn parse(s: &str) -> Option<Self> {
        let mut c = Cursor { b: s.as_bytes(), i: 0 };
        let t = parse_time_part(&mut c)?;
        if c.done() { Some(t) } else { None }
    }

    fn millis_of_day(&self) -> i64 {
        ((i64::from(self.hour) * 60 + i64::from(self.minute)) * 60 + i64::from(self.second)) * 1000
            + i64::from(self.millis)
    }

    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        let a = [i64::from(self.hour), i64::from(self.minute), i64::from(self.second) * 1000 + i64::from(self.millis)];
        let b =
            [i64::from(other.hour), i64::from(other.minute), i64::from(other.second) * 1000 + i64::from(other.millis)];
        let pa = self.precision.merged();
        let pb = other.precision.merged();
        for (i, lvl) in [Precision::Hour, Precision::Minute, Precision::Second].iter().enumerate() {
            let ha = pa >= *lvl;
            let hb = pb >= *lvl;
            if !ha && !hb {
                return Some(Ordering::Equal);
            }
            if ha != hb {
                return None;
            }
            match a[i].cmp(&b[i]) {
                Ordering::Equal => {}
                o => return Some(o),
            }
        }
        Some(Ordering::Equal)
    }

    pub fn equivalent(&self, other: &Self) -> bool {
        self.precision.merged() == other.precision.merged() && self.compare(other) == Some(Ordering::Equal)
    }

    pub fn add(&self, amount: i64, unit: CalendarUnit) -> Option<Self> {
        let unit_ms = match unit {
            CalendarUnit::Hour | CalendarUnit::Minute | CalendarUnit::Second | CalendarUnit::Millisecond => {
                unit.millis()
            }
            _ => return None,
        };
        let total = self.millis_of_day().checked_add(amount.checked_mul(unit_ms)?)?.rem_euclid(86_400_000);
        Some(TimeValue {
            hour: (total / 3_600_000) as u8,
            minute: ((total / 60_000) % 60) as u8,
            second: ((total / 1000) % 60) as u8,
            millis: (total % 1000) as u16,
            precision: self.precision,
        })
    }

    pub fn precision_digits(&self) -> i64 {
        match self.precision {
            Precision::Hour => 2,
            Precision::Minute => 4,
            Precision::Second => 6,
            _ => 9,
        }
    }

    pub fn boundary(&self, precision: Precision, high: bool) -> Self {
        let mut v = *self;
        if self.precision < Precision::Minute {
            v.minute = if high { 59 } else { 0 };
        }
        if self.precision < Precision::Second {
            v.second = if high { 59 } else { 0 };
        }
        if self.precision < Precision::Millisecond {
            v.millis = if high { 999 } else { 0 };
        }
        v.precision = precision;
        v
    }
}

impl fmt::Display for TimeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.hour)?;
        if self.precision >= Precision::Minute {
            write!(f, ":{:02}", self.minute)?;
        }
        if self.precision >= Precision::Second {
            write!(f, ":{:02}", self.second)?;
        }
        if self.precision >= Precision::Millisecond {
            write!(f, ".{:03}", self.millis)?;
        }
        Ok(())
    }
}

/// Calendar duration units usable in date/time arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalendarUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl CalendarUnit {
    /// Calendar keywords (`year`, `months`, ...).
    pub fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "year" | "years" => CalendarUnit::Year,
            "month" | "months" => CalendarUnit::Month,
            "week" | "weeks" => CalendarUnit::Week,
            "day" | "days" => CalendarUnit::Day,
            "hour" | "hours" => CalendarUnit::Hour,
            "minute" | "minutes" => CalendarUnit::Minute,
            "second" | "seconds" => CalendarUnit::Second,
            "millisecond" | "milliseconds" => CalendarUnit::Millisecond,
            _ => return None,
        })
    }

    /// UCUM codes that are acceptable for date arithmetic ('a' and 'mo' are not: their
    /// UCUM definitions are not calendar durations).
    pub fn from_ucum_for_arithmetic(u: &str) -> Option<Self> {
        Some(match u {
            "wk" => CalendarUnit::Week,
            "d" => CalendarUnit::Day,
            "h" => CalendarUnit::Hour,
            "min" => CalendarUnit::Minute,
            "s" => CalendarUnit::Second,
            "ms" => CalendarUnit::Millisecond,
            _ => return None,
        })
    }

    /// The UCUM code with the same definite duration (none for year/month).
    pub fn ucum_equivalent(self) -> Option<&'static str> {
        Some(match self {
            CalendarUnit::Week => "wk",
            CalendarUnit::Day => "d",
            CalendarUnit::Hour => "h",
            CalendarUnit::Minute => "min",
            CalendarUnit::Second => "s",
            CalendarUnit::Millisecond => "ms",
            _ => return None,
        })
    }

    pub fn millis(self) -> i64 {
        match self {
            CalendarUnit::Week => 604_800_000,
            CalendarUnit::Day => 86_400_000,
            CalendarUnit::Hour => 3_600_000,
            CalendarUnit::Minute => 60_000,
            CalendarUnit::Second => 1000,
            CalendarUnit::Millisecond => 1,
            CalendarUnit::Month => 2_592_000_000,
            CalendarUnit::Year => 31_536_000_000,
        }
    }

    fn precision(self) -> Precision {
        match self {
            CalendarUnit::Year => Precision::Year,
            CalendarUnit::Month => Precision::Month,
            CalendarUnit::Week | CalendarUnit::Day => Precision::Day,
            CalendarUnit::Hour => Precision::Hour,
            CalendarUnit::Minute => Precision::Minute,
            CalendarUnit::Second => Precision::Second,
            CalendarUnit::Millisecond => Precision::Millisecond,
        }
    }
}

/// Current UTC time as a DateTime with millisecond precision.
pub(super) fn now_utc() -> DateTimeValue {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    DateTimeValue::from_epoch_millis(ms, Precision::Millisecond, Some(0))
}
