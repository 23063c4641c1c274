use portrait_proto::v1::{Channel, Order, OrderLine, OrderStatus};
use rand::Rng;
use rand::rngs::StdRng;

use crate::{Chain, ChainSpec, DAY_MS};

const HOUR_MS: i64 = 3_600_000;

/// How a customer buys; the mix is what makes the portraits worth looking at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Habit {
    /// Several times a week, breakfast to dinner, mostly the mini-program.
    Regular,
    /// Weekday lunches near the office.
    LunchOnly,
    /// Weekend family meals, big baskets, in store.
    Weekend,
    /// Evening delivery through Meituan or Ele.me only.
    DeliveryOnly,
    /// Active early in the period, then gone.
    Lapsed,
    /// One order, never again.
    OneOff,
}

impl Habit {
    fn pick(rng: &mut StdRng) -> Self {
        match rng.random_range(0..100) {
            0..20 => Habit::Regular,
            20..40 => Habit::LunchOnly,
            40..55 => Habit::Weekend,
            55..70 => Habit::DeliveryOnly,
            70..85 => Habit::Lapsed,
            _ => Habit::OneOff,
        }
    }
}

pub(crate) struct Customer {
    /// 1-based; the id is formatted when an order needs it, to keep a
    /// million customers small.
    number: u32,
    habit: Habit,
    home: usize,
    /// Multiplies the habit's daily order probability.
    appetite: f64,
    /// Lapsed customers stop after this day; one-off buyers buy on it.
    day: u32,
}

pub(crate) fn customers(spec: &ChainSpec, stores: usize, rng: &mut StdRng) -> Vec<Customer> {
    (0..spec.customers)
        .map(|i| Customer {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            habit: Habit::pick(rng),
            home: rng.random_range(0..stores),
            appetite: rng.random_range(0.5..1.5),
            day: rng.random_range(spec.days / 5..=(spec.days * 3 / 5).max(spec.days / 5 + 1)),
        })
        .collect()
}

/// Daily probability of an order, and the local hour it is placed at.
fn order_today(
    c: &Customer,
    day: u32,
    weekend: bool,
    intensity: f64,
    rng: &mut StdRng,
) -> Option<i64> {
    let p = match c.habit {
        Habit::Regular => 0.1,
        Habit::LunchOnly if weekend => 0.0,
        Habit::LunchOnly => 0.13,
        Habit::Weekend if weekend => 0.25,
        Habit::Weekend => 0.01,
        Habit::DeliveryOnly => 0.07,
        Habit::Lapsed if day <= c.day => 0.15,
        Habit::Lapsed => 0.0,
        Habit::OneOff => return (day == c.day).then(|| rng.random_range(11..20)),
    };
    if rng.random::<f64>() >= p * c.appetite * intensity {
        return None;
    }
    let hour = match c.habit {
        Habit::Regular => *pick(rng, &[8, 8, 12, 12, 12, 13, 15, 18, 18, 19]),
        Habit::LunchOnly => *pick(rng, &[11, 12, 12, 12, 13]),
        Habit::Weekend => *pick(rng, &[11, 12, 12, 17, 18, 18, 19]),
        Habit::DeliveryOnly => *pick(rng, &[12, 18, 19, 20, 20, 21, 22]),
        _ => rng.random_range(10..21),
    };
    Some(hour)
}

fn pick<'a, T>(rng: &mut StdRng, from: &'a [T]) -> &'a T {
    &from[rng.random_range(0..from.len())]
}

fn channel(habit: Habit, rng: &mut StdRng) -> Channel {
    use Channel::*;
    match habit {
        Habit::DeliveryOnly => *pick(rng, &[Meituan, Meituan, Eleme]),
        Habit::LunchOnly => *pick(rng, &[WechatMini, WechatMini, Pos, Meituan]),
        Habit::Weekend => *pick(rng, &[Pos, Pos, Douyin, WechatMini]),
        _ => *pick(
            rng,
            &[WechatMini, WechatMini, Pos, Pos, Meituan, Eleme, Douyin],
        ),
    }
}

