//! The live search registry: the R4 parameters plus the stored custom SearchParameters, replaced
//! whenever those change, and the background reindex that brings stored resources up to a new or
//! changed definition. Until a job finishes, its parameters answer "not ready" rather than
//! under-match.
//!
//! Every write holds the write gate (shared) for its whole transaction; a registry change holds it
//! exclusively while it records its job and swaps the registry. So each write indexes with one
//! registry, and a job only has to cover the resources that existed when it was created.

use super::db::{push_list, Arg, Pool, Tx};
use super::{contained_rows, index_rows};
use crate::clock;
use search::Registry;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Mutex, Notify, OwnedRwLockReadGuard, RwLock as AsyncRwLock};

/// How the background reindex paces itself.
#[derive(Debug, Clone)]
pub struct ReindexConfig {
    /// Resources per batch (one transaction each).
    pub batch: i64,
    /// Pause between batches, to leave the database to the interactions.
    pub pause: Duration,
}

impl Default for ReindexConfig {
    fn default() -> Self {
        ReindexConfig { batch: 200, pause: Duration::ZERO }
    }
}

/// One reindex job as `$reindex` reports it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    /// JSON `[[type, code], ...]`; `[]` for every parameter.
    pub params: String,
    pub end_rid: i64,
    pub cursor_rid: i64,
    pub done: i64,
    pub total: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl Job {
    /// The (type, code) pairs the job reindexes; empty for every parameter of every type.
    pub fn param_pairs(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.params).unwrap_or_default()
    }
}

/// The registry in force and what guards its changes.
pub struct Indexing {
    pool: Pool,
    current: RwLock<Arc<Registry>>,
    gate: Arc<AsyncRwLock<()>>,
    /// One registry change at a time (a reload or a finished job).
    changing: Mutex<()>,
    wake: Notify,
    config: ReindexConfig,
}

/// The shared hold a write transaction keeps on the gate.
pub struct WriteGate {
    guard: OwnedRwLockReadGuard<()>,
    indexing: Arc<Indexing>,
    pub(crate) definitions_changed: bool,
}

impl WriteGate {
    /// Lets the gate go and, when the transaction changed SearchParameters, reloads the registry.
    pub(crate) async fn release(self) {
        let WriteGate { guard, indexing, definitions_changed } = self;
        drop(guard);
        if definitions_changed {
            if let Err(e) = indexing.reload().await {
                // The SearchParameter is stored; the next reload or restart picks it up.
                tracing::error!(error = %e, "reloading search parameters failed");
            }
        }
    }
}

const ACTIVE_SEARCH_PARAMETERS: &str = "SELECT {content} FROM resource WHERE res_type = 'SearchParameter' AND NOT deleted ORDER BY rid";
const JOB_COLUMNS: &str = "id, params, end_rid, cursor_rid, done, total, created_at, finished_at";
/// Unfinished jobs, oldest first (`{cols}`: [`JOB_COLUMNS`]).
const UNFINISHED_JOBS: &str = "SELECT {cols} FROM reindex_job WHERE finished_at IS NULL ORDER BY id";

fn unfinished_jobs() -> String {
    UNFINISHED_JOBS.replace("{cols}", JOB_COLUMNS)
}

fn params_of(jobs: &[Job]) -> HashSet<(String, String)> {
    jobs.iter().flat_map(Job::param_pairs).collect()
}

impl Indexing {
    /// The registry for what the database holds: its custom SearchParameters, with the parameters
    /// of unfinished jobs not ready.
    pub async fn open(pool: Pool, config: ReindexConfig) -> Result<Arc<Indexing>, sqlx::Error> {
        let ix = Indexing {
            pool,
            current: RwLock::new(Arc::new(Registry::r4().clone())),
            gate: Arc::new(AsyncRwLock::new(())),
            changing: Mutex::new(()),
            wake: Notify::new(),
            config,
        };
        let customs = ix.custom_definitions().await?;
        let pending = ix.pending().await?;
        ix.set(Registry::r4().with_custom(&customs, &pending));
        ix.upgrade_format().await?;
        Ok(Arc::new(ix))
    }

    /// Queues a full reindex when the stored rows are in an older format than this build writes.
    async fn upgrade_format(&self) -> Result<(), sqlx::Error> {
        let stored: Option<(i64,)> = self.pool.fetch_opt("SELECT version FROM index_format ORDER BY version DESC LIMIT 1", &[]).await?;
        let stored = match stored {
            Some((v,)) if v >= search::INDEX_FORMAT => return Ok(()),
            Some((v,)) => v,
            // No record: an empty store starts current; one with resources predates the record.
            None => {
                let any: Option<(i64,)> = self.pool.fetch_opt("SELECT rid FROM resource LIMIT 1", &[]).await?;
                if any.is_none() {
                    return self.record_format().await;
                }
                0
            }
        };
        let job = self.reindex_everything().await?;
        self.record_format().await?;
        tracing::info!(from = stored, to = search::INDEX_FORMAT, job = job.id, "index format is older than this build: reindexing everything");
        Ok(())
    }

