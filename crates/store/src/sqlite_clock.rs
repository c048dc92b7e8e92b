//! A statement timeout for SQLite, which has none of its own. SQLite calls a progress handler
//! every few thousand virtual-machine instructions while a statement runs; returning `false`
//! interrupts the statement (`SQLITE_INTERRUPT`). The handler tells one run of a statement from
//! the next by the statement that is stepping and its run counter, so the clock restarts for
//! every statement, however busy the connection is, and a query abandoned by its client stops
//! at the same bound instead of running on in the connection's worker thread.

// The handler reads SQLite's statement list through its C API: the only unsafe code of the
// workspace, each block with its SAFETY argument.
#![allow(unsafe_code)]

use std::ptr;
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;
use sqlx::sqlite::SqliteConnection;

/// Instructions between two looks at the clock: about a millisecond of work.
const INSTRUCTIONS_PER_CHECK: i32 = 100_000;

struct StatementClock {
    /// The connection's handle, as an address so the handler is `Send`; the handler is owned
    /// by the connection and dropped before the handle is closed.
    db: usize,
    timeout: Duration,
    /// The statement run the clock is timing: the statement's address and its run counter.
    timing: Option<(usize, i32)>,
    started: Instant,
    /// When the clock last looked.
    looked: Instant,
}

/// A look this long after the last is at another run, whatever its address and counter say: a
/// statement that runs on is looked at every [`INSTRUCTIONS_PER_CHECK`] instructions, about a
/// millisecond apart (more when it waits for the disk, never this long). Address and counter
/// alone do not tell runs apart: a statement finalized and a new one prepared at the same
/// address both start at run 1, and a read of one Patient, cut as if it had run since the old
/// one started, failed with 400 about once in 10,000 reads once the server had been up longer
/// than the timeout.
const LOOK_GAP: Duration = Duration::from_secs(1);

impl StatementClock {
    /// `false` once the running statement has run longer than the timeout.
    fn still_in_time(&mut self) -> bool {
        let running = self.running();
        let now = Instant::now();
        let another_run = running != self.timing || now.duration_since(self.looked) > LOOK_GAP;
        self.looked = now;
        if another_run {
            self.timing = running;
            self.started = now;
            return true;
        }
        now.duration_since(self.started) <= self.timeout
    }

    /// The statement being stepped on this connection (sqlx steps one at a time).
    fn running(&self) -> Option<(usize, i32)> {
        let db = self.db as *mut ffi::sqlite3;
        // SAFETY: `db` is the live handle of the connection whose worker thread is calling this
        // handler; walking its statement list and reading counters does not modify it.
        unsafe {
            let mut stmt = ffi::sqlite3_next_stmt(db, ptr::null_mut());
            while !stmt.is_null() {
                if ffi::sqlite3_stmt_busy(stmt) != 0 {
                    // The run counter goes up on the first step of every run, so (statement,
                    // counter) names one execution of a cached prepared statement.
                    let runs = ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_RUN, 0);
                    return Some((stmt as usize, runs));
                }
                stmt = ffi::sqlite3_next_stmt(db, stmt);
            }
        }
        None
    }
}

/// Installs the statement timeout on a new connection.
pub async fn install(conn: &mut SqliteConnection, timeout: Duration) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr() as usize;
    let now = Instant::now();
    let mut clock = StatementClock { db, timeout, timing: None, started: now, looked: now };
    handle.set_progress_handler(INSTRUCTIONS_PER_CHECK, move || clock.still_in_time());
    Ok(())
}