/// A basket: a main or a combo, often a drink with it, sometimes more.
fn lines(chain: &Chain, habit: Habit, hour: i64, rng: &mut StdRng) -> Vec<OrderLine> {
    let mut categories = vec![if hour < 10 {
        "breakfast"
    } else if rng.random_bool(0.35) {
        "combo"
    } else {
        "main"
    }];
    let drink = if categories[0] == "combo" { 0.7 } else { 0.4 };
    for (category, p) in [
        ("drink", drink),
        ("snack", 0.3),
        ("dessert", 0.15),
        ("soup", 0.15),
    ] {
        if rng.random_bool(p) {
            categories.push(category);
        }
    }
    let big = habit == Habit::Weekend;
    categories
        .into_iter()
        .map(|category| {
            let item = *pick(rng, &chain.items_of(category));
            let quantity = if big {
                rng.random_range(2..5)
            } else {
                *pick(rng, &[1, 1, 1, 2])
            };
            // Occasional member discount, 5-15 %.
            let gross = item.price_fen * quantity;
            let net = if rng.random_bool(0.2) {
                gross * rng.random_range(85..96) / 100
            } else {
                gross
            };
            OrderLine {
                product_id: item.product_id.clone(),
                product_name: item.name.clone(),
                category_id: item.category_id.clone(),
                category_name: item.category_name.clone(),
                quantity,
                net_amount_fen: net,
            }
        })
        .collect()
}

/// Generates first versions day by day; shared by [`orders`] and the stream.
pub(crate) struct DayMaker<'a> {
    spec: &'a ChainSpec,
    chain: &'a Chain,
    customers: Vec<Customer>,
    same_city: Vec<Vec<usize>>,
    next_id: u64,
}

impl<'a> DayMaker<'a> {
    pub(crate) fn new(spec: &'a ChainSpec, chain: &'a Chain, customers: Vec<Customer>) -> Self {
        let same_city = chain
            .stores
            .iter()
            .map(|s| {
                (0..chain.stores.len())
                    .filter(|&j| chain.stores[j].city == s.city)
                    .collect()
            })
            .collect();
        Self {
            spec,
            chain,
            customers,
            same_city,
            next_id: 0,
        }
    }

    /// A maker that continues order numbering after `next_id`.
    pub(crate) fn resume(
        spec: &'a ChainSpec,
        chain: &'a Chain,
        customers: Vec<Customer>,
        next_id: u64,
    ) -> Self {
        Self {
            next_id,
            ..Self::new(spec, chain, customers)
        }
    }

    pub(crate) fn into_parts(self) -> (Vec<Customer>, u64) {
        (self.customers, self.next_id)
    }

    fn order(
        &mut self,
        customer: Option<usize>,
        store: usize,
        day: u32,
        hour: i64,
        rng: &mut StdRng,
    ) -> Order {
        self.next_id += 1;
        let next_id = self.next_id;
        let customer = customer.map(|i| &self.customers[i]);
        let habit = customer.map_or(Habit::OneOff, |c| c.habit);
        let lines = lines(self.chain, habit, hour, rng);
        let s = &self.chain.stores[store];
        Order {
            order_id: format!("o-{next_id:08}"),
            customer_id: customer
                .map(|c| format!("c-{:06}", c.number))
                .unwrap_or_default(),
            store_id: s.id.clone(),
            store_name: s.name.clone(),
            city: s.city.clone(),
            channel: if customer.is_some() {
                channel(habit, rng)
            } else {
                Channel::Pos
            } as i32,
            placed_at_ms: self.spec.start_midnight_ms()
                + i64::from(day) * DAY_MS
                + hour * HOUR_MS
                + rng.random_range(0..HOUR_MS),
            net_amount_fen: lines.iter().map(|l| l.net_amount_fen).sum(),
            lines,
            status: OrderStatus::Paid as i32,
        }
    }

    /// First versions of one day's orders, in time order.
    pub(crate) fn day(&mut self, day: u32, rng: &mut StdRng) -> Vec<Order> {
        let start = self.spec.start_midnight_ms();
        // Monday = 0; 1970-01-01, local day 0, was a Thursday.
        let weekday = ((start + 8 * HOUR_MS).div_euclid(DAY_MS) + i64::from(day) + 3) % 7;
        let weekend = weekday >= 5;
        let mut today = Vec::new();
        for i in 0..self.customers.len() {
            let c = &self.customers[i];
            if let Some(hour) = order_today(c, day, weekend, self.spec.intensity, rng) {
                // Mostly the home store, sometimes another one in the same city.
                let store = if rng.random_bool(0.85) {
                    c.home
                } else {
                    *pick(rng, &self.same_city[c.home])
                };
                today.push(self.order(Some(i), store, day, hour, rng));
            }
        }
        let walk_ins = (today.len() as f64 * self.spec.anonymous_rate).round() as usize;
        for _ in 0..walk_ins {
            let store = rng.random_range(0..self.chain.stores.len());
            let hour = rng.random_range(7..22);
            today.push(self.order(None, store, day, hour, rng));
        }
        today.sort_by_key(|o| o.placed_at_ms);
        today
    }
}

