use portrait_proto::v1::{Channel, Order, OrderStatus};

use crate::{Error, Result};

/// Checks an order before it is accepted or applied. The error names the field,
/// e.g. `order.lines[2].quantity`, so a caller can fix the source record.
pub fn validate_order(order: &Order, now_ms: i64, max_future_ms: i64) -> Result<()> {
    if order.order_id.trim().is_empty() {
        return Err(Error::invalid("order.order_id", "must not be empty"));
    }
    if order.store_id.trim().is_empty() {
        return Err(Error::invalid("order.store_id", "must not be empty"));
    }
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
    if order.placed_at_ms <= 0 {
        return Err(Error::invalid(
            "order.placed_at_ms",
            "must be a positive epoch millisecond",
        ));
    }
    if order.placed_at_ms > now_ms.saturating_add(max_future_ms) {
        return Err(Error::invalid(
            "order.placed_at_ms",
            format!(
                "{} is more than {} minutes in the future",
                order.placed_at_ms,
                max_future_ms / 60_000
            ),
        ));
    }
    if order.net_amount_fen < 0 {
        return Err(Error::invalid(
            "order.net_amount_fen",
            "must not be negative",
        ));
    }
    if order.lines.is_empty() {
        return Err(Error::invalid(
            "order.lines",
            "an order needs at least one line",
        ));
    }
    let mut total: i64 = 0;
    for (i, line) in order.lines.iter().enumerate() {
        if line.product_id.trim().is_empty() {
            return Err(Error::invalid(
                format!("order.lines[{i}].product_id"),
                "must not be empty",
            ));
        }
        if line.quantity <= 0 {
            return Err(Error::invalid(
                format!("order.lines[{i}].quantity"),
                "must be positive",
            ));
        }
        if line.net_amount_fen < 0 {
            return Err(Error::invalid(
                format!("order.lines[{i}].net_amount_fen"),
                "must not be negative",
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

    fn field_of(o: &Order) -> String {
        match validate_order(o, NOW, DAY) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_good_order_passes() {
        assert_eq!(validate_order(&order(), NOW, DAY), Ok(()));
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
