//! The suggestions recomputed in plain Rust over the test's own copy of the
//! accepted orders, from docs/architecture.md §3 "Suggestions", with the model
//! scores as GetCustomerModel gives them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use portrait_proto::v1::Order;

use crate::local_day;

/// The 8 segments by their enum names, from (R high, F high, M high).
fn segment(r: bool, f: bool, m: bool) -> &'static str {
    match (r, f, m) {
        (true, true, true) => "SEGMENT_IMPORTANT_VALUE",
        (true, false, true) => "SEGMENT_IMPORTANT_DEVELOP",
        (false, true, true) => "SEGMENT_IMPORTANT_KEEP",
        (false, false, true) => "SEGMENT_IMPORTANT_WIN_BACK",
        (true, true, false) => "SEGMENT_GENERAL_VALUE",
        (true, false, false) => "SEGMENT_GENERAL_DEVELOP",
        (false, true, false) => "SEGMENT_GENERAL_KEEP",
        (false, false, false) => "SEGMENT_GENERAL_WIN_BACK",
    }
}

/// (P(alive), expected purchases, predicted CLV) of a fitted customer.
pub(crate) type Scores = HashMap<String, (f64, f64, f64)>;

pub(crate) struct Customer {
    pub(crate) id: String,
    orders: i64,
    spend: i64,
    recency: i64,
    days: Vec<NaiveDate>,
    /// Orders per store inside the filter.
    stores: BTreeMap<String, i64>,
    segment: &'static str,
    /// The churn rule's mean gap when it warns.
    overdue: Option<f64>,
}

/// One expected suggestion: type, audience key, audience (spend desc, then
/// id), figures by key, value at stake.
#[derive(Debug)]
pub(crate) struct Expected {
    pub(crate) kind: &'static str,
    pub(crate) audience_key: String,
    pub(crate) audience: Vec<String>,
    pub(crate) figures: BTreeMap<&'static str, f64>,
    pub(crate) value: f64,
    pub(crate) rate: f64,
    pub(crate) aov: f64,
}

