//! The demo population of the workflows: stored once, at start-up with `--demo`, after the demo
//! users (`crate::auth::demo`). DEMO DATA: invented people, never for real data.

use serde_json::Value;

use crate::session::Session;

/// Every workflow's demo resources, in an order that stores referenced resources first.
pub fn resources() -> Vec<Value> {
    let mut all = Vec::new();
    all.extend(super::authorization::demo());
    all.extend(super::poz::demo());
    all.extend(super::booking::demo());
    all.extend(super::prescription::demo());
    all.extend(super::referral::demo());
    all.extend(super::order::demo());
    all.extend(super::documents::demo());
    all.extend(super::ehic::demo());
    all.extend(super::crossborder::demo());
    all
}

/// Stores the demo resources that are not there yet (existing ones are left as they are, so a
/// demo database keeps what its users did).
pub async fn seed(session: &Session) -> anyhow::Result<()> {
    session.store_missing(resources()).await.map_err(|e| anyhow::anyhow!("storing the demo population: {e}"))
}

#[cfg(test)]
mod tests {
    use crate::outcome::Severity;

    /// Every demo resource passes the checks every write gets (a failing one would stop
    /// `ikp serve --demo` from starting): all findings listed at once.
    #[test]
    fn demo_population_is_valid() {
        let model = crate::model::r4().expect("model");
        let profiles = crate::validation::profiles::ProfileSet::built_in().expect("profiles");
        let codes = crate::context::BuiltinCodes(&crate::terminology::builtin::BUILTIN);
        let mut problems = Vec::new();
        for resource in super::resources().iter().chain(crate::auth::demo::resources().iter()) {
            let findings = crate::validation::validate(model, &profiles, &codes, resource, &[]);
            for issue in
                findings.structure.iter().chain(findings.rules.iter()).filter(|i| i.severity == Severity::Error)
            {
                problems.push(format!("{}/{}: {}", resource["resourceType"], resource["id"], issue.message));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
