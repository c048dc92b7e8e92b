//! Throttling of the logins this server hosts (the demo login, on the authorization and launch
//! pages): after [`ACCOUNT_FAILURES`] failures for one account, or [`ADDRESS_FAILURES`] from one
//! client address, within [`WINDOW`], further attempts for that account or from that address are
//! refused for [`LOCKOUT`], even with the right password. Unknown accounts are counted like known
//! ones, so the answers never tell whether an account exists.
//!
//! The counters live in memory, per node. A shared (database) counter would bind the nodes
//! together, but it would turn every failed guess into a database write (an attacker's flood
//! becoming write load for every node) and need a table of its own; per node, a cluster of N
//! nodes behind a load balancer lets at most N times the limit through per window, which still
//! leaves password guessing hopeless. The map is bounded ([`MAX_TRACKED`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AuthError;
use crate::audit::{Access, Action, Agent, Entity};

/// Failures for one account within [`WINDOW`] that lock it.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failures from one client address within [`WINDOW`] that lock it (higher: households and
/// offices share addresses).
pub const ADDRESS_FAILURES: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Most accounts and addresses tracked at once.
const MAX_TRACKED: usize = 100_000;

/// What a lockout is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An account, by its opaque subject id (never the PESEL itself).
    Account(String),
    /// A client network address.
    Address(String),
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    fn stale(&self, now: Instant) -> bool {
        !self.locked(now) && now.duration_since(self.since) >= WINDOW
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Subject, Entry>>,
}

impl LoginThrottle {
    /// Refuses an attempt for a locked account or from a locked address, before any password is
    /// looked at.
    pub fn check(&self, subjects: &[Subject]) -> Result<(), AuthError> {
        let now = Instant::now();
        let entries = self.entries.lock().map_err(|_| AuthError::Internal("login throttle poisoned".into()))?;
        if subjects.iter().any(|s| entries.get(s).is_some_and(|e| e.locked(now))) {
            return Err(AuthError::Throttled);
        }
        Ok(())
    }

    /// Counts a failed attempt; returns what it locked (to be audited).
    pub fn failed(&self, subjects: &[Subject]) -> Vec<Subject> {
        let now = Instant::now();
        let Ok(mut entries) = self.entries.lock() else { return Vec::new() };
        if entries.len() >= MAX_TRACKED {
            entries.retain(|_, e| !e.stale(now));
            if entries.len() >= MAX_TRACKED {
                // Under a flood of distinct names, keep what is locked.
                entries.retain(|_, e| e.locked(now));
            }
        }
        let mut locked = Vec::new();
        for subject in subjects {
            let entry = entries.entry(subject.clone()).or_insert(Entry { failures: 0, since: now, locked_until: None });
            if entry.stale(now) {
                *entry = Entry { failures: 0, since: now, locked_until: None };
            }
            entry.failures += 1;
            let limit = match subject {
                Subject::Account(_) => ACCOUNT_FAILURES,
                Subject::Address(_) => ADDRESS_FAILURES,
            };
            if entry.failures >= limit && !entry.locked(now) {
                entry.locked_until = Some(now + LOCKOUT);
                entry.failures = 0;
                entry.since = now;
                locked.push(subject.clone());
            }
        }
        locked
    }

    /// A successful login clears its account's failures (never the address's: an attacker
    /// could otherwise reset their address's count with an account of their own).
    pub fn succeeded(&self, account: &Subject) {
        if let Ok(mut entries) = self.entries.lock()
            && entries.get(account).is_some_and(|e| !e.locked(Instant::now()))
        {
            entries.remove(account);
        }
    }
}

/// The audit record of a lockout: filed for the account's patient when there is one (so they
/// see that someone tried their account), naming the opaque account or the address, never the
/// PESEL that was typed.
pub fn lockout_access(locked: &Subject, patient: Option<String>, address: Option<&str>, client_id: &str) -> Access {
    let minutes = LOCKOUT.as_secs() / 60;
    let what = match locked {
        Subject::Account(subject) => {
            format!("{ACCOUNT_FAILURES} failed logins for account {subject}: its logins refused for {minutes} minutes")
        }
        Subject::Address(address) => {
            format!("{ADDRESS_FAILURES} failed logins from {address}: its logins refused for {minutes} minutes")
        }
    };
    Access {
        agent: Agent {
            who: None,
            client_id: client_id.to_string(),
            source: address.map(str::to_string),
            patient_in_context: None,
        },
        action: Action::Execute,
        subtype: "$login".into(),
        query: Some(format!("login lockout: {what}")),
        status: 429,
        entities: patient
            .map(|id| Entity { resource_type: "Patient".into(), id: id.clone(), patients: Some(vec![id]) })
            .into_iter()
            .collect(),
        reasons: Vec::new(),
        recorded: crate::clock::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> Subject {
        Subject::Account(name.into())
    }

    #[test]
    fn an_account_locks_after_its_failures_and_success_resets_the_count() {
        let throttle = LoginThrottle::default();
        let jan = [account("jan")];
        for _ in 1..ACCOUNT_FAILURES {
            assert!(throttle.failed(&jan).is_empty());
        }
        throttle.succeeded(&jan[0]);
        for _ in 1..ACCOUNT_FAILURES {
            assert!(throttle.failed(&jan).is_empty());
            assert!(throttle.check(&jan).is_ok());
        }
        assert_eq!(throttle.failed(&jan), vec![account("jan")], "the last failure locks");
        assert!(matches!(throttle.check(&jan), Err(AuthError::Throttled)));
        throttle.succeeded(&jan[0]);
        assert!(throttle.check(&jan).is_err(), "a lockout is not lifted by a success");
        assert!(throttle.check(&[account("anna")]).is_ok(), "other accounts are not affected");
    }

    #[test]
    fn an_address_locks_across_accounts() {
        let throttle = LoginThrottle::default();
        let address = Subject::Address("192.0.2.1".into());
        let mut locked = Vec::new();
        for i in 0..ADDRESS_FAILURES {
            locked.extend(throttle.failed(&[account(&format!("user-{i}")), address.clone()]));
        }
        assert_eq!(locked, vec![address.clone()]);
        assert!(throttle.check(&[account("fresh"), address]).is_err());
        assert!(throttle.check(&[account("fresh"), Subject::Address("192.0.2.2".into())]).is_ok());
    }
}
