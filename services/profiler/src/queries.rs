use portrait_core::ResolvedFilter;
use portrait_proto::v1::profiler_query_server::ProfilerQuery;
use portrait_proto::v1::{
    Channel, ChannelDistribution, ChannelDistributionRequest, ChannelFigure, ConsumerStatus,
    Filter, HourBucket, HourDistribution, HourDistributionRequest, Overview, OverviewRequest,
    ProductFigure, ProductOrder, StatusRequest, TopProducts, TopProductsRequest,
};
use portrait_service::{Error, QueryContext, Result, metrics};
use portrait_store::Sql;
use sqlx::Row;
use tonic::{Request, Response, Status};

pub(crate) const DEFAULT_TOP: i32 = 10;
pub(crate) const MAX_TOP: i32 = 1000;

/// The profiler's query API over its own tables.
#[derive(Clone)]
pub struct Profiler {
    ctx: QueryContext,
}

impl Profiler {
    pub fn new(ctx: QueryContext) -> Self {
        Self { ctx }
    }

    fn resolve(&self, filter: Option<&Filter>) -> Result<ResolvedFilter> {
        self.ctx.resolve(filter)
    }

    async fn ints(&self, sql: &Sql) -> Result<Vec<i64>> {
        let row = sql.query().fetch_one(self.ctx.store.pool()).await?;
        (0..row.len()).map(|i| Ok(row.try_get(i)?)).collect()
    }

    pub async fn overview(&self, filter: Option<&Filter>) -> Result<Overview> {
        let f = self.resolve(filter)?;
        let mut sums = Sql::new(
            "SELECT CAST(COALESCE(SUM(orders), 0) AS BIGINT), CAST(COALESCE(SUM(revenue), 0) AS BIGINT) FROM hours WHERE ",
        );
        sums.stores(&f).push(" AND ").days(f.from, f.to);
        let [orders, revenue] = self.ints(&sums).await?[..] else {
            return Err(Error::Corrupt(
                "the overview sums query returned no row".into(),
            ));
        };
        let distinct = |from| {
            let mut sql = Sql::new(
                "SELECT CAST(COUNT(DISTINCT customer_id) AS BIGINT) FROM customer_days WHERE orders > 0 AND ",
            );
            sql.stores(&f).push(" AND ").days(from, f.to);
            sql
        };
        let active = self.ints(&distinct(f.from)).await?[0];
        let total = self.ints(&distinct(None)).await?[0];
        let mut spend =
            Sql::new("SELECT CAST(COALESCE(SUM(revenue), 0) AS BIGINT) FROM customer_days WHERE ");
        spend
            .stores(&f)
            .push(" AND ")
            .days(None, f.to)
            .push(
                " AND customer_id IN (SELECT customer_id FROM customer_days WHERE orders > 0 AND ",
            )
            .stores(&f)
            .push(" AND ")
            .days(f.from, f.to)
            .push(")");
        let spend = self.ints(&spend).await?[0];
        let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Ok(Overview {
            total_customers: total,
            active_customers: active,
            orders,
            revenue_fen: revenue,
            average_order_value_fen: ratio(revenue, orders),
            lifetime_value_fen: ratio(spend, active),
        })
    }

    pub async fn hours(&self, filter: Option<&Filter>) -> Result<HourDistribution> {
        let f = self.resolve(filter)?;
        let mut sql = Sql::new(
            "SELECT hour, CAST(SUM(orders) AS BIGINT), CAST(SUM(revenue) AS BIGINT) FROM hours WHERE ",
        );
        sql.stores(&f)
            .push(" AND ")
            .days(f.from, f.to)
            .push(" GROUP BY hour");
        let mut hours: Vec<HourBucket> = (0..24)
            .map(|hour| HourBucket {
                hour,
                ..Default::default()
            })
            .collect();
        let rows = sql.query().fetch_all(self.ctx.store.pool()).await?;
        for r in rows {
            let hour: i64 = r.try_get(0)?;
            if let Some(b) = hours.get_mut(hour as usize) {
                b.orders = r.try_get(1)?;
                b.revenue_fen = r.try_get(2)?;
            }
        }
        Ok(HourDistribution { hours })
    }

