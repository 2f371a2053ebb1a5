//! Opens a backend from a database URL and runs its migrations.

use super::db::Pool;
use super::lite_reader::LiteReader;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Connections to PostgreSQL when none are configured: its backends share one buffer cache, and
/// concurrent commits share WAL flushes (POST Patient ×32: 2,012 req/s with 16, 1,548 with 4).
const PG_CONNECTIONS: u32 = 16;

/// Settings of every PostgreSQL connection: parallel paths, which no page statement used and a
/// pooled server does not want (it serves requests side by side), are not considered, which made
/// planning the benchmark's statements 10% cheaper at x10 (docs/performance.md, "Ninth round").
const PG_SESSION: &[&str] = &["SET max_parallel_workers_per_gather = 0"];

/// How each of the two PostgreSQL pools plans its prepared statements ([`super::db::Plan`]). A
/// generic plan ignores the values and, for `category=vital-signs&patient=X`, scans every vital
/// sign (130 ms) where the plan for the actual values starts from the patient (1.2 ms), so
/// statements whose plan depends on the values are planned on every execution (docs/performance.md,
/// "Search"). Planning is then the largest single cost of a simple search (0.4 ms to plan, 0.07 to
/// run `Patient?name=X` under load), so statements with one plan for all values keep it instead.
const PG_PLAN_PER_VALUE: &str = "SET plan_cache_mode = force_custom_plan";
/// The other pool's setting: each statement planned once per connection, for any values.
const PG_PLAN_ONCE: &str = "SET plan_cache_mode = force_generic_plan";

/// A PostgreSQL pool whose connections plan by `plan_setting`.
async fn pg_pool(url: &str, max_connections: u32, plan_setting: &'static str) -> Result<sqlx::PgPool, sqlx::Error> {
    // No ping on every checkout: a dead connection surfaces as an error on first use anyway,
    // and the ping costs a round trip per request.
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                for setting in PG_SESSION.iter().chain([&plan_setting]) {
                    sqlx::Executor::execute(&mut *conn, *setting).await?;
                }
                Ok(())
            })
        })
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
}

/// Page cache of each SQLite connection, in KiB.
pub(super) const CACHE_KIB: i64 = 65536;

/// Bytes of a SQLite file each connection reads through a memory map: SQLite's own ceiling
/// (SQLITE_MAX_MMAP_SIZE), larger files read the rest as before. Pages of the file are then read
/// in place from the OS page cache, which every connection shares, instead of being copied into
/// each connection's own cache (one copy of the hot pages per connection, looked up through a hash
/// on every access): the search mix gained 6-14 % at x10 and about as much at x1. The cost is
/// SQLite's documented one: an I/O error while reading the file ends the process (SIGBUS) rather
/// than the statement. docs/performance.md, "Seventh round".
pub(super) const MMAP_BYTES: i64 = 0x7fff_0000;

/// How long a SQLite connection waits for a lock before it reports the database busy.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite read connections when none are configured: twice the CPUs. Each connection keeps its
/// own page cache and the pool hands out the least recently used one, so every extra connection
/// held one more copy of the hot pages; at 66,210 resources 4 readers served the search mix at
/// 2,131–2,229 req/s where 16 served 1,939–1,997 (docs/performance.md, "Search"). That was before
/// the memory map ([`MMAP_BYTES`]): now only pages still in the WAL are copied per connection.
fn sqlite_readers() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32).saturating_mul(2).max(2)
}

