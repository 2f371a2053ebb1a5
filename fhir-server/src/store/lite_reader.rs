//! SQLite reads that return many rows (search pages, `_include` and `_revinclude`), run whole on
//! one blocking thread: one hand-over per statement.
//!
//! sqlx-sqlite runs every statement on a worker thread of its own and sends each row to the async
//! side through a channel, copying each value into a fresh allocation that the other thread frees.
//! For a 50-entry page that is 51 hand-overs, and on pages of large resources it cost more than
//! SQLite itself (Patient?birthdate=ge1949-01-01&gender=male at ×10: 0.18 ms in SQLite, 0.68 ms
//! through sqlx). Here a rusqlite connection runs the statement on tokio's blocking pool and
//! decodes the rows in place. docs/performance.md, "Sixth round".

use super::db::Arg;
use super::open::{BUSY_TIMEOUT, CACHE_KIB, MMAP_BYTES};
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use rusqlite::{OpenFlags, Row};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Prepared statements each connection keeps; searches differ in shape, so more than rusqlite's 16.
const STATEMENTS_KEPT: usize = 256;

/// A row type decodable from a rusqlite row.
pub trait FromLite: Sized + Send + 'static {
    /// Decodes the current row.
    fn from_lite(row: &Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! tuple_from_lite {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> FromLite for ($($t,)+)
        where
            $($t: rusqlite::types::FromSql + Send + 'static),+
        {
            fn from_lite(row: &Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get($i)?,)+))
            }
        }
    };
}
tuple_from_lite!(A 0, B 1, C 2, D 3);
tuple_from_lite!(A 0, B 1, C 2, D 3, E 4);

/// Says whether a connection of the given age still plans with the current statistics.
pub type Freshness = Arc<dyn Fn(Duration) -> bool + Send + Sync>;

/// Opens read-only connections configured as the sqlx read pool's: same page cache, memory map,
/// temp store, busy timeout and query planner stability guarantee (see `open::stable_plans`).
pub struct Connector {
    path: PathBuf,
    fresh: Freshness,
}

impl managed::Manager for Connector {
    type Type = rusqlite::Connection;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<rusqlite::Connection, rusqlite::Error> {
        let conn = rusqlite::Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = memory; PRAGMA mmap_size = {MMAP_BYTES};"))?;
        if !conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)? {
            return Err(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR), Some("SQLite refused the query planner stability guarantee".into())));
        }
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        Ok(conn)
    }

    async fn recycle(&self, _: &mut rusqlite::Connection, metrics: &Metrics) -> RecycleResult<rusqlite::Error> {
        // A connection reads the statistics when it opens and keeps its plans: after an ANALYZE it
        // is replaced, as the sqlx read pool's are.
        if (self.fresh)(metrics.age()) {
            Ok(())
        } else {
            Err(RecycleError::message("statistics renewed since it opened"))
        }
    }
}

/// A pool of read-only rusqlite connections to the store's file.
#[derive(Clone)]
pub struct LiteReader {
    pool: managed::Pool<Connector>,
}

/// A bind value owned, to move into the blocking call.
enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl From<&Arg<'_>> for Value {
    fn from(a: &Arg<'_>) -> Value {
        match *a {
            Arg::Text(s) | Arg::OptText(Some(s)) | Arg::Json(Some(s)) => Value::Text(s.to_string()),
            Arg::Int(i) | Arg::OptInt(Some(i)) => Value::Int(i),
            Arg::Float(f) | Arg::OptFloat(Some(f)) => Value::Float(f),
            Arg::Bool(b) => Value::Int(b as i64),
            Arg::OptText(None) | Arg::OptInt(None) | Arg::OptFloat(None) | Arg::Json(None) => Value::Null,
        }
    }
}

impl LiteReader {
    /// Up to `connections` readers of the SQLite file at `path`; `fresh` tells whether a
    /// connection of some age may be reused.
    pub fn new(path: PathBuf, connections: usize, fresh: Freshness) -> anyhow::Result<LiteReader> {
        let pool = managed::Pool::builder(Connector { path, fresh }).max_size(connections).build()?;
        Ok(LiteReader { pool })
    }

