//! Calendar arithmetic on plain day numbers, and Polish local time (CET/CEST) for FHIR dateTimes.

use std::fmt;

/// A civil date as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// The date, if `year-month-day` exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i32;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Day(era * 146_097 + doe - 719_468))
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
        Day::from_ymd(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i32::from(m <= 2);
        (y, m, d)
    }

    pub fn year(self) -> i32 {
        self.ymd().0
    }

    pub fn plus(self, days: i64) -> Day {
        Day((i64::from(self.0) + days).clamp(i64::from(i32::MIN / 2), i64::from(i32::MAX / 2)) as i32)
    }

    pub fn days_until(self, later: Day) -> i64 {
        i64::from(later.0) - i64::from(self.0)
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// Moves a Saturday or Sunday forward to Monday.
    pub fn workday(self) -> Day {
        match self.weekday() {
            5 => self.plus(2),
            6 => self.plus(1),
            _ => self,
        }
    }

    /// Completed years of age on `on` for someone born on `self`.
    pub fn age_on(self, on: Day) -> i32 {
        let (by, bm, bd) = self.ymd();
        let (y, m, d) = on.ymd();
        let mut age = y - by;
        if (m, d) < (bm, bd) {
            age -= 1;
        }
        age
    }

    /// The same calendar day `years` later (29 February becomes 28 February).
    pub fn add_years(self, years: i32) -> Day {
        let (y, m, d) = self.ymd();
        Day::from_ymd(y + years, m, d).or_else(|| Day::from_ymd(y + years, m, 28)).unwrap_or(self)
    }

    /// Is Poland on summer time (CEST, UTC+2) during the daytime of this date?
    pub fn summer_time(self) -> bool {
        let y = self.year();
        self >= last_sunday(y, 3) && self < last_sunday(y, 10)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn last_sunday(year: i32, month: u32) -> Day {
    let last = Day::from_ymd(year, month, days_in_month(year, month)).unwrap_or(Day(0));
    last.plus(-i64::from((last.weekday() + 1) % 7))
}

/// A local (Polish) point in time with minute precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct At {
    pub day: Day,
    /// Minutes after local midnight, 0..1440.
    pub minute: u32,
}

impl At {
    pub fn new(day: Day, hour: u32, minute: u32) -> At {
        At { day, minute: (hour * 60 + minute).min(1439) }
    }

    pub fn plus_minutes(self, minutes: i64) -> At {
        let total = i64::from(self.minute) + minutes;
        At { day: self.day.plus(total.div_euclid(1440)), minute: total.rem_euclid(1440) as u32 }
    }

    /// FHIR dateTime/instant with seconds and the Polish UTC offset of that day.
    pub fn fhir(self) -> String {
        let offset = if self.day.summer_time() { "+02:00" } else { "+01:00" };
        format!("{}T{:02}:{:02}:00{offset}", self.day, self.minute / 60, self.minute % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_dst() {
        for n in -40_000..40_000 {
            let (y, m, d) = Day(n).ymd();
            assert_eq!(Day::from_ymd(y, m, d), Some(Day(n)));
        }
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(Day(0).weekday(), 3);
        assert_eq!(Day::parse("2024-02-30"), None);
        assert_eq!(last_sunday(2024, 3).to_string(), "2024-03-31");
        assert_eq!(last_sunday(2024, 10).to_string(), "2024-10-27");
        let summer = At::new(Day::parse("2024-07-01").unwrap_or(Day(0)), 9, 5);
        assert_eq!(summer.fhir(), "2024-07-01T09:05:00+02:00");
        let winter = At::new(Day::parse("2024-12-01").unwrap_or(Day(0)), 23, 59).plus_minutes(2);
        assert_eq!(winter.fhir(), "2024-12-02T00:01:00+01:00");
        let born = Day::parse("2000-02-29").unwrap_or(Day(0));
        assert_eq!(born.age_on(Day::parse("2018-02-28").unwrap_or(Day(0))), 17);
        assert_eq!(born.age_on(Day::parse("2018-03-01").unwrap_or(Day(0))), 18);
    }
}
