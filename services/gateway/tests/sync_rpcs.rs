//! The sync RPCs' answers when there is nothing to sync or the request is wrong.

use portrait_gateway::Gateway;
use portrait_proto::v1::portrait_service_server::PortraitService;
use portrait_proto::v1::{
    GetDataQualityReportRequest, GetSyncJobRequest, ListSyncJobsRequest, SyncMode,
    TriggerSyncRequest,
};
use portrait_service::{Config, ServiceName};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request};

async fn gateway(dir: &std::path::Path) -> Gateway {
    let mut config = Config::defaults(ServiceName::Gateway);
    config.data_dir = dir.to_path_buf();
    let config = config.validated(ServiceName::Gateway).unwrap();
    Gateway::new(&config, CancellationToken::new())
        .await
        .unwrap()
}

#[tokio::test]
async fn without_a_source_or_with_a_wrong_request_the_answer_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let g = gateway(dir.path()).await;

    let err = g
        .trigger_sync(Request::new(TriggerSyncRequest {
            mode: SyncMode::Full as i32,
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("sync.source"), "{}", err.message());

    let err = g
        .trigger_sync(Request::new(TriggerSyncRequest {
            mode: SyncMode::Import as i32,
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = g
        .trigger_sync(Request::new(TriggerSyncRequest { mode: 42 }))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message().starts_with("mode")),
        (Code::InvalidArgument, true)
    );

    let err = g
        .get_sync_job(Request::new(GetSyncJobRequest { job_id: 7 }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    for (page_size, page_token, field) in [
        (500, "", "page_size"),
        (-1, "", "page_size"),
        (10, "x", "page_token"),
    ] {
        let err = g
            .list_sync_jobs(Request::new(ListSyncJobsRequest {
                page_size,
                page_token: page_token.into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with(field), "{}", err.message());
    }
    let jobs = g
        .list_sync_jobs(Request::new(ListSyncJobsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(jobs.jobs.is_empty() && jobs.next_page_token.is_empty());

    let report = g
        .get_data_quality_report(Request::new(GetDataQualityReportRequest { job_id: 0 }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            report.job_id,
            report.reasons.len(),
            report.recent_jobs.len()
        ),
        (0, 0, 0)
    );
    let err = g
        .get_data_quality_report(Request::new(GetDataQualityReportRequest { job_id: 3 }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
