use std::sync::Arc;

use portrait_core::memory::{BasketCounts, Selection};
use portrait_core::{Error as DomainError, ProductAcc, ResolvedFilter};
use portrait_proto::v1::profiler_query_server::ProfilerQuery;
use portrait_proto::v1::{
    Anomaly, Associations, AssociationsRequest, CategoryFigure, Channel, ChannelDistribution,
    ChannelDistributionRequest, ChannelFigure, Clusters, ConsumerStatus, CustomerBehaviour,
    CustomerBehaviourRequest, CustomerLabels, CustomerPreferences, CustomerPreferencesRequest,
    ExportRequest, Filter, GetClustersRequest, HourBucket, HourDistribution,
    HourDistributionRequest, ListAnomaliesRequest, ListAnomaliesResponse, ListCustomerDaysRequest,
    ListCustomerDaysResponse, ListStoresRequest, ListStoresResponse, Overview, OverviewRequest,
    PortraitSummary, PortraitSummaryRequest, ProductFigure, ProductOrder, RecomputeClustersRequest,
    StatusRequest, StoreSummary, TopCategories, TopCategoriesRequest, TopProducts,
    TopProductsRequest, WeekdayHourBucket,
};
use portrait_service::{AnswerCache, QueryContext, Result};
use tonic::{Request, Response, Status};

use crate::ProfilerProjection;
use crate::projection::State;

mod associations;
mod cross_sell;
mod window;

pub(crate) const DEFAULT_TOP: i32 = 10;

/// A Monday-first 7 × 24 grid as buckets, Monday 00:00 first.
pub(crate) fn week_buckets(week: &[[portrait_core::Acc; 24]; 7]) -> Vec<WeekdayHourBucket> {
    (1..)
        .zip(week)
        .flat_map(|(weekday, hours)| {
            (0..).zip(hours).map(move |(hour, a)| WeekdayHourBucket {
                weekday,
                hour,
                orders: a.orders,
                revenue_fen: a.revenue,
            })
        })
        .collect()
}
pub(crate) const MAX_TOP: i32 = 1000;

/// The profiler's query API, answered from its serving state.
#[derive(Clone)]
pub struct Profiler {
    pub(crate) projection: Arc<ProfilerProjection>,
    pub(crate) ctx: QueryContext,
    overviews: Arc<AnswerCache<ResolvedFilter, Overview>>,
    pub(crate) summaries: Arc<AnswerCache<crate::summary::SummaryKey, PortraitSummary>>,
    pub(crate) clusters: Arc<crate::ClusterBook>,
    /// The suggest service's model scores (the summary's predicted CLV).
    pub(crate) scores: Arc<crate::scores::ScoreBook>,
    /// `rfm.*` from the configuration: the segments of the summary.
    pub(crate) rfm: portrait_core::RfmParams,
    /// Association counts per (filter, over customers): several stores over
    /// customers are counted from every chosen customer's set.
    association_counts: Arc<AnswerCache<(ResolvedFilter, bool), BasketCounts>>,
    /// Group patterns per (filter, dimension, clusters' generation).
    pub(crate) patterns: Arc<AnswerCache<crate::patterns::PatternsKey, crate::patterns::Full>>,
    /// One scan of the portrait tables for a group answer at a time: each
    /// holds a connection of the store's pool (4 on SQLite) for seconds, and
    /// the consumer and the one-customer queries need theirs.
    pub(crate) scans: Arc<tokio::sync::Mutex<()>>,
    /// Customers' unusual orders per (filter, least |score|), read from SQL.
    pub(crate) unusual_orders: Arc<AnswerCache<crate::anomaly::OrdersKey, Vec<Anomaly>>>,
}

impl Profiler {
    pub fn new(
        projection: Arc<ProfilerProjection>,
        ctx: QueryContext,
        rfm: portrait_core::RfmParams,
    ) -> Self {
        Self {
            rfm,
            clusters: Arc::new(crate::ClusterBook::new(projection.clone(), ctx.clone())),
            scores: Arc::default(),
            projection,
            ctx,
            overviews: Arc::new(AnswerCache::new(256)),
            summaries: Arc::new(AnswerCache::new(64)),
            association_counts: Arc::new(AnswerCache::new(64)),
            patterns: Arc::new(AnswerCache::new(32)),
            scans: Arc::new(tokio::sync::Mutex::new(())),
            unusual_orders: Arc::new(AnswerCache::new(64)),
        }
    }

    /// Resolves the filter and runs `answer` on the state it selects.
    pub(crate) fn with<T>(
        &self,
        filter: Option<&Filter>,
        answer: impl FnOnce(&State, &ResolvedFilter, &Selection, u64) -> T,
    ) -> Result<T> {
        let f = self.ctx.resolve(filter)?;
        let (state, version) = self.projection.live.read();
        let sel = state.customers.stores.select(&f);
        Ok(answer(&state, &f, &sel, version))
    }

