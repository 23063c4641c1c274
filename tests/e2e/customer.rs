//! The customer portrait (behaviour, days, preferences) through the gateway,
//! against plain SQL over the raw accepted orders of each sampled customer.

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    CustomerPreferencesRequest, GetCustomerModelRequest, GetCustomerRequest, ItemPreference,
    ListCustomerDaysRequest, UnusualOrder,
};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::{BEFORE_END, FROM, IN_STORES, Oracle, Q};

/// The rows of `raw` of customer $6 inside the filter.
fn mine() -> String {
    format!("customer_id = $6 AND {IN_STORES} AND {FROM} AND {BEFORE_END}")
}

/// Customers worth comparing: the most frequent, one in the middle, and one
/// with a single order, each inside the filter.
async fn sample(oracle: &Oracle, q: &Q) -> Vec<String> {
    let sql = format!(
        "SELECT customer_id, COUNT(*) AS n FROM raw WHERE customer_id <> '' AND {IN_STORES} AND {FROM} \
         AND {BEFORE_END} GROUP BY customer_id ORDER BY n DESC, customer_id"
    );
    let all: Vec<(String, i64)> = Oracle::query(&sql, q)
        .fetch_all(&oracle.pool)
        .await
        .expect("sample")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut picked: Vec<String> = Vec::new();
    for i in [0, 1, all.len() / 2] {
        if let Some((c, _)) = all.get(i) {
            picked.push(c.clone());
        }
    }
    if let Some((c, _)) = all.iter().find(|(_, n)| *n == 1) {
        picked.push(c.clone());
    }
    picked.dedup();
    picked
}

fn bind<'q>(
    sql: &'q str,
    q: &'q Q,
    customer: &'q str,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    Oracle::query(sql, q).bind(customer)
}

pub(crate) async fn assert_customers(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let customers = sample(oracle, q).await;
    assert!(
        !customers.is_empty(),
        "no customer inside {q:?}: the test would prove nothing"
    );
    for c in &customers {
        behaviour(gateway, oracle, q, c).await;
        days(gateway, oracle, q, c).await;
        preferences(gateway, oracle, q, c).await;
    }
    let missing = gateway
        .get_customer(GetCustomerRequest {
            customer_id: "nobody:at-all".into(),
            filter: Some(q.filter()),
        })
        .await
        .expect_err("an unknown customer");
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
}

