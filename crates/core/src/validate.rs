use portrait_proto::v1::{Channel, Order, OrderStatus};

use crate::{Error, Result};

/// Bounds on what an order may say. Anything outside is a data error, not a
/// sale; they also keep every sum Portrait keeps far inside i64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest net amount of one order, in fen.
    pub max_order_fen: i64,
    /// Largest quantity of one line.
    pub max_line_quantity: i64,
    pub max_lines: usize,
    /// Longest order, customer, store and product id, in bytes.
    pub max_id_len: usize,
    /// Longest store, city, product and category name, in bytes.
    pub max_name_len: usize,
    /// Earliest `placed_at` accepted (epoch ms): before the chain existed.
    pub earliest_ms: i64,
    /// How far in the future `placed_at` may be (clock skew), in ms.
    pub max_future_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // ¥1,000,000.
            max_order_fen: 100_000_000,
            max_line_quantity: 10_000,
            max_lines: 1_000,
            max_id_len: 128,
            max_name_len: 400,
            // 2000-01-01T00:00:00Z.
            earliest_ms: 946_684_800_000,
            max_future_ms: 24 * 3_600_000,
        }
    }
}

/// An order that passed [`validate_order`]; nothing else can make one.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidOrder(Order);

impl ValidOrder {
    pub fn get(&self) -> &Order {
        &self.0
    }

    pub fn into_inner(self) -> Order {
        self.0
    }
}

/// Checks an order before it is accepted or applied. The error names the field,
/// e.g. `order.lines[2].quantity`, so a caller can fix the source record.
pub fn validate_order(order: Order, now_ms: i64, limits: &Limits) -> Result<ValidOrder> {
    check(&order, now_ms, limits)?;
    Ok(ValidOrder(order))
}

/// [`validate_order`] for a borrowed order, when only the verdict is needed.
pub fn check(order: &Order, now_ms: i64, limits: &Limits) -> Result<()> {
    id("order.order_id", &order.order_id, limits, false)?;
    id("order.customer_id", &order.customer_id, limits, true)?;
    id("order.store_id", &order.store_id, limits, false)?;
    name("order.store_name", &order.store_name, limits)?;
    name("order.city", &order.city, limits)?;
    match Channel::try_from(order.channel) {
        Ok(Channel::Unspecified) => {
            return Err(Error::invalid("order.channel", "must be set"));
        }
        Err(_) => {
            return Err(Error::invalid(
                "order.channel",
                format!("unknown channel {}", order.channel),
            ));
        }
        Ok(_) => {}
    }
    if OrderStatus::try_from(order.status).is_err() {
        return Err(Error::invalid(
            "order.status",
            format!("unknown status {}", order.status),
        ));
    }
    if order.placed_at_ms < limits.earliest_ms {
        return Err(Error::invalid(
            "order.placed_at_ms",
            format!(
                "{} is before the earliest accepted instant {}",
                order.placed_at_ms, limits.earliest_ms
            ),
        ));
    }
    if order.placed_at_ms > now_ms.saturating_add(limits.max_future_ms) {
        return Err(Error::invalid(
            "order.placed_at_ms",
            format!(
                "{} is more than {} minutes in the future",
                order.placed_at_ms,
                limits.max_future_ms / 60_000
            ),
        ));
    }
    if !(0..=limits.max_order_fen).contains(&order.net_amount_fen) {
        return Err(Error::invalid(
            "order.net_amount_fen",
            format!("must be between 0 and {}", limits.max_order_fen),
        ));
    }
    if order.lines.is_empty() {
        return Err(Error::invalid(
            "order.lines",
            "an order needs at least one line",
        ));
    }
    if order.lines.len() > limits.max_lines {
        return Err(Error::invalid(
            "order.lines",
            format!("more than {} lines", limits.max_lines),
        ));
    }
    let mut total: i64 = 0;
    for (i, line) in order.lines.iter().enumerate() {
        let field = |f: &str| format!("order.lines[{i}].{f}");
        id(&field("product_id"), &line.product_id, limits, false)?;
        id(&field("category_id"), &line.category_id, limits, true)?;
        name(&field("product_name"), &line.product_name, limits)?;
        name(&field("category_name"), &line.category_name, limits)?;
        if !(1..=limits.max_line_quantity).contains(&line.quantity) {
            return Err(Error::invalid(
                field("quantity"),
                format!("must be between 1 and {}", limits.max_line_quantity),
            ));
        }
        if !(0..=limits.max_order_fen).contains(&line.net_amount_fen) {
            return Err(Error::invalid(
                field("net_amount_fen"),
                format!("must be between 0 and {}", limits.max_order_fen),
            ));
        }
        total = total
            .checked_add(line.net_amount_fen)
            .ok_or_else(|| Error::invalid("order.lines", "line amounts overflow"))?;
    }
    if total != order.net_amount_fen {
        return Err(Error::invalid(
            "order.net_amount_fen",
            format!(
                "{} does not equal the sum of the lines' net amounts ({total})",
                order.net_amount_fen
            ),
        ));
    }
    Ok(())
}

