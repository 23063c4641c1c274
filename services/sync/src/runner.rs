//! The sync component as the gateway (and the CLI) hosts it: one job at a
//! time, started on demand or daily, reported from sync's own store.

use std::sync::Arc;

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::{
    DataQualityReport, FindingSample, ReasonCount, SyncCounts, SyncJob, SyncJobState, SyncMode,
};
use portrait_service::PeerChannel as Channel;
use portrait_service::{Config, SyncSettings, now_ms};
use portrait_store::Store;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::job::{self, JobContext, Reader};
use crate::rules::Rules;
use crate::source::Source;
use crate::{Error, Result, metrics, state};

/// Cheap to clone; every clone drives the same one-job-at-a-time runner.
#[derive(Clone)]
pub struct Sync {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: SyncSettings,
    rules: Rules,
    ingest: IngestServiceClient<Channel>,
    /// The running job's id, if any.
    running: Mutex<Option<i64>>,
    shutdown: CancellationToken,
}

/// The answer to a trigger.
#[derive(Debug, Clone)]
pub struct Triggered {
    pub job: SyncJob,
    pub already_running: bool,
}

impl Sync {
    /// Opens sync's store and marks jobs a dead process left running.
    pub async fn open(
        config: &Config,
        ingest_url: &str,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let rules = Rules::new(&config.sync, config.limits())?;
        let store = state::open(&config.sync.store_url).await?;
        let orphans = state::interrupt_orphans(&store, now_ms()).await?;
        if orphans > 0 {
            tracing::warn!(orphans, "sync jobs of a stopped process marked interrupted");
        }
        metrics::restore(
            state::watermark(&store).await?,
            &state::last_successes(&store).await?,
        );
        let endpoint =
            portrait_service::tls::endpoint("gateway.ingest", ingest_url, &config.server)
                .map_err(|e| Error::Config(e.to_string()))?
                .connect_timeout(std::time::Duration::from_secs(5));
        let bearer = portrait_service::Bearer::new(&config.auth.service_token)
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                settings: config.sync.clone(),
                rules,
                ingest: IngestServiceClient::new(Channel::new(
                    portrait_service::Peer::new(ingest_url, endpoint.connect_lazy(), None),
                    bearer,
                ))
                .max_decoding_message_size(64 << 20),
                running: Mutex::new(None),
                shutdown,
            }),
        })
    }

    /// Sync's store, which also holds the gateway's audit log (crate::audit).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The mapping's rules: the pseudonym key and the reveal cipher.
    pub fn rules(&self) -> &Rules {
        &self.inner.rules
    }

    pub fn has_source(&self) -> bool {
        !self.inner.settings.source.trim().is_empty()
    }

    /// Starts a job from `sync.source` in the background, or returns the running one.
    pub async fn trigger(&self, mode: SyncMode, trigger: &str) -> Result<Triggered> {
        if !self.has_source() {
            return Err(Error::Config(
                "no sync source is configured: set sync.source (PORTRAIT__SYNC__SOURCE)".into(),
            ));
        }
        let mode = if mode == SyncMode::Full {
            SyncMode::Full
        } else {
            SyncMode::Incremental
        };
        self.start(mode, trigger, None).await
    }

    /// Starts an import job over already-read file orders.
    pub async fn import(&self, reader: Reader) -> Result<Triggered> {
        self.start(SyncMode::Import, "import", Some(reader)).await
    }

    async fn start(
        &self,
        mode: SyncMode,
        trigger: &str,
        reader: Option<Reader>,
    ) -> Result<Triggered> {
        crate::pii_store::check_key(&self.inner.store, self.inner.rules.phone_key.as_deref())
            .await?;
        let mut running = self.inner.running.lock().await;
        if let Some(id) = *running
            && let Some(job) = state::job(&self.inner.store, id).await?
            && job.state == SyncJobState::Running as i32
        {
            return Ok(Triggered {
                job,
                already_running: true,
            });
        }
        let job = state::create_job(&self.inner.store, mode, trigger, now_ms()).await?;
        *running = Some(job.job_id);
        let this = self.clone();
        let (id, started_ms) = (job.job_id, job.started_at_ms);
        metrics::started();
        tokio::spawn(async move { this.execute(id, mode, started_ms, reader).await });
        Ok(Triggered {
            job,
            already_running: false,
        })
    }

    async fn execute(&self, id: i64, mode: SyncMode, started_ms: i64, reader: Option<Reader>) {
        let inner = &self.inner;
        let result = async {
            let reader = match reader {
                Some(r) => r,
                None => Reader::Db(Source::connect(&inner.settings.source).await?),
            };
            let mut ctx = JobContext {
                store: &inner.store,
                ingest: inner.ingest.clone(),
                rules: &inner.rules,
                reread_days: inner.settings.reread_days,
                page_size: inner.settings.page_size,
                now_ms,
                cancel: inner.shutdown.clone(),
                timings: job::Timings::default(),
            };
            let r = job::run(&mut ctx, id, mode, &reader).await;
            let t = ctx.timings;
            tracing::info!(
                job_id = id,
                read_ms = t.read.as_millis() as u64,
                map_ms = t.map.as_millis() as u64,
                submit_ms = t.submit.as_millis() as u64,
                store_ms = t.store.as_millis() as u64,
                "sync job phases"
            );
            if let Reader::Db(s) = &reader {
                s.close().await;
            }
            r
        }
        .await;
        let (state, error) = match &result {
            Ok(()) => (SyncJobState::Succeeded, String::new()),
            Err(e) if inner.shutdown.is_cancelled() => (SyncJobState::Interrupted, e.to_string()),
            Err(e) => (SyncJobState::Failed, e.to_string()),
        };
        match &result {
            Ok(()) => tracing::info!(job_id = id, "sync job succeeded"),
            Err(e) => tracing::error!(job_id = id, error = %e, "sync job failed"),
        }
        // Under the lock, so a trigger never sees a finished job as running.
        let mut running = inner.running.lock().await;
        let finished_ms = now_ms();
        if let Err(e) = state::finish_job(&inner.store, id, state, &error, finished_ms).await {
            tracing::error!(job_id = id, error = %e, "failed to record the end of a sync job");
        }
        metrics::finished(mode, state, started_ms, finished_ms);
        *running = None;
        drop(running);
        match state::prune_findings(&inner.store, inner.settings.keep_findings_jobs).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(findings = n, "old sync findings dropped"),
            Err(e) => tracing::warn!(error = %e, "failed to drop old sync findings"),
        }
    }

    pub async fn job(&self, id: i64) -> Result<Option<SyncJob>> {
        state::job(&self.inner.store, id).await
    }

    /// Newest first; `before` = 0 for the newest page.
    pub async fn jobs(&self, before: i64, limit: i64) -> Result<Vec<SyncJob>> {
        state::jobs(&self.inner.store, before, limit).await
    }

    /// Waits until job `id` is no longer running.
    pub async fn wait(&self, id: i64) -> Result<SyncJob> {
        loop {
            let job = self
                .job(id)
                .await?
                .ok_or_else(|| Error::Corrupt(format!("sync job {id} vanished")))?;
            if job.state != SyncJobState::Running as i32 {
                return Ok(job);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn report(&self, job_id: i64) -> Result<DataQualityReport> {
        let store = &self.inner.store;
        let id = if job_id > 0 {
            Some(job_id)
        } else {
            state::latest_finished_job(store).await?
        };
        let recent_jobs = state::jobs(store, 0, 5).await?;
        let Some(id) = id else {
            return Ok(DataQualityReport {
                recent_jobs,
                ..Default::default()
            });
        };
        let job = state::job(store, id)
            .await?
            .ok_or_else(|| Error::Config(format!("no sync job {id}")))?;
        let mut reasons = Vec::new();
        for (reason, kind, count) in state::reason_counts(store, id).await? {
            let samples = state::samples(
                store,
                id,
                &reason,
                &kind,
                self.inner.settings.report_samples,
            )
            .await?
            .into_iter()
            .map(|(order, line, detail)| FindingSample {
                source_order_id: order,
                source_line_id: line,
                detail,
            })
            .collect();
            reasons.push(ReasonCount {
                reason,
                kind,
                count,
                samples,
            });
        }
        Ok(DataQualityReport {
            job_id: id,
            counts: job.counts.or(Some(SyncCounts::default())),
            reasons,
            recent_jobs,
        })
    }

    /// Runs an incremental job every day at `sync.daily_at` local time, when a
    /// source is configured; returns at shutdown.
    pub fn spawn_daily(&self) -> Option<tokio::task::JoinHandle<()>> {
        let at = portrait_service::parse_hh_mm(&self.inner.settings.daily_at)?;
        if !self.has_source() {
            return None;
        }
        let tz = self.inner.rules.tz;
        let this = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let wait = until_next(Utc::now(), tz, at);
                tracing::info!(in_seconds = wait.num_seconds(), "next daily sync scheduled");
                tokio::select! {
                    () = this.inner.shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait.to_std().unwrap_or_default()) => {}
                }
                if let Err(e) = this.trigger(SyncMode::Incremental, "daily").await {
                    tracing::error!(error = %e, "daily sync did not start");
                }
            }
        }))
    }
}

/// Time from `now` to the next local `at` (hour, minute) in `tz`.
pub fn until_next(now: chrono::DateTime<Utc>, tz: Tz, at: (u32, u32)) -> Duration {
    let local = now.with_timezone(&tz);
    let time = NaiveTime::from_hms_opt(at.0, at.1, 0).unwrap_or_default();
    for days in 0..3 {
        let date = local.date_naive() + Duration::days(days);
        if let Some(next) = tz.from_local_datetime(&date.and_time(time)).earliest()
            && next > now
        {
            return next.with_timezone(&Utc) - now;
        }
    }
    Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_daily_run_is_local_time() {
        let sh = chrono_tz::Asia::Shanghai;
        // 2025-03-05 03:00 Shanghai = 2025-03-04 19:00 UTC: 03:30 is in 30 minutes.
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 19, 0, 0).unwrap();
        assert_eq!(until_next(now, sh, (3, 30)), Duration::minutes(30));
        // Just after: tomorrow.
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 19, 31, 0).unwrap();
        assert_eq!(
            until_next(now, sh, (3, 30)),
            Duration::hours(24) - Duration::minutes(1)
        );
    }
}
