//! The suggest service: marketing suggestions from the order stream (the churn warning
//! today), and the customer models (BG/NBD or MBG/NBD with Gamma-Gamma) fitted over every
//! customer's history, which the suggestions and the customer profile build on.

mod customers;
mod exchange;
mod models;
mod suggestions;

use std::sync::Arc;

use portrait_proto::v1::suggest_query_server::{SuggestQuery, SuggestQueryServer};
use portrait_proto::v1::{
    ConsumerStatus, CustomerModel, CustomerScores, ExportRequest, GetCustomerModelRequest,
    GetModelFitRequest, ListCustomersRequest, ListCustomersResponse, ListSuggestionsRequest,
    ListSuggestionsResponse, ModelFit, RefitModelsRequest, StatusRequest,
};
use portrait_service::{AnswerCache, Config, CustomerProjection, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub use customers::CustomerList;
pub use exchange::LabelBook;
pub use models::{Measured, Models, Score, Served, measure};
pub use suggestions::Suggestions;

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let settings = config.models.clone();
    let rfm = portrait_core::RfmParams::resolve(None, &config.rfm.domain())?;
    let schedule = shutdown.clone();
    let profiler =
        portrait_service::exchange::peer_channel("gateway.profiler", &config.gateway.profiler)?;
    let every = std::time::Duration::from_millis(config.exchange.poll_ms);
    let segment_flows = portrait_service::SegmentFlowFollower::new(&config, shutdown.clone());
    portrait_service::run_consumer_service(
        config,
        listener,
        CustomerProjection::new("suggest"),
        move |projection, ctx| {
            let segment_flows = segment_flows.serve(ctx.store());
            let models = Arc::new(Models::new(projection.clone(), ctx.clone(), settings));
            models.spawn_schedule(schedule.clone());
            let labels = Arc::new(LabelBook::default());
            exchange::follow_labels(
                &labels,
                projection.clone(),
                profiler,
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
            customers.spawn_warm(schedule);
            portrait_service::Services::new(SuggestQueryServer::new(Suggest {
                customers,
                suggestions: Arc::new(Suggestions {
                    projection,
                    ctx,
                    warnings: AnswerCache::new(8),
                }),
                models,
            }))
            .and(segment_flows)
        },
        shutdown,
    )
    .await
}

#[derive(Clone)]
pub struct Suggest {
    customers: Arc<CustomerList>,
    suggestions: Arc<Suggestions>,
    models: Arc<Models>,
}

#[tonic::async_trait]
impl SuggestQuery for Suggest {
    async fn list_suggestions(
        &self,
        request: Request<ListSuggestionsRequest>,
    ) -> Result<Response<ListSuggestionsResponse>, Status> {
        Ok(Response::new(self.suggestions.list(request.get_ref())?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.suggestions.ctx.status().await?))
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
}
