//! The refund counts behind the refund rate: per (store, local day of
//! placing), the paid orders that count and the orders now refunded. A
//! refund is a retraction of the live figures, so the live folds forget it;
//! this part reads the event's refund versions (`OrderEvent.refunded` and
//! `previous_refunded`, set by `decide`) as well as its live ones.

use std::collections::BTreeMap;

use portrait_proto::v1::{Order, OrderEvent};

use super::Fold;
use crate::{Calendar, Day};

/// Paid (live) orders and refunded orders of one store and day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RefundAcc {
    pub paid: i64,
    pub refunded: i64,
}

impl RefundAcc {
    pub fn add(&mut self, by: RefundAcc) {
        self.paid += by.paid;
        self.refunded += by.refunded;
    }

    pub fn is_zero(&self) -> bool {
        *self == RefundAcc::default()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefundDays {
    /// (store, day) → counts; anonymous orders included, like every store figure.
    pub rows: BTreeMap<(String, Day), RefundAcc>,
}

impl RefundDays {
    fn count(&mut self, calendar: &Calendar, order: &Order, by: RefundAcc) {
        let day = calendar.day(order.placed_at_ms);
        (self.rows.entry((order.store_id.clone(), day)).or_default()).add(by);
    }

    pub fn prune(&mut self) {
        self.rows.retain(|_, a| !a.is_zero());
    }
}

impl Fold for RefundDays {
    fn add(&mut self, calendar: &Calendar, order: &Order, sign: i64) {
        let by = RefundAcc {
            paid: sign,
            refunded: 0,
        };
        self.count(calendar, order, by);
    }

    fn apply(&mut self, calendar: &Calendar, event: &OrderEvent) {
        if let Some(previous) = &event.previous {
            self.add(calendar, previous, -1);
        }
        if let Some(order) = &event.order {
            self.add(calendar, order, 1);
        }
        for (version, sign) in [(&event.previous_refunded, -1), (&event.refunded, 1)] {
            if let Some(o) = version {
                let by = RefundAcc {
                    paid: 0,
                    refunded: sign,
                };
                self.count(calendar, o, by);
            }
        }
    }
}

#[cfg(test)]
mod tests;
