//! The SMART authorization server's tables (migrations 0008 and 0010), one small repository per
//! table group. Each function runs one statement and decodes its rows into a named row struct;
//! what the values mean (token hashes, scopes, client types, when something expires) is decided
//! by the authorization server above, which passes and receives plain strings and integers.
//! Times are epoch seconds, as in the tables.

pub mod assertions;
pub mod clients;
pub mod grants;
pub mod keys;
pub mod launches;
pub mod requests;

use std::slice;

use crate::sql::{Bind, Cell, Sql};
use crate::{Store, StoreError, StoreResult};

/// Deletes the rows of a table with an `expires_at` column that expired before `cutoff`, so the
/// table stays small.
async fn delete_expired_from(store: &dyn Store, table: &str, cutoff: i64) -> StoreResult<()> {
    let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE expires_at < "));
    sql.bind(Bind::Int(cutoff));
    store.execute(sql).await?;
    Ok(())
}

/// The cells of one result row, taken in SELECT order while a row struct is built from them.
struct Cells<'a> {
    /// What the row was selected from, for the error when a cell is not what the schema promises.
    table: &'static str,
    cells: slice::Iter<'a, Cell>,
    taken: usize,
}

impl<'a> Cells<'a> {
    fn new(table: &'static str, row: &'a [Cell]) -> Cells<'a> {
        Cells { table, cells: row.iter(), taken: 0 }
    }

    fn next(&mut self) -> Option<&'a Cell> {
        self.taken += 1;
        self.cells.next()
    }

    /// The next cell, of a nullable text column.
    fn optional_text(&mut self) -> Option<String> {
        self.next().and_then(Cell::as_text).map(str::to_string)
    }

    /// The next cell, of a nullable integer column.
    fn optional_int(&mut self) -> Option<i64> {
        self.next().and_then(Cell::as_int)
    }

    /// The next cell, of a `NOT NULL` text column.
    fn text(&mut self) -> StoreResult<String> {
        self.optional_text().ok_or_else(|| self.missing())
    }

    /// The next cell, of a `NOT NULL` integer column.
    fn int(&mut self) -> StoreResult<i64> {
        self.optional_int().ok_or_else(|| self.missing())
    }

    /// The migrations declare the column `NOT NULL`: a NULL there means the table is not theirs.
    fn missing(&self) -> StoreError {
        StoreError::Corrupt(format!("{}: column {} of a selected row is NULL", self.table, self.taken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_taken_in_order_and_null_in_a_required_column_is_corruption() {
        let row = [Cell::Text("a".into()), Cell::Null, Cell::Int(7), Cell::Null];
        let mut cells = Cells::new("auth_test", &row);
        assert_eq!(cells.text().ok(), Some("a".to_string()));
        assert_eq!(cells.optional_text(), None);
        assert_eq!(cells.int().ok(), Some(7));
        let error = cells.int().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("auth_test: column 4"), "{error}");
    }
}
