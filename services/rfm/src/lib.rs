//! The rfm service: per-customer day rows, and RFM values, quintile scores and
//! the 8 segments computed over them for any filter, from memory.

use std::sync::Arc;

use portrait_core::{ResolvedFilter, RfmTable, Segment, page_size, page_start, rfm_table};
use portrait_proto::v1::rfm_query_server::{RfmQuery, RfmQueryServer};
use portrait_proto::v1::{
    ConsumerStatus, CustomerRfm, Filter, ListRfmRequest, ListRfmResponse, SegmentDistribution,
    SegmentDistributionRequest, SegmentFigure, StatusRequest,
};
use portrait_service::{AnswerCache, Config, CustomerProjection, QueryContext, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    portrait_service::run_consumer_service(
        config,
        listener,
        CustomerProjection::new("rfm"),
        |projection, ctx| {
            tonic::service::Routes::new(RfmQueryServer::new(Rfm {
                projection,
                ctx,
                tables: Arc::new(AnswerCache::new(64)),
            }))
        },
        shutdown,
    )
    .await
}

#[derive(Clone)]
pub struct Rfm {
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    tables: Arc<AnswerCache<ResolvedFilter, RfmTable>>,
}

impl Rfm {
    /// The RFM table of a filter, computed once per state version.
    fn table(&self, filter: Option<&Filter>) -> Result<Arc<RfmTable>> {
        let f = self.ctx.resolve(filter)?;
        let (state, version) = self.projection.live.read();
        Ok(self.tables.get_or(&f, version, || {
            let sel = state.stores.select(&f);
            rfm_table(&state.book.aggs(&sel, f.from, f.to), f.as_of)
        }))
    }

    pub fn segments(&self, filter: Option<&Filter>) -> Result<SegmentDistribution> {
        let t = self.table(filter)?;
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

    pub fn list(&self, req: &ListRfmRequest) -> Result<ListRfmResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let t = self.table(req.filter.as_ref())?;
        let (state, _) = self.projection.live.read();
        let names = state.book.customers();
        let customers: Vec<CustomerRfm> = t
            .customers
            .iter()
            .skip(start)
            .take(size)
            .map(|c| CustomerRfm {
                customer_id: names.name(c.customer).to_owned(),
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
        Ok(Response::new(
            self.segments(request.get_ref().filter.as_ref())?,
        ))
    }

    async fn list_rfm(
        &self,
        request: Request<ListRfmRequest>,
    ) -> Result<Response<ListRfmResponse>, Status> {
        Ok(Response::new(self.list(request.get_ref())?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.ctx.status().await?))
    }
}
