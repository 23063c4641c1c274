//! The rfm service: per-customer day rows, and RFM values, quintile scores and
//! the 8 segments computed over them for any filter.

use portrait_core::{RfmTable, Segment, page_size, page_start, rfm_table};
use portrait_proto::v1::rfm_query_server::{RfmQuery, RfmQueryServer};
use portrait_proto::v1::{
    ConsumerStatus, CustomerRfm, Filter, ListRfmRequest, ListRfmResponse, SegmentDistribution,
    SegmentDistributionRequest, SegmentFigure, StatusRequest,
};
use portrait_service::{Config, ConsumerSpec, QueryContext, Result, metrics};
use portrait_store::TableSet;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub const SPEC: ConsumerSpec = ConsumerSpec {
    service: "rfm",
    tables: TableSet::CUSTOMER_DAYS,
};

pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    portrait_service::run_consumer_service(
        config,
        SPEC,
        |ctx| tonic::service::Routes::new(RfmQueryServer::new(Rfm { ctx })),
        shutdown,
    )
    .await
}

#[derive(Clone)]
pub struct Rfm {
    ctx: QueryContext,
}

impl Rfm {
    async fn table(&self, filter: Option<&Filter>) -> Result<RfmTable> {
        let f = self.ctx.resolve(filter)?;
        let aggs = portrait_store::customer_aggs(self.ctx.store.pool(), &f).await?;
        Ok(rfm_table(&aggs, f.as_of))
    }

    pub async fn segments(&self, filter: Option<&Filter>) -> Result<SegmentDistribution> {
        let t = self.table(filter).await?;
        let segments = Segment::ALL
            .iter()
            .map(|&s| {
                let members = t.customers.iter().filter(|c| c.segment == s);
                SegmentFigure {
                    segment: s as i32,
                    label: s.label().to_owned(),
                    customers: members.clone().count() as i64,
                    revenue_fen: members.map(|c| c.monetary).sum(),
                }
            })
            .collect();
        Ok(SegmentDistribution {
            segments,
            customers: t.customers.len() as i64,
            mean_recency_days: t.mean_recency_days,
            mean_frequency: t.mean_frequency,
            mean_monetary_fen: t.mean_monetary,
        })
    }

    pub async fn list(&self, req: &ListRfmRequest) -> Result<ListRfmResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let t = self.table(req.filter.as_ref()).await?;
        let customers: Vec<CustomerRfm> = t
            .customers
            .iter()
            .skip(start)
            .take(size)
            .map(|c| CustomerRfm {
                customer_id: c.customer_id.clone(),
                recency_days: c.recency_days,
                frequency: c.frequency,
                monetary_fen: c.monetary,
                r_score: c.r_score.into(),
                f_score: c.f_score.into(),
                m_score: c.m_score.into(),
                segment: c.segment as i32,
            })
            .collect();
        let end = start + customers.len();
        Ok(ListRfmResponse {
            customers,
            next_page_token: if end < t.customers.len() {
                end.to_string()
            } else {
                String::new()
            },
        })
    }
}

#[tonic::async_trait]
impl RfmQuery for Rfm {
    async fn get_segment_distribution(
        &self,
        request: Request<SegmentDistributionRequest>,
    ) -> Result<Response<SegmentDistribution>, Status> {
        let _t = metrics::time_query("rfm.segments");
        Ok(Response::new(
            self.segments(request.get_ref().filter.as_ref()).await?,
        ))
    }

    async fn list_rfm(
        &self,
        request: Request<ListRfmRequest>,
    ) -> Result<Response<ListRfmResponse>, Status> {
        let _t = metrics::time_query("rfm.list");
        Ok(Response::new(self.list(request.get_ref()).await?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.ctx.status().await?))
    }
}
