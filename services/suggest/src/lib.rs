//! The suggest service: marketing suggestions from the order stream. The first
//! rule is the churn warning of `portrait_core::churn_warning`.

use std::sync::Arc;

use portrait_core::{
    ChurnWarning, CustomerAgg, ResolvedFilter, churn_warning, page_size, page_start,
};
use portrait_proto::v1::suggest_query_server::{SuggestQuery, SuggestQueryServer};
use portrait_proto::v1::{
    ConsumerStatus, ListSuggestionsRequest, ListSuggestionsResponse, Priority, StatusRequest,
    Suggestion, SuggestionType,
};
use portrait_service::{AnswerCache, Config, CustomerProjection, QueryContext, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    portrait_service::run_consumer_service(
        config,
        listener,
        CustomerProjection::new("suggest"),
        |projection, ctx| {
            portrait_service::Services::new(SuggestQueryServer::new(Suggest {
                projection,
                ctx,
                warnings: Arc::new(AnswerCache::new(8)),
            }))
        },
        shutdown,
    )
    .await
}

#[derive(Clone)]
pub struct Suggest {
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    warnings: Arc<AnswerCache<ResolvedFilter, Warnings>>,
}

/// The churn warnings of a filter, most urgent first.
type Warnings = Vec<(CustomerAgg, ChurnWarning)>;

impl Suggest {
    fn warnings(&self, f: &ResolvedFilter) -> Arc<Warnings> {
        let (state, version) = self.projection.live.read();
        self.warnings.get_or(f, version, || {
            let sel = state.stores.select(f);
            let names = state.book.customers();
            let mut all: Warnings = (state.book.aggs(&sel, f.from, f.to).into_iter())
                .filter_map(|a| Some((a, churn_warning(&a, f.as_of)?)))
                .collect();
            all.sort_by(|(a, x), (b, y)| {
                y.priority
                    .cmp(&x.priority)
                    .then(y.days_since_last_order.cmp(&x.days_since_last_order))
                    .then_with(|| names.name(a.customer).cmp(names.name(b.customer)))
            });
            all
        })
    }

    pub fn list(&self, req: &ListSuggestionsRequest) -> Result<ListSuggestionsResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let kind = SuggestionType::try_from(req.r#type).map_err(|_| invalid("type"))?;
        let min_priority =
            Priority::try_from(req.min_priority).map_err(|_| invalid("min_priority"))?;
        let f = self.ctx.resolve(req.filter.as_ref())?;
        let churn = matches!(
            kind,
            SuggestionType::Unspecified | SuggestionType::ChurnWarning
        );
        let warnings = if churn {
            self.warnings(&f)
        } else {
            Arc::default()
        };
        // Most urgent first, so the wanted priorities are a prefix.
        let total = warnings.partition_point(|(_, w)| w.priority >= min_priority);
        let (state, _) = self.projection.live.read();
        let names = state.book.customers();
        let page: Vec<Suggestion> = warnings[..total]
            .iter()
            .skip(start)
            .take(size)
            .map(|(a, w)| Suggestion {
                customer_id: names.name(a.customer).to_owned(),
                r#type: SuggestionType::ChurnWarning as i32,
                priority: w.priority as i32,
                reason: format!(
                    "no order for {} days, more than twice their usual {:.1} days between orders ({} orders so far)",
                    w.days_since_last_order, w.mean_gap_days, a.orders
                ),
                action: "send a personal win-back offer on their usual channel".into(),
                expected_effect: format!(
                    "win back about {:.0} fen of spend per order",
                    a.revenue as f64 / a.orders as f64
                ),
                days_since_last_order: w.days_since_last_order,
                mean_gap_days: w.mean_gap_days,
                orders: a.orders,
                monetary_fen: a.revenue,
            })
            .collect();
        let end = start + page.len();
        Ok(ListSuggestionsResponse {
            suggestions: page,
            next_page_token: if end < total {
                end.to_string()
            } else {
                String::new()
            },
            total: total as i64,
        })
    }
}

fn invalid(field: &str) -> portrait_service::Error {
    portrait_core::Error::Invalid {
        field: field.into(),
        reason: "unknown value".into(),
    }
    .into()
}

#[tonic::async_trait]
impl SuggestQuery for Suggest {
    async fn list_suggestions(
        &self,
        request: Request<ListSuggestionsRequest>,
    ) -> Result<Response<ListSuggestionsResponse>, Status> {
        Ok(Response::new(self.list(request.get_ref())?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.ctx.status().await?))
    }
}
