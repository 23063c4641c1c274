//! A store- or city-scoped token's filter, narrowed here and never trusted
//! from the client: every request message passes through `Gateway::scoped`
//! before it is forwarded. The policy table (portrait-auth) already refused
//! scoped tokens the rpcs that cannot be narrowed.

use std::collections::BTreeSet;

use portrait_auth::Principal;
use portrait_proto::v1::{Filter, ListStoresRequest};
use tonic::{Request, Status};

use crate::{Gateway, upstream};

/// A request message and its `filter`, if it has one.
pub(crate) trait Scoped {
    fn filter_mut(&mut self) -> Option<&mut Option<Filter>>;
}

macro_rules! filtered {
    ($($t:ty),* $(,)?) => {$(
        impl Scoped for $t {
            fn filter_mut(&mut self) -> Option<&mut Option<Filter>> {
                Some(&mut self.filter)
            }
        }
    )*};
}

macro_rules! unfiltered {
    ($($t:ty),* $(,)?) => {$(
        impl Scoped for $t {
            fn filter_mut(&mut self) -> Option<&mut Option<Filter>> {
                None
            }
        }
    )*};
}

use portrait_proto::v1 as pb;

filtered!(
    pb::OverviewRequest,
    pb::SegmentDistributionRequest,
    pb::HourDistributionRequest,
    pb::ChannelDistributionRequest,
    pb::TopProductsRequest,
    pb::TopCategoriesRequest,
    pb::ListRfmRequest,
    pb::ListSuggestionsRequest,
    pb::GetCustomerRequest,
    pb::ListCustomerDaysRequest,
    pb::CustomerPreferencesRequest,
    pb::ListAnomaliesRequest,
    pb::ListCustomersRequest,
    pb::PortraitSummaryRequest,
    pb::AssociationsRequest,
    pb::GroupPatternsRequest,
    pb::ListSuggestionAudienceRequest,
    pb::AdoptSuggestionRequest,
);

unfiltered!(
    pb::ListStoresRequest,
    pb::SyncStatusRequest,
    pb::TriggerSyncRequest,
    pb::GetSyncJobRequest,
    pb::ListSyncJobsRequest,
    pb::GetDataQualityReportRequest,
    pb::FindCustomerRequest,
    pb::GetClustersRequest,
    pb::RecomputeClustersRequest,
    pb::GetModelFitRequest,
    pb::RefitModelsRequest,
    pb::GetCustomerModelRequest,
    pb::DismissSuggestionRequest,
    pb::GetSuggestionEffectRequest,
    pb::ListAdoptedSuggestionsRequest,
    pb::ListSuggestionMembersRequest,
    pb::SegmentFlowsRequest,
    pb::ListAuditEventsRequest,
);

impl Gateway {
    /// The message of `r`, its filter narrowed to the caller's scope.
    pub(crate) async fn scoped<T: Scoped>(&self, r: Request<T>) -> Result<T, Status> {
        let principal = r.extensions().get::<Principal>().cloned();
        let mut message = r.into_inner();
        if let (Some(p), Some(filter)) = (principal, message.filter_mut())
            && p.is_scoped()
        {
            self.narrow(filter.get_or_insert_with(Filter::default), &p)
                .await?;
        }
        Ok(message)
    }

    async fn narrow(&self, f: &mut Filter, p: &Principal) -> Result<(), Status> {
        if f.store_ids.is_empty() && f.cities.is_empty() {
            f.store_ids.clone_from(&p.stores);
            f.cities.clone_from(&p.cities);
            return Ok(());
        }
        // Stores and cities are a union on both sides: compare them as sets
        // of stores, through the profiler's store → city map.
        let known = self
            .profiler
            .clone()
            .list_stores(ListStoresRequest {})
            .await
            .map_err(|s| upstream("profiler", s))?
            .into_inner()
            .stores;
        let allowed = |id: &str, city: &str| {
            p.stores.iter().any(|s| s == id) || p.cities.iter().any(|c| c == city)
        };
        let asked = |id: &str, city: &str| {
            f.store_ids.iter().any(|s| s == id) || f.cities.iter().any(|c| c == city)
        };
        let mut narrowed: BTreeSet<String> = known
            .iter()
            .filter(|s| asked(&s.store_id, &s.city) && allowed(&s.store_id, &s.city))
            .map(|s| s.store_id.clone())
            .collect();
        // A scope's store without orders yet is still the caller's.
        narrowed.extend(f.store_ids.iter().filter(|s| p.stores.contains(s)).cloned());
        if narrowed.is_empty() {
            let mut named: Vec<&str> = f.store_ids.iter().map(String::as_str).collect();
            named.extend(f.cities.iter().map(String::as_str));
            return Err(Status::permission_denied(format!(
                "filter names stores outside this token's scope: {}",
                named.join(", ")
            )));
        }
        f.store_ids = narrowed.into_iter().collect();
        f.cities.clear();
        Ok(())
    }
}
