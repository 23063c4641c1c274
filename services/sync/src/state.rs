//! Sync's own store: the id watermark, what ingest last accepted of every
//! source order, the job history and the findings. SQLite or PostgreSQL.

use std::collections::HashMap;

use portrait_proto::v1::{SyncCounts, SyncJob, SyncJobState, SyncMode};
use portrait_store::{Migration, Sql, Store, Tx};
use sqlx::Row;

use crate::reason::{Finding, Kind};
use crate::{Error, Result};

const MIGRATIONS: &[Migration] = portrait_store::migrations!(
    "migrations",
    [
        "0001_sync_jobs",
        "0002_sync_orders",
        "0003_sync_orders_placed",
        "0004_sync_findings",
        "0005_sync_findings_job",
        "0006_sync_state",
        "0007_sync_pending",
        "0008_audit_events",
        "0009_pii_reveal",
    ]
);

const WATERMARK: &str = "watermark";

/// What sync knows of one source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub placed_at_ms: i64,
    /// Ingest holds a live (paid) version; while `pending`, the state the
    /// submission will leave once ingest answers.
    pub live: bool,
    /// Submitted, not yet acknowledged: ingest may or may not hold `payload`.
    /// Kept in `sync_pending`, so setting and clearing it leaves the row alone.
    pub pending: bool,
    /// The last version submitted (empty if none ever was).
    pub payload: Vec<u8>,
}

/// A row to write into `sync_orders`.
pub struct Write {
    pub order_id: i64,
    pub known: Known,
}

pub async fn open(url: &str) -> Result<Store> {
    let store = Store::connect(url).await?;
    store.migrate("sync", MIGRATIONS).await?;
    Ok(store)
}

pub fn mode_code(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::Full => "full",
        SyncMode::Import => "import",
        SyncMode::Incremental | SyncMode::Unspecified => "incremental",
    }
}

fn mode_of(code: &str) -> SyncMode {
    match code {
        "full" => SyncMode::Full,
        "import" => SyncMode::Import,
        _ => SyncMode::Incremental,
    }
}

fn state_code(state: SyncJobState) -> &'static str {
    match state {
        SyncJobState::Running => "running",
        SyncJobState::Succeeded => "succeeded",
        SyncJobState::Failed => "failed",
        SyncJobState::Interrupted | SyncJobState::Unspecified => "interrupted",
    }
}

fn state_of(code: &str) -> SyncJobState {
    match code {
        "running" => SyncJobState::Running,
        "succeeded" => SyncJobState::Succeeded,
        "failed" => SyncJobState::Failed,
        _ => SyncJobState::Interrupted,
    }
}

const JOB_COLUMNS: &str = "id, mode, state, phase, trigger, started_ms, finished_ms, source_rows, rows_read, accepted, unchanged, retracted, rejected, corrected, error";

fn job_row(r: &sqlx::any::AnyRow) -> Result<SyncJob> {
    let mode: String = r.try_get(1)?;
    let state: String = r.try_get(2)?;
    Ok(SyncJob {
        job_id: r.try_get(0)?,
        mode: mode_of(&mode) as i32,
        state: state_of(&state) as i32,
        phase: r.try_get(3)?,
        trigger: r.try_get(4)?,
        started_at_ms: r.try_get(5)?,
        finished_at_ms: r.try_get(6)?,
        source_rows: r.try_get(7)?,
        counts: Some(SyncCounts {
            read: r.try_get(8)?,
            accepted: r.try_get(9)?,
            unchanged: r.try_get(10)?,
            retracted: r.try_get(11)?,
            rejected: r.try_get(12)?,
            corrected: r.try_get(13)?,
        }),
        error: r.try_get(14)?,
    })
}

/// A job left `running` by a process that died: it will never finish.
pub async fn interrupt_orphans(store: &Store, now_ms: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE sync_jobs SET state = 'interrupted', finished_ms = $1, error = 'the process stopped mid-run; the next run redoes the unfinished part' WHERE state = 'running'",
    )
    .bind(now_ms)
    .execute(store.pool())
    .await?
    .rows_affected())
}

pub async fn create_job(
    store: &Store,
    mode: SyncMode,
    trigger: &str,
    now_ms: i64,
) -> Result<SyncJob> {
    let mut tx = store.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO sync_jobs (mode, state, phase, trigger, started_ms, finished_ms, source_rows, rows_read, accepted, unchanged, retracted, rejected, corrected, error) \
         VALUES ($1, 'running', 'starting', $2, $3, 0, 0, 0, 0, 0, 0, 0, 0, '') RETURNING {JOB_COLUMNS}"
    ))
    .bind(mode_code(mode))
    .bind(trigger)
    .bind(now_ms)
    .fetch_one(&mut *tx)
    .await?;
    let job = job_row(&row)?;
    tx.commit().await?;
    Ok(job)
}