/// Connects to `url` (postgres://… or sqlite://…), creating the SQLite file and folder if needed,
/// and brings the schema up to date. `max_connections`: the pool size (on SQLite the readers,
/// beside one writer); None picks the backend's default.
pub async fn open(url: &str, max_connections: Option<u32>) -> anyhow::Result<Pool> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // Statements planned once are short reads, while a write holds its connection of the
        // other pool for the whole transaction: half as many connections serve them.
        let n = max_connections.unwrap_or(PG_CONNECTIONS);
        let per_value = pg_pool(url, n, PG_PLAN_PER_VALUE).await?;
        PG_MIGRATIONS.run(&per_value).await?;
        let once = pg_pool(url, (n / 2).max(1), PG_PLAN_ONCE).await?;
        Ok(Pool::Pg { per_value, once })
    } else if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("mmap_size", MMAP_BYTES.to_string());
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(async move { stable_plans(conn).await }))
            .connect_with(opts.clone())
            .await?;
        SQLITE_MIGRATIONS.run(&write).await?;
        let analyzed_at = prepare_statistics(&write).await?;
        // A connection reads the statistics once, when it opens, and keeps its prepared plans:
        // connections opened before the last ANALYZE are closed instead of reused.
        let stats = Arc::new(StatsClock { start: Instant::now(), analyzed_ms: AtomicU64::new(0) });
        let clock = stats.clone();
        let readers = max_connections.unwrap_or_else(sqlite_readers);
        let read = SqlitePoolOptions::new()
            .max_connections(readers)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(async move { stable_plans(conn).await }))
            .before_acquire(move |_, meta| {
                let fresh = clock.fresh(meta.age);
                Box::pin(async move { Ok(fresh) })
            })
            .connect_with(opts.clone().read_only(true))
            .await?;
        let file = opts.get_filename();
        // sqlx names an in-memory database `file:sqlx-in-memory-N`, which only its own connections share.
        let rows = if file.as_os_str().is_empty() || file == Path::new(":memory:") || file.to_string_lossy().starts_with("file:") {
            None
        } else {
            let clock = stats.clone();
            Some(LiteReader::new(file.to_path_buf(), readers as usize, Arc::new(move |age| clock.fresh(age)))?)
        };
        tokio::spawn(keep_statistics(write.clone(), Arc::downgrade(&stats), analyzed_at));
        Ok(Pool::Lite { read, write, rows })
    } else {
        anyhow::bail!("unsupported database URL (want postgres://… or sqlite://…): {url}")
    }
}

/// Plans each statement once per connection, from the statistics but not from the bound values.
/// With STAT4 (which the bundled SQLite has) a statement whose plan could depend on a bound value
/// is otherwise parsed and planned again whenever a value changes, that is on every search: 15% of
/// the server's CPU under the search mix. Per query at ×10 the plans so made were as fast or faster
/// except Q13 (0.90 -> 1.02 ms); the mix gained a third. docs/performance.md, "Search".
async fn stable_plans(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    match qpsg(conn, 1).await? {
        (libsqlite3_sys::SQLITE_OK, 1) => Ok(()),
        (rc, _) => Err(sqlx::Error::Configuration(format!("SQLite refused the query planner stability guarantee (code {rc})").into())),
    }
}

/// Sets the connection's query planner stability guarantee (1 on, 0 off, -1 leaves it); returns
/// SQLite's result code and the setting now in force.
async fn qpsg(conn: &mut sqlx::SqliteConnection, set: std::ffi::c_int) -> Result<(std::ffi::c_int, std::ffi::c_int), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let mut now: std::ffi::c_int = -1;
    // SAFETY: the handle is a live connection, locked for this call; SQLITE_DBCONFIG_ENABLE_QPSG
    // takes an int and a pointer to an int that receives the setting.
    let rc = unsafe { libsqlite3_sys::sqlite3_db_config(handle.as_raw_handle().as_ptr(), libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG, set, &mut now as *mut std::ffi::c_int) };
    Ok((rc, now))
}

/// When the read connections' statistics were last renewed.
struct StatsClock {
    start: Instant,
    /// Milliseconds from `start` to the end of the last ANALYZE; 0 before the first.
    analyzed_ms: AtomicU64,
}

impl StatsClock {
    /// Whether a connection of this age was opened after the last ANALYZE.
    fn fresh(&self, age: Duration) -> bool {
        let analyzed = self.analyzed_ms.load(Ordering::Relaxed);
        analyzed == 0 || self.start.elapsed().saturating_sub(age).as_millis() as u64 > analyzed
    }
}

