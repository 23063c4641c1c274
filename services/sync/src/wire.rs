//! An export's orders on the wire: `portrait import` parses the file where it
//! runs and uploads the rows to the gateway (`ImportOrders`), which maps them
//! with its own rules and state. The rows stay as read (decimals as text), so
//! the gateway's mapping is the same one a database sync applies.

use std::collections::HashSet;

use portrait_proto::v1::{SourceLineRow, SourceOrderRow, SourceShopRow};

use crate::job::Reader;
use crate::map::{Shop, Shops, SourceLine, SourceOrder};

pub fn order_row(o: SourceOrder) -> SourceOrderRow {
    SourceOrderRow {
        order_id: o.id,
        open_id: o.open_id,
        vip_id: o.vip_id,
        vip_tel: o.vip_tel,
        shop_id: o.shop_id,
        shop_name: o.shop_name,
        record_time: o.record_time,
        total: o.total,
        cash: o.cash,
        pay_state: o.pay_state,
        refund_money: o.refund_money,
        delflag: o.delflag,
        takeout_name: o.takeout_name,
        lines: o.lines.into_iter().map(line_row).collect(),
        import_error: o.import_error,
    }
}

fn line_row(l: SourceLine) -> SourceLineRow {
    SourceLineRow {
        line_id: l.id,
        goods_id: l.goods_id,
        goods_name: l.goods_name,
        category_id: l.category_id,
        category_name: l.category_name,
        goods_number: l.goods_number,
        goods_price: l.goods_price,
        goods_total: l.goods_total,
        real_income: l.real_income,
        is_refund: l.is_refund,
        refund_money: l.refund_money,
        delflag: l.delflag,
    }
}

pub fn shop_rows(shops: Shops) -> Vec<SourceShopRow> {
    let mut rows: Vec<SourceShopRow> = shops
        .into_iter()
        .map(|(id, s)| SourceShopRow {
            shop_id: id,
            name: s.name,
            city: s.city,
        })
        .collect();
    rows.sort_by_key(|s| s.shop_id);
    rows
}

fn source_order(r: SourceOrderRow) -> SourceOrder {
    SourceOrder {
        id: r.order_id,
        open_id: r.open_id,
        vip_id: r.vip_id,
        vip_tel: r.vip_tel,
        shop_id: r.shop_id,
        shop_name: r.shop_name,
        record_time: r.record_time,
        total: r.total,
        cash: r.cash,
        pay_state: r.pay_state,
        refund_money: r.refund_money,
        delflag: r.delflag,
        takeout_name: r.takeout_name,
        lines: r
            .lines
            .into_iter()
            .map(|l| SourceLine {
                id: l.line_id,
                goods_id: l.goods_id,
                goods_name: l.goods_name,
                category_id: l.category_id,
                category_name: l.category_name,
                goods_number: l.goods_number,
                goods_price: l.goods_price,
                goods_total: l.goods_total,
                real_income: l.real_income,
                is_refund: l.is_refund,
                refund_money: l.refund_money,
                delflag: l.delflag,
            })
            .collect(),
        import_error: r.import_error,
    }
}

/// An upload, gathered: what an import job reads.
#[derive(Default)]
pub struct Upload {
    orders: Vec<SourceOrder>,
    shops: Shops,
    ids: HashSet<i64>,
}

impl Upload {
    /// Adds one message's rows; an order sent twice is refused, since which
    /// of its two versions counts would be a guess.
    pub fn add(
        &mut self,
        orders: Vec<SourceOrderRow>,
        shops: Vec<SourceShopRow>,
    ) -> Result<(), String> {
        for o in orders {
            if !self.ids.insert(o.order_id) {
                return Err(format!("order_id {} sent twice", o.order_id));
            }
            self.orders.push(source_order(o));
        }
        for s in shops {
            self.shops.insert(
                s.shop_id,
                Shop {
                    name: s.name,
                    city: s.city,
                },
            );
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// The orders in id order, as a job reads them.
    pub fn into_reader(mut self) -> Reader {
        self.orders.sort_unstable_by_key(|o| o.id);
        Reader::File {
            orders: self.orders,
            shops: self.shops,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_survives_the_wire_unchanged() {
        let order = SourceOrder {
            id: 7,
            open_id: Some("o1".into()),
            vip_id: None,
            vip_tel: Some("+86 138".into()),
            shop_id: Some(3),
            record_time: Some("2025/3/5 12:00:00".into()),
            cash: Some("12.50".into()),
            pay_state: Some(2),
            lines: vec![SourceLine {
                id: 71,
                goods_id: Some(11),
                goods_total: Some("12.5".into()),
                is_refund: Some(0),
                ..Default::default()
            }],
            import_error: Some("line 3: disagree".into()),
            ..Default::default()
        };
        let mut upload = Upload::default();
        let shops: Shops = [(
            3,
            Shop {
                name: Some("静安店".into()),
                city: None,
            },
        )]
        .into_iter()
        .collect();
        upload
            .add(vec![order_row(order.clone())], shop_rows(shops.clone()))
            .unwrap();
        match upload.into_reader() {
            Reader::File { orders, shops: s } => {
                assert_eq!(orders, vec![order]);
                assert_eq!(s, shops);
            }
            Reader::Db(_) => unreachable!(),
        }
    }

    #[test]
    fn uploads_are_sorted_and_refuse_an_order_twice() {
        let row = |id| {
            order_row(SourceOrder {
                id,
                ..Default::default()
            })
        };
        let mut upload = Upload::default();
        upload.add(vec![row(9), row(2)], Vec::new()).unwrap();
        upload.add(vec![row(5)], Vec::new()).unwrap();
        let err = upload.add(vec![row(2)], Vec::new()).unwrap_err();
        assert!(err.contains("order_id 2 sent twice"), "{err}");
        match upload.into_reader() {
            Reader::File { orders, .. } => {
                assert_eq!(orders.iter().map(|o| o.id).collect::<Vec<_>>(), [2, 5, 9]);
            }
            Reader::Db(_) => unreachable!(),
        }
    }
}
