-- A patient's compartment holds every AuditEvent about them as well as their record, and the
-- audit trail grows with each read of the record until it outnumbers it many times over (the
-- size benchmark's own reads filed 79,000 AuditEvents beside 74 resources of one patient). A
-- lookup of the record's types in one index with the audit rows reads through them whenever the
-- planner judges the patient small (PostgreSQL filtered them row by row in `$everything`). The
-- two are indexed apart: the record's rows in `compartment_lookup`, the audit trail's in
-- `compartment_audit`; the planner names each index's condition as written here (see
-- `push_compartment_rows` in crates/store/src/search/reach.rs).
DROP INDEX compartment_lookup;
CREATE INDEX compartment_lookup ON compartment (comp_type, comp_id, res_type) WHERE res_type <> 'AuditEvent';
CREATE INDEX compartment_audit ON compartment (comp_type, comp_id) WHERE res_type = 'AuditEvent';
