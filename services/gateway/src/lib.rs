//! The gateway: the public `portrait.v1.PortraitService`, composed by calling
//! the services' internal query APIs. It keeps no state of its own; it hosts the
//! sync component (portrait-sync), which keeps its jobs in its own store.

mod audit;
mod customer;
mod http;
mod reveal;
mod scope;
mod sync;

use std::sync::Arc;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_server::{PortraitService, PortraitServiceServer};
use portrait_proto::v1::profiler_query_client::ProfilerQueryClient;
use portrait_proto::v1::rfm_query_client::RfmQueryClient;
use portrait_proto::v1::segment_flows_query_client::SegmentFlowsQueryClient;
use portrait_proto::v1::suggest_query_client::SuggestQueryClient;
use portrait_proto::v1::{Associations, AssociationsRequest};
use portrait_proto::v1::{
    ChannelDistribution, ChannelDistributionRequest, DataQualityReport,
    GetDataQualityReportRequest, GetSyncJobRequest, HourDistribution, HourDistributionRequest,
    ImportOrdersRequest, ImportOrdersResponse, IngestStatusRequest, ListRfmRequest,
    ListRfmResponse, ListStoresRequest, ListStoresResponse, ListSuggestionsRequest,
    ListSuggestionsResponse, ListSyncJobsRequest, ListSyncJobsResponse, Overview, OverviewRequest,
    SegmentDistribution, SegmentDistributionRequest, StatusRequest, SyncJob, SyncStatus,
    SyncStatusRequest, TopCategories, TopCategoriesRequest, TopProducts, TopProductsRequest,
    TriggerSyncRequest, TriggerSyncResponse,
};
use portrait_proto::v1::{
    Clusters, CustomerModel, CustomerPreferences, CustomerPreferencesRequest, CustomerProfile,
    FindCustomerRequest, FindCustomerResponse, GetClustersRequest, GetCustomerModelRequest,
    GetCustomerRequest, GetModelFitRequest, ListAnomaliesRequest, ListAnomaliesResponse,
    ListCustomerDaysRequest, ListCustomerDaysResponse, ListCustomersRequest, ListCustomersResponse,
    ModelFit, PortraitSummary, PortraitSummaryRequest, RecomputeClustersRequest,
    RefitModelsRequest,
};
use portrait_service::PeerChannel;
use portrait_service::{Config, Error, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

#[derive(Clone)]
pub struct Gateway {
    ingest: IngestServiceClient<PeerChannel>,
    profiler: ProfilerQueryClient<PeerChannel>,
    rfm: RfmQueryClient<PeerChannel>,
    suggest: SuggestQueryClient<PeerChannel>,
    sync: portrait_sync::Sync,
    time_zone: String,
    calendar: portrait_core::Calendar,
    /// `domain.max_id_length`: the longest query that can name a customer.
    max_id_length: usize,
    /// The suggest service's follower of segments.v1.
    segment_flows: SegmentFlowsQueryClient<PeerChannel>,
    /// Refused requests and admin actions: the gateway's own in sync's
    /// store, the other services' read from them.
    audit: Arc<audit::AuditSources>,
}

impl Gateway {
    pub async fn new(config: &Config, shutdown: CancellationToken) -> Result<Self> {
        let g = &config.gateway;
        // Lazy, so the gateway starts before the services and reconnects
        // after them; each call carries the service token.
        let channel = |key: &str, url: &str| {
            portrait_service::exchange::peer_channel(key, url, &config.auth, &config.server)
        };
        let sync = portrait_sync::Sync::open(config, &g.ingest, shutdown)
            .await
            .map_err(|e| Error::Config(format!("sync: {e}")))?;
        let own = portrait_service::AuditLog::start("gateway", sync.store().clone());
        let audit = Arc::new(audit::AuditSources::new(
            own,
            [
                channel("gateway.ingest", &g.ingest)?,
                channel("gateway.profiler", &g.profiler)?,
                channel("gateway.rfm", &g.rfm)?,
                channel("gateway.suggest", &g.suggest)?,
            ],
        ));
        Ok(Self {
            audit,
            sync,
            ingest: IngestServiceClient::new(channel("gateway.ingest", &g.ingest)?),
            profiler: ProfilerQueryClient::new(channel("gateway.profiler", &g.profiler)?),
            rfm: RfmQueryClient::new(channel("gateway.rfm", &g.rfm)?),
            suggest: SuggestQueryClient::new(channel("gateway.suggest", &g.suggest)?),
            time_zone: config.domain.time_zone.clone(),
            calendar: config.calendar(),
            max_id_length: config.domain.max_id_length,
            segment_flows: SegmentFlowsQueryClient::new(channel("gateway.suggest", &g.suggest)?),
        })
    }
}

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let gateway = Gateway::new(&config, shutdown.clone()).await?;
    let daily = gateway.sync.spawn_daily();
    // One Gateway behind both encodings: gRPC and the JSON routes call the
    // same trait methods on it.
    let gateway = Arc::new(gateway);
    let http = http::router(gateway.clone())?;
    let services = portrait_service::Services::new(
        PortraitServiceServer::from_arc(gateway.clone())
            .max_decoding_message_size(config.gateway.max_request_bytes),
    )
    .with_http(http)
    .with_limits(config.gateway_limits())
    .with_audit(gateway.audit.own.clone());
    let served =
        portrait_service::serve_until("gateway", listener, &config, services, shutdown).await;
    if let Some(task) = daily {
        task.abort();
    }
    served
}

