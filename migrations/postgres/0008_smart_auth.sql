-- SMART on FHIR authorization server. Times are epoch seconds; secrets and tokens are stored only
-- as hashes, except the server's own signing keys (which must sign).

-- Signing keys (RS256) for id_tokens. The newest unretired key signs; retired keys stay in the JWKS
-- until every token they signed has expired.
CREATE TABLE auth_signing_key (
    kid         TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

-- Registered client applications.
CREATE TABLE auth_client (
    client_id     TEXT PRIMARY KEY,
    client_type   TEXT NOT NULL,
    secret_hash   TEXT,
    redirect_uris TEXT NOT NULL,
    launch_uri    TEXT,
    jwks          TEXT,
    jwks_url      TEXT,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Authorization requests between /authorize and the code: parameters kept server-side while the
-- user logs in, picks a patient and consents.
CREATE TABLE auth_request (
    id         TEXT PRIMARY KEY,
    params     TEXT NOT NULL,
    account    TEXT,
    expires_at BIGINT NOT NULL
);

-- A grant: what one user (or backend client) allowed one client. Revoking it kills every token
-- issued under it (code reuse and refresh-token reuse revoke the whole grant).
CREATE TABLE auth_grant (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT,
    fhir_user  TEXT,
    patient    TEXT,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE auth_code (
    code_hash      TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX auth_code_expiry ON auth_code (expires_at);

-- Access and refresh tokens (opaque; only their SHA-256 is stored).
CREATE TABLE auth_token (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX auth_token_grant ON auth_token (grant_id);
CREATE INDEX auth_token_expiry ON auth_token (expires_at);

-- Client-assertion ids seen, kept until the assertion expires, so a replay is refused on every node.
CREATE TABLE auth_assertion_jti (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
