//! One source order (`Orders` + its `OrderGoods`) → one Portrait `Order`, or the
//! reason it does not count. Pure: no I/O, `now` passed in. docs/sync.md is the
//! prose version of every rule here; the e2e oracle is the SQL version.

use std::collections::HashMap;

use portrait_proto::v1::{Channel, Order, OrderLine, OrderStatus};

use crate::money::yuan_to_fen;
use crate::phone::normalise_phone;
use crate::pii::{Identity, pseudonym};
use crate::reason::{Finding, Reason};
use crate::rules::Rules;
use crate::time::parse_local_ms;

mod lines;

/// An `Orders` row with its `OrderGoods` rows, as read (decimals as text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceOrder {
    pub id: i64,
    pub open_id: Option<String>,
    pub vip_id: Option<i64>,
    pub vip_tel: Option<String>,
    pub shop_id: Option<i64>,
    pub shop_name: Option<String>,
    pub record_time: Option<String>,
    pub total: Option<String>,
    pub cash: Option<String>,
    pub pay_state: Option<i64>,
    pub refund_money: Option<String>,
    pub delflag: Option<i64>,
    pub takeout_name: Option<String>,
    pub lines: Vec<SourceLine>,
    /// An import file's rows of this order disagree: rejected as `bad_row`.
    pub import_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceLine {
    pub id: i64,
    pub goods_id: Option<i64>,
    pub goods_name: Option<String>,
    pub category_id: Option<i64>,
    pub category_name: Option<String>,
    pub goods_number: Option<i64>,
    pub goods_price: Option<String>,
    pub goods_total: Option<String>,
    pub real_income: Option<String>,
    pub is_refund: Option<i64>,
    pub refund_money: Option<String>,
    pub delflag: Option<i64>,
}

/// A `Shop` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shop {
    pub name: Option<String>,
    pub city: Option<String>,
}

pub type Shops = HashMap<i64, Shop>;

/// What a source order becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub outcome: Outcome,
    /// Corrections, and for a dropped order the finding that dropped it (first).
    pub findings: Vec<Finding>,
    /// The order's instant when `recordTime` parses (also for dropped orders:
    /// it decides whether the re-read window covers the order).
    pub placed_at_ms: Option<i64>,
    /// Who the order names, in plain, for the reveal store: set whenever the
    /// order maps to a customer (also for dropped orders: harmless, unused).
    pub identity: Option<Identity>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Counts: submit it.
    Live(Order),
    /// Does not count; an earlier accepted version is withdrawn with `status`.
    Dropped { reason: Reason, status: OrderStatus },
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().map_or("", str::trim)
}

/// Parsed money column: `None` = NULL; `Err` = the finding's detail.
fn money(column: &str, v: &Option<String>) -> Result<Option<i64>, (Reason, String)> {
    match v {
        None => Ok(None),
        Some(t) => match yuan_to_fen(t) {
            Some(f) if f < 0 => Err((Reason::NegativeAmount, format!("{column} = {t}"))),
            Some(f) => Ok(Some(f)),
            None => Err((
                Reason::BadAmount,
                format!("{column} = {t:?} is not a decimal"),
            )),
        },
    }
}

pub fn normalise_city(raw: &str, suffixes: &[String]) -> String {
    let city = raw.trim();
    for s in suffixes {
        if let Some(stripped) = city.strip_suffix(s.as_str())
            && !stripped.is_empty()
        {
            return stripped.to_owned();
        }
    }
    city.to_owned()
}

struct Mapper<'a> {
    src: &'a SourceOrder,
    rules: &'a Rules,
    findings: Vec<Finding>,
    /// The line that rejected the order, if a line did.
    bad_line: Option<i64>,
    identity: Option<Identity>,
}

pub fn map_order(src: &SourceOrder, shops: &Shops, rules: &Rules, now_ms: i64) -> Mapped {
    let placed_at_ms = src
        .record_time
        .as_deref()
        .and_then(|t| parse_local_ms(t, rules.tz));
    let mut m = Mapper {
        src,
        rules,
        findings: Vec::new(),
        bad_line: None,
        identity: None,
    };
    let outcome = match m.map(shops, placed_at_ms, now_ms) {
        Ok(outcome) => outcome,
        Err((reason, detail)) => {
            let mut finding = Finding::new(reason, src.id, detail);
            finding.line_id = m.bad_line;
            m.findings.insert(0, finding);
            Outcome::Dropped {
                reason,
                status: OrderStatus::Cancelled,
            }
        }
    };
    // A dropped order reports one reason, first: a refund above the order
    // is the more telling one when it is what brought the order to zero.
    let outcome = match outcome {
        Outcome::Dropped {
            reason: Reason::FullyRefunded,
            status,
        } => match m
            .findings
            .iter()
            .position(|f| f.reason == Reason::RefundExceeds)
        {
            Some(i) => {
                let f = m.findings.remove(i);
                m.findings.insert(0, f);
                Outcome::Dropped {
                    reason: Reason::RefundExceeds,
                    status,
                }
            }
            None => {
                m.findings.insert(
                    0,
                    Finding::new(
                        Reason::FullyRefunded,
                        src.id,
                        "refunds bring the order to 0",
                    ),
                );
                outcome
            }
        },
        other => other,
    };
    Mapped {
        outcome,
        findings: m.findings,
        placed_at_ms,
        identity: m.identity,
    }
}

type Step<T> = Result<T, (Reason, String)>;

