-- The policy generation: advanced in the same transaction as every change that can change what
-- someone may see (Consents, RelatedPersons, Patients, Practitioners, PractitionerRoles, revoked
-- tokens and grants, removed clients). Server nodes cache each token's entitlements with the
-- generation they were worked out at, and read the generation once per request, so a change made
-- on one node takes effect on every node at the next request. The counter is spread over eight
-- rows so that concurrent writers rarely wait for each other; the generation is their sum.
CREATE TABLE policy_generation (
    slot INTEGER PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO policy_generation (slot, value) VALUES (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0);