fn id(field: &str, value: &str, limits: &Limits, may_be_empty: bool) -> Result<()> {
    if !may_be_empty && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > limits.max_id_len {
        return Err(Error::invalid(
            field,
            format!("longer than {} bytes", limits.max_id_len),
        ));
    }
    Ok(())
}

fn name(field: &str, value: &str, limits: &Limits) -> Result<()> {
    if value.len() > limits.max_name_len {
        return Err(Error::invalid(
            field,
            format!("longer than {} bytes", limits.max_name_len),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use portrait_proto::v1::OrderLine;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const DAY: i64 = 86_400_000;

    fn order() -> Order {
        Order {
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            store_id: "s-1".into(),
            store_name: "静安店".into(),
            city: "上海".into(),
            channel: Channel::Pos as i32,
            placed_at_ms: NOW - DAY,
            net_amount_fen: 3_000,
            lines: vec![
                OrderLine {
                    product_id: "p-1".into(),
                    quantity: 1,
                    net_amount_fen: 1_000,
                    ..Default::default()
                },
                OrderLine {
                    product_id: "p-2".into(),
                    quantity: 2,
                    net_amount_fen: 2_000,
                    ..Default::default()
                },
            ],
            status: OrderStatus::Paid as i32,
        }
    }

    fn limits() -> Limits {
        Limits {
            max_future_ms: DAY,
            ..Limits::default()
        }
    }

    fn field_of(o: &Order) -> String {
        match check(o, NOW, &limits()) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_good_order_passes() {
        assert_eq!(check(&order(), NOW, &limits()), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Breaker = fn(&mut Order);
        let cases: Vec<(Breaker, &str)> = vec![
            (|o| o.order_id.clear(), "order.order_id"),
            (|o| o.store_id = " ".into(), "order.store_id"),
            (|o| o.channel = 0, "order.channel"),
            (|o| o.channel = 99, "order.channel"),
            (|o| o.status = 7, "order.status"),
            (|o| o.placed_at_ms = 0, "order.placed_at_ms"),
            (|o| o.placed_at_ms = 900_000_000_000, "order.placed_at_ms"),
            (|o| o.order_id = "x".repeat(129), "order.order_id"),
            (|o| o.customer_id = "x".repeat(129), "order.customer_id"),
            (|o| o.city = "城".repeat(200), "order.city"),
            (
                |o| {
                    o.net_amount_fen = i64::MAX;
                    o.lines.truncate(1);
                    o.lines[0].net_amount_fen = i64::MAX;
                },
                "order.net_amount_fen",
            ),
            (|o| o.lines[0].quantity = 10_001, "order.lines[0].quantity"),
            (|o| o.placed_at_ms = NOW + 2 * DAY, "order.placed_at_ms"),
            (|o| o.net_amount_fen = -1, "order.net_amount_fen"),
            (|o| o.net_amount_fen = 2_999, "order.net_amount_fen"),
            (|o| o.lines.clear(), "order.lines"),
            (|o| o.lines[1].quantity = 0, "order.lines[1].quantity"),
            (
                |o| o.lines[0].product_id.clear(),
                "order.lines[0].product_id",
            ),
            (
                |o| o.lines[0].net_amount_fen = -5,
                "order.lines[0].net_amount_fen",
            ),
        ];
        for (break_it, field) in cases {
            let mut o = order();
            break_it(&mut o);
            assert_eq!(field_of(&o), field);
        }
    }
}
