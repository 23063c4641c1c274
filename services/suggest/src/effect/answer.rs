//! The effect figures of one adoption, from its members' rows in the live
//! customer book (docs/architecture.md §3 "Suggestion effect").

use portrait_core::Day;
use portrait_core::memory::{CustomerBook, Selection};
use portrait_proto::v1::{
    ExpectedEffect, GroupOutcome, Interval, Lift, RealisedEffect, SuggestionEffect,
};

use super::stats::{Moments, rate_difference, rate_ratio, welch};
use super::{Adoption, Expected, Resolved};

/// One group: its members' orders and revenue on the window's days at every
/// store; `unresolved` members (not in the state) count with none.
fn outcome(
    book: &CustomerBook,
    members: impl Iterator<Item = u32>,
    unresolved: i64,
    start: Day,
    end: Day,
) -> (GroupOutcome, Moments) {
    let mut revenues: Vec<i64> = Vec::new();
    let (mut responders, mut orders, mut revenue) = (0i64, 0i64, 0i64);
    for c in members {
        let (o, r) = book
            .agg(c, &Selection::All, Some(start), end)
            .map_or((0, 0), |a| (a.orders, a.revenue));
        responders += i64::from(o > 0);
        orders += o;
        revenue += r;
        revenues.push(r);
    }
    revenues.extend(std::iter::repeat_n(0, unresolved.max(0) as usize));
    let moments = Moments::of(&revenues);
    let n = revenues.len() as i64;
    let per = |x: i64| if n > 0 { x as f64 / n as f64 } else { 0.0 };
    let group = GroupOutcome {
        customers: n,
        responders,
        orders,
        revenue_fen: revenue,
        response_rate: per(responders),
        orders_per_customer: per(orders),
        revenue_per_customer_fen: per(revenue),
        revenue_sd_fen: moments.variance.sqrt(),
    };
    (group, moments)
}

pub(super) fn expected(e: &Expected, scale: f64) -> ExpectedEffect {
    ExpectedEffect {
        reached: (e.reached as f64 * scale).round() as i64,
        responders: e.responders * scale,
        extra_orders: e.extra_orders * scale,
        extra_revenue_fen: (e.extra_revenue_fen as f64 * scale).round() as i64,
        response_rate: e.response_rate,
        ..ExpectedEffect::default()
    }
}

fn interval((_, low, high): (f64, f64, f64)) -> Interval {
    Interval { low, high }
}

/// Treated against control; `days_elapsed` and the suggestion are the caller's.
pub(super) fn effect(book: &CustomerBook, a: &Adoption, r: &Resolved) -> SuggestionEffect {
    let (start, end) = a.window();
    let members = |control: bool| {
        r.members
            .iter()
            .filter(move |(_, c)| *c == control)
            .map(|(id, _)| *id)
    };
    let (treated, t) = outcome(book, members(false), r.unresolved[0], start, end);
    let (control, c) = outcome(book, members(true), r.unresolved[1], start, end);
    let compared = treated.customers > 0 && control.customers > 0;
    let lift = compared.then(|| {
        let difference = rate_difference(
            treated.responders,
            treated.customers,
            control.responders,
            control.customers,
        );
        let ratio = rate_ratio(
            treated.responders,
            treated.customers,
            control.responders,
            control.customers,
        );
        Lift {
            rate_difference: difference.0,
            rate_difference_ci: Some(interval(difference)),
            rate_ratio: ratio.map(|r| r.0),
            rate_ratio_ci: ratio.map(interval),
            revenue_per_customer_difference_fen: t.mean - c.mean,
            revenue_per_customer_difference_ci: welch(t, c).map(interval),
        }
    });
    let realised = compared.then(|| {
        let n = treated.customers as f64;
        RealisedEffect {
            extra_responders: treated.responders as f64 - control.response_rate * n,
            extra_orders: treated.orders as f64 - control.orders_per_customer * n,
            extra_revenue_fen: treated.revenue_fen as f64 - control.revenue_per_customer_fen * n,
        }
    });
    let scale = if a.expected.reached > 0 {
        treated.customers as f64 / a.expected.reached as f64
    } else {
        0.0
    };
    SuggestionEffect {
        suggestion: None,
        window_start: portrait_core::Calendar::format_day(start),
        window_end: portrait_core::Calendar::format_day(end),
        days_elapsed: 0,
        treated: Some(treated),
        control: Some(control),
        lift,
        realised,
        expected_for_treated: Some(expected(&a.expected, scale)),
        unresolved_members: r.unresolved[0] + r.unresolved[1],
    }
}
