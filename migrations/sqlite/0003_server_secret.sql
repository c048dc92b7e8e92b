-- Secrets every server node shares (the paging-cursor signing key), created on first use.
CREATE TABLE server_secret (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
