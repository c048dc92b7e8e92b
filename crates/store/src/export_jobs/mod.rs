//! FHIR Bulk Data export jobs (`$export`, Bulk Data Access 2.0) as kept in the database (tables
//! `export_job` and `export_file`): what a job exports ([`ExportSpec`]), its state, its files and
//! where it resumes. The kick-off, status and file interactions and the worker that runs jobs are
//! in the server's `interaction::export`.

mod spec;

pub use spec::{ExportSpec, Level, Resume, TypeFilter};

use crate::sql::{Bind, Cell, Cells, Column, Sql};
use crate::{Micros, Store, StoreError, StoreResult, StoreTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for a worker.
    Accepted,
    Running,
    Completed,
    Failed,
}

impl Status {
    /// Every status, in the order a job passes through them.
    pub const ALL: [Status; 4] = [Status::Accepted, Status::Running, Status::Completed, Status::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    fn parse(text: &str) -> StoreResult<Status> {
        Ok(match text {
            "accepted" => Status::Accepted,
            "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            other => return Err(StoreError::Corrupt(format!("export job status '{other}'"))),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub status: Status,
    pub request: String,
    pub spec: ExportSpec,
    pub transaction_time: Micros,
    pub finished: Option<Micros>,
    pub progress: Option<String>,
    pub resume: Resume,
    pub error: Option<String>,
}

/// One NDJSON file of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub seq: i64,
    pub resource_type: String,
    pub count: i64,
}

const JOB_COLUMNS: &str = "id, status, request, spec, transaction_time, finished, progress, resume, error";
const JOB_KINDS: &[Column] = &[
    Column::Text,
    Column::Text,
    Column::Text,
    Column::Text,
    Column::Int,
    Column::Int,
    Column::Text,
    Column::Text,
    Column::Text,
];

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("export job: {what}"))
}

fn job_from(row: &[Cell]) -> StoreResult<Job> {
    let mut cells = Cells::new("export_job", row);
    let id = cells.text()?;
    let status = Status::parse(&cells.optional_text().unwrap_or_default())?;
    let request = cells.optional_text().unwrap_or_default();
    let spec: ExportSpec = serde_json::from_str(&cells.text()?).map_err(|e| corrupt(&e.to_string()))?;
    let transaction_time = cells.int()?;
    let finished = cells.optional_int();
    let progress = cells.optional_text();
    let resume: Resume = match cells.optional_text() {
        Some(r) => serde_json::from_str(&r).map_err(|e| corrupt(&e.to_string()))?,
        None => Resume::default(),
    };
    Ok(Job { id, status, request, spec, transaction_time, finished, progress, resume, error: cells.optional_text() })
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt(&e.to_string()))
}

pub async fn create(store: &dyn Store, id: &str, request: &str, spec: &ExportSpec, at: Micros) -> StoreResult<()> {
    let mut sql =
        Sql::new("INSERT INTO export_job (id, status, request, spec, transaction_time, created, progress) VALUES (");
    sql.bind(Bind::Text(id.to_string()))
        .push(", ")
        .bind(Bind::Text(Status::Accepted.as_str().to_string()))
        .push(", ")
        .bind(Bind::Text(request.to_string()))
        .push(", ")
        .bind(Bind::Text(to_json(spec)?))
        .push(", ")
        .bind(Bind::Int(at))
        .push(", ")
        .bind(Bind::Int(at))
        .push(", 'queued')");
    store.execute(sql).await?;
    Ok(())
}

pub async fn get(store: &dyn Store, id: &str) -> StoreResult<Option<Job>> {
    let mut sql = Sql::new(&format!("SELECT {JOB_COLUMNS} FROM export_job WHERE id = "));
    sql.bind(Bind::Text(id.to_string()));
    store.query(sql, JOB_KINDS).await?.first().map(|row| job_from(row)).transpose()
}

pub async fn files(store: &dyn Store, id: &str) -> StoreResult<Vec<FileInfo>> {
    let mut sql = Sql::new("SELECT seq, res_type, count FROM export_file WHERE job_id = ");
    sql.bind(Bind::Text(id.to_string())).push(" ORDER BY seq");
    let rows = store.query(sql, &[Column::Int, Column::Text, Column::Int]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(FileInfo {
                seq: r.first()?.as_int()?,
                resource_type: r.get(1)?.as_text()?.to_string(),
                count: r.get(2)?.as_int()?,
            })
        })
        .collect())
}

pub async fn file_content(store: &dyn Store, id: &str, seq: i64) -> StoreResult<Option<String>> {
    let mut sql = Sql::new("SELECT content FROM export_file WHERE job_id = ");
    sql.bind(Bind::Text(id.to_string())).push(" AND seq = ").bind(Bind::Int(seq));
    let rows = store.query(sql, &[Column::Text]).await?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Cell::as_text).map(str::to_string))
}

/// Deletes a job and its files; a worker running it notices at its next heartbeat and stops.
pub async fn delete(store: &dyn Store, id: &str) -> StoreResult<bool> {
    let mut tx = store.begin().await?;
    let mut files = Sql::new("DELETE FROM export_file WHERE job_id = ");
    files.bind(Bind::Text(id.to_string()));
    tx.query(files, &[]).await?;
    let mut job = Sql::new("DELETE FROM export_job WHERE id = ");
    job.bind(Bind::Text(id.to_string())).push(" RETURNING id");
    let deleted = !tx.query(job, &[Column::Text]).await?.is_empty();
    tx.commit().await?;
    Ok(deleted)
}

