-- An AuditEvent belongs to the compartment of the one patient it is about (its entity in role 1,
-- search parameter `about-patient`), no longer to the compartments of whoever acted: R4 puts it
-- in the agent's Patient and Practitioner compartments too, which let anyone who may see a
-- parent's record see what the parent did in a child's. Existing events are re-filed from their
-- content; events written from now on are indexed this way.
DELETE FROM compartment WHERE res_type = 'AuditEvent';
DELETE FROM search_reference WHERE res_type = 'AuditEvent' AND param = 'about-patient';
INSERT INTO compartment (rid, res_type, comp_type, comp_id)
SELECT DISTINCT r.rid, 'AuditEvent', 'Patient', substr(json_extract(e.value, '$.what.reference'), 9)
FROM resource r
JOIN resource_version v ON v.seq = r.seq
JOIN json_each(v.content, '$.entity') e
WHERE r.res_type = 'AuditEvent' AND r.deleted = 0
  AND json_extract(e.value, '$.role.code') = '1'
  AND json_extract(e.value, '$.what.reference') LIKE 'Patient/_%'
  AND instr(substr(json_extract(e.value, '$.what.reference'), 9), '/') = 0;
INSERT INTO search_reference (rid, res_type, param, grp, target_type, target_id, version, url)
SELECT rid, res_type, 'about-patient', NULL, 'Patient', comp_id, NULL, NULL
FROM compartment WHERE res_type = 'AuditEvent';