pub async fn job(store: &Store, id: i64) -> Result<Option<SyncJob>> {
    sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(store.pool())
    .await?
    .as_ref()
    .map(job_row)
    .transpose()
}

/// Newest first, ids below `before` (0 = from the newest).
pub async fn jobs(store: &Store, before: i64, limit: i64) -> Result<Vec<SyncJob>> {
    let before = if before <= 0 { i64::MAX } else { before };
    sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE id < $1 ORDER BY id DESC LIMIT $2"
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(job_row)
    .collect()
}

pub async fn latest_finished_job(store: &Store) -> Result<Option<i64>> {
    Ok(
        sqlx::query("SELECT MAX(id) FROM sync_jobs WHERE state <> 'running'")
            .fetch_one(store.pool())
            .await?
            .try_get::<Option<i64>, _>(0)?,
    )
}

/// When the last successful job of each mode finished.
pub async fn last_successes(store: &Store) -> Result<Vec<(SyncMode, i64)>> {
    sqlx::query(
        "SELECT mode, MAX(finished_ms) FROM sync_jobs WHERE state = 'succeeded' GROUP BY mode",
    )
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|r| {
        let mode: String = r.try_get(0)?;
        Ok((mode_of(&mode), r.try_get(1)?))
    })
    .collect()
}

pub async fn set_phase(
    store: &Store,
    id: i64,
    phase: &str,
    source_rows: Option<i64>,
) -> Result<()> {
    let mut sql = Sql::new("UPDATE sync_jobs SET phase = ");
    sql.bind(phase);
    if let Some(n) = source_rows {
        sql.push(", source_rows = ").bind(n);
    }
    sql.push(" WHERE id = ").bind(id);
    sql.query().execute(store.pool()).await?;
    Ok(())
}

pub async fn finish_job(
    store: &Store,
    id: i64,
    state: SyncJobState,
    error: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query("UPDATE sync_jobs SET state = $1, phase = 'done', error = $2, finished_ms = $3 WHERE id = $4")
        .bind(state_code(state))
        .bind(error)
        .bind(now_ms)
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Drops the findings of all but the newest `keep` jobs.
pub async fn prune_findings(store: &Store, keep: i64) -> Result<u64> {
    let Some(oldest_kept) = jobs(store, 0, keep).await?.last().map(|j| j.job_id) else {
        return Ok(0);
    };
    Ok(sqlx::query("DELETE FROM sync_findings WHERE job_id < $1")
        .bind(oldest_kept)
        .execute(store.pool())
        .await?
        .rows_affected())
}

pub async fn watermark(store: &Store) -> Result<i64> {
    Ok(sqlx::query("SELECT value FROM sync_state WHERE name = $1")
        .bind(WATERMARK)
        .fetch_optional(store.pool())
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?
        .unwrap_or(0))
}

/// The lowest known order id whose time is at or after `cutoff_ms`.
pub async fn first_id_since(store: &Store, cutoff_ms: i64) -> Result<Option<i64>> {
    Ok(
        sqlx::query("SELECT MIN(order_id) FROM sync_orders WHERE placed_at_ms >= $1")
            .bind(cutoff_ms)
            .fetch_one(store.pool())
            .await?
            .try_get::<Option<i64>, _>(0)?,
    )
}

/// The highest source order id sync holds a row for (0 when none).
pub async fn max_known_id(store: &Store) -> Result<i64> {
    Ok(sqlx::query("SELECT MAX(order_id) FROM sync_orders")
        .fetch_one(store.pool())
        .await?
        .try_get::<Option<i64>, _>(0)?
        .unwrap_or(0))
}

/// The lowest id whose submission a crashed run left unanswered.
pub async fn first_pending(store: &Store) -> Result<Option<i64>> {
    Ok(sqlx::query("SELECT MIN(order_id) FROM sync_pending")
        .fetch_one(store.pool())
        .await?
        .try_get::<Option<i64>, _>(0)?)
}

pub async fn known(store: &Store, ids: &[i64]) -> Result<HashMap<i64, Known>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new(
            "SELECT o.order_id, o.placed_at_ms, o.live, CASE WHEN p.order_id IS NULL THEN 0 ELSE 1 END, o.payload \
             FROM sync_orders o LEFT JOIN sync_pending p ON p.order_id = o.order_id WHERE o.order_id IN (",
        );
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        sql.push(")");
        for r in sql.query().fetch_all(store.pool()).await? {
            let live: i64 = r.try_get(2)?;
            let pending: i64 = r.try_get(3)?;
            out.insert(
                r.try_get(0)?,
                Known {
                    placed_at_ms: r.try_get(1)?,
                    live: live != 0,
                    pending: pending != 0,
                    payload: r.try_get(4)?,
                },
            );
        }
    }
    Ok(out)
}