    pub fn overview(&self, filter: Option<&Filter>) -> Result<Overview> {
        self.with(filter, |s, f, sel, version| {
            let o = self.overviews.get_or(f, version, || {
                let hours = s.days.hours(sel, f.from, f.to);
                let (mut orders, mut revenue) = (0, 0);
                for h in hours {
                    orders += h.orders;
                    revenue += h.revenue;
                }
                let reach = s.customers.book.reach(sel, f.from, f.to);
                let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                Overview {
                    total_customers: reach.total,
                    active_customers: reach.active,
                    orders,
                    revenue_fen: revenue,
                    average_order_value_fen: ratio(revenue, orders),
                    lifetime_value_fen: ratio(reach.active_spend, reach.active),
                }
            });
            *o
        })
    }

    pub fn hours(&self, filter: Option<&Filter>) -> Result<HourDistribution> {
        self.with(filter, |s, f, sel, _| HourDistribution {
            hours: (0..)
                .zip(s.days.hours(sel, f.from, f.to))
                .map(|(hour, a)| HourBucket {
                    hour,
                    orders: a.orders,
                    revenue_fen: a.revenue,
                })
                .collect(),
            weekday_hours: week_buckets(&s.days.weekday_hours(sel, f.from, f.to)),
        })
    }

    pub fn channels(&self, filter: Option<&Filter>) -> Result<ChannelDistribution> {
        self.with(filter, |s, f, sel, _| {
            let sums = s.days.channels(sel, f.from, f.to);
            ChannelDistribution {
                channels: (1..)
                    .map_while(|n| Channel::try_from(n).ok())
                    .map(|c| {
                        let a = sums.get(c as usize).copied().unwrap_or_default();
                        ChannelFigure {
                            channel: c as i32,
                            orders: a.orders,
                            revenue_fen: a.revenue,
                        }
                    })
                    .collect(),
            }
        })
    }

    pub fn top_products(&self, req: &TopProductsRequest) -> Result<TopProducts> {
        let (limit, by_revenue) = ranking(req.limit, req.order_by)?;
        self.with(req.filter.as_ref(), |s, f, sel, _| {
            let sums = s.days.products(sel, f.from, f.to);
            let products = top(sums, limit, by_revenue, |p| s.days.product(p).0)
                .map(|(p, a)| {
                    let (id, info) = s.days.product(p);
                    ProductFigure {
                        product_id: id.to_owned(),
                        product_name: info.name.clone(),
                        category_id: info.category_id.clone(),
                        category_name: info.category_name.clone(),
                        quantity: a.quantity,
                        revenue_fen: a.revenue,
                    }
                })
                .collect();
            TopProducts { products }
        })
    }

    pub fn top_categories(&self, req: &TopCategoriesRequest) -> Result<TopCategories> {
        let (limit, by_revenue) = ranking(req.limit, req.order_by)?;
        self.with(req.filter.as_ref(), |s, f, sel, _| {
            let sums = s.days.categories(sel, f.from, f.to);
            let categories = top(sums, limit, by_revenue, |c| s.days.category(c).0)
                .map(|(c, a)| {
                    let (id, name) = s.days.category(c);
                    CategoryFigure {
                        category_id: id.to_owned(),
                        category_name: name.to_owned(),
                        quantity: a.quantity,
                        revenue_fen: a.revenue,
                    }
                })
                .collect();
            TopCategories { categories }
        })
    }

    /// Every store seen, with its latest name and city: what a filter can name.
    pub fn stores(&self) -> ListStoresResponse {
        let (state, _) = self.projection.live.read();
        let stores = state
            .customers
            .stores
            .sorted()
            .map(|(id, info)| StoreSummary {
                store_id: id.to_owned(),
                name: info.name.clone(),
                city: info.city.clone(),
            })
            .collect();
        ListStoresResponse { stores }
    }
}

/// A ranking request's limit: 0 = the default, else 1 to `MAX_TOP`.
fn ranking_limit(limit: i32) -> Result<usize> {
    items_limit(limit, DEFAULT_TOP, MAX_TOP)
}

/// A request's `limit`: 0 = `default`, else 1 to `max`.
pub(crate) fn items_limit(limit: i32, default: i32, max: i32) -> Result<usize> {
    match limit {
        0 => Ok(default as usize),
        n if (1..=max).contains(&n) => Ok(n as usize),
        _ => {
            let reason = format!("must be 0 (= {default}) to {max}");
            Err(DomainError::invalid("limit", reason).into())
        }
    }
}

/// A ranking request's limit and whether it ranks by revenue.
fn ranking(limit: i32, order_by: i32) -> Result<(usize, bool)> {
    let limit = ranking_limit(limit)?;
    match ProductOrder::try_from(order_by) {
        Ok(order) => Ok((limit, order == ProductOrder::Revenue)),
        Err(_) => {
            let reason = format!("unknown order {order_by}");
            Err(DomainError::invalid("order_by", reason).into())
        }
    }
}

