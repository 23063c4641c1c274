//! `ConsumerAdmin.Rebuild`: the consumer's half of `portrait rebuild`. Ingest
//! has started a fresh publication (epoch) of every order; this empties the
//! service's tables, forgets its positions and condition, reloads the (now
//! empty) serving state, and has the loop read the log from its start,
//! skipping records of older publications.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use portrait_bus::Record;
use portrait_proto::v1::consumer_admin_server::ConsumerAdmin;
use portrait_proto::v1::{RebuildRequest, RebuildResult};
use portrait_store::{LogState, Store};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::info;

use crate::SeenIds;
use crate::consumer::{Exit, load};
use crate::{Live, Progress, Projection, Result, metrics};

/// The header carrying an event's publication (absent = 0).
pub const EPOCH_HEADER: &str = "portrait-epoch";

/// Shared by the consumer loop and `Rebuild`: one of them changes the store
/// at a time, and a rebuild makes the loop start over.
#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) writing: tokio::sync::Mutex<()>,
    pub(crate) generation: AtomicU64,
    pub(crate) restart: tokio::sync::Notify,
    pub(crate) serving: tokio::sync::watch::Sender<bool>,
    /// Stopped by a log that went backwards.
    halted: AtomicBool,
    /// Retrying after an error: no progress until it resumes.
    failing: AtomicBool,
}

impl Control {
    pub(crate) fn new() -> Self {
        Self {
            writing: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            restart: tokio::sync::Notify::new(),
            serving: tokio::sync::watch::Sender::new(true),
            halted: AtomicBool::new(false),
            failing: AtomicBool::new(false),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Health and the metric follow the condition.
    pub(crate) fn report(&self, service: &str, condition: Option<&str>) {
        self.halted.store(condition.is_some(), Ordering::Release);
        self.publish();
        if let Some(m) = metrics::get() {
            m.log_condition
                .with_label_values(&[service])
                .set(i64::from(condition.is_some()));
        }
    }
}

impl Control {
    /// Health follows whether the loop is failing too; returns whether it was.
    pub(crate) fn failing(&self, failing: bool) -> bool {
        let was = self.failing.swap(failing, Ordering::AcqRel);
        self.publish();
        was
    }

    fn publish(&self) {
        let serving = !self.halted.load(Ordering::Acquire) && !self.failing.load(Ordering::Acquire);
        self.serving
            .send_if_modified(|s| std::mem::replace(s, serving) != serving);
    }
}

/// Stopped by a condition: waits for a rebuild (or the end).
pub(crate) async fn stopped(
    shutdown: &CancellationToken,
    restarted: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> Exit {
    tokio::select! {
        _ = shutdown.cancelled() => Exit::Shutdown,
        _ = restarted => Exit::Restart,
    }
}

/// The publication a record belongs to; records without the header were
/// published before the first rebuild.
pub(crate) fn epoch_of(record: &Record) -> i64 {
    record
        .headers
        .iter()
        .find(|(k, _)| k == EPOCH_HEADER)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

pub(crate) struct Rebuilder<P> {
    pub(crate) projection: Arc<P>,
    pub(crate) store: Store,
    pub(crate) topic: String,
    pub(crate) progress: Arc<Live<Progress>>,
    pub(crate) control: Arc<Control>,
    pub(crate) seen: Arc<SeenIds>,
}

impl<P: Projection> Rebuilder<P> {
    async fn rebuild(&self, epoch: i64) -> Result<RebuildResult> {
        if epoch < 1 {
            return Err(portrait_core::Error::invalid("epoch", "must be positive").into());
        }
        let service = self.projection.name();
        // The loop writes nothing while this holds; its next batch sees the
        // new generation and starts over.
        let _writing = self.control.writing.lock().await;
        let cleared = self.progress.read().0.condition.clone();
        let mut tx = self.store.begin().await?;
        let emptied = portrait_store::reset_tables(&mut tx, self.projection.kept_tables()).await?;
        let state = LogState {
            epoch,
            condition: None,
        };
        portrait_store::save_log_state(&mut tx, &state).await?;
        tx.commit().await?;
        let (topic, progress) = (&self.topic, &self.progress);
        load(&*self.projection, &self.store, topic, progress, &self.seen).await?;
        self.control.generation.fetch_add(1, Ordering::AcqRel);
        self.control.report(service, None);
        self.control.restart.notify_waiters();
        info!(
            service,
            epoch,
            tables = emptied.len(),
            cleared = cleared.as_deref().unwrap_or(""),
            "projection reset for a fresh publication"
        );
        Ok(RebuildResult {
            service: service.to_owned(),
            epoch,
            cleared_condition: cleared.unwrap_or_default(),
            tables_emptied: emptied,
        })
    }
}

#[tonic::async_trait]
impl<P: Projection> ConsumerAdmin for Rebuilder<P> {
    async fn rebuild(
        &self,
        request: Request<RebuildRequest>,
    ) -> Result<Response<RebuildResult>, Status> {
        Ok(Response::new(
            Rebuilder::rebuild(self, request.into_inner().epoch).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_the_metric_follow_the_condition() {
        let control = Control::new();
        let serving = control.serving.subscribe();
        let gauge = || {
            metrics::get()
                .map(|m| m.log_condition.with_label_values(&["unit"]).get())
                .unwrap_or(-1)
        };
        control.report(
            "unit",
            Some("t partition 0: stored position 9 is beyond the log's end 3"),
        );
        assert!(!*serving.borrow());
        assert_eq!(gauge(), 1);
        control.report("unit", None);
        assert!(*serving.borrow());
        assert_eq!(gauge(), 0);
    }

    #[test]
    fn health_is_serving_only_when_neither_halted_nor_failing() {
        let control = Control::new();
        let serving = control.serving.subscribe();
        assert!(!control.failing(true));
        assert!(!*serving.borrow());
        control.report("unit", Some("halted"));
        assert!(control.failing(false), "it was failing");
        assert!(!*serving.borrow(), "still halted");
        control.report("unit", None);
        assert!(*serving.borrow());
    }

    #[test]
    fn an_event_without_the_header_belongs_to_the_first_publication() {
        let record = |headers: Vec<(String, String)>| Record {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            key: "c".into(),
            payload: Vec::new(),
            headers,
        };
        assert_eq!(epoch_of(&record(Vec::new())), 0);
        assert_eq!(
            epoch_of(&record(vec![(EPOCH_HEADER.into(), "3".into())])),
            3
        );
        assert_eq!(
            epoch_of(&record(vec![("traceparent".into(), "00-x".into())])),
            0
        );
    }
}