/// Below this many resources a store keeps the seeded statistics (see [`SEED_STATS`]).
const MIN_ANALYZED: i64 = 1000;
/// How often the store checks whether it has grown enough to gather statistics again.
const STATS_CHECK: Duration = Duration::from_secs(2);

/// SQLite plans searches from the statistics in sqlite_stat1/sqlite_stat4; without them it starts
/// every search from `resource (res_type)` and may pick a join order that reads every date row once
/// per match of a code (Q08 at ×10: 19 s instead of 3 ms). Shapes of a Synthea store (×10,
/// 66,210 resources), for a store too small to measure its own: which index lookups are selective.
const SEED_STATS: &[(&str, &str, &str)] = &[
    ("resource", "resource_type_updated", "66210 4139 1"),
    ("resource", "sqlite_autoindex_resource_1", "66210 4139 1"),
    ("idx_date", "idx_date_high", "135940 8497 4120 2"),
    ("idx_date", "idx_date_lookup", "135940 8497 4120 2 2"),
    ("idx_date", "idx_date_rid_range", "135940 3 3 1 1 1"),
    ("idx_quantity", "idx_quantity_canon", "131400 131400 21900 2738 12 1"),
    ("idx_quantity", "idx_quantity_lookup", "131400 131400 21900 1369 12 12 12 1"),
    ("idx_quantity", "idx_quantity_rid", "131400 5"),
    ("idx_reference", "idx_reference_rid_target", "237130 4 4 1 1 1"),
    ("idx_reference", "idx_reference_target_rid", "237130 8 8 8 5 1"),
    ("idx_string", "idx_string_lookup", "18010 4503 751 17"),
    ("idx_string", "idx_string_rid", "18010 5"),
    ("idx_text", "idx_text_lookup", "67330 4209 3741"),
    ("idx_text", "idx_text_rid", "67330 1"),
    ("idx_token", "idx_token_code_rid", "634510 39657 6346 9 1 1"),
    ("idx_token", "idx_token_code_patient", "625840 48141 7632 8 8 4"),
    ("idx_token", "idx_token_rid", "634510 10"),
];

/// Resources ever stored (the AUTOINCREMENT counter: cheap, unlike COUNT(*)).
async fn resources_stored(write: &sqlx::SqlitePool) -> Result<i64, sqlx::Error> {
    let seq: Option<(i64,)> = sqlx::query_as("SELECT seq FROM sqlite_sequence WHERE name = 'resource'").fetch_optional(write).await?;
    Ok(seq.map_or(0, |s| s.0))
}

/// Seeds the statistics of a small store; returns the store size they were last gathered at
/// (0 for seeded or missing ones, so the first check after the store reaches [`MIN_ANALYZED`]
/// gathers real ones).
async fn prepare_statistics(write: &sqlx::SqlitePool) -> Result<i64, sqlx::Error> {
    if resources_stored(write).await? < MIN_ANALYZED {
        let mut tx = write.begin().await?;
        // Creates the statistics tables; cheap on a small store.
        sqlx::query("ANALYZE").execute(&mut *tx).await?;
        let stat4: Option<(String,)> = sqlx::query_as("SELECT name FROM sqlite_schema WHERE name = 'sqlite_stat4'").fetch_optional(&mut *tx).await?;
        for (tbl, _, _) in SEED_STATS {
            sqlx::query("DELETE FROM sqlite_stat1 WHERE tbl = ?1").bind(tbl).execute(&mut *tx).await?;
            if stat4.is_some() {
                sqlx::query("DELETE FROM sqlite_stat4 WHERE tbl = ?1").bind(tbl).execute(&mut *tx).await?;
            }
        }
        for (tbl, idx, stat) in SEED_STATS {
            sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)").bind(tbl).bind(idx).bind(stat).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        return Ok(0);
    }
    let stat: Option<(String,)> = match sqlx::query_as("SELECT stat FROM sqlite_stat1 WHERE idx = 'sqlite_autoindex_resource_1'").fetch_optional(write).await {
        Ok(s) => s,
        Err(_) => None, // no statistics table yet
    };
    Ok(stat.and_then(|(s,)| s.split(' ').next().and_then(|n| n.parse().ok())).unwrap_or(0))
}