impl<'a> Mapper<'a> {
    fn map(&mut self, shops: &Shops, placed_at: Option<i64>, now_ms: i64) -> Step<Outcome> {
        let src = self.src;
        if let Some(e) = &src.import_error {
            return Err((Reason::BadRow, e.clone()));
        }
        if src.delflag.unwrap_or(0) != 0 {
            return Err((
                Reason::Deleted,
                format!("delflag = {}", src.delflag.unwrap_or(0)),
            ));
        }
        if !src
            .pay_state
            .is_some_and(|p| self.rules.paid_states.contains(&p))
        {
            let state = src.pay_state.map_or("NULL".into(), |p| p.to_string());
            return Err((Reason::NotPaid, format!("payState = {state}")));
        }
        let placed_at_ms = match placed_at {
            Some(t) if t < self.rules.limits.earliest_ms => {
                return Err((
                    Reason::BadTime,
                    format!(
                        "recordTime {:?} is before domain.earliest_date",
                        text(&src.record_time)
                    ),
                ));
            }
            Some(t) if t > now_ms.saturating_add(self.rules.limits.max_future_ms) => {
                return Err((
                    Reason::FutureTime,
                    format!("recordTime {:?} is in the future", text(&src.record_time)),
                ));
            }
            Some(t) => t,
            None => {
                let raw = src
                    .record_time
                    .as_deref()
                    .map_or("NULL".into(), |t| format!("{t:?}"));
                return Err((
                    Reason::BadTime,
                    format!("recordTime {raw} is not a known layout"),
                ));
            }
        };
        let (store_id, store_name, city) = self.store(shops)?;
        let mut lines = self.lines()?;
        self.check_against_cash(&lines)?;
        let order_refund = money("Orders.refundMoney", &src.refund_money)?.unwrap_or(0);
        self.spread_order_refund(&mut lines, order_refund);
        let net: i64 = lines.iter().map(|l| l.net).sum();
        let refunded = order_refund > 0 || lines.iter().any(|l| l.refund > 0);
        if net == 0 && refunded && self.rules.full_refund_retracts {
            return Ok(Outcome::Dropped {
                reason: Reason::FullyRefunded,
                status: OrderStatus::Refunded,
            });
        }
        let order = Order {
            order_id: src.id.to_string(),
            customer_id: self.customer(),
            store_id,
            store_name,
            city,
            channel: self.channel() as i32,
            placed_at_ms,
            net_amount_fen: net,
            lines: lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.src.goods_id.unwrap_or_default().to_string(),
                    product_name: text(&l.src.goods_name).to_owned(),
                    category_id: l.src.category_id.map(|c| c.to_string()).unwrap_or_default(),
                    category_name: text(&l.src.category_name).to_owned(),
                    quantity: l.src.goods_number.unwrap_or_default(),
                    net_amount_fen: l.net,
                })
                .collect(),
            status: OrderStatus::Paid as i32,
        };
        // The mapping guarantees what ingest checks; this catches a mapping bug
        // as a recorded rejection instead of a failed job.
        portrait_core::check(&order, now_ms, &self.rules.limits)
            .map_err(|e| (Reason::BadRow, e.to_string()))?;
        Ok(Outcome::Live(order))
    }

    fn store(&mut self, shops: &Shops) -> Step<(String, String, String)> {
        let src = self.src;
        let id = match src.shop_id {
            Some(id) if id > 0 => id,
            other => {
                return Err((
                    Reason::NoStore,
                    format!(
                        "shopId = {}",
                        other.map_or("NULL".into(), |i| i.to_string())
                    ),
                ));
            }
        };
        let order_name = text(&src.shop_name).to_owned();
        Ok(match shops.get(&id) {
            Some(shop) => {
                let name = match text(&shop.name) {
                    "" => order_name,
                    current => current.to_owned(),
                };
                (
                    id.to_string(),
                    name,
                    normalise_city(text(&shop.city), &self.rules.city_suffixes),
                )
            }
            None => {
                self.findings.push(Finding::new(
                    Reason::UnknownStore,
                    src.id,
                    format!("shopId {id} ({order_name}) is not in Shop: city unknown"),
                ));
                (id.to_string(), order_name, String::new())
            }
        })
    }

    fn customer(&mut self) -> String {
        let src = self.src;
        let open_id = text(&src.open_id);
        let tel = text(&src.vip_tel);
        let phone = normalise_phone(tel);
        if !tel.is_empty() && phone.is_none() {
            // Never the number itself in a finding: only its length.
            self.findings.push(Finding::new(
                Reason::BadPhone,
                src.id,
                format!(
                    "vipTel of {} characters is not a mobile number",
                    tel.chars().count()
                ),
            ));
        }
        // Without the key no id can be made that does not carry the value
        // itself: the order is anonymous (the job refuses to run keyless).
        let Some(key) = &self.rules.phone_key else {
            return String::new();
        };
        let member = src.vip_id.filter(|v| *v > 0).map(|v| v.to_string());
        let customer_id = if !open_id.is_empty() {
            pseudonym(key, "wx", open_id)
        } else if let Some(vip) = &member {
            pseudonym(key, "vip", vip)
        } else if let Some(p) = &phone {
            pseudonym(key, "tel", p)
        } else {
            return String::new();
        };
        self.identity = Some(Identity {
            customer_id: customer_id.clone(),
            open_id: open_id.to_owned(),
            member_id: member.unwrap_or_default(),
            phone: phone.unwrap_or_default(),
        });
        customer_id
    }

    fn channel(&mut self) -> Channel {
        let src = self.src;
        let takeout = text(&src.takeout_name);
        if !takeout.is_empty() {
            if let Some((_, c)) = self
                .rules
                .platforms
                .iter()
                .find(|(k, _)| takeout.contains(k.as_str()))
            {
                return *c;
            }
            self.findings.push(Finding::new(
                Reason::UnknownPlatform,
                src.id,
                format!("takeoutName {takeout:?} is not in sync.platforms"),
            ));
        }
        if text(&src.open_id).is_empty() {
            Channel::Pos
        } else {
            Channel::WechatMini
        }
    }
}
