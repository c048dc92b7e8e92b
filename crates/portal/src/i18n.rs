//! Polish first, English on request: every text is written in both at the place it is used
//! ([`Lang::pick`]), so no screen can lack a translation; dates are written the way each
//! language writes them, and the API's refusals become sentences a patient understands.

use axum::http::StatusCode;

use crate::api::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Pl,
    En,
}

impl Lang {
    pub fn from_cookie(value: Option<&str>) -> Lang {
        if value == Some("en") { Lang::En } else { Lang::Pl }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Pl => "pl",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Pl => Lang::En,
            Lang::En => Lang::Pl,
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Pl => "Polski",
            Lang::En => "English",
        }
    }

    /// The text in this language.
    pub fn pick<T>(self, pl: T, en: T) -> T {
        match self {
            Lang::Pl => pl,
            Lang::En => en,
        }
    }

    /// A FHIR date or date-time as a day (`7.12.2026`, `7 Dec 2026`); what is not a date is
    /// shown as it is.
    pub fn date(self, value: &str) -> String {
        let day = value.get(..10).unwrap_or(value);
        let parts: Vec<&str> = day.split('-').collect();
        let [year, month, day] = parts[..] else { return value.to_string() };
        let (Ok(m), Ok(d)) = (month.parse::<usize>(), day.parse::<u32>()) else { return value.to_string() };
        match self {
            Lang::Pl => format!("{d}.{month}.{year}"),
            Lang::En => {
                const MONTHS: [&str; 12] =
                    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
                match m.checked_sub(1).and_then(|i| MONTHS.get(i)) {
                    Some(name) => format!("{d} {name} {year}"),
                    None => value.to_string(),
                }
            }
        }
    }

    /// A FHIR date-time as a day and a time (UTC as stored, `7.12.2026 09:30`).
    pub fn date_time(self, value: &str) -> String {
        match value.get(11..16) {
            Some(time) if value.len() > 16 => format!("{} {time}", self.date(value)),
            _ => self.date(value),
        }
    }

    /// What an API refusal means for the patient, in a sentence (with the server's reason where
    /// it adds something).
    pub fn refusal(self, error: &ApiError) -> String {
        let sentence = match error.status {
            StatusCode::UNAUTHORIZED => {
                self.pick("Twoja sesja wygasła. Zaloguj się ponownie.", "Your session has ended. Please log in again.")
            }
            StatusCode::FORBIDDEN => self.pick(
                "Nie masz uprawnień, żeby to zrobić na tym koncie.",
                "You are not allowed to do this on this account.",
            ),
            StatusCode::NOT_FOUND | StatusCode::GONE => self.pick(
                "Nie znaleziono: to nie istnieje albo nie masz do tego dostępu.",
                "Not found: it does not exist, or you do not have access to it.",
            ),
            StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => self.pick(
                "Ktoś właśnie to zmienił (na przykład termin został już zajęty). Odśwież stronę i spróbuj jeszcze raz.",
                "Someone has just changed this (for example, the slot was taken). Refresh the page and try again.",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => self
                .pick("Tego nie można zrobić według zasad usługi.", "This is not possible under the service's rules."),
            StatusCode::BAD_REQUEST => self.pick("Sprawdź wpisane dane.", "Please check what you entered."),
            StatusCode::TOO_MANY_REQUESTS => {
                self.pick("Zbyt wiele prób. Spróbuj za chwilę.", "Too many attempts. Please try again shortly.")
            }
            _ => self.pick(
                "Usługa jest chwilowo niedostępna. Spróbuj za chwilę.",
                "The service is unavailable at the moment. Please try again shortly.",
            ),
        };
        let shows_reason = matches!(error.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST);
        if shows_reason && !error.detail.is_empty() {
            format!("{sentence} {} {}", self.pick("Powód:", "Reason:"), error.detail)
        } else {
            sentence.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        assert_eq!(Lang::Pl.date("2026-12-07"), "7.12.2026");
        assert_eq!(Lang::En.date("2026-12-07T10:00:00Z"), "7 Dec 2026");
        assert_eq!(Lang::Pl.date_time("2026-12-07T09:30:00Z"), "7.12.2026 09:30");
        assert_eq!(Lang::En.date("2026-13-01"), "2026-13-01");
        assert_eq!(Lang::Pl.date("soon"), "soon");
    }

    #[test]
    fn a_refusal_is_a_sentence_and_only_rule_failures_carry_the_reason() {
        let rule = ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, detail: "women aged 45-74".into() };
        assert!(Lang::Pl.refusal(&rule).ends_with("Powód: women aged 45-74"));
        let hidden = ApiError { status: StatusCode::NOT_FOUND, detail: "Patient/x is not known".into() };
        assert!(!Lang::En.refusal(&hidden).contains("Patient/x"));
    }
}
