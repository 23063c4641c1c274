//! The sync RPCs: thin translations onto the hosted `portrait_sync::Sync`.

use portrait_proto::v1::{
    DataQualityReport, GetDataQualityReportRequest, GetSyncJobRequest, ImportOrdersRequest,
    ImportOrdersResponse, ListSyncJobsRequest, ListSyncJobsResponse, SyncJob, SyncMode,
    TriggerSyncRequest, TriggerSyncResponse,
};
use portrait_sync::wire::Upload;
use tonic::{Status, Streaming};

use crate::Gateway;

const DEFAULT_PAGE: i32 = 20;
const MAX_PAGE: i32 = 200;

fn status(e: portrait_sync::Error) -> Status {
    match e {
        portrait_sync::Error::Config(m) => Status::failed_precondition(m),
        other => {
            tracing::error!(error = %other, "sync failed");
            Status::unavailable(format!("sync: {other}"))
        }
    }
}

impl Gateway {
    pub(crate) async fn sync_trigger(
        &self,
        r: TriggerSyncRequest,
    ) -> Result<TriggerSyncResponse, Status> {
        let mode = SyncMode::try_from(r.mode)
            .map_err(|_| Status::invalid_argument(format!("mode: unknown sync mode {}", r.mode)))?;
        if mode == SyncMode::Import {
            return Err(Status::invalid_argument(
                "mode: imports run with `portrait import FILE`, not over the API",
            ));
        }
        let t = self.sync.trigger(mode, "manual").await.map_err(status)?;
        Ok(TriggerSyncResponse {
            job: Some(t.job),
            already_running: t.already_running,
        })
    }

    pub(crate) async fn sync_job(&self, r: GetSyncJobRequest) -> Result<SyncJob, Status> {
        self.sync
            .job(r.job_id)
            .await
            .map_err(status)?
            .ok_or_else(|| Status::not_found(format!("job_id: no sync job {}", r.job_id)))
    }

    pub(crate) async fn sync_jobs(
        &self,
        r: ListSyncJobsRequest,
    ) -> Result<ListSyncJobsResponse, Status> {
        let size = match r.page_size {
            0 => DEFAULT_PAGE,
            n if (1..=MAX_PAGE).contains(&n) => n,
            n => {
                return Err(Status::invalid_argument(format!(
                    "page_size: {n} is not 0-{MAX_PAGE}"
                )));
            }
        };
        let before = if r.page_token.is_empty() {
            0
        } else {
            r.page_token.parse::<i64>().map_err(|_| {
                Status::invalid_argument("page_token: not a token this API returned")
            })?
        };
        let jobs = self
            .sync
            .jobs(before, i64::from(size))
            .await
            .map_err(status)?;
        let next_page_token = match jobs.last() {
            Some(last) if jobs.len() == size as usize => last.job_id.to_string(),
            _ => String::new(),
        };
        Ok(ListSyncJobsResponse {
            jobs,
            next_page_token,
        })
    }

    pub(crate) async fn sync_report(
        &self,
        r: GetDataQualityReportRequest,
    ) -> Result<DataQualityReport, Status> {
        if r.job_id > 0 && self.sync.job(r.job_id).await.map_err(status)?.is_none() {
            return Err(Status::not_found(format!(
                "job_id: no sync job {}",
                r.job_id
            )));
        }
        self.sync.report(r.job_id).await.map_err(status)
    }

    /// An export's orders, uploaded whole, become one import job run by the
    /// hosted sync: its rules (time zone, phone key, platforms…), its record
    /// of what ingest holds, and its findings, exactly like a database run.
    pub(crate) async fn sync_import(
        &self,
        mut upload: Streaming<ImportOrdersRequest>,
    ) -> Result<ImportOrdersResponse, Status> {
        let mut orders = Upload::default();
        let mut file = String::new();
        while let Some(message) = upload.message().await? {
            if file.is_empty() {
                file = message.file_name;
            }
            orders
                .add(message.orders, message.shops)
                .map_err(|e| Status::invalid_argument(format!("orders: {e}")))?;
        }
        if orders.is_empty() {
            return Err(Status::invalid_argument(
                "orders: the upload holds no orders",
            ));
        }
        let n = orders.len();
        let t = self
            .sync
            .import(orders.into_reader())
            .await
            .map_err(status)?;
        if t.already_running {
            return Err(Status::aborted(format!(
                "sync job {} is running; import again when it has finished",
                t.job.job_id
            )));
        }
        tracing::info!(job_id = t.job.job_id, orders = n, file = %file, "import job started");
        Ok(ImportOrdersResponse { job: Some(t.job) })
    }
}
