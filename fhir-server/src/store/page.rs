//! One page of search matches in `_sort` order, keyset-paged in both directions (no OFFSET).
//!
//! The order is the sort keys, then `rid` ascending as the tie-breaker, so it is total and a
//! cursor (the keys and rid of a boundary row) marks a position that survives concurrent writes.

use super::db::{push_list, Arg, Backend, Plan};
use super::Store;
use base64::Engine as _;
use search::{KeyKind, SortKey};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A sort key's value at a page boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Where a page starts: strictly after (next) or strictly before (previous) a boundary row.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub forward: bool,
    pub keys: Vec<KeyValue>,
    pub rid: i64,
}

#[derive(Serialize, Deserialize)]
struct Wire(char, Vec<KeyValue>, i64);

impl Cursor {
    /// The opaque `_cursor` parameter value.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(&Wire(if self.forward { 'n' } else { 'p' }, self.keys.clone(), self.rid)).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a `_cursor` value; it must fit the request's sort keys (a link from another query does not).
    pub fn decode(s: &str, sort: &[SortKey]) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
        let Wire(dir, keys, rid) = serde_json::from_slice(&bytes).ok()?;
        let forward = match dir {
            'n' => true,
            'p' => false,
            _ => return None,
        };
        if keys.len() != sort.len() {
            return None;
        }
        let keys = keys
            .into_iter()
            .zip(sort)
            .map(|(v, k)| match (k.kind, v) {
                (KeyKind::Float, KeyValue::Int(i)) => Some(KeyValue::Float(i as f64)),
                (KeyKind::Float, v @ KeyValue::Float(_)) | (KeyKind::Int, v @ KeyValue::Int(_)) | (KeyKind::Text, v @ KeyValue::Text(_)) => Some(v),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Cursor { forward, keys, rid })
    }
}

/// A matching resource with its sort-key values.
#[derive(Debug)]
pub struct PageRow {
    pub rid: i64,
    pub res_type: String,
    pub id: String,
    pub content: String,
    pub keys: Vec<KeyValue>,
}

impl PageRow {
    /// The cursor for the page after (`forward`) or before this row.
    pub fn cursor(&self, forward: bool) -> Cursor {
        Cursor { forward, keys: self.keys.clone(), rid: self.rid }
    }
}

macro_rules! page_row_from {
    ($row:ty) => {
        impl<'r> sqlx::FromRow<'r, $row> for PageRow {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                let mut keys = Vec::new();
                for i in 4..row.columns().len() {
                    // The kinds are known from the sort keys, but each driver reports the column's
                    // own type, so trying them in turn is exact.
                    keys.push(if let Ok(s) = row.try_get::<String, _>(i) {
                        KeyValue::Text(s)
                    } else if let Ok(n) = row.try_get::<i64, _>(i) {
                        KeyValue::Int(n)
                    } else {
                        KeyValue::Float(row.try_get::<f64, _>(i)?)
                    });
                }
                Ok(PageRow { rid: row.try_get(0)?, res_type: row.try_get(1)?, id: row.try_get(2)?, content: row.try_get(3)?, keys })
            }
        }
    };
}
page_row_from!(sqlx::postgres::PgRow);
page_row_from!(sqlx::sqlite::SqliteRow);

impl super::lite_reader::FromLite for PageRow {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use rusqlite::types::ValueRef;
        let keys = (4..row.as_ref().column_count())
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Integer(n) => KeyValue::Int(n),
                    ValueRef::Real(f) => KeyValue::Float(f),
                    v => KeyValue::Text(v.as_str()?.to_string()),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(PageRow { rid: row.get(0)?, res_type: row.get(1)?, id: row.get(2)?, content: row.get(3)?, keys })
    }
}