/// Every order ingest may hold live: candidates for a full run's "gone from the source".
pub async fn maybe_live(store: &Store) -> Result<Vec<(i64, Vec<u8>)>> {
    sqlx::query(
        "SELECT order_id, payload FROM sync_orders WHERE live = 1 OR order_id IN (SELECT order_id FROM sync_pending) ORDER BY order_id",
    )
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect()
}

/// Rows per multi-row statement: well under SQLite's and PostgreSQL's bind limits.
pub(crate) const ROWS_PER_STATEMENT: usize = 200;

/// `($1, $2, …), (…)` for `rows` rows of `columns` placeholders.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes each row's state, and sets or clears its pending mark.
pub async fn write_orders(tx: &mut Tx, rows: &[Write]) -> Result<()> {
    // One statement may not touch a row twice (PostgreSQL): the last write wins.
    let mut last: HashMap<i64, &Write> = HashMap::with_capacity(rows.len());
    for w in rows {
        last.insert(w.order_id, w);
    }
    let mut unique: Vec<&Write> = last.into_values().collect();
    unique.sort_by_key(|w| w.order_id);
    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO sync_orders (order_id, placed_at_ms, live, payload, pending) VALUES {} \
             ON CONFLICT (order_id) DO UPDATE SET placed_at_ms = excluded.placed_at_ms, live = excluded.live, payload = excluded.payload",
            // The legacy `pending` column stays 0: marks live in sync_pending.
            placeholders(chunk.len(), 4).replace(')', ", 0)")
        );
        let mut q = sqlx::query(&sql);
        for w in chunk {
            q = q
                .bind(w.order_id)
                .bind(w.known.placed_at_ms)
                .bind(i64::from(w.known.live))
                .bind(w.known.payload.as_slice());
        }
        q.execute(&mut **tx).await?;
    }
    let (pending, settled): (Vec<&Write>, Vec<&Write>) =
        unique.into_iter().partition(|w| w.known.pending);
    for chunk in pending.chunks(ROWS_PER_STATEMENT * 2) {
        let sql = format!(
            "INSERT INTO sync_pending (order_id) VALUES {} ON CONFLICT (order_id) DO NOTHING",
            placeholders(chunk.len(), 1)
        );
        let mut q = sqlx::query(&sql);
        for w in chunk {
            q = q.bind(w.order_id);
        }
        q.execute(&mut **tx).await?;
    }
    let settled: Vec<i64> = settled.iter().map(|w| w.order_id).collect();
    settle(tx, &settled).await
}

/// Ingest answered for `ids`: their rows already hold the state the
/// submission left, only the pending marks go.
pub async fn settle(tx: &mut Tx, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new("DELETE FROM sync_pending WHERE order_id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        sql.push(")");
        sql.query().execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn write_findings(tx: &mut Tx, job_id: i64, findings: &[(Kind, Finding)]) -> Result<()> {
    for chunk in findings.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO sync_findings (job_id, order_id, line_id, reason, kind, detail) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (kind, f) in chunk {
            q = q
                .bind(job_id)
                .bind(f.order_id)
                .bind(f.line_id.unwrap_or(0))
                .bind(f.reason.code())
                .bind(kind.code())
                .bind(f.detail.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn add_counts(tx: &mut Tx, job_id: i64, c: &SyncCounts) -> Result<()> {
    sqlx::query(
        "UPDATE sync_jobs SET rows_read = rows_read + $1, accepted = accepted + $2, unchanged = unchanged + $3, \
         retracted = retracted + $4, rejected = rejected + $5, corrected = corrected + $6 WHERE id = $7",
    )
    .bind(c.read)
    .bind(c.accepted)
    .bind(c.unchanged)
    .bind(c.retracted)
    .bind(c.rejected)
    .bind(c.corrected)
    .bind(job_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn raise_watermark(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = CASE WHEN excluded.value > sync_state.value THEN excluded.value ELSE sync_state.value END",
    )
    .bind(WATERMARK)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (reason, kind, count) of a job's findings.
pub async fn reason_counts(store: &Store, job_id: i64) -> Result<Vec<(String, String, i64)>> {
    sqlx::query("SELECT reason, kind, CAST(COUNT(*) AS BIGINT) FROM sync_findings WHERE job_id = $1 GROUP BY reason, kind ORDER BY kind, reason")
        .bind(job_id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

pub async fn samples(
    store: &Store,
    job_id: i64,
    reason: &str,
    kind: &str,
    limit: i64,
) -> Result<Vec<(i64, i64, String)>> {
    sqlx::query("SELECT order_id, line_id, detail FROM sync_findings WHERE job_id = $1 AND reason = $2 AND kind = $3 ORDER BY order_id, line_id LIMIT $4")
        .bind(job_id)
        .bind(reason)
        .bind(kind)
        .bind(limit)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Corrupt(format!("a stored order does not decode: {e}"))
    }
}
