//! The Observation operations of R4: `$lastn` (the newest results of each code) and `$stats`
//! (statistics of a patient's results over a period). Both read a patient's Observations through
//! the ordinary search (so the access policy, the token's scopes and their granular filters all
//! apply), newest first and bounded by [`MAX_SCAN`].

pub mod lastn;
pub mod stats;

use serde_json::Value;

use crate::search::run::Hit;

/// Most Observations one call reads. A patient's whole laboratory history is a few thousand
/// results; a call that would read more says so in its answer (narrow it by `date`, `category`
/// or `code`) instead of scanning without bound.
pub const MAX_SCAN: usize = 10_000;

/// What groups Observations: the system and code of the first coding of `code` (its text when it
/// has none), the same for results of one test from any laboratory that codes it alike.
pub fn code_key(observation: &Value) -> String {
    let code = &observation["code"];
    match code.pointer("/coding/0") {
        Some(coding) => {
            format!("{}|{}", coding["system"].as_str().unwrap_or_default(), coding["code"].as_str().unwrap_or_default())
        }
        None => format!("text|{}", code["text"].as_str().unwrap_or_default()),
    }
}

/// The parsed content of a search hit (`Null` for a tombstone, which searches never return).
pub fn content(hit: &Hit) -> Value {
    hit.version.content.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Value::Null)
}
