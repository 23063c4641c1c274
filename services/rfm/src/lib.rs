//! The rfm service: per-customer day rows, and RFM values, quintile scores and
//! the 8 segments computed over them for any filter, from memory.

use std::sync::Arc;

use portrait_core::{ResolvedFilter, RfmTable, Segment, page_size, rfm_table};
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
            portrait_service::Services::new(RfmQueryServer::new(Rfm {
                projection,
                ctx,
                tables: Arc::new(AnswerCache::new(8)),
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
        let mut sums = [(0_i64, 0_i64); 8];
        for c in &t.customers {
            let slot = &mut sums[c.segment as usize - 1];
            slot.0 += 1;
            slot.1 += c.monetary;
        }
        let segments = Segment::ALL
            .iter()
            .zip(sums)
            .map(|(&s, (customers, revenue))| SegmentFigure {
                segment: s as i32,
                label: s.label().to_owned(),
                customers,
                revenue_fen: revenue,
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

    /// A page in customer-id order; the token is the last id of the previous page.
    pub fn list(&self, req: &ListRfmRequest) -> Result<ListRfmResponse> {
        let size = page_size("page_size", req.page_size)?;
        let segment = segment(req.segment)?;
        let t = self.table(req.filter.as_ref())?;
        let (state, _) = self.projection.live.read();
        let mut page: Vec<(&str, &portrait_core::Rfm)> = Vec::with_capacity(size + 1);
        for (name, id) in state.book.customers().sorted_after(&req.page_token) {
            if let Ok(i) = t.customers.binary_search_by_key(&id, |c| c.customer) {
                if segment.is_some_and(|s| s != t.customers[i].segment) {
                    continue;
                }
                page.push((name, &t.customers[i]));
                if page.len() > size {
                    break;
                }
            }
        }
        let more = page.len() > size;
        page.truncate(size);
        let next_page_token = match page.last() {
            Some((name, _)) if more => (*name).to_owned(),
            _ => String::new(),
        };
        let customers = page
            .into_iter()
            .map(|(name, c)| CustomerRfm {
                customer_id: name.to_owned(),
                recency_days: c.recency_days,
                frequency: c.frequency,
                monetary_fen: c.monetary,
                r_score: c.r_score.into(),
                f_score: c.f_score.into(),
                m_score: c.m_score.into(),
                segment: c.segment as i32,
            })
            .collect();
        Ok(ListRfmResponse {
            customers,
            next_page_token,
        })
    }
}

/// The segment a list asks for; `None` for every segment.
fn segment(value: i32) -> Result<Option<Segment>> {
    if value == 0 {
        return Ok(None);
    }
    match Segment::ALL.iter().find(|s| **s as i32 == value) {
        Some(s) => Ok(Some(*s)),
        None => {
            let reason = format!("unknown segment {value}");
            Err(portrait_core::Error::invalid("segment", reason).into())
        }
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
