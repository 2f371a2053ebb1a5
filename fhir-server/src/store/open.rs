//! Opens a backend from a database URL and runs its migrations.

use super::db::Pool;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Connects to `url` (postgres://… or sqlite://…), creating the SQLite file and folder if needed,
/// and brings the schema up to date.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Pool> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // No ping on every checkout: a dead connection surfaces as an error on first use anyway,
        // and the ping costs a round trip per request.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            // Search statements are prepared once and reused; a generic plan ignores the values and,
            // for `category=vital-signs&patient=X`, scans every vital sign (130 ms) where the plan for
            // the actual values starts from the patient (1.2 ms). docs/performance.md, "Search".
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "SET plan_cache_mode = force_custom_plan").await?;
                    Ok(())
                })
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        PG_MIGRATIONS.run(&pool).await?;
        Ok(Pool::Pg(pool))
    } else if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536");
        if let Some(dir) = opts.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let write = SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(opts.clone()).await?;
        SQLITE_MIGRATIONS.run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Pool::Lite { read, write })
    } else {
        anyhow::bail!("unsupported database URL (want postgres://… or sqlite://…): {url}")
    }
}

