//! The suggest service: marketing suggestions from the order stream. The first
//! rule is the churn warning of `portrait_core::churn_warning`.

use portrait_bus::Bus;
use portrait_core::{Calendar, ResolvedFilter, churn_warning, page_size, page_start};
use portrait_proto::v1::suggest_query_server::{SuggestQuery, SuggestQueryServer};
use portrait_proto::v1::{
    ConsumerStatus, ListSuggestionsRequest, ListSuggestionsResponse, Priority, StatusRequest,
    Suggestion, SuggestionType,
};
use portrait_service::{Config, ConsumerSpec, Result, metrics, now_ms};
use portrait_store::{Store, TableSet};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub const SPEC: ConsumerSpec = ConsumerSpec {
    service: "suggest",
    tables: TableSet {
        customer_days: true,
        hours: false,
        channels: false,
        products: false,
    },
};

pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    let store = portrait_service::open_store(&config.store.url, &SPEC).await?;
    let bus = Bus::connect(&config.bus_config()).await?;
    let suggest = Suggest {
        store: store.clone(),
        bus: bus.clone(),
        calendar: config.calendar(),
        topic: config.topics().orders,
    };
    let routes = tonic::service::Routes::new(SuggestQueryServer::new(suggest));
    portrait_service::run_service(&config, SPEC, bus, store, routes, shutdown).await
}

#[derive(Clone)]
pub struct Suggest {
    store: Store,
    bus: Bus,
    calendar: Calendar,
    topic: String,
}

impl Suggest {
    pub async fn list(&self, req: &ListSuggestionsRequest) -> Result<ListSuggestionsResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let kind = SuggestionType::try_from(req.r#type).map_err(|_| invalid("type"))?;
        let min_priority =
            Priority::try_from(req.min_priority).map_err(|_| invalid("min_priority"))?;
        let f = ResolvedFilter::resolve(req.filter.as_ref(), self.calendar.day(now_ms()))?;
        let mut all: Vec<Suggestion> = Vec::new();
        if matches!(
            kind,
            SuggestionType::Unspecified | SuggestionType::ChurnWarning
        ) {
            let aggs = portrait_store::customer_aggs(self.store.pool(), &f).await?;
            all.extend(aggs.iter().filter_map(|a| {
                let w = churn_warning(a, f.as_of)?;
                (w.priority >= min_priority as i32).then(|| Suggestion {
                    customer_id: a.customer_id.clone(),
                    r#type: SuggestionType::ChurnWarning as i32,
                    priority: w.priority,
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
            }));
        }
        all.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.days_since_last_order.cmp(&a.days_since_last_order))
                .then_with(|| a.customer_id.cmp(&b.customer_id))
        });
        let total = all.len();
        let page: Vec<Suggestion> = all.into_iter().skip(start).take(size).collect();
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
        let _t = metrics::time_query("suggest.list");
        Ok(Response::new(self.list(request.get_ref()).await?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        let status =
            portrait_service::consumer_status("suggest", &self.topic, &self.bus, &self.store)
                .await?;
        Ok(Response::new(status))
    }
}