    async fn record_format(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin_ungated().await?;
        tx.execute("DELETE FROM index_format", &[]).await?;
        tx.execute("INSERT INTO index_format (version) VALUES ($1)", &[Arg::Int(search::INDEX_FORMAT)]).await?;
        tx.commit().await
    }

    /// The registry in force now.
    pub fn registry(&self) -> Arc<Registry> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, reg: Registry) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(reg);
    }

    /// A write transaction holding the gate.
    pub async fn begin(self: &Arc<Self>) -> Result<Tx, sqlx::Error> {
        let guard = self.gate.clone().read_owned().await;
        let tx = self.pool.begin_ungated().await?;
        Ok(tx.gated(WriteGate { guard, indexing: self.clone(), definitions_changed: false }))
    }

    /// Stored SearchParameters in force: active ones the R4 registry can evaluate. Unusable ones
    /// were refused on write; one stored before that rule is skipped with a warning.
    async fn custom_definitions(&self) -> Result<Vec<Value>, sqlx::Error> {
        let sql = ACTIVE_SEARCH_PARAMETERS.replace("{content}", &self.pool.backend().json_col(""));
        let rows: Vec<(String,)> = self.pool.fetch(&sql, &[]).await?;
        let mut out = Vec::new();
        for (text,) in rows {
            let Ok(sp) = serde_json::from_str::<Value>(&text) else { continue };
            if !search::takes_effect(&sp) {
                continue;
            }
            match Registry::r4().check_custom(&sp) {
                Ok(()) => out.push(sp),
                Err((at, why)) => tracing::warn!(url = ?sp.get("url"), %at, %why, "stored SearchParameter is not usable; skipped"),
            }
        }
        Ok(out)
    }

    /// Parameters of unfinished jobs.
    async fn pending(&self) -> Result<HashSet<(String, String)>, sqlx::Error> {
        Ok(params_of(&self.pool.fetch(&unfinished_jobs(), &[]).await?))
    }

    /// Every job, newest first.
    pub async fn jobs(&self) -> Result<Vec<Job>, sqlx::Error> {
        self.pool.fetch(&format!("SELECT {JOB_COLUMNS} FROM reindex_job ORDER BY id DESC"), &[]).await
    }

    /// Rebuilds the registry from the stored SearchParameters: rows of parameters that are gone
    /// are deleted, and parameters defined anew or differently get a reindex job and are not
    /// ready until it finishes.
    pub async fn reload(&self) -> Result<(), sqlx::Error> {
        let _one = self.changing.lock().await;
        let customs = self.custom_definitions().await?;
        let all_ready = HashSet::new();
        let next = Registry::r4().with_custom(&customs, &all_ready);
        let (changed, removed) = self.registry().changes_to(&next);
        let _exclusive = self.gate.clone().write_owned().await;
        let mut tx = self.pool.begin_ungated().await?;
        delete_rows_of(&mut tx, &removed).await?;
        if !changed.is_empty() {
            self.create_job(&mut tx, &changed).await?;
        }
        let mut pending = params_of(&tx.fetch(&unfinished_jobs(), &[]).await?);
        pending.retain(|(rt, code)| next.param(rt, code).is_some());
        tx.commit().await?;
        self.set(next.with_pending(&pending));
        tracing::info!(custom = customs.len(), reindex = changed.len(), dropped = removed.len(), "search parameters reloaded");
        self.wake.notify_one();
        Ok(())
    }

    /// Queues a reindex of every parameter of every stored resource (after an upgrade that
    /// changes how values are indexed); no parameter is marked not ready, as the old rows stay
    /// meanwhile. Returns the job.
    pub async fn reindex_everything(&self) -> Result<Job, sqlx::Error> {
        let _one = self.changing.lock().await;
        let _exclusive = self.gate.clone().write_owned().await;
        let mut tx = self.pool.begin_ungated().await?;
        let job = self.create_job(&mut tx, &[]).await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(job)
    }

    async fn create_job(&self, tx: &mut Tx, params: &[(String, String)]) -> Result<Job, sqlx::Error> {
        let types: BTreeSet<&str> = params.iter().map(|(t, _)| t.as_str()).collect();
        let mut args = Vec::new();
        let of_types = job_rows(&types, &mut args);
        let (end_rid,): (Option<i64>,) = tx.fetch_opt("SELECT MAX(rid) FROM resource", &[]).await?.unwrap_or((None,));
        let (total,): (i64,) = tx.fetch_opt(&format!("SELECT COUNT(*) FROM resource WHERE NOT deleted{of_types}"), &args).await?.unwrap_or((0,));
        let params_json = serde_json::to_string(params).unwrap_or_else(|_| "[]".into());
        let sql = format!("INSERT INTO reindex_job (params, end_rid, total, created_at) VALUES ($1, $2, $3, $4) RETURNING {JOB_COLUMNS}");
        let job: Option<Job> = tx.fetch_opt(&sql, &[Arg::Text(&params_json), Arg::Int(end_rid.unwrap_or(0)), Arg::Int(total), Arg::Int(clock::now_micros())]).await?;
        let job = job.ok_or(sqlx::Error::RowNotFound)?;
        tracing::info!(job = job.id, params = params.len(), total, "reindex job created");
        Ok(job)
    }

    /// Runs jobs until the task is dropped: one batch per transaction, oldest job first.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.step().await {
                Ok(true) if !self.config.pause.is_zero() => tokio::time::sleep(self.config.pause).await,
                Ok(true) => tokio::task::yield_now().await,
                Ok(false) => self.wake.notified().await,
                Err(e) => {
                    // Typically a lock held by a concurrent write (PostgreSQL lock_timeout): retry.
                    tracing::warn!(error = %e, "reindex batch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// One batch of the oldest unfinished job; false when there is none.
    async fn step(&self) -> Result<bool, sqlx::Error> {
        let Some(job) = self.pool.fetch_opt::<Job>(&format!("{} LIMIT 1", unfinished_jobs()), &[]).await? else { return Ok(false) };
        let params = job.param_pairs();
        let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (t, c) in &params {
            by_type.entry(t.clone()).or_default().push(c.clone());
        }
        let guard = self.gate.clone().read_owned().await;
        let reg = self.registry();
        let mut tx = self.pool.begin_ungated().await?;
        let backend = tx.backend();
        if backend == super::Backend::Postgres {
            // A write holding a row wins: this batch gives up quickly and is retried, rather than
            // ever being the one a deadlock check lets through.
            tx.execute("SET LOCAL lock_timeout = '200ms'", &[]).await?;
        }
        let mut args = vec![Arg::Int(job.cursor_rid), Arg::Int(job.end_rid), Arg::Int(self.config.batch)];
        let types: BTreeSet<&str> = by_type.keys().map(String::as_str).collect();
        let of_types = job_rows(&types, &mut args);
        let sql = format!(
            "SELECT rid, res_type, {} FROM resource WHERE rid > $1 AND rid <= $2 AND NOT deleted{of_types} ORDER BY rid LIMIT $3{}",
            backend.json_col(""),
            if backend == super::Backend::Postgres { " FOR UPDATE" } else { "" }
        );
        let batch: Vec<(i64, String, Option<String>)> = tx.fetch(&sql, &args).await?;
        let Some(last) = batch.last().map(|b| b.0) else {
            tx.execute("UPDATE reindex_job SET finished_at = $2, cursor_rid = end_rid WHERE id = $1", &[Arg::Int(job.id), Arg::Int(clock::now_micros())]).await?;
            tx.commit().await?;
            drop(guard);
            self.job_finished(&job).await?;
            return Ok(true);
        };
        let n = batch.len() as i64;
        // Contained resources of the job's types, in the containers of this batch.
        let inner: Vec<(i64, i64, String, String)> = if by_type.is_empty() {
            Vec::new()
        } else {
            let mut args = Vec::new();
            let rids = push_list(&mut args, batch.iter().map(|b| Arg::Int(b.0)));
            let of = push_list(&mut args, by_type.keys().map(|t| Arg::Text(t)));
            tx.fetch(&format!("SELECT crid, container_rid, res_type, local_id FROM contained_resource WHERE container_rid IN ({rids}) AND res_type IN ({of})"), &args).await?
        };
        let rows = tokio::task::spawn_blocking(move || {
            let row_params = |rt: &str| -> Vec<String> {
                by_type.get(rt).map(|codes| codes.iter().flat_map(|c| reg.param(rt, c).map(|p| p.row_params()).unwrap_or_else(|| vec![c.clone()])).collect()).unwrap_or_default()
            };
            let mut out = Vec::new();
            for (rid, rt, content) in batch {
                let doc: Value = content.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or(Value::Null);
                if by_type.is_empty() {
                    out.push(Reindexed { rid, rt, row_params: Vec::new(), rows: reg.extract(&doc), contained: Some(reg.extract_contained(&doc)) });
                    continue;
                }
                if let Some(codes) = by_type.get(&rt) {
                    out.push(Reindexed { rid, row_params: row_params(&rt), rows: reg.extract_only(&doc, codes), rt, contained: None });
                }
                for (crid, _, ct, local) in inner.iter().filter(|c| c.1 == rid) {
                    let found = doc["contained"].as_array().into_iter().flatten().find(|c| c["id"].as_str() == Some(local));
                    let rows = match (found, by_type.get(ct)) {
                        (Some(c), Some(codes)) => reg.extract_only(c, codes),
                        _ => Vec::new(),
                    };
                    out.push(Reindexed { rid: -crid, rt: ct.clone(), row_params: row_params(ct), rows, contained: None });
                }
            }
            out
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("reindex extraction panicked: {e}")))?;
        replace_rows(&mut tx, &rows).await?;
        tx.execute("UPDATE reindex_job SET cursor_rid = $2, done = done + $3 WHERE id = $1", &[Arg::Int(job.id), Arg::Int(last), Arg::Int(n)]).await?;
        tx.commit().await?;
        drop(guard);
        tracing::info!(job = job.id, done = job.done + n, total = job.total, cursor = last, "reindex progress");
        Ok(true)
    }

    /// Marks the finished job's parameters ready, unless another unfinished job still covers them.
    async fn job_finished(&self, job: &Job) -> Result<(), sqlx::Error> {
        let _one = self.changing.lock().await;
        let pending = self.pending().await?;
        self.set(self.registry().with_pending(&pending));
        tracing::info!(job = job.id, total = job.total, "reindex job finished");
        Ok(())
    }
}

/// The condition on `resource` rows a job walks: those of its types and those containing
/// resources of its types (every row when `types` is empty).
fn job_rows<'a>(types: &BTreeSet<&'a str>, args: &mut Vec<Arg<'a>>) -> String {
    if types.is_empty() {
        return String::new();
    }
    let of = push_list(args, types.iter().map(|t| Arg::Text(t)));
    format!(" AND (res_type IN ({of}) OR rid IN (SELECT container_rid FROM contained_resource WHERE res_type IN ({of})))")
}

