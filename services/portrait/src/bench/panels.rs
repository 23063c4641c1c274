//! The dashboard panels, timed through the gateway for each filter.

use std::time::{Duration, Instant};

use anyhow::Context;
use portrait_proto::v1::{
    ChannelDistributionRequest, CustomerPreferencesRequest, Filter, GetCustomerRequest,
    HourDistributionRequest, ListCustomerDaysRequest, ListCustomersRequest, ListRfmRequest,
    ListSuggestionsRequest, Overview, OverviewRequest, SegmentDistributionRequest,
    TopProductsRequest,
};
use portrait_synth::Chain;
use serde::Serialize;

use super::report::date;
use super::stack::Endpoints;

pub(crate) const PANELS: [&str; 13] = [
    "overview",
    "segments",
    "hours",
    "channels",
    "top-10 products",
    "first RFM page",
    "first suggestions page",
    "customer profile",
    "customer days",
    "customer preferences",
    "customer list page",
    "group patterns by segment",
    "summary by channel",
];

/// A named filter; serialised for the DuckDB script, which applies the same rule.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct NamedFilter {
    pub(crate) name: String,
    #[serde(skip)]
    pub(crate) filter: Filter,
    pub(crate) store_ids: Vec<String>,
    pub(crate) cities: Vec<String>,
    pub(crate) from_date: Option<String>,
    pub(crate) to_date: Option<String>,
    pub(crate) as_of_date: String,
    /// The customer of the customer panels: the first one with an order in
    /// the filter, found when the panels are measured.
    pub(crate) customer_id: String,
}

fn named(
    name: String,
    store_ids: Vec<String>,
    cities: Vec<String>,
    from: Option<i64>,
    to: Option<i64>,
    as_of: i64,
) -> NamedFilter {
    let filter = Filter {
        store_ids: store_ids.clone(),
        cities: cities.clone(),
        from_date: from.map(date).unwrap_or_default(),
        to_date: to.map(date).unwrap_or_default(),
        as_of_date: date(as_of),
    };
    NamedFilter {
        name,
        store_ids,
        cities,
        from_date: from.map(date),
        to_date: to.map(date),
        as_of_date: date(as_of),
        customer_id: String::new(),
        filter,
    }
}

/// No filter; one city; one store and its last 90 days; all stores and a
/// 30-day range in the middle of the period. `today` is the local day number
/// after the last generated day; every filter is as of it, so a run that
/// crosses midnight still asks the same question.
pub(crate) fn filters(chain: &Chain, today: i64, days: u32) -> Vec<NamedFilter> {
    let store = &chain.stores[0];
    let days = i64::from(days);
    let mid = today - days / 2 - 15;
    vec![
        named("no filter".into(), vec![], vec![], None, None, today),
        named(
            format!("city {}", store.city),
            vec![],
            vec![store.city.clone()],
            None,
            None,
            today,
        ),
        named(
            format!("store {}, last 90 days", store.id),
            vec![store.id.clone()],
            vec![],
            Some(today - 90),
            None,
            today,
        ),
        named(
            format!("all stores, {} to {}", date(mid), date(mid + 30)),
            vec![],
            vec![],
            Some(mid),
            Some(mid + 30),
            today,
        ),
    ]
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Timing {
    pub(crate) first: Duration,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) errors: usize,
}

/// Nearest-rank percentile of sorted samples.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Timings by panel then filter, and the overview each filter answered.
#[derive(Clone, Debug, Default)]
pub(crate) struct Measured {
    pub(crate) timings: Vec<Vec<Timing>>,
    pub(crate) overviews: Vec<Overview>,
}

pub(crate) async fn overview(at: &Endpoints, filter: &Filter) -> anyhow::Result<Overview> {
    let mut client = at.gateway().await?;
    Ok(client
        .get_overview(OverviewRequest {
            filter: Some(filter.clone()),
        })
        .await
        .context("failed to read the overview")?
        .into_inner())
}

