//! Who each suggestion reaches and the figures it rests on: one pass over the
//! filter's customers (ListCustomers' rows) with the fit's scores, no strings.
//! The words come later (`text`), so a cached plan holds only integers.

use std::sync::OnceLock;

use portrait_core::memory::{CustomerBook, Selection};
use portrait_core::{Day, Segment};
use portrait_proto::v1::{Association, SuggestionType};
use portrait_service::SuggestSettings;

use super::fetched::CrossRules;
use crate::customers::Row;
use crate::models::Score;

use super::audiences::{churn, recommendations, second_purchase, win_back};
pub(crate) use super::figure::Figure;

/// What a plan is computed over.
pub(crate) struct Inputs<'a> {
    pub(crate) rows: &'a [Row],
    /// The fit's scores by dense customer id; `None` without a fit in service.
    pub(crate) score: Option<&'a dyn Fn(u32) -> Option<Score>>,
    pub(crate) book: &'a CustomerBook,
    pub(crate) sel: &'a Selection,
    /// The rows' days: the filter clipped by the configured RFM window.
    pub(crate) from: Option<Day>,
    pub(crate) to: Day,
    pub(crate) settings: &'a SuggestSettings,
    /// The profiler's strongest customer rules with who has not acted on
    /// them, or why there are none.
    pub(crate) cross: Result<&'a CrossRules, &'a str>,
}

/// One suggestion before its words.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) kind: SuggestionType,
    /// The audience inside the scope: a segment, or the type's one audience.
    pub(crate) segment: Option<Segment>,
    /// Indices into the rows, ascending.
    pub(crate) audience: Vec<u32>,
    /// The audience by spend in the filter (most first), then id: sorted when
    /// first paged, not for every plan (a sort of every customer at 1M).
    ordered: OnceLock<Vec<u32>>,
    pub(crate) spend: i64,
    pub(crate) orders: i64,
    pub(crate) value_at_stake: f64,
    pub(crate) figures: Vec<(Figure, f64)>,
    /// The store of most of the audience's orders (VIP service).
    pub(crate) store: Option<u32>,
    /// The rule a recommendation acts on.
    pub(crate) rule: Option<Association>,
}

impl Draft {
    pub(super) fn new(kind: SuggestionType, rows: &[Row], audience: Vec<u32>) -> Self {
        let (mut spend, mut orders) = (0_i64, 0_i64);
        for &i in &audience {
            let a = &rows[i as usize].agg;
            spend += a.revenue;
            orders += a.orders;
        }
        Self {
            kind,
            segment: None,
            audience,
            ordered: OnceLock::new(),
            spend,
            orders,
            value_at_stake: 0.0,
            figures: Vec::new(),
            store: None,
            rule: None,
        }
    }

    /// The audience by spend in the filter, most first, then by `rank` (each
    /// dense id's rank in id order); `rows` are the plan's.
    pub(crate) fn ordered(&self, rows: &[Row], rank: &[u32]) -> &[u32] {
        self.ordered.get_or_init(|| {
            let mut v = self.audience.clone();
            v.sort_unstable_by_key(|&i| {
                let a = &rows[i as usize].agg;
                (std::cmp::Reverse(a.revenue), rank[a.customer as usize])
            });
            v
        })
    }

    /// Net spend / orders of the audience in the filter; 0 without orders.
    pub(crate) fn aov(&self) -> f64 {
        if self.orders == 0 {
            0.0
        } else {
            self.spend as f64 / self.orders as f64
        }
    }

    pub(crate) fn figure(&self, f: Figure) -> Option<f64> {
        self.figures.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)
    }

    pub(super) fn mean(&self, rows: &[Row], value: impl Fn(&Row) -> f64) -> f64 {
        let n = self.audience.len().max(1) as f64;
        self.audience
            .iter()
            .map(|&i| value(&rows[i as usize]))
            .sum::<f64>()
            / n
    }
}

/// Every suggestion of the filter, and what could not be judged.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) drafts: Vec<Draft>,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn plan(x: &Inputs) -> Plan {
    let rows = x.rows;
    let total_spend: i64 = rows.iter().map(|r| r.agg.revenue).sum();
    let mut out = Plan::default();
    let mut keep = |d: Option<Draft>| out.drafts.extend(d);
    keep(vip(x, total_spend));
    for segment in Segment::ALL {
        keep(segment_strategy(x, segment, total_spend));
    }
    match x.score {
        Some(score) => keep(churn(x, score)),
        None => out
            .notes
            .push("流失预警需要客户模型的活跃概率，当前没有在用的模型拟合，暂不判断".into()),
    }
    keep(second_purchase(x));
    keep(win_back(x));
    match x.cross {
        Ok(cross) if cross.rules.is_empty() => out
            .notes
            .push("个性化推荐：所选门店没有足够多客户共同购买的商品组合".into()),
        Ok(cross) => out.drafts.extend(recommendations(x, cross)),
        Err(why) => out.notes.push(format!("个性化推荐：{why}")),
    }
    // Every audience's share of the filter's spend, whatever its type.
    for d in out.drafts.iter_mut() {
        if d.figure(Figure::SpendShare).is_none() {
            let part = share(d.spend as f64, total_spend as f64);
            d.figures.push((Figure::SpendShare, part));
        }
    }
    out
}

