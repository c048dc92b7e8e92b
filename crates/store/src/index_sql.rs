//! Multi-row INSERTs of search-index rows, one statement per table per chunk.

use super::sql::{Bind, CHUNK, Sql};
use crate::index::{IndexRows, param_key};

/// The index rows of one resource, keyed by its `rid`.
pub struct Owned<'a> {
    pub rid: i64,
    pub resource_type: &'a str,
    pub rows: &'a IndexRows,
}

/// Builds the INSERT statements for a batch of resources' index rows.
pub fn inserts(batch: &[Owned]) -> Vec<Sql> {
    let mut out = Vec::new();
    let grp = |g: Option<i32>| Bind::OptInt(g.map(i64::from));
    table(
        &mut out,
        "search_string (rid, param_key, grp, norm, exact)",
        batch,
        |o| &o.rows.strings,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::Text(r.norm.clone()),
                Bind::Text(r.exact.clone()),
            ]
        },
    );
    table(
        &mut out,
        "search_token (rid, param_key, grp, system, code)",
        batch,
        |o| &o.rows.tokens,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::OptText(r.system.clone()),
                Bind::Text(r.code.clone()),
            ]
        },
    );
    table(
        &mut out,
        "search_date (rid, param_key, grp, lo, hi)",
        batch,
        |o| &o.rows.dates,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::Int(r.lo),
                Bind::Int(r.hi),
            ]
        },
    );
    table(
        &mut out,
        "search_number (rid, param_key, grp, lo, hi)",
        batch,
        |o| &o.rows.numbers,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::Real(r.lo),
                Bind::Real(r.hi),
            ]
        },
    );
    table(
        &mut out,
        "search_quantity (rid, param_key, grp, system, code, lo, hi, canon_code, canon_lo, canon_hi)",
        batch,
        |o| &o.rows.quantities,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::OptText(r.system.clone()),
                Bind::OptText(r.code.clone()),
                Bind::Real(r.lo),
                Bind::Real(r.hi),
                Bind::OptText(r.canon.as_ref().map(|c| c.0.clone())),
                Bind::OptReal(r.canon.as_ref().map(|c| c.1)),
                Bind::OptReal(r.canon.as_ref().map(|c| c.2)),
            ]
        },
    );
    table(
        &mut out,
        "search_reference (rid, param_key, grp, target_type, target_id, version, url)",
        batch,
        |o| &o.rows.references,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::OptText(r.target_type.clone()),
                Bind::OptText(r.target_id.clone()),
                Bind::OptText(r.version.clone()),
                Bind::OptText(r.url.clone()),
            ]
        },
    );
    table(
        &mut out,
        "search_uri (rid, param_key, grp, value)",
        batch,
        |o| &o.rows.uris,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Int(param_key(o.resource_type, &r.param)),
                grp(r.grp),
                Bind::Text(r.value.clone()),
            ]
        },
    );
    table(
        &mut out,
        "compartment (rid, res_type, comp_type, comp_id)",
        batch,
        |o| &o.rows.compartments,
        |o, r| {
            vec![
                Bind::Int(o.rid),
                Bind::Text(o.resource_type.to_string()),
                Bind::Text(r.comp_type.clone()),
                Bind::Text(r.comp_id.clone()),
            ]
        },
    );
    out
}

/// Appends INSERT statements for one table, `CHUNK` rows each.
fn table<'a, R: 'a>(
    out: &mut Vec<Sql>,
    columns: &str,
    batch: &'a [Owned<'a>],
    rows_of: impl Fn(&'a Owned<'a>) -> &'a Vec<R>,
    binds: impl Fn(&Owned<'a>, &R) -> Vec<Bind>,
) {
    let all: Vec<(&Owned, &R)> = batch.iter().flat_map(|o| rows_of(o).iter().map(move |r| (o, r))).collect();
    for chunk in all.chunks(CHUNK) {
        let mut sql = Sql::new(&format!("INSERT INTO {columns} VALUES "));
        sql.values(chunk, |(o, r)| binds(o, r));
        out.push(sql);
    }
}
