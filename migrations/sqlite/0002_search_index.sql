-- Search-index tables, one per parameter type. Every row carries the resource's type so that the
-- lookup indexes are selective per type; `grp` ties together the components of one composite value.
DROP TABLE search_token;

CREATE TABLE search_string (
    rid      INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    norm     TEXT NOT NULL, -- lower case, accents removed
    exact    TEXT NOT NULL
);
CREATE INDEX search_string_lookup ON search_string (res_type, param, norm);
CREATE INDEX search_string_rid ON search_string (rid);

CREATE TABLE search_token (
    rid      INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    system   TEXT,
    code     TEXT NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (res_type, param, code, system);
CREATE INDEX search_token_rid ON search_token (rid);

CREATE TABLE search_date (
    rid      INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    lo       INTEGER NOT NULL, -- epoch microseconds, inclusive
    hi       INTEGER NOT NULL  -- epoch microseconds, exclusive
);
CREATE INDEX search_date_lookup ON search_date (res_type, param, lo, hi);
CREATE INDEX search_date_rid ON search_date (rid);

CREATE TABLE search_number (
    rid      INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    lo       REAL NOT NULL,
    hi       REAL NOT NULL
);
CREATE INDEX search_number_lookup ON search_number (res_type, param, lo);
CREATE INDEX search_number_rid ON search_number (rid);

CREATE TABLE search_quantity (
    rid        INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type   TEXT NOT NULL,
    param      TEXT NOT NULL,
    grp        INTEGER,
    system     TEXT,
    code       TEXT,
    lo         REAL NOT NULL,
    hi         REAL NOT NULL,
    canon_code TEXT, -- UCUM dimension key
    canon_lo   REAL,
    canon_hi   REAL
);
CREATE INDEX search_quantity_lookup ON search_quantity (res_type, param, code, lo);
CREATE INDEX search_quantity_canon ON search_quantity (res_type, param, canon_code, canon_lo);
CREATE INDEX search_quantity_rid ON search_quantity (rid);

CREATE TABLE search_reference (
    rid         INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type    TEXT NOT NULL,
    param       TEXT NOT NULL,
    grp         INTEGER,
    target_type TEXT,
    target_id   TEXT,
    version     TEXT,
    url         TEXT
);
CREATE INDEX search_reference_lookup ON search_reference (res_type, param, target_id, target_type);
CREATE INDEX search_reference_target ON search_reference (target_type, target_id, param);
CREATE INDEX search_reference_url ON search_reference (res_type, param, url);
CREATE INDEX search_reference_rid ON search_reference (rid);

CREATE TABLE search_uri (
    rid      INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    value    TEXT NOT NULL
);
CREATE INDEX search_uri_lookup ON search_uri (res_type, param, value);
CREATE INDEX search_uri_rid ON search_uri (rid);

-- Compartment membership: Patient/123 contains this Observation.
CREATE TABLE compartment (
    rid       INTEGER NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type  TEXT NOT NULL,
    comp_type TEXT NOT NULL,
    comp_id   TEXT NOT NULL
);
CREATE INDEX compartment_lookup ON compartment (comp_type, comp_id, res_type);
CREATE INDEX compartment_rid ON compartment (rid);

CREATE INDEX resource_type_updated ON resource (res_type, last_updated);
