-- Resource bodies are stored compressed (crates/store/src/body.rs) in a BLOB column, `body`,
-- which replaces the JSON text column `content`. Bodies written before this migration are moved
-- over unchanged: a stored body that starts with `{` is plain JSON and is read as it is; they are
-- compressed only if the resource is written again. A tombstone's body is NULL, as its content was.
ALTER TABLE resource_version ADD COLUMN body BLOB;
UPDATE resource_version SET body = CAST(content AS BLOB) WHERE content IS NOT NULL;
ALTER TABLE resource_version DROP COLUMN content;