async fn behaviour(gateway: &mut PortraitServiceClient<Channel>, oracle: &Oracle, q: &Q, c: &str) {
    let p = gateway
        .get_customer(GetCustomerRequest {
            customer_id: c.into(),
            filter: Some(q.filter()),
        })
        .await
        .expect("customer")
        .into_inner();
    let b = p.behaviour.expect("behaviour");
    // The model part is the suggest service's answer for the customer.
    let model = gateway
        .get_customer_model(GetCustomerModelRequest {
            customer_id: c.into(),
        })
        .await
        .expect("customer model")
        .into_inner();
    assert_eq!(p.model, Some(model), "the model part of {c}");
    // The rfm part is the oracle's RFM row of the customer in this filter.
    let want = (oracle.rfm(q).await.into_iter()).find(|r| r.customer_id == c);
    let got = p.rfm.map(crate::oracle::RfmRow::from);
    assert_eq!(got, want, "the rfm part of {c}");
    assert!(p.rfm_thresholds.is_some(), "the thresholds in force");
    let mine = mine();
    let pool = &oracle.pool;
    let sql = format!(
        "SELECT MIN(day)::text, MAX(day)::text, COUNT(*), SUM(amount)::bigint, \
         ($5::date - MAX(day))::bigint, (MAX(day) - MIN(day))::bigint FROM raw WHERE {mine}"
    );
    let r = bind(&sql, q, c)
        .fetch_one(pool)
        .await
        .expect("customer sums");
    let (first, last, orders, spend): (String, String, i64, i64) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    let (since_last, span): (i64, i64) = (r.get(4), r.get(5));
    // as_of - first + 1.
    let tenure = since_last + span + 1;
    assert_eq!(
        (
            &b.first_order_date,
            &b.last_order_date,
            b.orders,
            b.spend_fen
        ),
        (&first, &last, orders, spend),
        "customer {c} in {q:?}"
    );
    assert_eq!(b.tenure_days, tenure, "tenure of {c}");
    assert_eq!(b.days_since_last_order, since_last, "recency of {c}");
    assert_eq!(b.average_order_value_fen, spend as f64 / orders as f64);
    assert_eq!(b.orders_per_30_days, orders as f64 * 30.0 / tenure as f64);
    let mean_gap = if orders > 1 {
        span as f64 / (orders - 1) as f64
    } else {
        0.0
    };
    assert_eq!(b.mean_gap_days, mean_gap, "mean gap of {c}");
    let sql = format!(
        "SELECT COALESCE(MAX(d) - MIN(d), 0)::bigint FROM \
         (SELECT day AS d FROM raw WHERE {mine} ORDER BY day DESC LIMIT 2) t"
    );
    let last_gap: i64 = bind(&sql, q, c)
        .fetch_one(pool)
        .await
        .expect("last gap")
        .get(0);
    assert_eq!(b.last_gap_days, last_gap, "last gap of {c}");

    let top = |key: &str| {
        format!(
            "SELECT {key}::text FROM raw WHERE {mine} GROUP BY {key} \
             ORDER BY COUNT(*) DESC, SUM(amount) DESC, {key} LIMIT 1"
        )
    };
    let one = |r: sqlx::postgres::PgRow| -> String { r.get(0) };
    let store = one(bind(&top("store_id"), q, c)
        .fetch_one(pool)
        .await
        .expect("store"));
    assert_eq!(b.favourite_store_id, store, "favourite store of {c}");
    let channel = one(bind(&top("channel"), q, c)
        .fetch_one(pool)
        .await
        .expect("channel"));
    assert_eq!(b.favourite_channel.to_string(), channel, "channel of {c}");
    let band = "(CASE WHEN hour BETWEEN 6 AND 9 THEN 1 WHEN hour BETWEEN 10 AND 13 THEN 2 \
                WHEN hour BETWEEN 14 AND 16 THEN 3 WHEN hour BETWEEN 17 AND 20 THEN 4 ELSE 5 END)";
    let band = one(bind(&top(band), q, c).fetch_one(pool).await.expect("band"));
    assert_eq!(b.favourite_hour_band.to_string(), band, "hour band of {c}");
    let sql = format!(
        "SELECT l.category_id FROM raw_lines l JOIN raw USING (order_id) WHERE {mine} \
         GROUP BY l.category_id ORDER BY COUNT(DISTINCT order_id) DESC, SUM(l.amount) DESC, l.category_id LIMIT 1"
    );
    let category = bind(&sql, q, c)
        .fetch_optional(pool)
        .await
        .expect("category");
    assert_eq!(
        b.favourite_category_id,
        category.map(one).unwrap_or_default(),
        "favourite category of {c}"
    );

    let sql = format!(
        "SELECT EXTRACT(ISODOW FROM day)::int, hour, COUNT(*), SUM(amount)::bigint FROM raw \
         WHERE {mine} GROUP BY 1, 2 ORDER BY 1, 2"
    );
    let want: Vec<(i32, i32, i64, i64)> = bind(&sql, q, c)
        .fetch_all(pool)
        .await
        .expect("weekday hours")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(b.weekday_hours.len(), 7 * 24);
    let got: Vec<(i32, i32, i64, i64)> = (b.weekday_hours.iter())
        .filter(|w| w.orders != 0)
        .map(|w| (w.weekday, w.hour, w.orders, w.spend_fen))
        .collect();
    assert_eq!(got, want, "weekday x hour of {c}");
    let mut hours = [(0_i64, 0_i64); 24];
    for (_, h, o, s) in &want {
        hours[*h as usize].0 += o;
        hours[*h as usize].1 += s;
    }
    let got: Vec<(i64, i64)> = b.hours.iter().map(|h| (h.orders, h.spend_fen)).collect();
    assert_eq!(got, hours.to_vec(), "hours of {c}");
    let sql = format!(
        "SELECT ch, COUNT(raw.order_id), COALESCE(SUM(raw.amount), 0)::bigint FROM generate_series(1, 5) ch \
         LEFT JOIN raw ON raw.channel = ch AND {mine} GROUP BY ch ORDER BY ch"
    );
    let want: Vec<(i32, i64, i64)> = bind(&sql, q, c)
        .fetch_all(pool)
        .await
        .expect("channels")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let got: Vec<(i32, i64, i64)> = (b.channels.iter())
        .map(|x| (x.channel, x.orders, x.spend_fen))
        .collect();
    assert_eq!(got, want, "channels of {c}");
    for x in &b.channels {
        assert_eq!(x.order_share, x.orders as f64 / orders as f64);
    }

    // Unusual orders: each order against the customer's other orders.
    let sql = format!("SELECT order_id, day::text, store_id, amount FROM raw WHERE {mine}");
    let all: Vec<(String, String, String, i64)> = bind(&sql, q, c)
        .fetch_all(pool)
        .await
        .expect("orders")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let mut want: Vec<UnusualOrder> = Vec::new();
    for (i, (id, day, store, amount)) in all.iter().enumerate() {
        let others: Vec<f64> = (all.iter().enumerate())
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| o.3 as f64)
            .collect();
        if others.len() < 5 {
            break;
        }
        if let (m, mad, Some(z)) = crate::anomaly::robust(*amount as f64, &others)
            && z.abs() >= 3.5
        {
            want.push(UnusualOrder {
                order_id: id.clone(),
                date: day.clone(),
                store_id: store.clone(),
                amount_fen: *amount,
                baseline_median_fen: m,
                baseline_mad_fen: mad,
                baseline_orders: others.len() as i32,
                score: z,
            });
        }
    }
    want.sort_by(|a, b| {
        (b.score.abs().total_cmp(&a.score.abs())).then_with(|| a.order_id.cmp(&b.order_id))
    });
    let got = &b.unusual_orders;
    assert_eq!(
        got.len(),
        want.len(),
        "unusual orders of {c}: {got:?} vs {want:?}"
    );
    for (g, w) in got.iter().zip(&want) {
        let close = (g.score - w.score).abs() <= 1e-9 * w.score.abs();
        assert!(close, "{g:?} vs {w:?}");
        let exact = |u: &UnusualOrder| UnusualOrder {
            score: 0.0,
            ..u.clone()
        };
        assert_eq!(exact(g), exact(w), "unusual order of {c}");
    }
}

