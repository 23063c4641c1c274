use portrait_proto::v1::Priority;

use crate::{CustomerAgg, Day};

/// A customer who has stayed away much longer than their own habit.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnWarning {
    pub days_since_last_order: i64,
    pub mean_gap_days: f64,
    pub priority: Priority,
}

/// Orders a customer needs before their own rhythm means anything.
pub const MIN_ORDERS: i64 = 3;

/// Warns when the days since the last order exceed twice the customer's mean gap
/// between orders ((last − first) / (orders − 1)), for customers with at least
/// three orders. Evaluated as of a day, so a new order clears it by itself.
pub fn churn_warning(agg: &CustomerAgg, as_of: Day) -> Option<ChurnWarning> {
    if agg.orders < MIN_ORDERS {
        return None;
    }
    let since = i64::from(as_of) - i64::from(agg.last_day);
    let span = i64::from(agg.last_day) - i64::from(agg.first_day);
    let gaps = agg.orders - 1;
    // since > 2·span/gaps, kept in integers so the boundary is exact.
    if since * gaps <= 2 * span {
        return None;
    }
    let priority = if since * gaps >= 4 * span {
        Priority::High
    } else if since * gaps >= 3 * span {
        Priority::Medium
    } else {
        Priority::Low
    };
    Some(ChurnWarning {
        days_since_last_order: since,
        mean_gap_days: span as f64 / gaps as f64,
        priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(orders: i64, first_day: Day, last_day: Day) -> CustomerAgg {
        CustomerAgg {
            customer: 0,
            orders,
            revenue: 100,
            first_day,
            last_day,
        }
    }

    #[test]
    fn boundary_is_strict() {
        // Mean gap 10 days: 20 days away is not yet a warning, 21 is.
        let a = agg(3, 0, 20);
        assert_eq!(churn_warning(&a, 40), None);
        let w = churn_warning(&a, 41).unwrap();
        assert_eq!(w.days_since_last_order, 21);
        assert_eq!(w.mean_gap_days, 10.0);
        assert_eq!(w.priority, Priority::Low);
        assert_eq!(churn_warning(&a, 60).unwrap().priority, Priority::High);
    }

    #[test]
    fn too_few_orders_never_warn() {
        assert_eq!(churn_warning(&agg(2, 0, 1), 400), None);
    }
}