/// The best `limit` items: by one measure, then the other, then by id.
fn top<'a>(
    mut sums: Vec<(u32, ProductAcc)>,
    limit: usize,
    by_revenue: bool,
    id: impl Fn(u32) -> &'a str,
) -> impl Iterator<Item = (u32, ProductAcc)> {
    let key = |a: &ProductAcc| {
        if by_revenue {
            (a.revenue, a.quantity)
        } else {
            (a.quantity, a.revenue)
        }
    };
    sums.sort_by(|(p, a), (q, b)| key(b).cmp(&key(a)).then_with(|| id(*p).cmp(id(*q))));
    sums.into_iter().take(limit)
}

#[tonic::async_trait]
impl ProfilerQuery for Profiler {
    async fn get_overview(
        &self,
        request: Request<OverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        Ok(Response::new(
            self.overview(request.get_ref().filter.as_ref())?,
        ))
    }

    async fn get_hour_distribution(
        &self,
        request: Request<HourDistributionRequest>,
    ) -> Result<Response<HourDistribution>, Status> {
        Ok(Response::new(
            self.hours(request.get_ref().filter.as_ref())?,
        ))
    }

    async fn get_channel_distribution(
        &self,
        request: Request<ChannelDistributionRequest>,
    ) -> Result<Response<ChannelDistribution>, Status> {
        Ok(Response::new(
            self.channels(request.get_ref().filter.as_ref())?,
        ))
    }

    async fn get_top_products(
        &self,
        request: Request<TopProductsRequest>,
    ) -> Result<Response<TopProducts>, Status> {
        Ok(Response::new(self.top_products(request.get_ref())?))
    }

    async fn get_top_categories(
        &self,
        request: Request<TopCategoriesRequest>,
    ) -> Result<Response<TopCategories>, Status> {
        Ok(Response::new(self.top_categories(request.get_ref())?))
    }

    async fn list_stores(
        &self,
        _request: Request<ListStoresRequest>,
    ) -> Result<Response<ListStoresResponse>, Status> {
        Ok(Response::new(self.stores()))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.ctx.status().await?))
    }

    async fn get_customer_behaviour(
        &self,
        request: Request<CustomerBehaviourRequest>,
    ) -> Result<Response<CustomerBehaviour>, Status> {
        Ok(Response::new(
            self.customer_behaviour(request.get_ref()).await?,
        ))
    }

    async fn list_customer_days(
        &self,
        request: Request<ListCustomerDaysRequest>,
    ) -> Result<Response<ListCustomerDaysResponse>, Status> {
        Ok(Response::new(self.customer_days(request.get_ref()).await?))
    }

    async fn get_customer_preferences(
        &self,
        request: Request<CustomerPreferencesRequest>,
    ) -> Result<Response<CustomerPreferences>, Status> {
        Ok(Response::new(
            self.customer_preferences(request.get_ref()).await?,
        ))
    }

    async fn list_anomalies(
        &self,
        request: Request<ListAnomaliesRequest>,
    ) -> Result<Response<ListAnomaliesResponse>, Status> {
        Ok(Response::new(self.anomalies(request.get_ref()).await?))
    }

    async fn get_portrait_summary(
        &self,
        request: Request<PortraitSummaryRequest>,
    ) -> Result<Response<PortraitSummary>, Status> {
        Ok(Response::new(self.summary(request.get_ref()).await?))
    }

    async fn get_clusters(
        &self,
        _request: Request<GetClustersRequest>,
    ) -> Result<Response<Clusters>, Status> {
        Ok(Response::new(self.clusters.answer()))
    }

    async fn recompute_clusters(
        &self,
        request: Request<RecomputeClustersRequest>,
    ) -> Result<Response<Clusters>, Status> {
        let day = request.get_ref().as_of_date.as_str();
        Ok(Response::new(self.clusters.recompute(Some(day)).await?))
    }

    async fn export_customer_labels(
        &self,
        request: Request<ExportRequest>,
    ) -> Result<Response<CustomerLabels>, Status> {
        Ok(Response::new(self.clusters.export(request.get_ref())?))
    }

    async fn get_associations(
        &self,
        request: Request<AssociationsRequest>,
    ) -> Result<Response<Associations>, Status> {
        Ok(Response::new(self.associations(request.get_ref()).await?))
    }

    async fn get_group_patterns(
        &self,
        request: Request<portrait_proto::v1::GroupPatternsRequest>,
    ) -> Result<Response<portrait_proto::v1::GroupPatterns>, Status> {
        Ok(Response::new(self.group_patterns(request.get_ref()).await?))
    }

    async fn get_cross_sell(
        &self,
        request: Request<portrait_proto::v1::CrossSellRequest>,
    ) -> Result<Response<portrait_proto::v1::CrossSell>, Status> {
        Ok(Response::new(self.cross_sell(request.get_ref()).await?))
    }
}