/// Gathers statistics again whenever the store has doubled since they were last gathered, table by
/// table so that writes can go on in between (a full ANALYZE: 0.8 s at 66,210 resources, the most
/// on idx_token). `PRAGMA optimize` would wait for a tenfold change and, with its analysis limit,
/// gathers no sqlite_stat4 samples; without them `category=vital-signs&patient=X` starts from the
/// 12,720 vital signs (3.3 ms instead of 0.12 ms). Stops once the read pool is gone.
async fn keep_statistics(write: sqlx::SqlitePool, clock: Weak<StatsClock>, mut analyzed_at: i64) {
    loop {
        tokio::time::sleep(STATS_CHECK).await;
        let Some(clock) = clock.upgrade() else { break };
        let stored = match resources_stored(&write).await {
            Ok(n) => n,
            Err(_) if write.is_closed() => break,
            Err(_) => continue,
        };
        if stored < MIN_ANALYZED.max(2 * analyzed_at) {
            continue;
        }
        let started = Instant::now();
        let tables: Vec<(String,)> = match sqlx::query_as("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetch_all(&write).await {
            Ok(t) => t,
            Err(_) => continue,
        };
        for (t,) in &tables {
            if let Err(e) = sqlx::query(&format!("ANALYZE \"{}\"", t.replace('"', "\"\""))).execute(&write).await {
                tracing::warn!(table = %t, error = %e, "ANALYZE failed");
            }
        }
        analyzed_at = stored;
        clock.analyzed_ms.store((clock.start.elapsed().as_millis() as u64).max(1), Ordering::Relaxed);
        tracing::info!(resources = stored, took = ?started.elapsed(), "gathered search statistics");
    }
    write.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Arg;

    /// Whether QPSG is on for one connection of `pool`.
    async fn qpsg_on(pool: &sqlx::SqlitePool) -> bool {
        let mut conn = pool.acquire().await.unwrap();
        qpsg(&mut conn, -1).await.unwrap() == (libsqlite3_sys::SQLITE_OK, 1)
    }

    /// The store's SQLite is built without the two process-wide mutexes (.cargo/config.toml) and
    /// plans on every connection once per statement, not once per bound value.
    #[tokio::test]
    async fn sqlite_build_and_planner_settings() {
        let dir = std::env::temp_dir().join(format!("fhir-open-{}", std::process::id()));
        let Pool::Lite { read, write, rows } = open(&format!("sqlite://{}/fhir.db", dir.display()), Some(2)).await.unwrap() else { panic!("not SQLite") };
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options").fetch_all(&read).await.unwrap();
        assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
        assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
        assert!(options.iter().any(|o| o == "ENABLE_STAT4"), "{options:?}");
        assert!(qpsg_on(&read).await);
        assert!(qpsg_on(&write).await);
        for pool in [&read, &write] {
            assert_eq!(sqlx::query_scalar::<_, i64>("PRAGMA mmap_size").fetch_one(pool).await.unwrap(), MMAP_BYTES);
        }
        // Search pages read through rusqlite, on the same file (its settings: lite_reader's tests).
        let resources: Vec<(i64, String, String, String)> =
            rows.expect("a file store reads pages through lite_reader").fetch("SELECT COUNT(*), $1, type, name FROM sqlite_schema WHERE name = $2", &[Arg::Text("x"), Arg::Text("resource")]).await.unwrap();
        assert_eq!(resources, vec![(1, "x".to_string(), "table".to_string(), "resource".to_string())]);
        read.close().await;
        write.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
