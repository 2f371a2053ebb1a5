//! One SQL dialect over two drivers: statements are written once with `$N` placeholders
//! (both PostgreSQL and SQLite accept them) and bound here per backend.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{FromRow, Postgres, Sqlite, Transaction};

/// A bind value.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    OptFloat(Option<f64>),
    Bool(bool),
    /// JSON document text: JSONB on PostgreSQL, TEXT on SQLite.
    Json(Option<&'a str>),
}

/// Appends `items` to `args` and returns their placeholders (`$4, $5, $6`), for an `IN (...)` list or a single value.
pub fn push_list<'a>(args: &mut Vec<Arg<'a>>, items: impl IntoIterator<Item = Arg<'a>>) -> String {
    let first = args.len() + 1;
    args.extend(items);
    (first..=args.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Which backend a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Row types decodable on both backends.
pub trait AnyRow: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}
impl<T> AnyRow for T where T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(*s),
                Arg::OptText(s) => q.bind(*s),
                Arg::Int(i) => q.bind(*i),
                Arg::OptInt(i) => q.bind(*i),
                Arg::Float(f) => q.bind(*f),
                Arg::OptFloat(f) => q.bind(*f),
                Arg::Bool(b) => q.bind(*b),
                Arg::Json(s) => q.bind(*s),
            };
        }
        q
    }};
}

/// Read pool(s).
#[derive(Clone)]
pub enum Pool {
    /// PostgreSQL: one pool per way of planning ([`Plan`]); writes use `per_value`.
    Pg { per_value: PgPool, once: PgPool },
    /// SQLite: many readers, one writer connection (SQLite allows one writer at a time anyway,
    /// and serialising in-process avoids SQLITE_BUSY and makes conditional writes race-free);
    /// `rows` reads what returns many rows (None for an in-memory database, which only sqlx's
    /// connections share).
    Lite { read: SqlitePool, write: SqlitePool, rows: Option<super::lite_reader::LiteReader> },
}

/// How PostgreSQL plans a read's prepared statement (SQLite plans each statement once per
/// connection, whatever the values: the query planner stability guarantee, see open.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// For its values, on every execution: where the best plan depends on them, as the order of
    /// a join of row sets follows how common each value is.
    PerValue,
    /// Once per connection, for any values: where one plan serves them all (one row set read
    /// through its index, rows by rid or by id), so planning is not paid per request.
    Once,
}

impl Plan {
    /// The one of PostgreSQL's two pools that plans this way.
    fn of<'a>(self, per_value: &'a PgPool, once: &'a PgPool) -> &'a PgPool {
        match self {
            Plan::PerValue => per_value,
            Plan::Once => once,
        }
    }
}

/// An open write transaction.
pub struct Tx {
    conn: Conn,
    /// Held by every write through the store, so the search registry cannot change under it.
    gate: Option<super::indexing::WriteGate>,
}