/// The filter's customers: orders at stores in `cities` (empty = all) placed on
/// or before `as_of`.
pub(crate) fn customers(orders: &[Order], cities: &[&str], as_of: NaiveDate) -> Vec<Customer> {
    // A store's city is its latest order's.
    let mut city: HashMap<&str, (i64, &str)> = HashMap::new();
    for o in orders {
        let e = city.entry(&o.store_id).or_insert((o.placed_at_ms, &o.city));
        if o.placed_at_ms >= e.0 {
            *e = (o.placed_at_ms, &o.city);
        }
    }
    let mut by: BTreeMap<&str, Vec<&Order>> = BTreeMap::new();
    for o in orders.iter().filter(|o| !o.customer_id.is_empty()) {
        let inside = cities.is_empty() || cities.contains(&city[o.store_id.as_str()].1);
        let day = NaiveDate::parse_from_str(&local_day(o.placed_at_ms), "%Y-%m-%d").expect("day");
        if inside && day <= as_of {
            by.entry(&o.customer_id).or_default().push(o);
        }
    }
    let mut out: Vec<Customer> = (by.into_iter())
        .map(|(id, os)| {
            let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
            let mut stores: BTreeMap<String, i64> = BTreeMap::new();
            for o in &os {
                days.insert(
                    NaiveDate::parse_from_str(&local_day(o.placed_at_ms), "%Y-%m-%d").expect("day"),
                );
                *stores.entry(o.store_id.clone()).or_default() += 1;
            }
            let days: Vec<NaiveDate> = days.into_iter().collect();
            let (first, last) = (days[0], days[days.len() - 1]);
            let orders = os.len() as i64;
            let recency = (as_of - last).num_days();
            let span = (last - first).num_days();
            let overdue = (orders >= 3 && recency * (orders - 1) > 2 * span)
                .then(|| span as f64 / (orders - 1) as f64);
            Customer {
                id: id.to_owned(),
                orders,
                spend: os.iter().map(|o| o.net_amount_fen).sum(),
                recency,
                days,
                stores,
                segment: "",
                overdue,
            }
        })
        .collect();
    let n = out.len() as i64;
    let sum_r: i64 = out.iter().map(|c| c.recency).sum();
    let sum_f: i64 = out.iter().map(|c| c.orders).sum();
    let sum_m: i64 = out.iter().map(|c| c.spend).sum();
    for c in &mut out {
        c.segment = segment(
            c.recency * n < sum_r,
            c.orders * n > sum_f,
            c.spend * n > sum_m,
        );
    }
    out
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.fold((0.0, 0_usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

fn offer(fen: f64, part: f64) -> f64 {
    ((fen * part / 100.0).floor() * 100.0).max(100.0)
}

fn expected(
    kind: &'static str,
    key: &str,
    rate: f64,
    all: &[Customer],
    members: Vec<&Customer>,
    figures: impl FnOnce(&[&Customer], &mut BTreeMap<&'static str, f64>),
) -> Option<Expected> {
    if members.is_empty() {
        return None;
    }
    let mut members = members;
    members.sort_by(|a, b| b.spend.cmp(&a.spend).then(a.id.cmp(&b.id)));
    let spend: i64 = members.iter().map(|c| c.spend).sum();
    let orders: i64 = members.iter().map(|c| c.orders).sum();
    let total: i64 = all.iter().map(|c| c.spend).sum();
    let aov = spend as f64 / orders as f64;
    let mut f = BTreeMap::new();
    f.insert("customers", members.len() as f64);
    f.insert("spend_fen", spend as f64);
    f.insert("aov_fen", aov);
    f.insert("spend_share", spend as f64 / total as f64);
    figures(&members, &mut f);
    Some(Expected {
        kind,
        audience_key: key.to_owned(),
        audience: members.iter().map(|c| c.id.clone()).collect(),
        value: spend as f64,
        figures: f,
        rate,
        aov,
    })
}

/// Every suggestion the filter should have.
pub(crate) fn suggestions(all: &[Customer], scores: &Scores) -> Vec<Expected> {
    let mut out = Vec::new();
    let score = |c: &Customer| scores.get(&c.id).copied();
    // VIP: 重要价值 or the top ⌈n/10⌉ of the scored by CLV (as f32, as lists keep it).
    let mut clvs: Vec<f32> = all
        .iter()
        .filter_map(|c| score(c).map(|s| s.2 as f32))
        .collect();
    clvs.sort_by(|a, b| b.total_cmp(a));
    let edge = clvs.get(clvs.len().div_ceil(10).max(1) - 1).copied();
    let top = |c: &Customer| score(c).is_some_and(|s| edge.is_some_and(|e| s.2 as f32 >= e));
    let valued = |c: &Customer| c.segment == "SEGMENT_IMPORTANT_VALUE";
    let vip: Vec<&Customer> = all.iter().filter(|c| valued(c) || top(c)).collect();
    out.extend(expected(
        "SUGGESTION_TYPE_VIP_SERVICE",
        "all",
        0.20,
        all,
        vip,
        |m, f| {
            f.insert(
                "from_segment",
                m.iter().filter(|c| valued(c)).count() as f64,
            );
            f.insert("from_top_clv", m.iter().filter(|c| top(c)).count() as f64);
            if let Some(e) = edge {
                f.insert("clv_threshold_fen", f64::from(e));
                let scored = m
                    .iter()
                    .filter_map(|c| score(c).map(|s| f64::from(s.2 as f32)));
                f.insert("mean_predicted_clv_fen", mean(scored));
            }
            let mut stores: BTreeMap<&str, i64> = BTreeMap::new();
            for c in m {
                for (s, n) in &c.stores {
                    *stores.entry(s).or_default() += n;
                }
            }
            f.insert(
                "store_orders",
                *stores.values().max().expect("orders") as f64,
            );
        },
    ));
    // Segment strategy: each segment with customers.
    let segments: BTreeSet<&str> = all.iter().map(|c| c.segment).collect();
    for s in segments {
        let members: Vec<&Customer> = all.iter().filter(|c| c.segment == s).collect();
        out.extend(expected(
            "SUGGESTION_TYPE_SEGMENT_STRATEGY",
            s,
            0.05,
            all,
            members,
            |m, f| {
                f.insert("customer_share", m.len() as f64 / all.len() as f64);
                f.insert(
                    "mean_recency_days",
                    mean(m.iter().map(|c| c.recency as f64)),
                );
                f.insert("mean_orders", mean(m.iter().map(|c| c.orders as f64)));
            },
        ));
    }
    // Churn: overdue by the rule and P(alive) < 0.5.
    let churn: Vec<&Customer> = (all.iter())
        .filter(|c| c.overdue.is_some() && score(c).is_some_and(|s| s.0 < 0.5))
        .collect();
    let mut at_risk = 0.0;
    out.extend(expected(
        "SUGGESTION_TYPE_CHURN_WARNING",
        "all",
        0.10,
        all,
        churn,
        |m, f| {
            let lost = |c: &Customer| score(c).map_or(0.0, |(p, e, _)| e * (1.0 - p) / p);
            at_risk = m
                .iter()
                .map(|c| lost(c) * c.spend as f64 / c.orders as f64)
                .sum();
            f.insert("at_risk_value_fen", at_risk);
            f.insert("lost_purchases", m.iter().map(|c| lost(c)).sum());
            f.insert(
                "mean_alive_probability",
                mean(m.iter().filter_map(|c| score(c).map(|s| s.0))),
            );
            f.insert(
                "mean_recency_days",
                mean(m.iter().map(|c| c.recency as f64)),
            );
            f.insert("mean_gap_days", mean(m.iter().filter_map(|c| c.overdue)));
            f.insert("offer_fen", offer(at_risk / m.len() as f64, 0.1));
        },
    ));
    if let Some(e) = out
        .last_mut()
        .filter(|e| e.kind == "SUGGESTION_TYPE_CHURN_WARNING")
    {
        e.value = at_risk;
    }
    // Nurture: one order, at most 30 days ago; the median first-to-second gap.
    let mut gaps: Vec<i64> = (all.iter().filter(|c| c.days.len() >= 2))
        .map(|c| (c.days[1] - c.days[0]).num_days())
        .collect();
    gaps.sort_unstable();
    let nurture: Vec<&Customer> = all
        .iter()
        .filter(|c| c.orders == 1 && c.recency <= 30)
        .collect();
    out.extend(expected(
        "SUGGESTION_TYPE_SECOND_PURCHASE",
        "all",
        0.15,
        all,
        nurture,
        |m, f| {
            f.insert(
                "mean_recency_days",
                mean(m.iter().map(|c| c.recency as f64)),
            );
            f.insert("offer_fen", offer(f["aov_fen"], 0.1));
            let expected: Vec<f64> = m.iter().filter_map(|c| score(c).map(|s| s.1)).collect();
            if !expected.is_empty() {
                f.insert("mean_expected_purchases", mean(expected.into_iter()));
            }
            if !gaps.is_empty() {
                let n = gaps.len();
                let median = (gaps[n.div_ceil(2) - 1] + gaps[(n + 2) / 2 - 1]) as f64 / 2.0;
                f.insert("second_order_gap_days", median);
                f.insert("gap_sample", n as f64);
            }
        },
    ));
    if let Some(e) = out
        .last_mut()
        .filter(|e| e.kind == "SUGGESTION_TYPE_SECOND_PURCHASE")
    {
        e.value = (e.audience.len() as f64 * e.rate * e.aov).round();
    }
    // Win-back: 重要保持 or 重要挽留, away 60 days or more.
    let lapsed: Vec<&Customer> = (all.iter())
        .filter(|c| {
            matches!(
                c.segment,
                "SEGMENT_IMPORTANT_KEEP" | "SEGMENT_IMPORTANT_WIN_BACK"
            ) && c.recency >= 60
        })
        .collect();
    out.extend(expected(
        "SUGGESTION_TYPE_WIN_BACK",
        "all",
        0.05,
        all,
        lapsed,
        |m, f| {
            f.insert(
                "mean_recency_days",
                mean(m.iter().map(|c| c.recency as f64)),
            );
            f.insert("mean_orders", mean(m.iter().map(|c| c.orders as f64)));
            f.insert("offer_fen", offer(f["aov_fen"], 0.2));
        },
    ));
    out
}

/// The recommendations: the top 3 customer rules a → b by lift (then
/// confidence, count, ids) over every customer's product set at the stores in
/// `cities` (all history), with at least 20 customers holding both; each
/// reaches the filter's customers (`all`) who hold a and not b.
pub(crate) fn recommendations(
    orders: &[Order],
    cities: &[&str],
    all: &[Customer],
) -> Vec<Expected> {
    let mut city: HashMap<&str, (i64, &str)> = HashMap::new();
    for o in orders {
        let e = city.entry(&o.store_id).or_insert((o.placed_at_ms, &o.city));
        if o.placed_at_ms >= e.0 {
            *e = (o.placed_at_ms, &o.city);
        }
    }
    let mut sets: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for o in orders.iter().filter(|o| !o.customer_id.is_empty()) {
        if cities.is_empty() || cities.contains(&city[o.store_id.as_str()].1) {
            let set = sets.entry(&o.customer_id).or_default();
            set.extend(o.lines.iter().map(|l| l.product_id.as_str()));
        }
    }
    sets.retain(|_, s| !s.is_empty());
    let population = sets.len() as i64;
    let mut single: BTreeMap<&str, i64> = BTreeMap::new();
    let mut pairs: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for set in sets.values() {
        for a in set {
            *single.entry(a).or_default() += 1;
            for b in
                set.range::<&str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
            {
                *pairs.entry((a, b)).or_default() += 1;
            }
        }
    }
    // (a, b, count, n_a, n_b) in both directions.
    let mut rules: Vec<(&str, &str, i64, i64, i64)> = Vec::new();
    for (&(a, b), &n) in pairs.iter().filter(|(_, n)| **n >= 20) {
        rules.push((a, b, n, single[a], single[b]));
        rules.push((b, a, n, single[b], single[a]));
    }
    rules.sort_by(|x, y| {
        let lift = |r: &(&str, &str, i64, i64, i64), s: &(&str, &str, i64, i64, i64)| {
            i128::from(r.2) * i128::from(s.3) * i128::from(s.4)
        };
        let conf = |r: &(&str, &str, i64, i64, i64), s: &(&str, &str, i64, i64, i64)| {
            i128::from(r.2) * i128::from(s.3)
        };
        (lift(y, x).cmp(&lift(x, y)))
            .then(conf(y, x).cmp(&conf(x, y)))
            .then(y.2.cmp(&x.2))
            .then(x.0.cmp(y.0))
            .then(x.1.cmp(y.1))
    });
    let mut out = Vec::new();
    for &(a, b, n, n_a, n_b) in rules.iter().take(3) {
        let holds = |c: &Customer, p: &str| sets.get(c.id.as_str()).is_some_and(|s| s.contains(p));
        let members: Vec<&Customer> = all.iter().filter(|c| holds(c, a) && !holds(c, b)).collect();
        let key = format!("{a}>{b}");
        let lift = (n * population) as f64 / (n_a * n_b) as f64;
        let e = expected(
            "SUGGESTION_TYPE_RECOMMENDATION",
            &key,
            0.08,
            all,
            members,
            |_, f| {
                f.insert("lift", lift);
                f.insert("confidence", n as f64 / n_a as f64);
                f.insert("rule_count", n as f64);
            },
        );
        out.extend(e.map(|mut e| {
            e.value = (e.audience.len() as f64 * e.rate * e.aov).round();
            e
        }));
    }
    out
}
