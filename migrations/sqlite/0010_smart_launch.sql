-- EHR launch (SMART App Launch "launch-ehr"): the context a logged-in user opened an app with,
-- handed to the app as an opaque `launch` id. Only the id's SHA-256 is stored. A launch may be
-- presented at /authorize until it expires; the first code issued for it uses it up.
CREATE TABLE auth_launch (
    id_hash    TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    patient    TEXT NOT NULL,
    encounter  TEXT,
    subject    TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX auth_launch_expiry ON auth_launch (expires_at);

-- The encounter in context of a grant (EHR launch with an encounter).
ALTER TABLE auth_grant ADD COLUMN encounter TEXT;
