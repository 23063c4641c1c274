//! The suggest service: marketing suggestions from the order stream (six types, each
//! with its audience and expected effect), and the customer models (BG/NBD or MBG/NBD with Gamma-Gamma) fitted over every
//! customer's history, which the suggestions and the customer profile build on.

mod customers;
mod effect;
mod exchange;
mod models;
mod suggestions;

use std::sync::Arc;

use portrait_proto::v1::suggest_query_server::{SuggestQuery, SuggestQueryServer};
use portrait_proto::v1::{
    AdoptSuggestionRequest, AdoptedSuggestion, DismissSuggestionRequest,
    GetSuggestionEffectRequest, ListAdoptedSuggestionsRequest, ListAdoptedSuggestionsResponse,
    ListSuggestionMembersRequest, ListSuggestionMembersResponse, SuggestionEffect,
};
use portrait_proto::v1::{
    ConsumerStatus, CustomerModel, CustomerScores, ExportRequest, GetCustomerModelRequest,
    GetModelFitRequest, ListCustomersRequest, ListCustomersResponse, ListSuggestionAudienceRequest,
    ListSuggestionAudienceResponse, ListSuggestionsRequest, ListSuggestionsResponse, ModelFit,
    RefitModelsRequest, StatusRequest,
};
use portrait_service::{AnswerCache, Config, CustomerProjection, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub use customers::CustomerList;
pub use effect::{Audience, Expected, Tracker, bucket, is_control};
pub use exchange::LabelBook;
pub use models::{Measured, Models, Score, Served, measure};
pub use suggestions::{PlanTimes, Suggestions, measure_plan};

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let settings = config.models.clone();
    let suggest = config.suggest.clone();
    let rfm = portrait_core::RfmParams::resolve(None, &config.rfm.domain())?;
    let schedule = shutdown.clone();
    let profiler = portrait_service::exchange::peer_channel(
        "gateway.profiler",
        &config.gateway.profiler,
        &config.auth,
        &config.server,
    )?;
    let every = std::time::Duration::from_millis(config.exchange.poll_ms);
    let segment_flows = portrait_service::SegmentFlowFollower::new(&config, shutdown.clone());
    portrait_service::run_consumer_service(
        config,
        listener,
        CustomerProjection::new("suggest").with_tables(
            "effect",
            effect::EFFECT_MIGRATIONS,
            effect::KEPT_TABLES,
        ),
        move |projection, ctx| {
            let segment_flows = segment_flows.serve(ctx.store());
            let models = Arc::new(Models::new(projection.clone(), ctx.clone(), settings));
            models.spawn_schedule(schedule.clone());
            let labels = Arc::new(LabelBook::default());
            exchange::follow_labels(
                &labels,
                projection.clone(),
                profiler.clone(),
                every,
                schedule.clone(),
            );
            let customers = Arc::new(CustomerList {
                projection: projection.clone(),
                ctx: ctx.clone(),
                models: models.clone(),
                labels,
                rows: AnswerCache::new(8),
                orders: AnswerCache::new(16),
                ranks: Default::default(),
                recent: Default::default(),
                rfm,
            });
            customers.spawn_warm(schedule.clone());
            let suggestions = Arc::new(Suggestions::new(customers.clone(), profiler, suggest));
            suggestions.spawn_warm(schedule);
            let effects = Arc::new(Tracker::new(projection, ctx, suggestions.clone()));
            portrait_service::Services::new(SuggestQueryServer::new(Suggest {
                customers,
                suggestions,
                models,
                effects,
            }))
            .and(segment_flows)
        },
        shutdown,
    )
    .await
}

/// Every suggestion type the lists make.
const SUGGESTION_TYPES: [portrait_proto::v1::SuggestionType; 6] = [
    portrait_proto::v1::SuggestionType::VipService,
    portrait_proto::v1::SuggestionType::SegmentStrategy,
    portrait_proto::v1::SuggestionType::ChurnWarning,
    portrait_proto::v1::SuggestionType::Recommendation,
    portrait_proto::v1::SuggestionType::SecondPurchase,
    portrait_proto::v1::SuggestionType::WinBack,
];