    pub async fn channels(&self, filter: Option<&Filter>) -> Result<ChannelDistribution> {
        let f = self.resolve(filter)?;
        let mut sql = Sql::new(
            "SELECT channel, CAST(SUM(orders) AS BIGINT), CAST(SUM(revenue) AS BIGINT) FROM channels WHERE ",
        );
        sql.stores(&f)
            .push(" AND ")
            .days(f.from, f.to)
            .push(" GROUP BY channel");
        let mut channels: Vec<ChannelFigure> = (1..)
            .map_while(|n| Channel::try_from(n).ok())
            .map(|c| ChannelFigure {
                channel: c as i32,
                ..Default::default()
            })
            .collect();
        for r in sql.query().fetch_all(self.ctx.store.pool()).await? {
            let channel: i64 = r.try_get(0)?;
            if let Some(c) = channels
                .iter_mut()
                .find(|c| i64::from(c.channel) == channel)
            {
                c.orders = r.try_get(1)?;
                c.revenue_fen = r.try_get(2)?;
            }
        }
        Ok(ChannelDistribution { channels })
    }

    pub async fn top_products(&self, req: &TopProductsRequest) -> Result<TopProducts> {
        let f = self.resolve(req.filter.as_ref())?;
        let limit = match req.limit {
            0 => DEFAULT_TOP,
            n if (1..=MAX_TOP).contains(&n) => n,
            _ => {
                return Err(portrait_core::Error::Invalid {
                    field: "limit".into(),
                    reason: format!("must be between 1 and {MAX_TOP}"),
                }
                .into());
            }
        };
        let order = match ProductOrder::try_from(req.order_by) {
            Ok(ProductOrder::Revenue) => "r DESC, q DESC",
            Ok(_) => "q DESC, r DESC",
            Err(_) => {
                return Err(portrait_core::Error::Invalid {
                    field: "order_by".into(),
                    reason: format!("unknown order {}", req.order_by),
                }
                .into());
            }
        };
        let mut sql = Sql::new(
            "SELECT t.product_id, t.q, t.r, COALESCE(p.name, ''), COALESCE(p.category_id, ''), COALESCE(p.category_name, '') \
             FROM (SELECT product_id, CAST(SUM(quantity) AS BIGINT) AS q, CAST(SUM(revenue) AS BIGINT) AS r \
             FROM product_days WHERE ",
        );
        sql.stores(&f)
            .push(" AND ")
            .days(f.from, f.to)
            .push(
                " GROUP BY product_id HAVING SUM(quantity) <> 0 OR SUM(revenue) <> 0) t \
                   LEFT JOIN products p ON p.product_id = t.product_id ORDER BY ",
            )
            .push(order)
            .push(", t.product_id LIMIT ")
            .bind(i64::from(limit));
        let rows = sql.query().fetch_all(self.ctx.store.pool()).await?;
        let products = rows
            .iter()
            .map(|r| {
                Ok(ProductFigure {
                    product_id: r.try_get(0)?,
                    quantity: r.try_get(1)?,
                    revenue_fen: r.try_get(2)?,
                    product_name: r.try_get(3)?,
                    category_id: r.try_get(4)?,
                    category_name: r.try_get(5)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(TopProducts { products })
    }
}

#[tonic::async_trait]
impl ProfilerQuery for Profiler {
    async fn get_overview(
        &self,
        request: Request<OverviewRequest>,
    ) -> Result<Response<Overview>, Status> {
        let _t = metrics::time_query("profiler.overview");
        Ok(Response::new(
            self.overview(request.get_ref().filter.as_ref()).await?,
        ))
    }

    async fn get_hour_distribution(
        &self,
        request: Request<HourDistributionRequest>,
    ) -> Result<Response<HourDistribution>, Status> {
        let _t = metrics::time_query("profiler.hours");
        Ok(Response::new(
            self.hours(request.get_ref().filter.as_ref()).await?,
        ))
    }

    async fn get_channel_distribution(
        &self,
        request: Request<ChannelDistributionRequest>,
    ) -> Result<Response<ChannelDistribution>, Status> {
        let _t = metrics::time_query("profiler.channels");
        Ok(Response::new(
            self.channels(request.get_ref().filter.as_ref()).await?,
        ))
    }

    async fn get_top_products(
        &self,
        request: Request<TopProductsRequest>,
    ) -> Result<Response<TopProducts>, Status> {
        let _t = metrics::time_query("profiler.top_products");
        Ok(Response::new(self.top_products(request.get_ref()).await?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.ctx.status().await?))
    }
}
