//! A generator of `cyrg2025`-shaped source data with every quirk of
//! ../shared/source/cyrg2025.md, written to MariaDB and PostgreSQL alike.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Executor, MySqlPool, PgPool};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const SHANGHAI_MS: i64 = 8 * HOUR_MS;

#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub id: i64,
    pub open_id: Option<String>,
    pub vip_id: Option<i64>,
    pub vip_tel: Option<String>,
    pub shop_id: Option<i64>,
    pub shop_name: String,
    pub record_time: Option<String>,
    pub total: Option<i64>,
    pub cash: Option<i64>,
    pub pay_state: Option<i64>,
    pub refund_money: Option<i64>,
    pub delflag: i64,
    pub takeout_name: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct LineRow {
    pub id: i64,
    pub order_id: i64,
    pub goods_id: Option<i64>,
    pub goods_number: Option<i64>,
    pub goods_price: i64,
    pub goods_total: Option<i64>,
    pub real_income: Option<i64>,
    pub is_refund: i64,
    pub refund_money: Option<i64>,
    pub delflag: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Db {
    MySql,
    Postgres,
}

/// A source database of either kind.
pub(crate) enum Conn {
    MySql(MySqlPool),
    Postgres(PgPool),
}

pub(crate) struct Gen {
    rng: StdRng,
    /// Local midnight today, as UTC ms: generated valid times lie before it.
    pub today_ms: i64,
    next_order: i64,
    next_line: i64,
    /// Plain paid orders of the last ten days, for later refunds and deletions.
    pub recent: Vec<i64>,
    /// Unpaid orders of the last ten days, for later payment.
    pub unpaid: Vec<i64>,
}

fn fen(v: Option<i64>) -> String {
    match v {
        None => "NULL".into(),
        Some(f) => format!(
            "{}{}.{:02}",
            if f < 0 { "-" } else { "" },
            f.abs() / 100,
            f.abs() % 100
        ),
    }
}

fn text(v: &Option<String>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

fn int(v: Option<i64>) -> String {
    v.map_or("NULL".into(), |i| i.to_string())
}

const GOODS: [(i64, &str, i64, &str, i64); 8] = [
    (101, "经典热狗", 1, "热狗", 1200),
    (102, "芝士热狗", 1, "热狗", 1500),
    (103, "辣味热狗", 1, "热狗", 1400),
    (201, "柠檬茶", 2, "饮品", 800),
    (202, "美式咖啡", 2, "饮品", 1000),
    (203, "可乐", 2, "饮品", 500),
    (301, "双人套餐", 3, "套餐", 4500),
    (302, "单人套餐", 3, "套餐", 2800),
];

pub(crate) const SHOPS: [(i64, &str, &str); 5] = [
    (1, "静安店", "上海市"),
    (2, "徐汇店", "上海"),
    (3, "朝阳店", "北京市"),
    (4, "西湖店", "杭州"),
    (5, "无名店", ""),
];

impl Gen {
    pub(crate) fn new(seed: u64, now_ms: i64) -> Self {
        let local = now_ms + SHANGHAI_MS;
        Self {
            rng: StdRng::seed_from_u64(seed),
            today_ms: local - local.rem_euclid(DAY_MS) - SHANGHAI_MS,
            next_order: 1000,
            next_line: 50_000,
            recent: Vec::new(),
            unpaid: Vec::new(),
        }
    }

    /// Local time text of an instant in one of the three layouts.
    fn time_text(&mut self, ms: i64) -> String {
        let t = chrono::DateTime::from_timestamp_millis(ms + SHANGHAI_MS)
            .expect("in range")
            .naive_utc();
        match self.rng.random_range(0..3) {
            0 => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            1 => t.format("%Y/%-m/%-d %H:%M:%S").to_string(),
            _ => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        }
    }

    /// A valid time `days_back` days or less before today's midnight, whole seconds
    /// (or milliseconds in the ISO layout).
    fn recent(&mut self, days_back: i64) -> (i64, String) {
        let ms = self.today_ms - self.rng.random_range(1..days_back * DAY_MS);
        let ms = ms - ms % 1000;
        (ms, self.time_text(ms))
    }

    /// A plain paid order in the last `days_back` days, with 1-4 consistent lines.
    pub(crate) fn order(&mut self, days_back: i64) -> (OrderRow, Vec<LineRow>) {
        let id = self.next_order;
        self.next_order += 1 + self.rng.random_range(0..3);
        let (_, time) = self.recent(days_back);
        let shop = SHOPS[self.rng.random_range(0..SHOPS.len())];
        let who = self.rng.random_range(0..10);
        let (open_id, vip_id, vip_tel) = match who {
            0..=3 => (
                Some(format!("oWx{}", self.rng.random_range(0..60))),
                None,
                None,
            ),
            4..=5 => {
                let v = self.rng.random_range(1..40);
                let tel = match self.rng.random_range(0..4) {
                    0 => format!("1380000{v:04}"),
                    1 => format!("+86 138-0000-{v:04}"),
                    2 => format!("138 0000 {v:04}"),
                    _ => String::new(),
                };
                (Some(String::new()), Some(v), Some(tel))
            }
            // Members known only by phone: every spelling is one customer.
            6 => {
                let v = self.rng.random_range(0..20);
                let tel = if self.rng.random_bool(0.5) {
                    format!("+86 139{v:08}")
                } else {
                    format!("139-{:04}-{:04}", v / 10_000, v % 10_000)
                };
                (None, Some(0), Some(tel))
            }
            _ => (None, None, None),
        };
        let takeout = match self.rng.random_range(0..10) {
            0 => Some("美团".to_owned()),
            1 => Some("饿了么".to_owned()),
            2 => Some("抖音".to_owned()),
            3 => Some(String::new()),
            _ => None,
        };
        let mut lines = Vec::new();
        for _ in 0..self.rng.random_range(1..=4) {
            let g = GOODS[self.rng.random_range(0..GOODS.len())];
            let qty = self.rng.random_range(1..=3);
            let total = g.4 * qty;
            let real = match self.rng.random_range(0..3) {
                0 => None,
                1 => Some(total),
                _ => Some(total - self.rng.random_range(0..=total / 5)),
            };
            lines.push(self.line(id, g.0, qty, g.4, Some(total), real));
        }
        let paid: i64 = lines
            .iter()
            .map(|l| l.real_income.or(l.goods_total).unwrap_or(0))
            .sum();
        let gross: i64 = lines.iter().map(|l| l.goods_total.unwrap_or(0)).sum();
        let order = OrderRow {
            id,
            open_id,
            vip_id,
            vip_tel,
            shop_id: Some(shop.0),
            shop_name: shop.1.to_owned(),
            record_time: Some(time),
            total: Some(gross),
            cash: if self.rng.random_bool(0.1) {
                None
            } else {
                Some(paid)
            },
            pay_state: Some(2),
            refund_money: if self.rng.random_bool(0.5) {
                None
            } else {
                Some(0)
            },
            delflag: 0,
            takeout_name: takeout,
        };
        (order, lines)
    }

    fn line(
        &mut self,
        order_id: i64,
        goods: i64,
        qty: i64,
        price: i64,
        total: Option<i64>,
        real: Option<i64>,
    ) -> LineRow {
        let id = self.next_line;
        self.next_line += 1;
        LineRow {
            id,
            order_id,
            goods_id: Some(goods),
            goods_number: Some(qty),
            goods_price: price,
            goods_total: total,
            real_income: real,
            is_refund: 0,
            refund_money: Some(0),
            delflag: 0,
        }
    }

    /// `n` plain orders plus one or more of every quirk; quirky orders are
    /// recent enough for the re-read window.
    pub(crate) fn initial(&mut self, n: usize) -> (Vec<OrderRow>, Vec<LineRow>) {
        let mut orders = Vec::new();
        let mut lines = Vec::new();
        for _ in 0..n {
            let (o, l) = self.order(40);
            orders.push(o);
            lines.extend(l);
        }
        type Quirk = fn(&mut Gen, &mut OrderRow, &mut Vec<LineRow>);
        let quirks: Vec<Quirk> = vec![
            |_, o, _| o.pay_state = Some(0),
            |_, o, _| o.pay_state = Some(1),
            |_, o, _| o.pay_state = Some(3),
            |_, o, _| o.pay_state = None,
            |_, o, _| o.delflag = 1,
            |_, o, _| o.record_time = Some(String::new()),
            |_, o, _| o.record_time = Some("N/A".into()),
            |_, o, _| o.record_time = None,
            |_, o, _| o.record_time = Some("1999-12-31 23:00:00".into()),
            |g, o, _| o.record_time = Some(g.time_text(g.today_ms + 30 * DAY_MS)),
            |_, _, l| {
                l[0].goods_total = None;
                l[0].real_income = None;
            },
            |_, _, l| l[0].real_income = Some(-100),
            |_, o, _| o.cash = Some(-500),
            |_, o, _| o.refund_money = Some(-100),
            |_, _, l| {
                l[0].refund_money = Some(l[0].real_income.or(l[0].goods_total).unwrap_or(0) + 1)
            },
            |_, _, l| {
                l[0].goods_total = Some(2_000_000);
                l[0].real_income = None;
            },
            |_, _, l| l[0].goods_number = Some(0),
            |_, _, l| l[0].goods_id = None,
            |_, _, l| l.clear(),
            |_, _, l| {
                for x in l.iter_mut() {
                    x.delflag = 1;
                }
            },
            |_, o, _| o.shop_id = None,
            |_, o, _| o.shop_id = Some(0),
            // Corrections: accepted after a documented fix.
            |_, o, _| o.cash = Some(o.cash.unwrap_or(0) + 700),
            |_, o, _| {
                o.shop_id = Some(99);
                o.shop_name = "快闪店".into();
            },
            |g, o, l| {
                let mut d = l[0].clone();
                d.id = g.next_line;
                g.next_line += 1;
                l.push(d);
                let _ = o;
            },
            |_, o, l| {
                let paid: i64 = l
                    .iter()
                    .map(|x| x.real_income.or(x.goods_total).unwrap_or(0))
                    .sum();
                o.refund_money = Some(paid / 3 + 1);
            },
            |_, o, _| o.takeout_name = Some("快手".into()),
            |_, o, _| {
                o.open_id = None;
                o.vip_id = Some(0);
                o.vip_tel = Some("021-5555".into());
            },
            |_, _, l| {
                l[0].is_refund = 1;
                l[0].refund_money = Some(l[0].real_income.or(l[0].goods_total).unwrap_or(0));
            },
            |_, _, l| {
                if let Some(x) = l.last_mut() {
                    x.refund_money = Some(x.real_income.or(x.goods_total).unwrap_or(0) / 2);
                }
            },
            // Fully refunded: by the order, by every line, and beyond the total.
            |_, o, l| {
                o.refund_money = Some(
                    l.iter()
                        .map(|x| x.real_income.or(x.goods_total).unwrap_or(0))
                        .sum(),
                )
            },
            |_, _, l| {
                for x in l.iter_mut() {
                    x.is_refund = 1;
                }
            },
            |_, o, l| {
                o.refund_money = Some(
                    l.iter()
                        .map(|x| x.real_income.or(x.goods_total).unwrap_or(0))
                        .sum::<i64>()
                        + 999,
                )
            },
        ];
        for (i, quirk) in quirks.into_iter().enumerate() {
            for _ in 0..2 {
                let (mut o, mut l) = self.order(10);
                quirk(self, &mut o, &mut l);
                // The first four quirks leave the order unpaid and nothing else.
                if i < 4 {
                    self.unpaid.push(o.id);
                }
                orders.push(o);
                lines.extend(l);
            }
        }
        for _ in 0..30 {
            let (o, l) = self.order(10);
            self.recent.push(o.id);
            orders.push(o);
            lines.extend(l);
        }
        (orders, lines)
    }
}

pub(crate) fn ident(db: Db, name: &str) -> String {
    match db {
        Db::MySql => format!("`{name}`"),
        Db::Postgres => format!("\"{name}\""),
    }
}

/// The source tables' columns and declared types, in insert order. `dec` is
/// the backend's decimal(18,2).
const ORDERS: [(&str, &str); 19] = [
    ("id", "bigint PRIMARY KEY"),
    ("orderNo", "varchar(50)"),
    ("openId", "varchar(50)"),
    ("vipId", "int"),
    ("vipTel", "varchar(50)"),
    ("shopId", "int"),
    ("shopName", "varchar(350)"),
    ("recordTime", "varchar(50)"),
    ("total", "dec"),
    ("cash", "dec"),
    ("payState", "int"),
    ("refundMoney", "dec"),
    ("refundTime", "varchar(50)"),
    ("delflag", "int"),
    ("deliverType", "varchar(50)"),
    ("takeoutName", "varchar(50)"),
    ("payMode", "varchar(50)"),
    ("couponAmount", "dec"),
    ("discountAmount", "dec"),
];
const ORDER_GOODS: [(&str, &str); 13] = [
    ("id", "bigint PRIMARY KEY"),
    ("orderId", "bigint"),
    ("goodsId", "int"),
    ("goodsName", "varchar(150)"),
    ("categoryId", "int"),
    ("categoryName", "varchar(150)"),
    ("goodsNumber", "int"),
    ("goodsPrice", "dec"),
    ("goodsTotal", "dec"),
    ("realIncomeAmount", "dec"),
    ("isRefund", "int"),
    ("refundMoney", "dec"),
    ("delflag", "int"),
];
const SHOP: [(&str, &str); 9] = [
    ("Id", "int PRIMARY KEY"),
    ("ShopName", "varchar(100)"),
    ("province", "varchar(255)"),
    ("city", "varchar(255)"),
    ("district", "varchar(255)"),
    ("Delflag", "bit(1)"),
    ("meituanId", "varchar(50)"),
    ("elemeId", "varchar(50)"),
    ("douyinId", "varchar(50)"),
];

fn create_table(db: Db, table: &str, columns: &[(&str, &str)]) -> String {
    let dec = if db == Db::MySql {
        "decimal(18,2)"
    } else {
        "numeric(18,2)"
    };
    let tail = if db == Db::MySql {
        " DEFAULT CHARSET=utf8mb4"
    } else {
        ""
    };
    let columns: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            format!(
                "{} {}",
                ident(db, name),
                if *ty == "dec" { dec } else { ty }
            )
        })
        .collect();
    format!(
        "CREATE TABLE {} ({}){tail}",
        ident(db, table),
        columns.join(", ")
    )
}

