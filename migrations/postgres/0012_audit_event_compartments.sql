-- An AuditEvent belongs to the compartment of the one patient it is about (its entity in role 1,
-- search parameter `about-patient`), no longer to the compartments of whoever acted: R4 puts it
-- in the agent's Patient and Practitioner compartments too, which let anyone who may see a
-- parent's record see what the parent did in a child's. Existing events are re-filed from their
-- content; events written from now on are indexed this way.
DELETE FROM compartment WHERE res_type = 'AuditEvent';
DELETE FROM search_reference WHERE res_type = 'AuditEvent' AND param = 'about-patient';
INSERT INTO compartment (rid, res_type, comp_type, comp_id)
SELECT DISTINCT r.rid, 'AuditEvent', 'Patient', substr(e -> 'what' ->> 'reference', 9)
FROM resource r
JOIN resource_version v ON v.seq = r.seq
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(v.content::jsonb -> 'entity') = 'array' THEN v.content::jsonb -> 'entity' ELSE '[]'::jsonb END
) e
WHERE r.res_type = 'AuditEvent' AND NOT r.deleted
  AND e -> 'role' ->> 'code' = '1'
  AND e -> 'what' ->> 'reference' LIKE 'Patient/_%'
  AND position('/' IN substr(e -> 'what' ->> 'reference', 9)) = 0;
INSERT INTO search_reference (rid, res_type, param, grp, target_type, target_id, version, url)
SELECT rid, res_type, 'about-patient', NULL, 'Patient', comp_id, NULL, NULL
FROM compartment WHERE res_type = 'AuditEvent';
