//! Callers worked out once per token and kept while nothing they rest on has changed.
//!
//! Verifying a token and working out the person's entitlements takes several queries; doing it
//! on every request was most of what an authenticated request cost. A [`Caller`] is kept per
//! token with the policy generation it was worked out at (see migration 0011: every change that
//! can change what someone may see, revocations included, advances it in the same transaction)
//! and the moment it expires by itself (the token's expiry, the next date change or Consent
//! period bound). Every request reads the generation once, so a change made on any node applies
//! on every node at the next request.
//!
//! Every lookup is counted: `ikp_caller_cache_hits_total`, and
//! `ikp_caller_cache_misses_total{reason}` with why the caller had to be worked out again
//! (`absent`: a token not seen on this node or forgotten; `policy-changed`: the generation moved;
//! `expired`: the token or the reach ran out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Caller;
use crate::clock::Micros;

/// Tokens kept at most; beyond it, stale entries go first, then everything.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct CallerCache {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    caller: Arc<Caller>,
    generation: i64,
    valid_until: Micros,
}

impl CallerCache {
    /// The caller of the token with hash `key`, when it was worked out at `generation` and has
    /// not expired by `now`.
    pub fn get(&self, key: &str, generation: i64, now: Micros) -> Option<Arc<Caller>> {
        let entries = self.entries.lock().ok()?;
        let found = match entries.get(key) {
            None => Err("absent"),
            Some(entry) if entry.generation != generation => Err("policy-changed"),
            Some(entry) if now >= entry.valid_until => Err("expired"),
            Some(entry) => Ok(entry.caller.clone()),
        };
        match found {
            Ok(caller) => {
                metrics::counter!("ikp_caller_cache_hits_total").increment(1);
                Some(caller)
            }
            Err(reason) => {
                metrics::counter!("ikp_caller_cache_misses_total", "reason" => reason).increment(1);
                None
            }
        }
    }

    /// Keeps a caller worked out at `generation` (read before it was worked out), valid until
    /// `valid_until`.
    pub fn put(&self, key: String, caller: Arc<Caller>, generation: i64, valid_until: Micros, now: Micros) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.generation == generation && now < e.valid_until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Entry { caller, generation, valid_until });
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::principal::{Actor, Principal};
    use crate::access::scopes::Scopes;
    use crate::search::reach::Reach;

    fn caller() -> Arc<Caller> {
        let principal = Principal {
            client_id: "app".into(),
            subject: None,
            fhir_user: Some("Patient/p".into()),
            actor: Actor::Patient("p".into()),
            patient: None,
            scopes: Scopes::parse("user/*.rs"),
            expires_at: 0,
        };
        Arc::new(Caller::new(principal, Reach::default()))
    }

    #[test]
    fn a_new_generation_or_the_end_of_validity_forgets_the_caller() {
        let cache = CallerCache::default();
        cache.put("t".into(), caller(), 7, 1_000, 0);
        assert!(cache.get("t", 7, 999).is_some());
        assert!(cache.get("t", 8, 999).is_none(), "the policy changed since");
        assert!(cache.get("t", 7, 1_000).is_none(), "expired by itself");
        assert!(cache.get("other", 7, 0).is_none());
    }
}