    /// Runs a query (placeholders `$1`, `$2`, ... as everywhere in the store) and decodes all rows.
    pub async fn fetch<T: FromLite>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error> {
        let mut conn = self.pool.get().await.map_err(|e| sqlx::Error::Protocol(format!("SQLite read pool: {e}")))?;
        let sql = sql.to_string();
        let values: Vec<Value> = args.iter().map(Value::from).collect();
        tokio::task::spawn_blocking(move || run(&mut conn, &sql, &values).map_err(|e| sqlx::Error::Protocol(format!("SQLite: {e}"))))
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("SQLite read task: {e}")))?
    }
}

/// Prepares (or reuses) `sql`, binds `values` by the number in each placeholder's name, and reads every row.
fn run<T: FromLite>(conn: &mut rusqlite::Connection, sql: &str, values: &[Value]) -> rusqlite::Result<Vec<T>> {
    let mut st = conn.prepare_cached(sql)?;
    for i in 1..=st.parameter_count() {
        let n = st.parameter_name(i).and_then(|name| name.strip_prefix('$')).and_then(|n| n.parse::<usize>().ok()).unwrap_or(i);
        match values.get(n - 1).ok_or(rusqlite::Error::InvalidParameterCount(n, values.len()))? {
            Value::Null => st.raw_bind_parameter(i, rusqlite::types::Null)?,
            Value::Int(v) => st.raw_bind_parameter(i, v)?,
            Value::Float(v) => st.raw_bind_parameter(i, v)?,
            Value::Text(v) => st.raw_bind_parameter(i, v.as_str())?,
        }
    }
    let started = std::time::Instant::now();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(T::from_lite(row)?);
    }
    // What sqlx logs of its statements: the statement, its rows and its time (SQLite and decoding).
    tracing::debug!(sql, rows = out.len(), elapsed_us = started.elapsed().as_micros() as u64, "sqlite read");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deadpool::managed::Manager as _;

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fhir-lite-reader-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE IF NOT EXISTS t (a INTEGER); DELETE FROM t; INSERT INTO t VALUES (1), (2);").unwrap();
        path
    }

    fn connector(path: PathBuf, fresh: bool) -> Connector {
        Connector { path, fresh: Arc::new(move |_| fresh) }
    }

    /// The store writes `$N` placeholders in any order and repeats them; each binds the N-th value.
    #[tokio::test]
    async fn binds_each_placeholder_by_its_number() {
        let reader = LiteReader::new(temp_db("bind"), 2, Arc::new(|_| true)).unwrap();
        let rows: Vec<(i64, String, String, String)> =
            reader.fetch("SELECT a + $3, $1, $2, $1 FROM t WHERE a > $4 ORDER BY a", &[Arg::Text("x"), Arg::OptText(Some("y")), Arg::Int(10), Arg::Int(0)]).await.unwrap();
        assert_eq!(rows, vec![(11, "x".into(), "y".into(), "x".into()), (12, "x".into(), "y".into(), "x".into())]);
    }

    /// Readers cannot write, and plan each statement once (as the sqlx pools do).
    #[tokio::test]
    async fn connections_are_read_only_with_stable_plans() {
        let conn = connector(temp_db("settings"), true).create().await.unwrap();
        assert!(conn.execute("INSERT INTO t VALUES (3)", []).is_err());
        assert!(conn.db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG).unwrap());
        assert_eq!(conn.query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0)).unwrap(), -CACHE_KIB);
        assert_eq!(conn.query_row("PRAGMA busy_timeout", [], |r| r.get::<_, i64>(0)).unwrap(), BUSY_TIMEOUT.as_millis() as i64);
        assert_eq!(conn.query_row("PRAGMA mmap_size", [], |r| r.get::<_, i64>(0)).unwrap(), MMAP_BYTES);
    }

    /// A connection opened before the statistics were renewed is not handed out again.
    #[tokio::test]
    async fn stale_connections_are_replaced() {
        let path = temp_db("stale");
        let metrics = Metrics::default();
        for fresh in [true, false] {
            let c = connector(path.clone(), fresh);
            let mut conn = c.create().await.unwrap();
            assert_eq!(c.recycle(&mut conn, &metrics).await.is_ok(), fresh);
        }
    }
}