#[derive(Clone)]
pub struct Suggest {
    customers: Arc<CustomerList>,
    suggestions: Arc<Suggestions>,
    models: Arc<Models>,
    effects: Arc<Tracker>,
}

#[tonic::async_trait]
impl SuggestQuery for Suggest {
    async fn list_suggestions(
        &self,
        request: Request<ListSuggestionsRequest>,
    ) -> Result<Response<ListSuggestionsResponse>, Status> {
        // The measured response rates of the types with finished adoptions.
        let mut tracked = suggestions::Tracked::new();
        for kind in SUGGESTION_TYPES {
            match self.effects.response_rate(kind).await {
                Ok(Some((rate, source))) => tracked.push((kind, rate, source)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "tracked response rate unavailable; the prior stands")
                }
            }
        }
        self.suggestions.set_tracked(tracked);
        let mut answer = self.suggestions.list(request.get_ref()).await?;
        // Adoption moves a suggestion on: its status is the effect tracking's.
        for s in &mut answer.suggestions {
            s.status = self.effects.status(&s.id).0 as i32;
        }
        Ok(Response::new(answer))
    }

    async fn list_suggestion_audience(
        &self,
        request: Request<ListSuggestionAudienceRequest>,
    ) -> Result<Response<ListSuggestionAudienceResponse>, Status> {
        let mut answer = self.suggestions.audience_page(request.get_ref()).await?;
        if let Some(s) = answer.suggestion.as_mut() {
            s.status = self.effects.status(&s.id).0 as i32;
        }
        Ok(Response::new(answer))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.suggestions.ctx().status().await?))
    }

    async fn get_model_fit(
        &self,
        _request: Request<GetModelFitRequest>,
    ) -> Result<Response<ModelFit>, Status> {
        Ok(Response::new(self.models.fit_answer()))
    }

    async fn refit_models(
        &self,
        request: Request<RefitModelsRequest>,
    ) -> Result<Response<ModelFit>, Status> {
        let day = request.get_ref().as_of_date.as_str();
        Ok(Response::new(self.models.refit(Some(day)).await?))
    }

    async fn get_customer_model(
        &self,
        request: Request<GetCustomerModelRequest>,
    ) -> Result<Response<CustomerModel>, Status> {
        let id = request.get_ref().customer_id.as_str();
        if id.is_empty() {
            return Err(portrait_service::Error::from(portrait_core::Error::invalid(
                "customer_id",
                "must not be empty",
            ))
            .into());
        }
        self.models
            .customer(id)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("customer_id {id:?}: no such customer")))
    }

    async fn list_customers(
        &self,
        request: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        Ok(Response::new(self.customers.list(request.get_ref())?))
    }

    async fn export_customer_scores(
        &self,
        request: Request<ExportRequest>,
    ) -> Result<Response<CustomerScores>, Status> {
        Ok(Response::new(self.models.export(request.get_ref())?))
    }

    async fn adopt_suggestion(
        &self,
        request: Request<AdoptSuggestionRequest>,
    ) -> Result<Response<AdoptedSuggestion>, Status> {
        Ok(Response::new(self.effects.adopt(request.get_ref()).await?))
    }

    async fn dismiss_suggestion(
        &self,
        request: Request<DismissSuggestionRequest>,
    ) -> Result<Response<AdoptedSuggestion>, Status> {
        Ok(Response::new(
            self.effects.dismiss(&request.get_ref().id).await?,
        ))
    }

    async fn get_suggestion_effect(
        &self,
        request: Request<GetSuggestionEffectRequest>,
    ) -> Result<Response<SuggestionEffect>, Status> {
        Ok(Response::new(
            self.effects.effect(&request.get_ref().id).await?,
        ))
    }

    async fn list_adopted_suggestions(
        &self,
        _request: Request<ListAdoptedSuggestionsRequest>,
    ) -> Result<Response<ListAdoptedSuggestionsResponse>, Status> {
        Ok(Response::new(self.effects.adopted().await?))
    }

    async fn list_suggestion_members(
        &self,
        request: Request<ListSuggestionMembersRequest>,
    ) -> Result<Response<ListSuggestionMembersResponse>, Status> {
        Ok(Response::new(
            self.effects.members(request.get_ref()).await?,
        ))
    }
}