pub(super) fn indices(rows: &[Row], keep: impl Fn(&Row) -> bool) -> Vec<u32> {
    (rows.iter().enumerate())
        .filter(|(_, r)| keep(r))
        .map(|(i, _)| i as u32)
        .collect()
}

/// A coupon of `part` of `fen`, in whole yuan (rounded down), at least ¥1.
pub(super) fn offer(fen: f64, part: f64) -> f64 {
    ((fen * part / 100.0).floor() * 100.0).max(100.0)
}

pub(super) fn share(part: f64, whole: f64) -> f64 {
    if whole == 0.0 { 0.0 } else { part / whole }
}

/// 重要价值客户 and the top decile by predicted CLV (the fit's scored customers
/// of the filter: the ⌈n/10⌉ largest, ties at the edge included).
fn vip(x: &Inputs, total_spend: i64) -> Option<Draft> {
    let rows = x.rows;
    let clv = |r: &Row| {
        x.score
            .and_then(|s| s(r.agg.customer))
            .map(|s| s.predicted_clv_fen)
    };
    let mut scored: Vec<f32> = rows.iter().filter_map(clv).collect();
    let edge = if scored.is_empty() {
        None
    } else {
        let k = scored.len().div_ceil(10);
        let (_, nth, _) = scored.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        Some(*nth)
    };
    let top = |r: &Row| edge.is_some_and(|e| clv(r).is_some_and(|v| v >= e));
    let valued = |r: &Row| r.segment == Segment::ImportantValue;
    let audience = indices(rows, |r| valued(r) || top(r));
    if audience.is_empty() {
        return None;
    }
    let mut d = Draft::new(SuggestionType::VipService, rows, audience);
    let from_segment = d
        .audience
        .iter()
        .filter(|&&i| valued(&rows[i as usize]))
        .count();
    let from_top = d
        .audience
        .iter()
        .filter(|&&i| top(&rows[i as usize]))
        .count();
    let clvs: Vec<f64> = (d.audience.iter())
        .filter_map(|&i| clv(&rows[i as usize]).map(f64::from))
        .collect();
    // The store of most of their orders in the filter (ties: lower store id).
    let mut per_store: Vec<i64> = Vec::new();
    for &i in &d.audience {
        x.book
            .rows(rows[i as usize].agg.customer, |day, store, acc| {
                let inside = x.from.is_none_or(|f| day >= f) && day < x.to;
                if acc.orders > 0 && inside && x.sel.contains(store) {
                    let s = store as usize;
                    if per_store.len() <= s {
                        per_store.resize(s + 1, 0);
                    }
                    per_store[s] += acc.orders;
                }
            });
    }
    let best = (per_store.iter().enumerate())
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
        .filter(|(_, n)| **n > 0);
    d.store = best.map(|(s, _)| s as u32);
    d.value_at_stake = d.spend as f64;
    d.figures = vec![
        (Figure::Customers, d.audience.len() as f64),
        (Figure::FromSegment, from_segment as f64),
        (Figure::FromTopClv, from_top as f64),
        (Figure::SpendFen, d.spend as f64),
        (
            Figure::SpendShare,
            share(d.spend as f64, total_spend as f64),
        ),
        (Figure::AovFen, d.aov()),
    ];
    if let Some(e) = edge {
        d.figures.push((Figure::ClvThresholdFen, f64::from(e)));
        let mean = clvs.iter().sum::<f64>() / clvs.len().max(1) as f64;
        d.figures.push((Figure::MeanPredictedClvFen, mean));
    }
    if let Some((_, n)) = best {
        d.figures.push((Figure::StoreOrders, *n as f64));
    }
    Some(d)
}

/// Each RFM segment with customers.
fn segment_strategy(x: &Inputs, segment: Segment, total_spend: i64) -> Option<Draft> {
    let rows = x.rows;
    let audience = indices(rows, |r| r.segment == segment);
    if audience.is_empty() {
        return None;
    }
    let mut d = Draft::new(SuggestionType::SegmentStrategy, rows, audience);
    d.segment = Some(segment);
    d.value_at_stake = d.spend as f64;
    d.figures = vec![
        (Figure::Customers, d.audience.len() as f64),
        (
            Figure::CustomerShare,
            share(d.audience.len() as f64, rows.len() as f64),
        ),
        (Figure::SpendFen, d.spend as f64),
        (
            Figure::SpendShare,
            share(d.spend as f64, total_spend as f64),
        ),
        (Figure::AovFen, d.aov()),
        (
            Figure::MeanRecencyDays,
            d.mean(rows, |r| r.recency_days() as f64),
        ),
        (Figure::MeanOrders, d.mean(rows, |r| r.agg.orders as f64)),
    ];
    Some(d)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
