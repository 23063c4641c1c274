//! Each RPC as a JSON-in, JSON-out call onto the `PortraitService` trait
//! method of the one `Gateway` the gRPC server also serves: the HTTP layer
//! has no logic of its own to drift.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portrait_proto::v1::portrait_service_server::PortraitService;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::params::decode;
use crate::Gateway;

type Answer = Pin<Box<dyn Future<Output = Result<Value, Status>> + Send>>;
pub(super) type Call = Arc<dyn Fn(Value, MetadataMap, tonic::Extensions) -> Answer + Send + Sync>;

fn unary<Req, Resp, F, Fut>(method: F) -> Call
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize,
    F: Fn(tonic::Request<Req>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>> + Send + 'static,
{
    Arc::new(move |json, metadata, extensions| {
        let request = decode::<Req>(json)
            .map(|message| tonic::Request::from_parts(metadata, extensions, message));
        let answer = request.map(&method);
        Box::pin(async move {
            let response = answer?.await?;
            serde_json::to_value(response.get_ref()).map_err(|e| {
                tracing::error!(error = %e, "failed to render an answer as json");
                Status::internal("failed to render the answer as JSON")
            })
        })
    })
}

/// The call for `rpc` (its proto name), or None for a name the service lacks.
pub(super) fn call(gateway: &Arc<Gateway>, rpc: &str) -> Option<Call> {
    macro_rules! to {
        ($method:ident) => {{
            let gateway = gateway.clone();
            unary(move |request| {
                let gateway = gateway.clone();
                async move { PortraitService::$method(&*gateway, request).await }
            })
        }};
    }
    Some(match rpc {
        "GetOverview" => to!(get_overview),
        "GetSegmentDistribution" => to!(get_segment_distribution),
        "GetHourDistribution" => to!(get_hour_distribution),
        "GetChannelDistribution" => to!(get_channel_distribution),
        "GetTopProducts" => to!(get_top_products),
        "GetTopCategories" => to!(get_top_categories),
        "ListRfm" => to!(list_rfm),
        "ListSuggestions" => to!(list_suggestions),
        "ListStores" => to!(list_stores),
        "GetSyncStatus" => to!(get_sync_status),
        "TriggerSync" => to!(trigger_sync),
        "GetSyncJob" => to!(get_sync_job),
        "ListSyncJobs" => to!(list_sync_jobs),
        "GetDataQualityReport" => to!(get_data_quality_report),
        "GetCustomer" => to!(get_customer),
        "ListCustomerDays" => to!(list_customer_days),
        "GetCustomerPreferences" => to!(get_customer_preferences),
        "ListAnomalies" => to!(list_anomalies),
        "GetPortraitSummary" => to!(get_portrait_summary),
        "FindCustomer" => to!(find_customer),
        "ListCustomers" => to!(list_customers),
        "GetClusters" => to!(get_clusters),
        "RecomputeClusters" => to!(recompute_clusters),
        "GetModelFit" => to!(get_model_fit),
        "RefitModels" => to!(refit_models),
        "GetCustomerModel" => to!(get_customer_model),
        "GetAssociations" => to!(get_associations),
        "GetGroupPatterns" => to!(get_group_patterns),
        "ListSuggestionAudience" => to!(list_suggestion_audience),
        "AdoptSuggestion" => to!(adopt_suggestion),
        "DismissSuggestion" => to!(dismiss_suggestion),
        "GetSuggestionEffect" => to!(get_suggestion_effect),
        "ListAdoptedSuggestions" => to!(list_adopted_suggestions),
        "ListSuggestionMembers" => to!(list_suggestion_members),
        "GetSegmentFlows" => to!(get_segment_flows),
        "ListAuditEvents" => to!(list_audit_events),
        "RevealCustomer" => to!(reveal_customer),
        "GetCaller" => to!(get_caller),
        _ => return None,
    })
}