/// `INSERT INTO table (every column) VALUES `.
fn insert_into(db: Db, table: &str, columns: &[(&str, &str)]) -> String {
    let names: Vec<String> = columns.iter().map(|(name, _)| ident(db, name)).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ",
        ident(db, table),
        names.join(", ")
    )
}

fn ddl(db: Db) -> Vec<String> {
    vec![
        create_table(db, "Orders", &ORDERS),
        create_table(db, "OrderGoods", &ORDER_GOODS),
        format!(
            "CREATE INDEX og_order ON {} ({})",
            ident(db, "OrderGoods"),
            ident(db, "orderId")
        ),
        create_table(db, "Shop", &SHOP),
    ]
}

impl Conn {
    pub(crate) fn db(&self) -> Db {
        match self {
            Conn::MySql(_) => Db::MySql,
            Conn::Postgres(_) => Db::Postgres,
        }
    }

    pub(crate) async fn exec(&self, sql: &str) {
        let r = match self {
            Conn::MySql(p) => p.execute(sql).await.map(|_| ()),
            Conn::Postgres(p) => p.execute(sql).await.map(|_| ()),
        };
        r.unwrap_or_else(|e| {
            panic!(
                "source statement failed: {e}\n{}",
                &sql[..sql.len().min(400)]
            )
        });
    }

