//! The rfm service: per-customer day rows, and RFM values, quintile scores and
//! the 8 segments computed over them for any filter, window and thresholds,
//! from memory.

use std::sync::Arc;

use portrait_core::memory::CustomerState;
use portrait_core::{
    ResolvedFilter, RfmDefaults, RfmOrder, RfmParams, RfmTable, Segment, rfm_table,
};
use portrait_proto::v1::rfm_query_server::{RfmQuery, RfmQueryServer};
use portrait_proto::v1::{
    ConsumerStatus, CustomerRfm, CustomerRfmAnswer, Filter, GetCustomerRfmRequest, ListRfmRequest,
    ListRfmResponse, RfmSettings, RfmThresholds, SegmentDistribution, SegmentDistributionRequest,
    SegmentFigure, StatusRequest,
};
use portrait_service::{AnswerCache, Config, CustomerProjection, QueryContext, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

mod list;
pub mod segments;

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    let defaults = config.rfm.domain();
    let published = RfmParams::resolve(None, &defaults)?;
    let ingest = portrait_service::exchange::peer_channel(
        "gateway.ingest",
        &config.gateway.ingest,
        &config.auth,
        &config.server,
    )?;
    let publisher = (config.clone(), ingest, shutdown.clone());
    portrait_service::run_consumer_service(
        config,
        listener,
        CustomerProjection::new("rfm"),
        |projection, ctx| {
            let (config, ingest, shutdown) = publisher;
            let parts = (projection.clone(), ctx.clone(), ingest);
            // Health also follows the segments relay: NOT_SERVING while it cannot publish.
            let (relaying, relay_health) = tokio::sync::watch::channel(true);
            segments::spawn(&config, published, parts, relaying, shutdown);
            portrait_service::Services::new(RfmQueryServer::new(Rfm {
                projection,
                ctx,
                defaults,
                tables: Arc::new(AnswerCache::new(8)),
                orders: Arc::new(AnswerCache::new(8)),
            }))
            .with_serving(relay_health)
        },
        shutdown,
    )
    .await
}

/// One population: a filter computed with one window and thresholds.
type TableKey = (ResolvedFilter, RfmParams);

#[derive(Clone)]
pub struct Rfm {
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    /// The configuration's `rfm.*`, which requests may override.
    defaults: RfmDefaults,
    tables: Arc<AnswerCache<TableKey, RfmTable>>,
    /// A table's customers in a list order (positions into the table),
    /// so each page of a sorted list is a binary search and a short scan.
    orders: Arc<AnswerCache<(TableKey, RfmOrder), Vec<u32>>>,
}

impl Rfm {
    fn key(&self, filter: Option<&Filter>, settings: Option<&RfmSettings>) -> Result<TableKey> {
        let f = self.ctx.resolve(filter)?;
        Ok((f, RfmParams::resolve(settings, &self.defaults)?))
    }

    /// The RFM table of a filter and settings, computed once per state version.
    fn table(&self, state: &CustomerState, version: u64, key: &TableKey) -> Arc<RfmTable> {
        self.tables.get_or(key, version, || {
            let (f, params) = key;
            let sel = state.stores.select(f);
            let (from, to) = params.clip(f.from, f.to, f.as_of);
            rfm_table(&state.book.aggs(&sel, from, to), f.as_of, params.thresholds)
        })
    }

    pub fn segments(&self, req: &SegmentDistributionRequest) -> Result<SegmentDistribution> {
        let key = self.key(req.filter.as_ref(), req.rfm.as_ref())?;
        let t = {
            let (state, version) = self.projection.live.read();
            self.table(&state, version, &key)
        };
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
            thresholds: Some(thresholds(&t, &key.1)),
        })
    }
}

impl Rfm {
    /// One customer's row of the filter's table (for the gateway's portrait).
    pub fn customer(&self, req: &GetCustomerRfmRequest) -> Result<CustomerRfmAnswer> {
        let key = self.key(req.filter.as_ref(), req.rfm.as_ref())?;
        let (state, version) = self.projection.live.read();
        let names = state.book.customers();
        let Some(c) = names.get(&req.customer_id) else {
            return Err(portrait_service::Error::NotFound {
                field: "customer_id",
                id: req.customer_id.clone(),
            });
        };
        let t = self.table(&state, version, &key);
        // The table keeps the aggregates' order: by dense customer id.
        let rfm = (t.customers.binary_search_by_key(&c, |r| r.customer).ok())
            .map(|i| &t.customers[i])
            .map(|r| CustomerRfm {
                customer_id: req.customer_id.clone(),
                recency_days: r.recency_days,
                frequency: r.frequency,
                monetary_fen: r.monetary,
                r_score: r.r_score.into(),
                f_score: r.f_score.into(),
                m_score: r.m_score.into(),
                segment: r.segment as i32,
            });
        Ok(CustomerRfmAnswer {
            rfm,
            thresholds: Some(thresholds(&t, &key.1)),
        })
    }
}

/// What an answer's segments compare against, as the API states it.
pub(crate) fn thresholds(t: &RfmTable, params: &RfmParams) -> RfmThresholds {
    let th = &t.thresholds;
    RfmThresholds {
        kind: th.kind.proto() as i32,
        recency_days: th.recency_days.value(),
        frequency: th.frequency.value(),
        monetary_fen: th.monetary_fen.value(),
        window_days: params.window_days as i32,
    }
}

#[tonic::async_trait]
impl RfmQuery for Rfm {
    async fn get_segment_distribution(
        &self,
        request: Request<SegmentDistributionRequest>,
    ) -> Result<Response<SegmentDistribution>, Status> {
        Ok(Response::new(self.segments(request.get_ref())?))
    }

    async fn list_rfm(
        &self,
        request: Request<ListRfmRequest>,
    ) -> Result<Response<ListRfmResponse>, Status> {
        Ok(Response::new(self.list(request.get_ref())?))
    }

    async fn get_customer_rfm(
        &self,
        request: Request<GetCustomerRfmRequest>,
    ) -> Result<Response<CustomerRfmAnswer>, Status> {
        Ok(Response::new(self.customer(request.get_ref())?))
    }

    async fn get_status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<ConsumerStatus>, Status> {
        Ok(Response::new(self.ctx.status().await?))
    }
}
