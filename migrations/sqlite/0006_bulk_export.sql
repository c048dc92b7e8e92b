-- Bulk Data export jobs. They live in the database, not in a node's memory, so a job survives a
-- restart and any node can answer its status; a worker node holds a job through a lease that
-- another node may take over once it has expired.
CREATE TABLE export_job (
    id               TEXT PRIMARY KEY,
    status           TEXT NOT NULL,     -- accepted, running, completed, failed
    request          TEXT NOT NULL,     -- the kick-off URL, echoed in the manifest
    spec             TEXT NOT NULL,     -- JSON: level, group members, types, since, type filters
    transaction_time INTEGER NOT NULL,  -- epoch microseconds; nothing changed later is exported
    created          INTEGER NOT NULL,
    finished         INTEGER,
    progress         TEXT,
    resume           TEXT,              -- JSON: where the worker continues after a restart
    error            TEXT,
    lease_until      INTEGER             -- epoch microseconds
);
CREATE INDEX export_job_pending ON export_job (status, created);

-- The NDJSON output, stored with the job so that every node can serve it.
CREATE TABLE export_file (
    job_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    res_type TEXT NOT NULL,
    count    INTEGER NOT NULL,
    content  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
