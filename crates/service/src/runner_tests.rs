//! A consumer service asked to stop while it loads its serving state.

use std::time::Duration;

use portrait_store::{Migration, Store};
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;

use crate::{Config, CustomerProjection, Projection, Result, ServiceName, Services};

/// The customer projection, whose load never ends: it stands in for a
/// 10M-order state, 25–32 s to load.
struct EndlessLoad(CustomerProjection);

impl Projection for EndlessLoad {
    type Delta = <CustomerProjection as Projection>::Delta;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn migrations(&self) -> Vec<(&'static str, &'static [Migration])> {
        self.0.migrations()
    }

    fn prune(delta: &mut Self::Delta) {
        CustomerProjection::prune(delta);
    }

    async fn write(&self, conn: &mut AnyConnection, delta: &Self::Delta) -> Result<()> {
        self.0.write(conn, delta).await
    }

    async fn load(&self, _store: &Store) -> Result<()> {
        std::future::pending().await
    }

    fn apply(&self, delta: &Self::Delta) {
        self.0.apply(delta);
    }
}

#[tokio::test]
async fn a_stop_during_the_load_ends_the_service_without_waiting_for_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::defaults(ServiceName::Rfm);
    config.data_dir = dir.path().to_path_buf();
    let config = config.validated(ServiceName::Rfm).expect("config");
    let (listener, _) = crate::bind("127.0.0.1:0").await.expect("a port");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
    });
    let projection = EndlessLoad(CustomerProjection::new("rfm"));
    let run = super::run_consumer_service(
        config,
        listener,
        projection,
        |_, _| Services::new(tonic_health::server::health_reporter().1),
        shutdown,
    );
    // Without the stop the load never ends; the bound only keeps a broken
    // build from hanging the test run.
    let ended = tokio::time::timeout(Duration::from_secs(60), run).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "stopped cleanly: {:?}",
        ended.map(|r| r.err())
    );
}