impl Store {
    /// Up to `limit` matches of a search (`filter` includes the type condition, binds from `$1`) from `cursor` on (or the start), in page order
    /// (a backward page is returned in page order too, not reversed).
    /// `source` is the same match set read from index rows alone ([`search::rid_source`]), when
    /// the search has one: without `_sort`, the page then stops at its end inside that statement,
    /// instead of after SQLite built the whole `rid IN (...)` list, and PostgreSQL plans a
    /// statement without the `resource` row each match was checked against (planning is most of
    /// its cost: the benchmark's statements at x10 took 17% less time to plan and run this way).
    /// docs/performance.md, "Search" and "Ninth round".
    pub async fn search_page(
        &self,
        filter: &search::SqlFilter,
        source: Option<&search::RidSource>,
        sort: &[SortKey],
        cursor: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<PageRow>, sqlx::Error> {
        let forward = cursor.map_or(true, |c| c.forward);
        if let (Some(source), true) = (source, sort.is_empty()) {
            return self.rid_page(source, cursor, forward, limit).await;
        }
        let mut args = super::filter_args(&filter.args);
        let key_cols: Vec<String> = (0..sort.len()).map(|i| format!("k{i}")).collect();
        let mut inner = String::from("SELECT r.rid");
        for (k, col) in sort.iter().zip(&key_cols) {
            inner.push_str(&format!(", {} AS {col}", k.sql("r")));
        }
        inner.push_str(&format!(" FROM resource r WHERE NOT r.deleted AND ({})", filter.sql));
        let mut after = String::from("1=1");
        if let Some(c) = cursor {
            after = boundary(sort, &key_cols, c, &mut args);
        }
        // Backward pages read the order reversed from the cursor, then flip back below.
        let order: Vec<String> = sort
            .iter()
            .zip(&key_cols)
            .map(|(k, col)| format!("s.{col} {}", if k.desc == forward { "DESC" } else { "ASC" }))
            .chain([format!("s.rid {}", if forward { "ASC" } else { "DESC" })])
            .collect();
        args.push(Arg::Int(limit));
        // In rid order the page is put in order here rather than by an ORDER BY outside, which
        // SQLite would run as a sort of the joined rows, resources' text and all ([`Store::rid_page`]).
        let outer_order = if sort.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) };
        let sql = format!(
            "SELECT t.rid, t.res_type, t.res_id, {content}{keys} FROM (SELECT s.* FROM ({inner}) s WHERE {after} ORDER BY {order} LIMIT ${n}) s \
             JOIN resource t ON t.rid = s.rid{outer_order}",
            content = self.backend().json_col("t."),
            keys = key_cols.iter().map(|c| format!(", s.{c}")).collect::<String>(),
            order = order.join(", "),
            n = args.len(),
        );
        let mut rows: Vec<PageRow> = self.pool.fetch_many(&sql, &args, Plan::PerValue).await?;
        if sort.is_empty() {
            rows.sort_unstable_by_key(|r| r.rid);
        } else if !forward {
            rows.reverse();
        }
        Ok(rows)
    }
}

/// The rows of a unit a window reads per row of the page ([`search::RidSource::window_page`]):
/// a range matching an eighth of them or more fills its page within the window.
const WINDOW_ROWS_PER_MATCH: i64 = 8;

/// A page's (rid, type, id, content) rows as read: type, id and content are NULL for a rid
/// whose resource is deleted.
type RidRow = (i64, Option<String>, Option<String>, Option<String>);