pub(crate) async fn measure(
    at: &Endpoints,
    filters: &mut [NamedFilter],
    calls: usize,
) -> anyhow::Result<Measured> {
    let mut client = at.gateway().await?;
    for f in filters.iter_mut() {
        let first = client
            .list_rfm(ListRfmRequest {
                filter: Some(f.filter.clone()),
                page_size: 1,
                ..Default::default()
            })
            .await
            .context("failed to find a customer for the customer panels")?
            .into_inner();
        f.customer_id =
            (first.customers.first()).map_or_else(|| "c-000001".into(), |c| c.customer_id.clone());
    }
    let filters = &*filters;
    let mut measured = Measured::default();
    let bar = crate::follow::progress(
        (PANELS.len() * filters.len() * calls) as u64,
        "timing panels",
    );
    for panel in 0..PANELS.len() {
        let mut row = Vec::new();
        for f in filters {
            let filter = Some(f.filter.clone());
            let mut samples = Vec::with_capacity(calls);
            let mut errors = 0;
            for _ in 0..calls {
                let started = Instant::now();
                let ok = match panel {
                    0 => client
                        .get_overview(OverviewRequest {
                            filter: filter.clone(),
                        })
                        .await
                        .is_ok(),
                    1 => client
                        .get_segment_distribution(SegmentDistributionRequest {
                            filter: filter.clone(),
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    2 => client
                        .get_hour_distribution(HourDistributionRequest {
                            filter: filter.clone(),
                        })
                        .await
                        .is_ok(),
                    3 => client
                        .get_channel_distribution(ChannelDistributionRequest {
                            filter: filter.clone(),
                        })
                        .await
                        .is_ok(),
                    4 => client
                        .get_top_products(TopProductsRequest {
                            filter: filter.clone(),
                            limit: 10,
                            order_by: 0,
                        })
                        .await
                        .is_ok(),
                    5 => client
                        .list_rfm(ListRfmRequest {
                            filter: filter.clone(),
                            page_size: 100,
                            page_token: String::new(),
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    6 => client
                        .list_suggestions(ListSuggestionsRequest {
                            filter: filter.clone(),
                            page_size: 100,
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    7 => client
                        .get_customer(GetCustomerRequest {
                            customer_id: f.customer_id.clone(),
                            filter: filter.clone(),
                        })
                        .await
                        .is_ok(),
                    8 => client
                        .list_customer_days(ListCustomerDaysRequest {
                            customer_id: f.customer_id.clone(),
                            filter: filter.clone(),
                            page_size: 100,
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    9 => client
                        .get_customer_preferences(CustomerPreferencesRequest {
                            customer_id: f.customer_id.clone(),
                            filter: filter.clone(),
                            limit: 20,
                        })
                        .await
                        .is_ok(),
                    10 => client
                        .list_customers(ListCustomersRequest {
                            filter: filter.clone(),
                            page_size: 100,
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    // Cached per version: the first call is the uncached one.
                    11 => client
                        .get_group_patterns(portrait_proto::v1::GroupPatternsRequest {
                            filter: filter.clone(),
                            dimension: portrait_proto::v1::SummaryDimension::Segment as i32,
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    _ => client
                        .get_portrait_summary(portrait_proto::v1::PortraitSummaryRequest {
                            filter: filter.clone(),
                            dimension: portrait_proto::v1::SummaryDimension::Channel as i32,
                        })
                        .await
                        .is_ok(),
                };
                samples.push(started.elapsed());
                errors += usize::from(!ok);
                bar.inc(1);
            }
            row.push(timing(samples, errors));
        }
        measured.timings.push(row);
    }
    bar.finish_and_clear();
    for f in filters {
        measured.overviews.push(overview(at, &f.filter).await?);
    }
    Ok(measured)
}

pub(crate) fn timing(samples: Vec<Duration>, errors: usize) -> Timing {
    let first = samples.first().copied().unwrap_or_default();
    let mut sorted = samples;
    sorted.sort();
    Timing {
        first,
        p50: percentile(&sorted, 0.5),
        p99: percentile(&sorted, 0.99),
        errors,
    }
}