    pub(crate) async fn create_schema(&self) {
        for s in ddl(self.db()) {
            self.exec(&s).await;
        }
        let rows: Vec<String> = SHOPS
            .iter()
            .map(|(id, name, city)| {
                format!(
                    "({id}, '{name}', '省', '{city}', '区', B'0', 'mt{id}', 'el{id}', 'dy{id}')"
                )
            })
            .collect();
        self.exec(&format!(
            "{}{}",
            insert_into(self.db(), "Shop", &SHOP),
            rows.join(", ")
        ))
        .await;
    }

    pub(crate) async fn insert(&self, orders: &[OrderRow], lines: &[LineRow]) {
        for chunk in orders.chunks(400) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|o| {
                    format!(
                        "({}, 'NO{}', {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, '', {}, '堂食', {}, '微信', 0, 0)",
                        o.id, o.id, text(&o.open_id), int(o.vip_id), text(&o.vip_tel), int(o.shop_id), text(&Some(o.shop_name.clone())),
                        text(&o.record_time), fen(o.total), fen(o.cash), int(o.pay_state), fen(o.refund_money), o.delflag, text(&o.takeout_name)
                    )
                })
                .collect();
            self.exec(&format!(
                "{}{}",
                insert_into(self.db(), "Orders", &ORDERS),
                rows.join(", ")
            ))
            .await;
        }
        for chunk in lines.chunks(400) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|l| {
                    let g = GOODS
                        .iter()
                        .find(|g| Some(g.0) == l.goods_id)
                        .copied()
                        .unwrap_or((0, "未知", 9, "其他", 0));
                    format!(
                        "({}, {}, {}, '{}', {}, '{}', {}, {}, {}, {}, {}, {}, {})",
                        l.id,
                        l.order_id,
                        int(l.goods_id),
                        g.1,
                        g.2,
                        g.3,
                        int(l.goods_number),
                        fen(Some(l.goods_price)),
                        fen(l.goods_total),
                        fen(l.real_income),
                        l.is_refund,
                        fen(l.refund_money),
                        l.delflag
                    )
                })
                .collect();
            self.exec(&format!(
                "{}{}",
                insert_into(self.db(), "OrderGoods", &ORDER_GOODS),
                rows.join(", ")
            ))
            .await;
        }
    }
}
