-- Resource bodies are stored compressed (crates/store/src/body.rs) in a bytea column, `body`,
-- which replaces the JSON text column `content`. Bodies written before this migration are moved
-- over unchanged: a stored body that starts with `{` is plain JSON and is read as it is; they are
-- compressed only if the resource is written again. A tombstone's body is NULL, as its content was.
-- EXTERNAL: a compressed body would not shrink again, so PostgreSQL should not try (TOAST's own
-- compression only starts at 2 kB, which most bodies were under, so it did little before).
ALTER TABLE resource_version ADD COLUMN body bytea;
ALTER TABLE resource_version ALTER COLUMN body SET STORAGE EXTERNAL;
UPDATE resource_version SET body = convert_to(content, 'UTF8') WHERE content IS NOT NULL;
ALTER TABLE resource_version DROP COLUMN content;