enum Conn {
    Pg(Transaction<'static, Postgres>),
    Lite(Transaction<'static, Sqlite>),
}

impl Pool {
    /// The backend of this pool.
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Pg { .. } => Backend::Postgres,
            Pool::Lite { .. } => Backend::Sqlite,
        }
    }
    /// Starts a write transaction outside the write gate: only for the indexing itself, which
    /// holds the gate another way (see `Store::begin` for every other write).
    pub(crate) async fn begin_ungated(&self) -> Result<Tx, sqlx::Error> {
        let conn = match self {
            Pool::Pg { per_value, .. } => Conn::Pg(per_value.begin().await?),
            Pool::Lite { write, .. } => Conn::Lite(write.begin().await?),
        };
        Ok(Tx { conn, gate: None })
    }
    /// Starts a write transaction on tables outside the resource store (the authorization
    /// server's): they hold no search definitions, so the write gate has nothing to guard.
    pub async fn begin_outside_store(&self) -> Result<Tx, sqlx::Error> {
        self.begin_ungated().await
    }
    /// Runs a query on a read connection and decodes all rows.
    pub async fn fetch<T: AnyRow>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error> {
        self.fetch_planned(sql, args, Plan::PerValue).await
    }
    /// [`Pool::fetch`], planned as `plan` asks.
    async fn fetch_planned<T: AnyRow>(&self, sql: &str, args: &[Arg<'_>], plan: Plan) -> Result<Vec<T>, sqlx::Error> {
        match self {
            Pool::Pg { per_value, once } => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(plan.of(per_value, once)).await,
            Pool::Lite { read, .. } => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(read).await,
        }
    }
    /// Runs a query that may return many rows (a search page, included resources) on a read
    /// connection, planned as `plan` asks: on SQLite through [`super::lite_reader`], one hand-over
    /// per statement.
    pub async fn fetch_many<T: AnyRow + super::lite_reader::FromLite>(&self, sql: &str, args: &[Arg<'_>], plan: Plan) -> Result<Vec<T>, sqlx::Error> {
        match self {
            Pool::Lite { rows: Some(rows), .. } => rows.fetch(sql, args).await,
            _ => self.fetch_planned(sql, args, plan).await,
        }
    }
    /// Runs a query on a read connection and decodes at most one row.
    pub async fn fetch_opt<T: AnyRow>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<T>, sqlx::Error> {
        self.fetch_opt_planned(sql, args, Plan::PerValue).await
    }
    /// [`Pool::fetch_opt`], planned as `plan` asks.
    pub async fn fetch_opt_planned<T: AnyRow>(&self, sql: &str, args: &[Arg<'_>], plan: Plan) -> Result<Option<T>, sqlx::Error> {
        match self {
            Pool::Pg { per_value, once } => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(plan.of(per_value, once)).await,
            Pool::Lite { read, .. } => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(read).await,
        }
    }
    /// Checks the database answers.
    pub async fn ping(&self) -> bool {
        let r: Result<Vec<(i64,)>, _> = self.fetch("SELECT CAST(1 AS BIGINT)", &[]).await;
        r.is_ok()
    }
}

impl Tx {
    /// Wraps an ungated transaction in the write gate.
    pub(crate) fn gated(mut self, gate: super::indexing::WriteGate) -> Tx {
        self.gate = Some(gate);
        self
    }
    /// Notes that the transaction wrote SearchParameters, so the registry reloads after commit.
    pub(crate) fn definitions_changed(&mut self) {
        if let Some(g) = &mut self.gate {
            g.definitions_changed = true;
        }
    }
    /// The backend of this transaction.
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Pg(_) => Backend::Postgres,
            Conn::Lite(_) => Backend::Sqlite,
        }
    }
    /// Executes a statement; returns affected rows.
    pub async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        Ok(match &mut self.conn {
            Conn::Pg(t) => bind_all!(sqlx::query(sql), args).execute(&mut **t).await?.rows_affected(),
            Conn::Lite(t) => bind_all!(sqlx::query(sql), args).execute(&mut **t).await?.rows_affected(),
        })
    }
    /// Runs a query inside the transaction and decodes all rows.
    pub async fn fetch<T: AnyRow>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error> {
        match &mut self.conn {
            Conn::Pg(t) => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(&mut **t).await,
            Conn::Lite(t) => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(&mut **t).await,
        }
    }
    /// Runs a query inside the transaction and decodes at most one row.
    pub async fn fetch_opt<T: AnyRow>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<T>, sqlx::Error> {
        match &mut self.conn {
            Conn::Pg(t) => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(&mut **t).await,
            Conn::Lite(t) => bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_optional(&mut **t).await,
        }
    }
    /// Serialises writers that must see each other's results (conditional operations, same-id
    /// updates) until commit. SQLite already has a single writer, so only PostgreSQL locks.
    pub async fn lock(&mut self, key: &str) -> Result<(), sqlx::Error> {
        if let Conn::Pg(t) = &mut self.conn {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut **t).await?;
        }
        Ok(())
    }
    /// Commits, then (outside the gate) reloads the search registry when SearchParameters changed.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.conn {
            Conn::Pg(t) => t.commit().await?,
            Conn::Lite(t) => t.commit().await?,
        }
        if let Some(gate) = self.gate {
            // Boxed: releasing may reload the registry, which commits a transaction of its own.
            Box::pin(gate.release()).await;
        }
        Ok(())
    }
}

impl Backend {
    /// Column list that stores a JSON document. PostgreSQL keeps the exact text beside the JSONB
    /// on every write: JSONB rewrites exponent-notation numbers, changing a FHIR decimal's
    /// precision, and reading JSONB back as text costs a serialisation per row. The text was once
    /// kept only where an exponent might be, a test that matched nine rows in ten anyway (hex
    /// digits of ids); rows written then without it still read through the JSONB
    /// ([`Backend::json_col`]). docs/performance.md, "Seventh round".
    pub fn json_cols(self) -> &'static str {
        match self {
            Backend::Postgres => "content, content_text",
            Backend::Sqlite => "content",
        }
    }
    /// Values for [`Backend::json_cols`] from the document text bound at `$n`.
    pub fn json_values(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("(${n}::text)::jsonb, ${n}::text"),
            Backend::Sqlite => format!("${n}"),
        }
    }
    /// `SET` assignments for [`Backend::json_cols`] from `$n`.
    pub fn json_set(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("content = (${n}::text)::jsonb, content_text = ${n}::text"),
            Backend::Sqlite => format!("content = ${n}"),
        }
    }
    /// `($1, $2, …), ($k, …)` for `rows` rows of `width` bind columns; column `json_at` holds a JSON
    /// document (which expands to [`Backend::json_cols`]).
    pub fn values(self, rows: usize, width: usize, json_at: Option<usize>) -> String {
        let mut s = String::with_capacity(rows * width * 6);
        let mut n = 0;
        for r in 0..rows {
            s.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..width {
                n += 1;
                if c > 0 {
                    s.push_str(", ");
                }
                if Some(c) == json_at {
                    s.push_str(&self.json_values(n));
                } else {
                    s.push('$');
                    s.push_str(&n.to_string());
                }
            }
            s.push(')');
        }
        s
    }
    /// A stored JSON document, read back as text; `prefix` is a table alias with dot, or "".
    pub fn json_col(self, prefix: &str) -> String {
        match self {
            Backend::Postgres => format!("COALESCE({prefix}content_text, {prefix}content::text)"),
            Backend::Sqlite => format!("{prefix}content"),
        }
    }
}