async fn days(gateway: &mut PortraitServiceClient<Channel>, oracle: &Oracle, q: &Q, c: &str) {
    let mut got = Vec::new();
    let mut token = String::new();
    loop {
        let page = gateway
            .list_customer_days(ListCustomerDaysRequest {
                customer_id: c.into(),
                filter: Some(q.filter()),
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("customer days")
            .into_inner();
        assert!(page.days.len() <= 2);
        got.extend(
            page.days
                .into_iter()
                .map(|d| (d.date, d.orders, d.spend_fen, d.store_ids, d.top_channel)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mine = mine();
    let sql = format!(
        "WITH m AS (SELECT * FROM raw WHERE {mine}), \
         ch AS (SELECT day, channel, COUNT(*) AS n, SUM(amount) AS s FROM m GROUP BY day, channel), \
         top AS (SELECT DISTINCT ON (day) day, channel FROM ch ORDER BY day, n DESC, s DESC, channel) \
         SELECT m.day::text, COUNT(*), SUM(amount)::bigint, array_agg(DISTINCT store_id ORDER BY store_id), \
         top.channel FROM m JOIN top USING (day) GROUP BY m.day, top.channel ORDER BY m.day DESC"
    );
    let want: Vec<(String, i64, i64, Vec<String>, i32)> = bind(&sql, q, c)
        .fetch_all(&oracle.pool)
        .await
        .expect("days")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(got, want, "days of {c} in {q:?}");
}

async fn preferences(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
    c: &str,
) {
    let p = gateway
        .get_customer_preferences(CustomerPreferencesRequest {
            customer_id: c.into(),
            filter: Some(q.filter()),
            limit: 1000,
        })
        .await
        .expect("preferences")
        .into_inner();
    let mine = mine();
    let all = format!("{IN_STORES} AND {FROM} AND {BEFORE_END}");
    let orders: i64 = bind(&format!("SELECT COUNT(*) FROM raw WHERE {mine}"), q, c)
        .fetch_one(&oracle.pool)
        .await
        .expect("orders")
        .get(0);
    assert_eq!(p.orders, orders);
    for (key, got) in [("product_id", &p.products), ("category_id", &p.categories)] {
        let sql = format!(
            "WITH m AS (SELECT l.{key} AS id, COUNT(DISTINCT order_id) AS o, SUM(l.quantity)::bigint AS qty, \
               SUM(l.amount)::bigint AS s FROM raw_lines l JOIN raw USING (order_id) WHERE {mine} GROUP BY 1), \
             ch AS (SELECT l.{key} AS id, SUM(l.amount)::bigint AS s FROM raw_lines l JOIN raw USING (order_id) \
               WHERE {all} GROUP BY 1) \
             SELECT m.id, m.o, m.qty, m.s, (SELECT SUM(s) FROM m)::bigint, ch.s, (SELECT SUM(s) FROM ch)::bigint \
             FROM m JOIN ch USING (id)"
        );
        let mut want: Vec<ItemPreference> = bind(&sql, q, c)
            .fetch_all(&oracle.pool)
            .await
            .expect("preferences")
            .iter()
            .map(|r| {
                let (mine_total, chain, chain_total): (i64, i64, i64) =
                    (r.get(4), r.get(5), r.get(6));
                let spend: i64 = r.get(3);
                let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                let (share, chain_share) = (ratio(spend, mine_total), ratio(chain, chain_total));
                let lift = if chain_share > 0.0 {
                    share / chain_share
                } else {
                    1.0
                };
                ItemPreference {
                    id: r.get(0),
                    orders: r.get(1),
                    quantity: r.get(2),
                    spend_fen: spend,
                    spend_share: share,
                    chain_share,
                    // The documented formula, K = 3.
                    preference_score: (orders as f64 * lift + 3.0) / (orders as f64 + 3.0),
                    ..ItemPreference::default()
                }
            })
            .collect();
        want.sort_by(|a, b| {
            (b.preference_score.total_cmp(&a.preference_score))
                .then(b.spend_fen.cmp(&a.spend_fen))
                .then_with(|| a.id.cmp(&b.id))
        });
        let strip = |v: &[ItemPreference]| -> Vec<(String, i64, i64, i64)> {
            v.iter()
                .map(|i| (i.id.clone(), i.orders, i.quantity, i.spend_fen))
                .collect()
        };
        assert_eq!(
            strip(got),
            strip(&want),
            "{key} preferences of {c} in {q:?}"
        );
        for (g, w) in got.iter().zip(&want) {
            for (a, b) in [
                (g.spend_share, w.spend_share),
                (g.chain_share, w.chain_share),
                (g.preference_score, w.preference_score),
            ] {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "{key} {} of {c}: {a} vs {b}",
                    g.id
                );
            }
        }
    }
}
