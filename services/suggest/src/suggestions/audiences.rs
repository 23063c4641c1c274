//! The audiences that follow behaviour rather than a segment alone: churn
//! warning, second-purchase nurture, win-back, and recommendations from the
//! profiler's cross-sell rules (docs/architecture.md §3 "Suggestions").

use portrait_core::Segment;
use portrait_proto::v1::SuggestionType;

use super::fetched::CrossRules;
use super::plan::{Draft, Figure, Inputs, indices, offer};
use crate::customers::Row;
use crate::models::Score;

/// Overdue by their own rhythm (the churn rule) and P(alive) below the
/// threshold. At risk: AOV × the purchases the model expects them to lose,
/// E/p − E (what an alive customer would buy in the horizon, minus E).
pub(super) fn churn(x: &Inputs, score: &dyn Fn(u32) -> Option<Score>) -> Option<Draft> {
    let rows = x.rows;
    let below = x.settings.churn_alive_below;
    let alive = |r: &Row| score(r.agg.customer).map(|s| s.alive_probability);
    let audience = indices(rows, |r| {
        r.risk.is_some() && alive(r).is_some_and(|p| p < below)
    });
    if audience.is_empty() {
        return None;
    }
    let mut d = Draft::new(SuggestionType::ChurnWarning, rows, audience);
    let (mut lost_total, mut at_risk) = (0.0, 0.0);
    for &i in &d.audience {
        let r = &rows[i as usize];
        let Some(s) = score(r.agg.customer) else {
            continue;
        };
        let p = s.alive_probability;
        let lost = if p > 0.0 {
            s.expected_purchases * (1.0 - p) / p
        } else {
            0.0
        };
        lost_total += lost;
        at_risk += lost * r.agg.revenue as f64 / r.agg.orders as f64;
    }
    let n = d.audience.len() as f64;
    // A recall coupon of a tenth of the value each customer puts at risk.
    let offer = offer(at_risk / n, 0.1);
    d.value_at_stake = at_risk;
    d.figures = vec![
        (Figure::Customers, n),
        (Figure::AtRiskValueFen, at_risk),
        (Figure::LostPurchases, lost_total),
        (
            Figure::MeanAliveProbability,
            d.mean(rows, |r| alive(r).unwrap_or(0.0)),
        ),
        (
            Figure::MeanRecencyDays,
            d.mean(rows, |r| r.recency_days() as f64),
        ),
        (Figure::MeanGapDays, d.mean(rows, |r| r.mean_gap_days())),
        (Figure::SpendFen, d.spend as f64),
        (Figure::AovFen, d.aov()),
        (Figure::OfferFen, offer),
    ];
    Some(d)
}

/// One order in the filter, placed at most `suggest.nurture_days` ago. When:
/// the median days from a first to a second order day among the filter's
/// customers with two order days or more.
pub(super) fn second_purchase(x: &Inputs) -> Option<Draft> {
    let rows = x.rows;
    let days = x.settings.nurture_days;
    let audience = indices(rows, |r| r.agg.orders == 1 && r.recency_days() <= days);
    if audience.is_empty() {
        return None;
    }
    let mut d = Draft::new(SuggestionType::SecondPurchase, rows, audience);
    let mut gaps: Vec<i64> = Vec::new();
    for r in rows.iter().filter(|r| r.agg.last_day > r.agg.first_day) {
        // The second order day: the earliest day after the first with an order.
        let mut second = r.agg.last_day;
        x.book.rows(r.agg.customer, |day, store, acc| {
            let inside = x.from.is_none_or(|f| day >= f) && day < x.to;
            if acc.orders > 0 && inside && x.sel.contains(store) && day > r.agg.first_day {
                second = second.min(day);
            }
        });
        gaps.push(i64::from(second) - i64::from(r.agg.first_day));
    }
    d.value_at_stake = 0.0; // set from the expected effect (text::effect)
    d.figures = vec![
        (Figure::Customers, d.audience.len() as f64),
        (Figure::SpendFen, d.spend as f64),
        (Figure::AovFen, d.aov()),
        (
            Figure::MeanRecencyDays,
            d.mean(rows, |r| r.recency_days() as f64),
        ),
        (Figure::OfferFen, offer(d.aov(), 0.1)),
    ];
    if !gaps.is_empty() {
        gaps.sort_unstable();
        let n = gaps.len();
        let median = (gaps[n.div_ceil(2) - 1] + gaps[(n + 2) / 2 - 1]) as f64 / 2.0;
        d.figures.push((Figure::SecondOrderGapDays, median));
        d.figures.push((Figure::GapSample, n as f64));
    }
    // The model's expectation for them: purchases over its horizon.
    if let Some(score) = x.score {
        let expected: Vec<f64> = (d.audience.iter())
            .filter_map(|&i| score(rows[i as usize].agg.customer))
            .map(|s| s.expected_purchases)
            .collect();
        if !expected.is_empty() {
            let mean = expected.iter().sum::<f64>() / expected.len() as f64;
            d.figures.push((Figure::MeanExpectedPurchases, mean));
        }
    }
    Some(d)
}

/// Per rule a → b of the profiler's strongest (by lift, over customers at the
/// filter's stores, all history): the filter's customers who bought a and
/// never b there.
pub(super) fn recommendations(x: &Inputs, cross: &CrossRules) -> Vec<Draft> {
    let rows = x.rows;
    // The rows are in dense-id order (the customer list's).
    let position = |c: u32| rows.binary_search_by_key(&c, |r| r.agg.customer).ok();
    (cross.rules.iter())
        .filter_map(|(rule, customers)| {
            let rule = rule.clone();
            let audience: Vec<u32> = (customers.iter())
                .filter_map(|&c| position(c))
                .map(|i| i as u32)
                .collect();
            if audience.is_empty() {
                return None;
            }
            let mut d = Draft::new(SuggestionType::Recommendation, rows, audience);
            d.figures = vec![
                (Figure::Customers, d.audience.len() as f64),
                (Figure::SpendFen, d.spend as f64),
                (Figure::AovFen, d.aov()),
                (Figure::Lift, rule.lift),
                (Figure::Confidence, rule.confidence),
                (Figure::RuleCount, rule.count as f64),
            ];
            d.rule = Some(rule);
            Some(d)
        })
        .collect()
}

/// High spend, low recency (重要保持 / 重要挽留), away `suggest.win_back_days` or more.
pub(super) fn win_back(x: &Inputs) -> Option<Draft> {
    let rows = x.rows;
    let days = x.settings.win_back_days;
    let lapsed = |r: &Row| {
        matches!(
            r.segment,
            Segment::ImportantKeep | Segment::ImportantWinBack
        ) && r.recency_days() >= days
    };
    let audience = indices(rows, lapsed);
    if audience.is_empty() {
        return None;
    }
    let mut d = Draft::new(SuggestionType::WinBack, rows, audience);
    d.value_at_stake = d.spend as f64;
    d.figures = vec![
        (Figure::Customers, d.audience.len() as f64),
        (Figure::SpendFen, d.spend as f64),
        (Figure::AovFen, d.aov()),
        (
            Figure::MeanRecencyDays,
            d.mean(rows, |r| r.recency_days() as f64),
        ),
        (Figure::MeanOrders, d.mean(rows, |r| r.agg.orders as f64)),
        (Figure::OfferFen, offer(d.aov(), 0.2)),
    ];
    Some(d)
}