impl Store {
    /// A page in rid order whose LIMIT applies inside the index-row statement `source`.
    async fn rid_page(&self, source: &search::RidSource, cursor: Option<&Cursor>, forward: bool, limit: i64) -> Result<Vec<PageRow>, sqlx::Error> {
        let content = self.backend().json_col("t.");
        let plan = if source.plan_fits_all_values() { Plan::Once } else { Plan::PerValue };
        let mut from = cursor.map(|c| c.rid);
        let mut rows: Vec<PageRow> = Vec::new();
        // Each read moves `from` past what it returned; deleted resources' rids come back without a row.
        let take = |read: Vec<RidRow>, from: &mut Option<i64>, rows: &mut Vec<PageRow>| {
            *from = read.iter().map(|r| r.0).reduce(if forward { i64::max } else { i64::min }).or(*from);
            rows.extend(read.into_iter().filter_map(|(rid, res_type, id, content)| Some(PageRow { rid, res_type: res_type?, id: id?, content: content?, keys: Vec::new() })));
        };
        let window = if self.backend() == Backend::Sqlite { source.window_page(from, forward, limit, WINDOW_ROWS_PER_MATCH * limit) } else { None };
        if let Some(window) = window {
            let sql = format!("SELECT s.edge, s.rid, t.res_type, t.res_id, {content} FROM ({}) s LEFT JOIN resource t ON t.rid = s.rid AND NOT t.deleted", window.sql);
            let read: Vec<(Option<i64>, Option<i64>, Option<String>, Option<String>, Option<String>)> = self.pool.fetch_many(&sql, &super::filter_args(&window.args), plan).await?;
            let edge = read.first().and_then(|r| r.0);
            let read: Vec<RidRow> = read.into_iter().filter_map(|(_, rid, res_type, id, content)| Some((rid?, res_type, id, content))).collect();
            let full = read.len() as i64 == limit;
            take(read, &mut from, &mut rows);
            match (full, edge) {
                // Every match in the window was read and the window reached the end.
                (false, None) => return Ok(in_rid_order(rows)),
                // The rest of the page lies beyond the window.
                (false, Some(edge)) => from = Some(edge),
                (true, _) if rows.len() as i64 >= limit => return Ok(in_rid_order(rows)),
                // A deleted resource took a place: read on past the last rid.
                (true, _) => {}
            }
        }
        loop {
            let wanted = limit - rows.len() as i64;
            let page = source.page(from, forward, wanted);
            // A rid of a deleted resource (a `_has` Patient's, kept in the rows that name it)
            // comes back without a row, and the page reads on past it. No ORDER BY outside: SQLite
            // would sort the joined rows, copying every resource's text into its sorter (a page of
            // 50 Patients is 170 kB); the page is put in order here instead (ascending both ways:
            // a backward page is read in descending order up to the cursor).
            let sql = format!("SELECT s.rid, t.res_type, t.res_id, {content} FROM ({}) s LEFT JOIN resource t ON t.rid = s.rid AND NOT t.deleted", page.sql);
            let read: Vec<RidRow> = self.pool.fetch_many(&sql, &super::filter_args(&page.args), plan).await?;
            let n = read.len() as i64;
            take(read, &mut from, &mut rows);
            if n < wanted || rows.len() as i64 >= limit {
                break;
            }
        }
        Ok(in_rid_order(rows))
    }
}

fn in_rid_order(mut rows: Vec<PageRow>) -> Vec<PageRow> {
    rows.sort_unstable_by_key(|r| r.rid);
    rows
}

/// Rows strictly after (or before) the cursor in the order (keys..., rid): the lexicographic
/// comparison spelled out, since the keys' directions may differ.
fn boundary<'a>(sort: &[SortKey], cols: &[String], c: &'a Cursor, args: &mut Vec<Arg<'a>>) -> String {
    let rid = push_list(args, [Arg::Int(c.rid)]);
    let mut cond = format!("s.rid {} {rid}", if c.forward { ">" } else { "<" });
    for ((k, col), v) in sort.iter().zip(cols).zip(&c.keys).rev() {
        let p = push_list(
            args,
            [match v {
                KeyValue::Int(i) => Arg::Int(*i),
                KeyValue::Float(f) => Arg::Float(*f),
                KeyValue::Text(s) => Arg::Text(s),
            }],
        );
        let op = if k.desc == c.forward { "<" } else { ">" };
        cond = format!("s.{col} {op} {p} OR (s.{col} = {p} AND ({cond}))");
    }
    format!("({cond})")
}