/// Takes the oldest waiting job, or a running one whose worker's lease has run out (its node
/// died), holding it until `lease_until`.
pub async fn claim(store: &dyn Store, now: Micros, lease_until: Micros) -> StoreResult<Option<Job>> {
    let mut pick = Sql::new(
        "SELECT id FROM export_job WHERE status IN ('accepted', 'running') AND (lease_until IS NULL OR lease_until < ",
    );
    pick.bind(Bind::Int(now)).push(") ORDER BY created LIMIT 1");
    let Some(id) =
        store.query(pick, &[Column::Text]).await?.first().and_then(|r| r.first()?.as_text().map(str::to_string))
    else {
        return Ok(None);
    };
    // The lease condition is checked again by the UPDATE, so of two nodes racing for the job
    // only one gets it.
    let mut take = Sql::new("UPDATE export_job SET status = 'running', lease_until = ");
    take.bind(Bind::Int(lease_until))
        .push(" WHERE id = ")
        .bind(Bind::Text(id.clone()))
        .push(" AND status IN ('accepted', 'running') AND (lease_until IS NULL OR lease_until < ")
        .bind(Bind::Int(now))
        .push(")");
    if store.execute(take).await? == 1 { get(store, &id).await } else { Ok(None) }
}

/// Renews the lease and reports progress; false when the job was cancelled (deleted).
pub async fn heartbeat(store: &dyn Store, id: &str, progress: &str, lease_until: Micros) -> StoreResult<bool> {
    let mut sql = Sql::new("UPDATE export_job SET progress = ");
    sql.bind(Bind::Text(progress.to_string()))
        .push(", lease_until = ")
        .bind(Bind::Int(lease_until))
        .push(" WHERE id = ")
        .bind(Bind::Text(id.to_string()))
        .push(" AND status = 'running'");
    Ok(store.execute(sql).await? == 1)
}

/// Stores one NDJSON file and the point to resume from after it, atomically; false (and
/// nothing stored) when the job was cancelled meanwhile.
pub async fn write_file(
    store: &dyn Store,
    id: &str,
    file: &FileInfo,
    content: String,
    resume: &Resume,
    progress: &str,
    lease_until: Micros,
) -> StoreResult<bool> {
    let mut tx: Box<dyn StoreTx> = store.begin().await?;
    let mut update = Sql::new("UPDATE export_job SET resume = ");
    update
        .bind(Bind::Text(to_json(resume)?))
        .push(", progress = ")
        .bind(Bind::Text(progress.to_string()))
        .push(", lease_until = ")
        .bind(Bind::Int(lease_until))
        .push(" WHERE id = ")
        .bind(Bind::Text(id.to_string()))
        .push(" AND status = 'running' RETURNING id");
    if tx.query(update, &[Column::Text]).await?.is_empty() {
        return Ok(false);
    }
    let mut insert = Sql::new("INSERT INTO export_file (job_id, seq, res_type, count, content) VALUES (");
    insert
        .bind(Bind::Text(id.to_string()))
        .push(", ")
        .bind(Bind::Int(file.seq))
        .push(", ")
        .bind(Bind::Text(file.resource_type.clone()))
        .push(", ")
        .bind(Bind::Int(file.count))
        .push(", ")
        .bind(Bind::Text(content))
        .push(")");
    tx.query(insert, &[]).await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks a job finished (completed or failed).
pub async fn finish(
    store: &dyn Store,
    id: &str,
    status: Status,
    progress: &str,
    error: Option<&str>,
    at: Micros,
) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE export_job SET status = ");
    sql.bind(Bind::Text(status.as_str().to_string()))
        .push(", progress = ")
        .bind(Bind::Text(progress.to_string()))
        .push(", error = ")
        .bind(Bind::OptText(error.map(str::to_string)))
        .push(", finished = ")
        .bind(Bind::Int(at))
        .push(", lease_until = NULL WHERE id = ")
        .bind(Bind::Text(id.to_string()));
    store.execute(sql).await?;
    Ok(())
}

/// Gives a job back (on shutdown) so that the next worker, on any node, continues it at once.
pub async fn release(store: &dyn Store, id: &str) -> StoreResult<()> {
    let mut sql = Sql::new("UPDATE export_job SET lease_until = NULL WHERE id = ");
    sql.bind(Bind::Text(id.to_string())).push(" AND status = 'running'");
    store.execute(sql).await?;
    Ok(())
}

/// How many jobs are in each status (every status named, absent ones as 0), in one statement:
/// what the export-queue gauge shows.
pub async fn count_by_status(store: &dyn Store) -> StoreResult<Vec<(Status, i64)>> {
    let sql = Sql::new("SELECT status, COUNT(*) FROM export_job GROUP BY status");
    let rows = store.query(sql, &[Column::Text, Column::Int]).await?;
    let mut counts: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for row in &rows {
        let status = Status::parse(row.first().and_then(Cell::as_text).unwrap_or_default())?;
        let count = row.get(1).and_then(Cell::as_int).unwrap_or(0);
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 = count;
        }
    }
    Ok(counts)
}

/// Deletes jobs (and files) that finished before `before`.
pub async fn purge_finished(store: &dyn Store, before: Micros) -> StoreResult<u64> {
    let mut tx = store.begin().await?;
    let mut files = Sql::new(
        "DELETE FROM export_file WHERE job_id IN (SELECT id FROM export_job WHERE finished IS NOT NULL AND finished < ",
    );
    files.bind(Bind::Int(before)).push(")");
    tx.query(files, &[]).await?;
    let mut jobs = Sql::new("DELETE FROM export_job WHERE finished IS NOT NULL AND finished < ");
    jobs.bind(Bind::Int(before)).push(" RETURNING id");
    let purged = tx.query(jobs, &[Column::Text]).await?.len() as u64;
    tx.commit().await?;
    Ok(purged)
}
