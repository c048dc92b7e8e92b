-- Every version of every resource. `seq` is the global write order (history paging).
CREATE TABLE resource_version (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    res_type     TEXT    NOT NULL,
    res_id       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL, -- epoch microseconds, UTC
    method       TEXT    NOT NULL, -- POST, PUT or DELETE
    content      TEXT,             -- resource JSON; NULL for a deletion tombstone
    UNIQUE (res_type, res_id, version)
);
CREATE INDEX resource_version_type_seq ON resource_version (res_type, seq);
CREATE INDEX resource_version_updated ON resource_version (last_updated);

-- The current version of each resource. `rid` is the key search-index rows refer to.
CREATE TABLE resource (
    rid          INTEGER PRIMARY KEY,
    res_type     TEXT    NOT NULL,
    res_id       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    seq          INTEGER NOT NULL REFERENCES resource_version (seq),
    UNIQUE (res_type, res_id)
);

-- Token search index (identifier now; every token parameter once the search engine lands).
CREATE TABLE search_token (
    rid      INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT    NOT NULL,
    param    TEXT    NOT NULL,
    system   TEXT,
    code     TEXT    NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (res_type, param, code, system);
CREATE INDEX search_token_rid ON search_token (rid);
