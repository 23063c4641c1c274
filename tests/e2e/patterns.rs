//! Group patterns (per RFM segment and per cluster) and the summary by channel
//! and by hour band, through the gateway, against SQL over the raw accepted
//! orders. The groups' members are the oracle's own segments (SQL) and each
//! customer's cluster as the gateway states it (k-means is checked in
//! clusters.rs); every figure of a group is then plain SQL.

use std::collections::BTreeMap;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    GetCustomerRequest, GroupPattern, GroupPatternsRequest, HourBucket, PatternChannel,
    PatternItem, PortraitSummaryRequest, SummaryDimension, SummaryGroup, WeekdayHourBucket,
};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::{BEFORE_END, FROM, IN_STORES, Oracle, Q};

/// Top items asked for.
const LIMIT: i32 = 4;

/// The known customers' orders inside the filter, each with its group ($6
/// customers, $7 their groups).
fn grouped() -> String {
    format!(
        "WITH m AS (SELECT * FROM unnest($6::text[], $7::text[]) AS m(customer_id, g)), \
         o AS (SELECT m.g, raw.* FROM raw JOIN m USING (customer_id) \
               WHERE customer_id <> '' AND {IN_STORES} AND {FROM} AND {BEFORE_END})"
    )
}

#[derive(Default)]
struct Want {
    customers: i64,
    orders: i64,
    spend: i64,
    hours: [(i64, i64); 24],
    week: [[(i64, i64); 24]; 7],
    channels: [(i64, i64); 5],
    /// (orders, quantity, spend) by id.
    categories: BTreeMap<String, (i64, i64, i64)>,
    products: BTreeMap<String, (i64, i64, i64)>,
}