/// Forwards to a service; an unreachable service reads as UNAVAILABLE naming it.
pub(crate) fn upstream(service: &'static str, status: Status) -> Status {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal => {
            Error::Upstream {
                service,
                status: Status::new(status.code(), format!("{service}: {}", status.message())),
            }
            .into()
        }
        _ => status,
    }
}

#[tonic::async_trait]
impl PortraitService for Gateway {
    async fn get_overview(
        &self,
        r: Request<OverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        self.profiler
            .clone()
            .get_overview(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_segment_distribution(
        &self,
        r: Request<SegmentDistributionRequest>,
    ) -> Result<Response<SegmentDistribution>, Status> {
        self.rfm
            .clone()
            .get_segment_distribution(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("rfm", s))
    }

    async fn get_hour_distribution(
        &self,
        r: Request<HourDistributionRequest>,
    ) -> Result<Response<HourDistribution>, Status> {
        self.profiler
            .clone()
            .get_hour_distribution(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_channel_distribution(
        &self,
        r: Request<ChannelDistributionRequest>,
    ) -> Result<Response<ChannelDistribution>, Status> {
        self.profiler
            .clone()
            .get_channel_distribution(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_top_products(
        &self,
        r: Request<TopProductsRequest>,
    ) -> Result<Response<TopProducts>, Status> {
        self.profiler
            .clone()
            .get_top_products(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_top_categories(
        &self,
        r: Request<TopCategoriesRequest>,
    ) -> Result<Response<TopCategories>, Status> {
        self.profiler
            .clone()
            .get_top_categories(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn list_rfm(
        &self,
        r: Request<ListRfmRequest>,
    ) -> Result<Response<ListRfmResponse>, Status> {
        self.rfm
            .clone()
            .list_rfm(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("rfm", s))
    }

    async fn list_suggestions(
        &self,
        r: Request<ListSuggestionsRequest>,
    ) -> Result<Response<ListSuggestionsResponse>, Status> {
        self.suggest
            .clone()
            .list_suggestions(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn list_stores(
        &self,
        r: Request<ListStoresRequest>,
    ) -> Result<Response<ListStoresResponse>, Status> {
        self.profiler
            .clone()
            .list_stores(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_sync_status(
        &self,
        _r: Request<SyncStatusRequest>,
    ) -> Result<Response<SyncStatus>, Status> {
        let ingest = self
            .ingest
            .clone()
            .get_ingest_status(IngestStatusRequest {})
            .await
            .map_err(|s| upstream("ingest", s))?
            .into_inner();
        let consumers = vec![
            self.profiler
                .clone()
                .get_status(StatusRequest {})
                .await
                .map_err(|s| upstream("profiler", s))?
                .into_inner(),
            self.rfm
                .clone()
                .get_status(StatusRequest {})
                .await
                .map_err(|s| upstream("rfm", s))?
                .into_inner(),
            self.suggest
                .clone()
                .get_status(StatusRequest {})
                .await
                .map_err(|s| upstream("suggest", s))?
                .into_inner(),
        ];
        // A consumer stopped by a log that went backwards has no lag against
        // the new log, yet misses orders: never caught up while it holds.
        // Nor is one that cannot make progress (its store or the log away).
        let stopped = (consumers.iter())
            .filter(|c| !c.condition.is_empty())
            .map(|c| format!("{}: {}", c.service, c.condition));
        let failing = (consumers.iter())
            .filter(|c| !c.failure.is_empty())
            .map(|c| format!("{}: failing: {}", c.service, c.failure));
        let condition = stopped.chain(failing).collect::<Vec<_>>().join("; ");
        let caught_up = ingest.outbox_pending == 0
            && condition.is_empty()
            && consumers.iter().all(|c| c.lag == 0);
        Ok(Response::new(SyncStatus {
            ingest: Some(ingest),
            consumers,
            caught_up,
            condition,
            time_zone: self.time_zone.clone(),
            today: portrait_core::Calendar::format_day(
                self.calendar.day(portrait_service::now_ms()),
            ),
        }))
    }

    async fn trigger_sync(
        &self,
        r: Request<TriggerSyncRequest>,
    ) -> Result<Response<TriggerSyncResponse>, Status> {
        self.sync_trigger(self.scoped(r).await?)
            .await
            .map(Response::new)
    }

    async fn get_sync_job(
        &self,
        r: Request<GetSyncJobRequest>,
    ) -> Result<Response<SyncJob>, Status> {
        self.sync_job(self.scoped(r).await?)
            .await
            .map(Response::new)
    }

    async fn list_sync_jobs(
        &self,
        r: Request<ListSyncJobsRequest>,
    ) -> Result<Response<ListSyncJobsResponse>, Status> {
        self.sync_jobs(self.scoped(r).await?)
            .await
            .map(Response::new)
    }

    async fn get_data_quality_report(
        &self,
        r: Request<GetDataQualityReportRequest>,
    ) -> Result<Response<DataQualityReport>, Status> {
        self.sync_report(self.scoped(r).await?)
            .await
            .map(Response::new)
    }

    async fn import_orders(
        &self,
        r: Request<Streaming<ImportOrdersRequest>>,
    ) -> Result<Response<ImportOrdersResponse>, Status> {
        self.sync_import(r.into_inner()).await.map(Response::new)
    }

    async fn get_customer(
        &self,
        r: Request<GetCustomerRequest>,
    ) -> Result<Response<CustomerProfile>, Status> {
        self.profile(self.scoped(r).await?).await.map(Response::new)
    }

    async fn list_customer_days(
        &self,
        r: Request<ListCustomerDaysRequest>,
    ) -> Result<Response<ListCustomerDaysResponse>, Status> {
        self.profiler
            .clone()
            .list_customer_days(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_customer_preferences(
        &self,
        r: Request<CustomerPreferencesRequest>,
    ) -> Result<Response<CustomerPreferences>, Status> {
        self.profiler
            .clone()
            .get_customer_preferences(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn list_anomalies(
        &self,
        r: Request<ListAnomaliesRequest>,
    ) -> Result<Response<ListAnomaliesResponse>, Status> {
        self.profiler
            .clone()
            .list_anomalies(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn list_customers(
        &self,
        r: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        self.suggest
            .clone()
            .list_customers(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn get_clusters(
        &self,
        r: Request<GetClustersRequest>,
    ) -> Result<Response<Clusters>, Status> {
        self.profiler
            .clone()
            .get_clusters(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn recompute_clusters(
        &self,
        r: Request<RecomputeClustersRequest>,
    ) -> Result<Response<Clusters>, Status> {
        self.profiler
            .clone()
            .recompute_clusters(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn find_customer(
        &self,
        r: Request<FindCustomerRequest>,
    ) -> Result<Response<FindCustomerResponse>, Status> {
        self.find(self.scoped(r).await?).await.map(Response::new)
    }

    async fn get_portrait_summary(
        &self,
        r: Request<PortraitSummaryRequest>,
    ) -> Result<Response<PortraitSummary>, Status> {
        self.profiler
            .clone()
            .get_portrait_summary(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }

    async fn get_model_fit(
        &self,
        r: Request<GetModelFitRequest>,
    ) -> Result<Response<ModelFit>, Status> {
        self.suggest
            .clone()
            .get_model_fit(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn refit_models(
        &self,
        r: Request<RefitModelsRequest>,
    ) -> Result<Response<ModelFit>, Status> {
        self.suggest
            .clone()
            .refit_models(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn get_customer_model(
        &self,
        r: Request<GetCustomerModelRequest>,
    ) -> Result<Response<CustomerModel>, Status> {
        self.suggest
            .clone()
            .get_customer_model(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn get_associations(
        &self,
        r: Request<AssociationsRequest>,
    ) -> Result<Response<Associations>, Status> {
        self.profiler
            .clone()
            .get_associations(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }
    async fn get_group_patterns(
        &self,
        r: Request<portrait_proto::v1::GroupPatternsRequest>,
    ) -> Result<Response<portrait_proto::v1::GroupPatterns>, Status> {
        self.profiler
            .clone()
            .get_group_patterns(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("profiler", s))
    }
    async fn list_suggestion_audience(
        &self,
        r: Request<portrait_proto::v1::ListSuggestionAudienceRequest>,
    ) -> Result<Response<portrait_proto::v1::ListSuggestionAudienceResponse>, Status> {
        self.suggest
            .clone()
            .list_suggestion_audience(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn adopt_suggestion(
        &self,
        r: Request<portrait_proto::v1::AdoptSuggestionRequest>,
    ) -> Result<Response<portrait_proto::v1::AdoptedSuggestion>, Status> {
        self.suggest
            .clone()
            .adopt_suggestion(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn dismiss_suggestion(
        &self,
        r: Request<portrait_proto::v1::DismissSuggestionRequest>,
    ) -> Result<Response<portrait_proto::v1::AdoptedSuggestion>, Status> {
        self.suggest
            .clone()
            .dismiss_suggestion(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn get_suggestion_effect(
        &self,
        r: Request<portrait_proto::v1::GetSuggestionEffectRequest>,
    ) -> Result<Response<portrait_proto::v1::SuggestionEffect>, Status> {
        self.suggest
            .clone()
            .get_suggestion_effect(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn list_adopted_suggestions(
        &self,
        r: Request<portrait_proto::v1::ListAdoptedSuggestionsRequest>,
    ) -> Result<Response<portrait_proto::v1::ListAdoptedSuggestionsResponse>, Status> {
        self.suggest
            .clone()
            .list_adopted_suggestions(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn list_suggestion_members(
        &self,
        r: Request<portrait_proto::v1::ListSuggestionMembersRequest>,
    ) -> Result<Response<portrait_proto::v1::ListSuggestionMembersResponse>, Status> {
        self.suggest
            .clone()
            .list_suggestion_members(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn get_segment_flows(
        &self,
        r: Request<portrait_proto::v1::SegmentFlowsRequest>,
    ) -> Result<Response<portrait_proto::v1::SegmentFlows>, Status> {
        self.segment_flows
            .clone()
            .get_segment_flows(self.scoped(r).await?)
            .await
            .map_err(|s| upstream("suggest", s))
    }

    async fn list_audit_events(
        &self,
        r: Request<portrait_proto::v1::ListAuditEventsRequest>,
    ) -> Result<Response<portrait_proto::v1::ListAuditEventsResponse>, Status> {
        let request = self.scoped(r).await?;
        self.audit.list(request).await.map(Response::new)
    }

    async fn reveal_customer(
        &self,
        r: Request<portrait_proto::v1::RevealCustomerRequest>,
    ) -> Result<Response<portrait_proto::v1::RevealCustomerResponse>, Status> {
        self.reveal(r).await.map(Response::new)
    }

    async fn get_caller(
        &self,
        r: Request<portrait_proto::v1::GetCallerRequest>,
    ) -> Result<Response<portrait_proto::v1::Caller>, Status> {
        // The auth layer put it there; without one (a test calling the trait
        // directly) nobody is known.
        let p = r
            .extensions()
            .get::<portrait_auth::Principal>()
            .ok_or_else(|| Status::unauthenticated("no caller"))?;
        Ok(Response::new(portrait_proto::v1::Caller {
            subject: p.subject.clone(),
            role: p.role.as_str().to_owned(),
            store_ids: p.stores.clone(),
            cities: p.cities.clone(),
        }))
    }
}
