//! `ConsumerAdmin.Rebuild`: the consumer's half of `portrait rebuild`. Ingest
//! has started a fresh publication (epoch) of every order; this empties the
//! service's tables, forgets its positions and condition, reloads the (now
//! empty) serving state, and has the loop read the log from its start,
//! skipping records of older publications.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use portrait_proto::v1::consumer_admin_server::ConsumerAdmin;
use portrait_proto::v1::{RebuildRequest, RebuildResult};
use portrait_store::{LogState, Store};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::consumer::{Control, load};
use crate::{Live, Progress, Projection, Result};

pub(crate) struct Rebuilder<P> {
    pub(crate) projection: Arc<P>,
    pub(crate) store: Store,
    pub(crate) topic: String,
    pub(crate) progress: Arc<Live<Progress>>,
    pub(crate) control: Arc<Control>,
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
        let emptied = portrait_store::reset_tables(&mut tx).await?;
        let state = LogState {
            epoch,
            condition: None,
        };
        portrait_store::save_log_state(&mut tx, &state).await?;
        tx.commit().await?;
        load(&*self.projection, &self.store, &self.topic, &self.progress).await?;
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
