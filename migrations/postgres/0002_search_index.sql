-- Search-index tables, one per parameter type. Every row carries the resource's type so that the
-- lookup indexes are selective per type (text compared in byte order, as SQLite does, so both backends
-- sort and match prefixes alike); `grp` ties together the components of one composite value.
DROP TABLE search_token;

CREATE TABLE search_string (
    rid      BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    norm     TEXT COLLATE "C" NOT NULL, -- lower case, accents removed; byte order for prefix ranges
    exact    TEXT NOT NULL
);
CREATE INDEX search_string_lookup ON search_string (res_type, param, norm);
CREATE INDEX search_string_rid ON search_string (rid);

CREATE TABLE search_token (
    rid      BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    system   TEXT,
    code     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX search_token_lookup ON search_token (res_type, param, code, system);
CREATE INDEX search_token_rid ON search_token (rid);

CREATE TABLE search_date (
    rid      BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    lo       BIGINT NOT NULL, -- epoch microseconds, inclusive
    hi       BIGINT NOT NULL  -- epoch microseconds, exclusive
);
CREATE INDEX search_date_lookup ON search_date (res_type, param, lo, hi);
CREATE INDEX search_date_rid ON search_date (rid);

CREATE TABLE search_number (
    rid      BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    lo       DOUBLE PRECISION NOT NULL,
    hi       DOUBLE PRECISION NOT NULL
);
CREATE INDEX search_number_lookup ON search_number (res_type, param, lo);
CREATE INDEX search_number_rid ON search_number (rid);

CREATE TABLE search_quantity (
    rid        BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type   TEXT NOT NULL,
    param      TEXT NOT NULL,
    grp        INTEGER,
    system     TEXT,
    code       TEXT,
    lo         DOUBLE PRECISION NOT NULL,
    hi         DOUBLE PRECISION NOT NULL,
    canon_code TEXT, -- UCUM dimension key
    canon_lo   DOUBLE PRECISION,
    canon_hi   DOUBLE PRECISION
);
CREATE INDEX search_quantity_lookup ON search_quantity (res_type, param, code, lo);
CREATE INDEX search_quantity_canon ON search_quantity (res_type, param, canon_code, canon_lo);
CREATE INDEX search_quantity_rid ON search_quantity (rid);

CREATE TABLE search_reference (
    rid         BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type    TEXT NOT NULL,
    param       TEXT NOT NULL,
    grp         INTEGER,
    target_type TEXT,
    target_id   TEXT COLLATE "C",
    version     TEXT,
    url         TEXT
);
CREATE INDEX search_reference_lookup ON search_reference (res_type, param, target_id, target_type);
CREATE INDEX search_reference_target ON search_reference (target_type, target_id, param);
CREATE INDEX search_reference_url ON search_reference (res_type, param, url);
CREATE INDEX search_reference_rid ON search_reference (rid);

CREATE TABLE search_uri (
    rid      BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type TEXT NOT NULL,
    param    TEXT NOT NULL,
    grp      INTEGER,
    value    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX search_uri_lookup ON search_uri (res_type, param, value);
CREATE INDEX search_uri_rid ON search_uri (rid);

-- Compartment membership: Patient/123 contains this Observation.
CREATE TABLE compartment (
    rid       BIGINT NOT NULL REFERENCES resource (rid) ON DELETE CASCADE,
    res_type  TEXT NOT NULL,
    comp_type TEXT NOT NULL,
    comp_id   TEXT NOT NULL
);
CREATE INDEX compartment_lookup ON compartment (comp_type, comp_id, res_type);
CREATE INDEX compartment_rid ON compartment (rid);

CREATE INDEX resource_type_updated ON resource (res_type, last_updated);
