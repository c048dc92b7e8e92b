//! The server's clock and calendar: now as stored (epoch microseconds, millisecond precision),
//! FHIR instants, and UTC calendar days for the rules that count days and years (validity
//! periods, ages). Every date helper of the server is here.

/// Epoch microseconds (UTC).
pub type Micros = i64;

/// Now, truncated to milliseconds so `meta.lastUpdated` shows exactly what is stored.
pub fn now() -> Micros {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    ((nanos / 1_000_000) * 1000) as Micros
}

/// Formats epoch microseconds as a FHIR instant with millisecond precision.
pub fn instant(micros: Micros) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Today (UTC).
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The first moment (epoch microseconds) of the day after `day` (UTC).
pub fn start_of_day_after(day: time::Date) -> Micros {
    let next = day.next_day().unwrap_or(day);
    (next.midnight().assume_utc().unix_timestamp_nanos() / 1000) as Micros
}

/// `YYYY-MM-DD` (or the date part of a dateTime).
pub fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.get(..10)?.split('-').map(|p| p.parse::<i32>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    time::Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
}

pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYY-MM-DD`, `days` from today.
pub fn days_from_today(days: i64) -> String {
    format_date(today() + time::Duration::days(days))
}

/// Whole years between a FHIR date (`YYYY-MM-DD`) and `on`.
pub fn age_on(birth_date: &str, on: time::Date) -> Option<i32> {
    let mut parts = birth_date.split('-').map(|p| p.parse::<i32>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let mut age = on.year() - y;
    if (i32::from(u8::from(on.month())), i32::from(on.day())) < (m, d) {
        age -= 1;
    }
    Some(age)
}

/// Whole years between a FHIR date (`YYYY-MM-DD`) and today.
pub fn age_in_years(birth_date: &str) -> Option<i32> {
    age_on(birth_date, today())
}

/// A FHIR dateTime as epoch microseconds of its first moment (a date alone counts from its
/// first moment); `None` when it cannot be read.
pub fn instant_micros(text: &str) -> Option<Micros> {
    crate::model::datetime::parse(text, crate::model::datetime::DateKind::DateTime).ok().map(|d| d.start_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_whole_years() {
        let day = time::Date::from_calendar_date(2026, time::Month::March, 1).expect("date");
        assert_eq!(age_on("2008-03-01", day), Some(18), "the 18th birthday itself counts");
        assert_eq!(age_on("2008-03-02", day), Some(17));
        assert_eq!(age_on("not a date", day), None);
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-02-28T10:00:00Z").map(format_date).as_deref(), Some("2026-02-28"));
        let day = time::Date::from_calendar_date(2026, time::Month::December, 31).expect("date");
        assert_eq!(instant(start_of_day_after(day)), "2027-01-01T00:00:00.000Z");
        assert_eq!(instant_micros("2027-01-01"), Some(start_of_day_after(day)));
    }
}