/// Every group's figures for a customer → group map.
async fn sums(
    oracle: &Oracle,
    q: &Q,
    members: &BTreeMap<String, String>,
) -> BTreeMap<String, Want> {
    let (ids, groups): (Vec<String>, Vec<String>) =
        members.iter().map(|(c, g)| (c.clone(), g.clone())).unzip();
    let mut out: BTreeMap<String, Want> = BTreeMap::new();
    let with = grouped();
    let run = |sql: String| {
        let (ids, groups) = (ids.clone(), groups.clone());
        async move {
            Oracle::query(&sql, q)
                .bind(ids)
                .bind(groups)
                .fetch_all(&oracle.pool)
                .await
                .expect("patterns oracle")
        }
    };
    for r in run(format!(
        "{with} SELECT g, COUNT(DISTINCT customer_id), COUNT(*), SUM(amount)::bigint FROM o GROUP BY g"
    ))
    .await
    {
        let w = out.entry(r.get(0)).or_default();
        (w.customers, w.orders, w.spend) = (r.get(1), r.get(2), r.get(3));
    }
    for r in run(format!(
        "{with} SELECT g, EXTRACT(ISODOW FROM day)::int, hour, channel, COUNT(*), SUM(amount)::bigint \
         FROM o GROUP BY 1, 2, 3, 4"
    ))
    .await
    {
        let w = out.entry(r.get(0)).or_default();
        let (weekday, hour, channel): (i32, i32, i32) = (r.get(1), r.get(2), r.get(3));
        let (n, s): (i64, i64) = (r.get(4), r.get(5));
        for slot in [
            &mut w.hours[hour as usize],
            &mut w.week[weekday as usize - 1][hour as usize],
            &mut w.channels[channel as usize - 1],
        ] {
            slot.0 += n;
            slot.1 += s;
        }
    }
    for (column, products) in [("category_id", false), ("product_id", true)] {
        for r in run(format!(
            "{with} SELECT o.g, l.{column}, COUNT(DISTINCT o.order_id), SUM(l.quantity)::bigint, \
             SUM(l.amount)::bigint FROM o JOIN raw_lines l USING (order_id) GROUP BY 1, 2"
        ))
        .await
        {
            let w = out.entry(r.get(0)).or_default();
            let items = if products {
                &mut w.products
            } else {
                &mut w.categories
            };
            items.insert(r.get(1), (r.get(2), r.get(3), r.get(4)));
        }
    }
    out
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn items(
    mine: &BTreeMap<String, (i64, i64, i64)>,
    all: &BTreeMap<String, (i64, i64, i64)>,
    line: i64,
    all_line: i64,
) -> Vec<PatternItem> {
    let mut list: Vec<(&String, &(i64, i64, i64))> = mine.iter().collect();
    // BTreeMap order is byte order: a stable sort by spend keeps ids ascending.
    list.sort_by_key(|item| std::cmp::Reverse(item.1.2));
    list.truncate(LIMIT as usize);
    (list.into_iter())
        .map(|(id, &(orders, quantity, spend))| {
            let spend_share = ratio(spend, line);
            let all_share = ratio(all.get(id).map_or(0, |a| a.2), all_line);
            PatternItem {
                id: id.clone(),
                name: String::new(),
                orders,
                quantity,
                spend_fen: spend,
                spend_share,
                all_share,
                lift: if all_share > 0.0 {
                    spend_share / all_share
                } else {
                    0.0
                },
            }
        })
        .collect()
}

fn expected(key: &str, w: &Want, all: &Want) -> GroupPattern {
    let line = |w: &Want| w.products.values().map(|p| p.2).sum::<i64>();
    let (mine, everyone) = (line(w), line(all));
    GroupPattern {
        key: key.to_owned(),
        label: String::new(),
        customers: w.customers,
        orders: w.orders,
        spend_fen: w.spend,
        hours: (0..)
            .zip(w.hours)
            .map(|(hour, (orders, revenue_fen))| HourBucket {
                hour,
                orders,
                revenue_fen,
            })
            .collect(),
        weekday_hours: (1..)
            .zip(w.week)
            .flat_map(|(weekday, hours)| {
                (0..)
                    .zip(hours)
                    .map(move |(hour, (orders, revenue_fen))| WeekdayHourBucket {
                        weekday,
                        hour,
                        orders,
                        revenue_fen,
                    })
            })
            .collect(),
        channels: (1..)
            .zip(w.channels)
            .map(|(channel, (orders, spend_fen))| PatternChannel {
                channel,
                orders,
                spend_fen,
                order_share: ratio(orders, w.orders),
            })
            .collect(),
        line_spend_fen: mine,
        categories: items(&w.categories, &all.categories, mine, everyone),
        products: items(&w.products, &all.products, mine, everyone),
    }
}

/// The answer without names and labels, which the oracle does not keep.
fn unnamed(mut g: GroupPattern) -> GroupPattern {
    g.label.clear();
    for i in g.categories.iter_mut().chain(g.products.iter_mut()) {
        i.name.clear();
    }
    g
}

async fn ask(
    gateway: &mut PortraitServiceClient<Channel>,
    q: &Q,
    dimension: SummaryDimension,
    key: &str,
) -> Result<portrait_proto::v1::GroupPatterns, tonic::Status> {
    let request = GroupPatternsRequest {
        filter: Some(q.filter()),
        dimension: dimension as i32,
        key: key.to_owned(),
        limit: LIMIT,
        without_items: false,
    };
    let answer = gateway.get_group_patterns(request).await?.into_inner();
    assert!(!answer.items_omitted, "items asked for");
    Ok(answer)
}

/// The answer without items is the full one less its categories, products
/// and line spend, and says so; asked before and after the full one, which
/// it may be cut from.
async fn assert_without_items(
    gateway: &mut PortraitServiceClient<Channel>,
    q: &Q,
    dimension: SummaryDimension,
    want_total: &GroupPattern,
    want: &[GroupPattern],
) {
    let cut = |g: &GroupPattern| GroupPattern {
        categories: Vec::new(),
        products: Vec::new(),
        line_spend_fen: 0,
        ..g.clone()
    };
    let request = GroupPatternsRequest {
        filter: Some(q.filter()),
        dimension: dimension as i32,
        without_items: true,
        ..Default::default()
    };
    let answer = (gateway.get_group_patterns(request).await)
        .expect("group patterns without items")
        .into_inner();
    assert!(
        answer.items_omitted,
        "{dimension:?} for {q:?}: items_omitted"
    );
    assert_eq!(
        answer.total.as_ref().map(|t| unnamed(t.clone())),
        Some(cut(want_total)),
        "{dimension:?} total without items for {q:?}"
    );
    let got: Vec<GroupPattern> = answer.groups.into_iter().map(unnamed).collect();
    let want: Vec<GroupPattern> = want.iter().map(cut).collect();
    assert_eq!(got, want, "{dimension:?} patterns without items for {q:?}");
}

async fn assert_dimension(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
    dimension: SummaryDimension,
    members: BTreeMap<String, String>,
) {
    let everyone: BTreeMap<String, String> =
        members.keys().map(|c| (c.clone(), String::new())).collect();
    let all = sums(oracle, q, &everyone)
        .await
        .remove("")
        .unwrap_or_default();
    assert!(
        all.orders > 0,
        "no order in {q:?}: the test would prove nothing"
    );
    let groups = sums(oracle, q, &members).await;
    let mut want: Vec<GroupPattern> = (groups.iter())
        .map(|(key, w)| expected(key, w, &all))
        .collect();
    want.sort_by(|a, b| {
        b.customers
            .cmp(&a.customers)
            .then_with(|| a.key.cmp(&b.key))
    });
    let want_total = expected("", &all, &all);
    assert_without_items(gateway, q, dimension, &want_total, &want).await;
    let answer = ask(gateway, q, dimension, "")
        .await
        .expect("group patterns");
    assert_without_items(gateway, q, dimension, &want_total, &want).await;
    assert_eq!(
        answer.filter.as_ref().map(|f| f.as_of_date.as_str()),
        Some(q.as_of.as_str())
    );
    let total = unnamed(answer.total.clone().expect("a total"));
    assert_eq!(total, want_total, "{dimension:?} total for {q:?}");
    let got: Vec<GroupPattern> = answer.groups.iter().cloned().map(unnamed).collect();
    assert_eq!(got, want, "{dimension:?} patterns for {q:?}");
    match dimension {
        SummaryDimension::Segment => assert!(answer.thresholds.is_some(), "thresholds stated"),
        _ => assert!(answer.cluster_generation > 0, "cluster generation stated"),
    }
    // One group by its key: the same figures alone.
    if let Some(first) = want.first() {
        let one = ask(gateway, q, dimension, &first.key)
            .await
            .expect("one group");
        let got: Vec<GroupPattern> = one.groups.into_iter().map(unnamed).collect();
        assert_eq!(
            got,
            vec![first.clone()],
            "{dimension:?} group {} for {q:?}",
            first.key
        );
    }
}

/// (key, customers, orders, revenue, AOV, orders per customer, mean recency,
/// mean historical CLV).
type SummaryRow = (String, i64, i64, i64, f64, f64, f64, f64);

/// Summary by channel and by hour band: per group of orders, the customers
/// with one there, their orders, spend, recency and spend there before the end.
async fn assert_summary_by_order(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
    scores: &BTreeMap<String, f64>,
) {
    let channel = "(ARRAY['CHANNEL_WECHAT_MINI','CHANNEL_POS','CHANNEL_MEITUAN','CHANNEL_ELEME','CHANNEL_DOUYIN'])[channel]";
    let band = "CASE WHEN hour >= 6 AND hour < 10 THEN 'HOUR_BAND_BREAKFAST' \
        WHEN hour >= 10 AND hour < 14 THEN 'HOUR_BAND_LUNCH' WHEN hour >= 14 AND hour < 17 THEN 'HOUR_BAND_AFTERNOON' \
        WHEN hour >= 17 AND hour < 21 THEN 'HOUR_BAND_DINNER' ELSE 'HOUR_BAND_LATE_NIGHT' END";
    for (dimension, by) in [
        (SummaryDimension::Channel, channel),
        (SummaryDimension::HourBand, band),
    ] {
        let known = format!("customer_id <> '' AND {IN_STORES} AND {BEFORE_END}");
        let sql = format!(
            "WITH per AS (SELECT {by} AS g, customer_id, COUNT(*) AS o, SUM(amount) AS r, MAX(day) AS last \
               FROM raw WHERE {known} AND {FROM} GROUP BY 1, 2), \
             before AS (SELECT {by} AS g, customer_id, SUM(amount) AS s FROM raw WHERE {known} GROUP BY 1, 2) \
             SELECT per.g, COUNT(*), SUM(o)::bigint, SUM(r)::bigint, SUM($5::date - last)::bigint, \
               SUM(before.s)::bigint FROM per JOIN before USING (g, customer_id) GROUP BY per.g"
        );
        let mut want: Vec<SummaryRow> = Oracle::query(&sql, q)
            .fetch_all(&oracle.pool)
            .await
            .expect("summary by order")
            .iter()
            .map(|r| {
                let (n, o, s, rec, before): (i64, i64, i64, i64, i64) =
                    (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                (
                    r.get(0),
                    n,
                    o,
                    s,
                    ratio(s, o),
                    ratio(o, n),
                    ratio(rec, n),
                    ratio(before, n),
                )
            })
            .collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let answer = gateway
            .get_portrait_summary(PortraitSummaryRequest {
                filter: Some(q.filter()),
                dimension: dimension as i32,
            })
            .await
            .expect("summary by order")
            .into_inner();
        let figures = |g: &SummaryGroup| {
            (
                g.key.clone(),
                g.customers,
                g.orders,
                g.revenue_fen,
                g.average_order_value_fen,
                g.orders_per_customer,
                g.mean_recency_days,
                g.mean_historical_clv_fen,
            )
        };
        let got: Vec<_> = answer.groups.iter().map(figures).collect();
        assert_eq!(got, want, "{dimension:?} summary for {q:?}");
        assert_predicted_clv(oracle, q, by, &answer, scores).await;
        let all = answer.total.as_ref().map_or(0, |t| t.customers);
        let distinct: i64 = Oracle::query(
            &format!("SELECT COUNT(DISTINCT customer_id) FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {FROM} AND {BEFORE_END}"),
            q,
        )
        .fetch_one(&oracle.pool)
        .await
        .expect("customers")
        .get(0);
        assert_eq!(all, distinct, "{dimension:?} summary total for {q:?}");
        for g in &answer.groups {
            assert_eq!(g.customer_share, ratio(g.customers, all));
        }
    }
}

/// Each group's (and the total's) scored customers and mean predicted CLV:
/// the members' scores as the customer list states them (list.rs checks
/// those), averaged here; sums in another order, so within 1e-9.
async fn assert_predicted_clv(
    oracle: &Oracle,
    q: &Q,
    by: &str,
    answer: &portrait_proto::v1::PortraitSummary,
    scores: &BTreeMap<String, f64>,
) {
    let sql = format!(
        "SELECT DISTINCT {by}, customer_id FROM raw WHERE customer_id <> '' AND {IN_STORES} \
         AND {FROM} AND {BEFORE_END}"
    );
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in Oracle::query(&sql, q)
        .fetch_all(&oracle.pool)
        .await
        .expect("members")
    {
        let (g, c): (String, String) = (r.get(0), r.get(1));
        members.entry(String::new()).or_default().push(c.clone());
        members.entry(g).or_default().push(c);
    }
    let total = answer.total.iter().map(|t| (String::new(), t));
    for (key, got) in answer
        .groups
        .iter()
        .map(|g| (g.key.clone(), g))
        .chain(total)
    {
        let mut ids = members.get(&key).cloned().unwrap_or_default();
        ids.sort();
        ids.dedup();
        let values: Vec<f64> = ids.iter().filter_map(|c| scores.get(c).copied()).collect();
        assert_eq!(
            got.scored_customers,
            values.len() as i64,
            "scored in {key:?} for {q:?}"
        );
        let mean = if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        };
        assert!(
            (got.mean_predicted_clv_fen - mean).abs() <= 1e-9 * mean.abs().max(1.0),
            "mean predicted CLV of {key:?} for {q:?}: {} vs {mean}",
            got.mean_predicted_clv_fen
        );
    }
}

/// Every figure of the patterns by segment and by cluster, and of the
/// summary by channel and hour band, for each filter; run after the clusters
/// were computed.
pub(crate) async fn assert_patterns(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    queries: &[Q],
) {
    for q in queries {
        // The scores the profiler pulled from the suggest service (exchange.rs
        // waited for them), as the customer list states them.
        let listed = crate::list::all_pages(
            gateway,
            portrait_proto::v1::ListCustomersRequest {
                filter: Some(q.filter()),
                order_by: portrait_proto::v1::CustomerOrder::CustomerId as i32,
                ..Default::default()
            },
        )
        .await;
        let scores: BTreeMap<String, f64> = (listed.iter())
            .filter(|c| c.scored)
            .map(|c| (c.customer_id.clone(), c.predicted_clv_fen))
            .collect();
        assert_summary_by_order(gateway, oracle, q, &scores).await;
        let rfm = oracle.rfm(q).await;
        let segments: BTreeMap<String, String> = (rfm.iter())
            .map(|r| {
                let s = portrait_proto::v1::Segment::try_from(r.segment).expect("a segment");
                (r.customer_id.clone(), s.as_str_name().to_owned())
            })
            .collect();
        assert_dimension(gateway, oracle, q, SummaryDimension::Segment, segments).await;
        let mut clusters = BTreeMap::new();
        for r in &rfm {
            let profile = gateway
                .get_customer(GetCustomerRequest {
                    customer_id: r.customer_id.clone(),
                    filter: Some(q.filter()),
                })
                .await
                .expect("a customer")
                .into_inner();
            let cluster = profile.behaviour.map_or(0, |b| b.cluster);
            assert!(cluster > 0, "{} has a cluster", r.customer_id);
            clusters.insert(r.customer_id.clone(), cluster.to_string());
        }
        assert_dimension(gateway, oracle, q, SummaryDimension::Cluster, clusters).await;
    }
    let Some(q) = queries.first() else { return };
    for (dimension, key) in [
        (SummaryDimension::City, ""),
        (SummaryDimension::Segment, "NO_SUCH_SEGMENT"),
    ] {
        let e = ask(gateway, q, dimension, key).await.expect_err("refused");
        assert_eq!(
            e.code(),
            tonic::Code::InvalidArgument,
            "{dimension:?} {key}"
        );
        let field = if key.is_empty() { "dimension" } else { "key" };
        assert!(
            e.message().contains(field),
            "names {field}: {}",
            e.message()
        );
    }
}