/// One resource's new rows from a reindex batch.
struct Reindexed {
    rid: i64,
    rt: String,
    /// The row `param` values replaced; empty for all of them.
    row_params: Vec<String>,
    rows: Vec<search::IndexRow>,
    /// Contained resources' rows, when they are redone too.
    contained: Option<Vec<search::ContainedRows>>,
}

/// Replaces the index rows of reindexed resources.
async fn replace_rows(tx: &mut Tx, batch: &[Reindexed]) -> Result<(), sqlx::Error> {
    let everything: Vec<i64> = batch.iter().filter(|r| r.row_params.is_empty()).map(|r| r.rid).collect();
    index_rows::delete(tx, &everything).await?;
    let mut by_params: BTreeMap<&[String], Vec<i64>> = BTreeMap::new();
    for r in batch.iter().filter(|r| !r.row_params.is_empty()) {
        by_params.entry(r.row_params.as_slice()).or_default().push(r.rid);
    }
    for (params, rids) in by_params {
        index_rows::delete_params(tx, &rids, params).await?;
    }
    let inserts: Vec<(i64, &str, &[search::IndexRow])> = batch.iter().map(|r| (r.rid, r.rt.as_str(), r.rows.as_slice())).collect();
    index_rows::insert(tx, &inserts).await?;
    // Rows of only some parameters were made without the resource's other rows at hand: token
    // rows so made, and token rows whose resource's `patient` rows were replaced, need the column.
    let partial: Vec<i64> = batch
        .iter()
        .filter(|r| !r.row_params.is_empty())
        .filter(|r| r.row_params.iter().any(|p| p == "patient") || r.rows.iter().any(|row| row.table() == "idx_token"))
        .map(|r| r.rid)
        .collect();
    index_rows::refresh_patients(tx, &partial).await?;
    let redone: Vec<i64> = batch.iter().filter(|r| r.contained.is_some()).map(|r| r.rid).collect();
    contained_rows::delete(tx, &redone).await?;
    let containers: Vec<(i64, &[search::ContainedRows])> = batch.iter().filter_map(|r| Some((r.rid, r.contained.as_deref()?))).filter(|(_, c)| !c.is_empty()).collect();
    contained_rows::insert(tx, &containers).await
}

/// Deletes the rows of parameters no longer defined: (type, row params).
async fn delete_rows_of(tx: &mut Tx, removed: &[(String, Vec<String>)]) -> Result<(), sqlx::Error> {
    let mut by_params: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    for (rt, params) in removed {
        by_params.entry(params.as_slice()).or_default().push(rt);
    }
    for (params, types) in by_params {
        index_rows::delete_params_of_types(tx, &types, params).await?;
        if params.iter().any(|p| p == "patient") {
            index_rows::refresh_patients_of_types(tx, &types).await?;
        }
    }
    Ok(())
}
