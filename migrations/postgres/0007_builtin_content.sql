-- Fingerprints of content the server stores at start-up (the built-in terminology), so that an
-- unchanged set is not loaded again on every start.
CREATE TABLE builtin_content (
    name         TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL
);