/// First versions of every order, in time order.
pub(crate) fn orders(spec: &ChainSpec, chain: &Chain, rng: &mut StdRng) -> Vec<Order> {
    let customers = customers(spec, chain.stores.len(), rng);
    let mut maker = DayMaker::new(spec, chain, customers);
    let mut out = Vec::new();
    for day in 0..spec.days {
        out.extend(maker.day(day, rng));
    }
    out
}

/// Adds re-sends, changed re-sends and cancellations a little after the
/// version they follow, and returns all submissions in sending order.
pub(crate) fn with_revisions(spec: &ChainSpec, firsts: Vec<Order>, rng: &mut StdRng) -> Vec<Order> {
    let mut timed: Vec<(i64, u64, Order)> = Vec::with_capacity(firsts.len() * 11 / 10);
    let mut seq = 0_u64;
    for o in firsts {
        versions(spec, o, rng, |t, o| {
            seq += 1;
            timed.push((t, seq, o));
        });
    }
    timed.sort_by_key(|(t, s, _)| (*t, *s));
    timed.into_iter().map(|(_, _, o)| o).collect()
}

/// Passes the first version and its later versions, each with the time it is
/// sent, to `push`.
pub(crate) fn versions(
    spec: &ChainSpec,
    o: Order,
    rng: &mut StdRng,
    mut push: impl FnMut(i64, Order),
) {
    let t = o.placed_at_ms;
    let later = |rng: &mut StdRng| t + rng.random_range(HOUR_MS..3 * DAY_MS);
    let mut last = o.clone();
    push(t, o);
    if rng.random_bool(spec.resend_rate) {
        push(later(rng), last.clone());
    }
    if rng.random_bool(spec.change_rate) {
        last = partial_refund(last, rng);
        push(later(rng) + 1, last.clone());
    }
    if rng.random_bool(spec.refund_rate) {
        let status = if rng.random_bool(0.5) {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Refunded
        };
        push(
            later(rng) + 2 * DAY_MS,
            Order {
                status: status as i32,
                ..last
            },
        );
    }
}

/// A line refunded, or part of one: the order stays valid.
fn partial_refund(mut o: Order, rng: &mut StdRng) -> Order {
    if o.lines.len() > 1 && rng.random_bool(0.5) {
        o.lines.pop();
    } else if let Some(line) = o.lines.first_mut() {
        line.net_amount_fen = line.net_amount_fen * rng.random_range(40..90) / 100;
    }
    o.net_amount_fen = o.lines.iter().map(|l| l.net_amount_fen).sum();
    o
}

/// Expected first versions a customer places over the period at `intensity`,
/// in closed form from the same probabilities as `order_today`.
pub(crate) fn expected_orders(spec: &ChainSpec, c: &Customer, intensity: f64) -> f64 {
    let start = spec.start_midnight_ms();
    let weekend_days = (0..spec.days)
        .filter(|&d| ((start + 8 * HOUR_MS).div_euclid(DAY_MS) + i64::from(d) + 3) % 7 >= 5)
        .count() as f64;
    let days = f64::from(spec.days);
    let weekdays = days - weekend_days;
    let p = |base: f64| (base * c.appetite * intensity).min(1.0);
    match c.habit {
        Habit::Regular => days * p(0.1),
        Habit::LunchOnly => weekdays * p(0.13),
        Habit::Weekend => weekend_days * p(0.25) + weekdays * p(0.01),
        Habit::DeliveryOnly => days * p(0.07),
        Habit::Lapsed => f64::from((c.day + 1).min(spec.days)) * p(0.15),
        Habit::OneOff => f64::from(u8::from(c.day < spec.days)),
    }
}
