-- Index rows carry one integer for their resource type and parameter, `param_key`, in place of
-- the two texts `res_type` and `param`, which every row and every entry of its lookup indexes
-- repeated (21 characters on average). The key is a hash of `Type.name` that the server computes
-- itself (crates/store/src/index/param_key.rs: FNV-1a, 32 bits, over the characters, the low 31
-- bits kept); the keys of rows written before are computed here the same way, once per distinct
-- pair, and each table is rebuilt with its indexes on the key.

CREATE TEMP TABLE param_keys AS
WITH RECURSIVE pairs(res_type, param) AS (
    SELECT res_type, param FROM search_string
    UNION SELECT res_type, param FROM search_token
    UNION SELECT res_type, param FROM search_date
    UNION SELECT res_type, param FROM search_number
    UNION SELECT res_type, param FROM search_quantity
    UNION SELECT res_type, param FROM search_reference
    UNION SELECT res_type, param FROM search_uri
), fnv(res_type, param, name, i, h) AS (
    SELECT res_type, param, res_type || '.' || param, 1, 2166136261 FROM pairs
    UNION ALL
    -- SQLite has no XOR: a ^ b = (a | b) - (a & b).
    SELECT res_type, param, name, i + 1,
           (((h | unicode(substr(name, i, 1))) - (h & unicode(substr(name, i, 1)))) * 16777619) % 4294967296
    FROM fnv WHERE i <= length(name)
)
SELECT res_type, param, h & 2147483647 AS param_key FROM fnv WHERE i = length(name) + 1;


CREATE TABLE search_string_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    norm TEXT NOT NULL,
    exact TEXT NOT NULL
);
INSERT INTO search_string_keyed SELECT s.rid, k.param_key, s.grp, s.norm, s.exact
FROM search_string s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_string;
ALTER TABLE search_string_keyed RENAME TO search_string;
CREATE INDEX search_string_lookup ON search_string (param_key, norm);
CREATE INDEX search_string_rid ON search_string (rid);

CREATE TABLE search_token_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    system TEXT,
    code TEXT NOT NULL
);
INSERT INTO search_token_keyed SELECT s.rid, k.param_key, s.grp, s.system, s.code
FROM search_token s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_token;
ALTER TABLE search_token_keyed RENAME TO search_token;
CREATE INDEX search_token_lookup ON search_token (param_key, code, system);
CREATE INDEX search_token_rid ON search_token (rid);

CREATE TABLE search_date_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL
);
INSERT INTO search_date_keyed SELECT s.rid, k.param_key, s.grp, s.lo, s.hi
FROM search_date s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_date;
ALTER TABLE search_date_keyed RENAME TO search_date;
CREATE INDEX search_date_lookup ON search_date (param_key, lo, hi);
CREATE INDEX search_date_sort_hi ON search_date (param_key, hi);
CREATE INDEX search_date_rid ON search_date (rid);

CREATE TABLE search_number_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    lo REAL NOT NULL,
    hi REAL NOT NULL
);
INSERT INTO search_number_keyed SELECT s.rid, k.param_key, s.grp, s.lo, s.hi
FROM search_number s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_number;
ALTER TABLE search_number_keyed RENAME TO search_number;
CREATE INDEX search_number_lookup ON search_number (param_key, lo);
CREATE INDEX search_number_rid ON search_number (rid);

CREATE TABLE search_quantity_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    system TEXT,
    code TEXT,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    canon_code TEXT,
    canon_lo REAL,
    canon_hi REAL
);
INSERT INTO search_quantity_keyed SELECT s.rid, k.param_key, s.grp, s.system, s.code, s.lo, s.hi, s.canon_code, s.canon_lo, s.canon_hi
FROM search_quantity s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_quantity;
ALTER TABLE search_quantity_keyed RENAME TO search_quantity;
CREATE INDEX search_quantity_lookup ON search_quantity (param_key, code, lo);
CREATE INDEX search_quantity_canon ON search_quantity (param_key, canon_code, canon_lo);
CREATE INDEX search_quantity_rid ON search_quantity (rid);

CREATE TABLE search_reference_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    target_type TEXT,
    target_id TEXT,
    version TEXT,
    url TEXT
);
INSERT INTO search_reference_keyed SELECT s.rid, k.param_key, s.grp, s.target_type, s.target_id, s.version, s.url
FROM search_reference s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_reference;
ALTER TABLE search_reference_keyed RENAME TO search_reference;
CREATE INDEX search_reference_lookup ON search_reference (param_key, target_id, target_type);
CREATE INDEX search_reference_target ON search_reference (target_type, target_id, param_key);
CREATE INDEX search_reference_url ON search_reference (param_key, url) WHERE url IS NOT NULL;
CREATE INDEX search_reference_rid ON search_reference (rid);

CREATE TABLE search_uri_keyed (
    rid INTEGER NOT NULL,
    param_key INTEGER NOT NULL,
    grp INTEGER,
    value TEXT NOT NULL
);
INSERT INTO search_uri_keyed SELECT s.rid, k.param_key, s.grp, s.value
FROM search_uri s JOIN param_keys k ON k.res_type = s.res_type AND k.param = s.param;
DROP TABLE search_uri;
ALTER TABLE search_uri_keyed RENAME TO search_uri;
CREATE INDEX search_uri_lookup ON search_uri (param_key, value);
CREATE INDEX search_uri_rid ON search_uri (rid);

DROP TABLE param_keys;
