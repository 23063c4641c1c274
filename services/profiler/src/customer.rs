//! One customer's portrait: behaviour, days and preferences. The serving state
//! says on which (day, store)s the customer ordered inside the filter; their
//! rows are read from the tables by those keys, a few index searches.

use std::collections::BTreeMap;

use portrait_core::{
    Calendar, Day, Error as DomainError, ItemAcc, ResolvedFilter, mask_customer_id, page_size,
};
use portrait_models::anomaly::{robust_stats_sorted, robust_z};
use portrait_proto::v1::{
    Channel, CustomerBehaviour, CustomerBehaviourRequest, CustomerChannel, CustomerDay,
    CustomerHour, CustomerPreferences, CustomerPreferencesRequest, CustomerWeekdayHour, Filter,
    HourBand, ItemPreference, ListCustomerDaysRequest, ListCustomerDaysResponse, UnusualOrder,
};
use portrait_service::{Error, Result};

use crate::projection::visits::{CustomerRows, ItemRow, OrderRow, read_customer};
use crate::queries::Profiler;

/// Other orders an order is judged against, at least.
const MIN_OTHER_ORDERS: usize = 5;
/// Iglewicz and Hoaglin's threshold for a robust z.
pub(crate) const UNUSUAL_SCORE: f64 = 3.5;
/// The prior weight of the preference score, in orders.
const PREFERENCE_PRIOR_ORDERS: f64 = 3.0;
const DEFAULT_ITEMS: i32 = 20;
const MAX_ITEMS: i32 = 1000;

/// The customer's rows inside a filter, and what naming them needs.
struct Found {
    /// The customer's dense id.
    id: u32,
    f: ResolvedFilter,
    rows: CustomerRows,
    /// (store id, store name) of the stores in the rows.
    store_names: BTreeMap<String, String>,
}

/// One day of a customer: orders, spend, stores, (orders, spend) per channel.
#[derive(Default)]
struct OneDay {
    orders: i64,
    spend: i64,
    stores: Vec<String>,
    channels: [(i64, i64); 8],
}

impl Profiler {
    async fn found(&self, customer_id: &str, filter: Option<&Filter>) -> Result<Found> {
        self.ctx.customer_id("customer_id", customer_id)?;
        let f = self.ctx.resolve(filter)?;
        let (id, keys, store_names) = {
            let (state, _) = self.projection.live.read();
            let book = &state.customers.book;
            let Some(c) = book.customers().get(customer_id) else {
                return Err(Error::NotFound {
                    field: "customer_id",
                    id: customer_id.to_owned(),
                });
            };
            let stores = &state.customers.stores;
            let sel = stores.select(&f);
            let days = book.days_of(c, &sel, f.from, f.to);
            let store_names = (days.iter())
                .map(|(_, s)| {
                    let name = stores.info(*s).map_or_else(String::new, |i| i.name.clone());
                    (stores.name(*s).to_owned(), name)
                })
                .collect();
            let keys: Vec<(Day, String)> = (days.into_iter())
                .map(|(day, s)| (day, stores.name(s).to_owned()))
                .collect();
            (c, keys, store_names)
        };
        let keys: Vec<(Day, &str)> = keys.iter().map(|(d, s)| (*d, s.as_str())).collect();
        let rows = read_customer(self.ctx.store(), customer_id, &keys).await?;
        Ok(Found {
            id,
            f,
            rows,
            store_names,
        })
    }

    pub async fn customer_behaviour(
        &self,
        req: &CustomerBehaviourRequest,
    ) -> Result<CustomerBehaviour> {
        let found = self.found(&req.customer_id, req.filter.as_ref()).await?;
        let mut b = behaviour(&found.rows.orders, found.f.as_of)?;
        b.customer_id.clone_from(&req.customer_id);
        b.masked_customer_id = mask_customer_id(&req.customer_id);
        b.filter = Some(found.f.applied());
        (b.cluster, b.cluster_description) = self.clusters.of(found.id);
        if let Some(store) = favourite_store(&found.rows.orders) {
            b.favourite_store_name = found.store_names.get(&store).cloned().unwrap_or_default();
            b.favourite_store_id = store;
        }
        if let Some(category) = favourite(&found.rows.categories) {
            let (state, _) = self.projection.live.read();
            let days = &state.days;
            b.favourite_category_name = (days.category_id(&category))
                .map(|c| days.category(c).1.to_owned())
                .unwrap_or_default();
            b.favourite_category_id = category;
        }
        Ok(b)
    }

    /// Newest day first; the token is the last date of the previous page.
    pub async fn customer_days(
        &self,
        req: &ListCustomerDaysRequest,
    ) -> Result<ListCustomerDaysResponse> {
        let size = page_size("page_size", req.page_size)?;
        let before = match req.page_token.as_str() {
            "" => None,
            token => Some(Calendar::parse_day("page_token", token)?),
        };
        let found = self.found(&req.customer_id, req.filter.as_ref()).await?;
        let mut days: BTreeMap<Day, OneDay> = BTreeMap::new();
        for o in &found.rows.orders {
            let d = days.entry(o.day).or_default();
            d.orders += o.orders;
            d.spend = checked(d.spend, o.revenue)?;
            if !d.stores.contains(&o.store) {
                d.stores.push(o.store.clone());
            }
            let slot = &mut d.channels[channel_slot(o.channel)];
            slot.0 += o.orders;
            slot.1 = checked(slot.1, o.revenue)?;
        }
        let mut page: Vec<CustomerDay> = (days.into_iter().rev())
            .filter(|(day, _)| before.is_none_or(|b| *day < b))
            .take(size + 1)
            .map(|(day, mut d)| {
                d.stores.sort_unstable();
                CustomerDay {
                    date: Calendar::format_day(day),
                    orders: d.orders,
                    spend_fen: d.spend,
                    store_ids: d.stores,
                    top_channel: top_slot(&d.channels) as i32,
                }
            })
            .collect();
        let more = page.len() > size;
        page.truncate(size);
        let next_page_token = match page.last() {
            Some(d) if more => d.date.clone(),
            _ => String::new(),
        };
        Ok(ListCustomerDaysResponse {
            days: page,
            next_page_token,
            filter: Some(found.f.applied()),
        })
    }

    pub async fn customer_preferences(
        &self,
        req: &CustomerPreferencesRequest,
    ) -> Result<CustomerPreferences> {
        let limit = match req.limit {
            0 => DEFAULT_ITEMS,
            n if (1..=MAX_ITEMS).contains(&n) => n,
            _ => {
                let reason = format!("must be 0 (= {DEFAULT_ITEMS}) to {MAX_ITEMS}");
                return Err(DomainError::invalid("limit", reason).into());
            }
        } as usize;
        let found = self.found(&req.customer_id, req.filter.as_ref()).await?;
        let orders: i64 = found.rows.orders.iter().map(|o| o.orders).sum();
        let products = sum_items(&found.rows.products)?;
        let categories = sum_items(&found.rows.categories)?;
        let line_spend = products
            .values()
            .try_fold(0_i64, |s, a| s.checked_add(a.revenue))
            .ok_or_else(overflow)?;
        let (state, _) = self.projection.live.read();
        let (f, days) = (&found.f, &state.days);
        let sel = state.customers.stores.select(f);
        let chain_products = days.products(&sel, f.from, f.to);
        let chain_categories = days.categories(&sel, f.from, f.to);
        let share = |sums: &[(u32, portrait_core::ProductAcc)], id: Option<u32>| {
            let total: i64 = sums.iter().map(|(_, a)| a.revenue).sum();
            let mine = id
                .and_then(|id| sums.binary_search_by_key(&id, |(i, _)| *i).ok())
                .map_or(0, |i| sums[i].1.revenue);
            ratio(mine, total)
        };
        let rank = |items: BTreeMap<String, ItemAcc>, product: bool| {
            let mut list: Vec<ItemPreference> = (items.into_iter())
                .map(|(id, a)| {
                    let (chain_share, name, category_id) = if product {
                        let p = days.product_id(&id);
                        let info = p.map(|p| days.product(p).1);
                        (
                            share(&chain_products, p),
                            info.map(|i| i.name.clone()),
                            info.map(|i| i.category_id.clone()),
                        )
                    } else {
                        let c = days.category_id(&id);
                        let name = c.map(|c| days.category(c).1.to_owned());
                        (share(&chain_categories, c), name, Some(id.clone()))
                    };
                    let spend_share = ratio(a.revenue, line_spend);
                    ItemPreference {
                        name: name.unwrap_or_default(),
                        category_id: category_id.unwrap_or_default(),
                        orders: a.orders,
                        quantity: a.quantity,
                        spend_fen: a.revenue,
                        spend_share,
                        chain_share,
                        preference_score: preference_score(orders, spend_share, chain_share),
                        id,
                    }
                })
                .collect();
            list.sort_by(|a, b| {
                (b.preference_score.total_cmp(&a.preference_score))
                    .then(b.spend_fen.cmp(&a.spend_fen))
                    .then_with(|| a.id.cmp(&b.id))
            });
            list.truncate(limit);
            list
        };
        Ok(CustomerPreferences {
            customer_id: req.customer_id.clone(),
            filter: Some(f.applied()),
            products: rank(products, true),
            categories: rank(categories, false),
            orders,
            line_spend_fen: line_spend,
        })
    }
}

/// (n · s / c + K) / (n + K): the customer's share `s` of their spend over the
/// chain's share `c`, shrunk toward 1 by a prior of K orders. 1 when the chain
/// sold nothing of it (no popularity to correct for).
pub(crate) fn preference_score(orders: i64, share: f64, chain_share: f64) -> f64 {
    let lift = if chain_share > 0.0 {
        share / chain_share
    } else {
        1.0
    };
    let n = orders as f64;
    (n * lift + PREFERENCE_PRIOR_ORDERS) / (n + PREFERENCE_PRIOR_ORDERS)
}

fn behaviour(orders: &[OrderRow], as_of: Day) -> Result<CustomerBehaviour> {
    let mut b = CustomerBehaviour::default();
    let mut hours = [(0_i64, 0_i64); 24];
    let mut week = [[(0_i64, 0_i64); 24]; 7];
    let mut channels = [(0_i64, 0_i64); 8];
    let mut bands = [(0_i64, 0_i64); 6];
    let mut order_days: Vec<Day> = Vec::with_capacity(orders.len());
    for o in orders {
        b.orders += o.orders;
        b.spend_fen = checked(b.spend_fen, o.revenue)?;
        let weekday = (o.day + 3).rem_euclid(7) as usize;
        for slot in [
            &mut hours[usize::from(o.hour)],
            &mut week[weekday][usize::from(o.hour)],
            &mut channels[channel_slot(o.channel)],
            &mut bands[hour_band(o.hour) as usize],
        ] {
            slot.0 += o.orders;
            slot.1 = checked(slot.1, o.revenue)?;
        }
        order_days.extend(std::iter::repeat_n(o.day, o.orders.max(0) as usize));
    }
    order_days.sort_unstable();
    let (Some(&first), Some(&last)) = (order_days.first(), order_days.last()) else {
        b.hours = hour_list(&hours);
        b.weekday_hours = week_list(&week);
        b.channels = channel_list(&channels, 0, 0);
        return Ok(b);
    };
    let n = order_days.len();
    b.first_order_date = Calendar::format_day(first);
    b.last_order_date = Calendar::format_day(last);
    b.average_order_value_fen = ratio(b.spend_fen, b.orders);
    b.tenure_days = i64::from(as_of - first) + 1;
    b.orders_per_30_days = b.orders as f64 * 30.0 / b.tenure_days as f64;
    if n >= 2 {
        b.mean_gap_days = f64::from(last - first) / (n - 1) as f64;
        b.last_gap_days = i64::from(order_days[n - 1] - order_days[n - 2]);
    }
    b.days_since_last_order = i64::from(as_of - last);
    b.favourite_channel = top_slot(&channels) as i32;
    b.favourite_hour_band = top_slot(&bands) as i32;
    b.hours = hour_list(&hours);
    b.weekday_hours = week_list(&week);
    b.channels = channel_list(&channels, b.orders, b.spend_fen);
    b.unusual_orders = unusual_orders(orders, UNUSUAL_SCORE);
    Ok(b)
}

/// Orders far from the customer's other orders in the filter (see
/// `UnusualOrder`), |score| at least `min_score`; a history under
/// `MIN_OTHER_ORDERS` or without spread judges nothing. The chain-wide list
/// (`crate::anomaly`) judges each customer's orders with this too.
pub(crate) fn unusual_orders(orders: &[OrderRow], min_score: f64) -> Vec<UnusualOrder> {
    let counted: Vec<&OrderRow> = orders.iter().filter(|o| o.orders > 0).collect();
    let mut out = Vec::new();
    if counted.len() <= MIN_OTHER_ORDERS {
        return out;
    }
    // Every order's others are the customer's amounts sorted, less one copy
    // of its own: sorted once here, so each history costs O(n), not a sort.
    let mut sorted: Vec<f64> = counted.iter().map(|o| o.revenue as f64).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let (mut others, mut dev) = (Vec::with_capacity(sorted.len()), Vec::new());
    for o in &counted {
        let amount = o.revenue as f64;
        let at = sorted.partition_point(|v| *v < amount);
        others.clear();
        others.extend_from_slice(&sorted[..at]);
        others.extend_from_slice(&sorted[at + 1..]);
        let stats = robust_stats_sorted(&others, &mut dev);
        match robust_z(amount, &stats) {
            Some(score) if score.abs() >= min_score => out.push(UnusualOrder {
                order_id: o.order_id.clone(),
                date: Calendar::format_day(o.day),
                store_id: o.store.clone(),
                amount_fen: o.revenue,
                baseline_median_fen: stats.median,
                baseline_mad_fen: stats.mad,
                baseline_orders: others.len() as i32,
                score,
            }),
            _ => {}
        }
    }
    out.sort_by(|a, b| {
        (b.score.abs().total_cmp(&a.score.abs())).then_with(|| a.order_id.cmp(&b.order_id))
    });
    out
}

/// Local hour → band, as `HourBand` documents.
pub(crate) fn hour_band(hour: u8) -> HourBand {
    (BAND_HOURS.iter())
        .find(|(_, from, to)| (*from..*to).contains(&hour))
        .map_or(HourBand::LateNight, |(band, _, _)| *band)
}

/// The day's bands as [from, to) local hours; every other hour is late night.
/// The clusters' features count orders by the same bounds.
pub(crate) const BAND_HOURS: [(HourBand, u8, u8); 4] = [
    (HourBand::Breakfast, 6, 10),
    (HourBand::Lunch, 10, 14),
    (HourBand::Afternoon, 14, 17),
    (HourBand::Dinner, 17, 21),
];

fn favourite_store(orders: &[OrderRow]) -> Option<String> {
    let mut stores: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for o in orders {
        let s = stores.entry(&o.store).or_default();
        s.0 += o.orders;
        s.1 = s.1.saturating_add(o.revenue);
    }
    // max_by keeps the last of equals; reversed, the smallest id wins a tie.
    (stores.into_iter().rev())
        .max_by_key(|(_, figures)| *figures)
        .map(|(id, _)| id.to_owned())
}

fn favourite(items: &[ItemRow]) -> Option<String> {
    let sums = sum_items(items).ok()?;
    (sums.into_iter().rev())
        .max_by_key(|(_, a)| (a.orders, a.revenue))
        .map(|(id, _)| id)
}

fn sum_items(items: &[ItemRow]) -> Result<BTreeMap<String, ItemAcc>> {
    let mut sums: BTreeMap<String, ItemAcc> = BTreeMap::new();
    for i in items {
        let s = sums.entry(i.id.clone()).or_default();
        s.orders += i.acc.orders;
        s.quantity += i.acc.quantity;
        s.revenue = checked(s.revenue, i.acc.revenue)?;
    }
    Ok(sums)
}

/// The slot with most orders, ties by spend, then the lowest slot; 0 when
/// every slot is empty.
fn top_slot(slots: &[(i64, i64)]) -> usize {
    (slots.iter().enumerate().rev())
        .filter(|(_, s)| s.0 > 0)
        .max_by_key(|(_, s)| **s)
        .map_or(0, |(i, _)| i)
}

fn channel_slot(channel: i32) -> usize {
    usize::try_from(channel).map_or(0, |c| c.min(7))
}

fn hour_list(hours: &[(i64, i64); 24]) -> Vec<CustomerHour> {
    (0..24)
        .zip(hours)
        .map(|(hour, (orders, spend))| CustomerHour {
            hour,
            orders: *orders,
            spend_fen: *spend,
        })
        .collect()
}

fn week_list(week: &[[(i64, i64); 24]; 7]) -> Vec<CustomerWeekdayHour> {
    // Slot 0 is Monday: day 0 (1970-01-01) was a Thursday.
    (1..=7)
        .zip(week)
        .flat_map(|(weekday, hours)| {
            (0..24)
                .zip(hours)
                .map(move |(hour, (orders, spend))| CustomerWeekdayHour {
                    weekday,
                    hour,
                    orders: *orders,
                    spend_fen: *spend,
                })
        })
        .collect()
}

fn channel_list(channels: &[(i64, i64); 8], orders: i64, spend: i64) -> Vec<CustomerChannel> {
    (1..)
        .map_while(|n| Channel::try_from(n).ok())
        .map(|c| {
            let (o, s) = channels[channel_slot(c as i32)];
            CustomerChannel {
                channel: c as i32,
                orders: o,
                spend_fen: s,
                order_share: ratio(o, orders),
                spend_share: ratio(s, spend),
            }
        })
        .collect()
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn checked(sum: i64, add: i64) -> Result<i64> {
    sum.checked_add(add).ok_or_else(overflow)
}

fn overflow() -> Error {
    Error::Corrupt("a customer's spend overflows i64".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_bands_cover_the_day() {
        let bands: Vec<HourBand> = (0..24).map(hour_band).collect();
        assert_eq!(bands[5], HourBand::LateNight);
        assert_eq!(bands[6], HourBand::Breakfast);
        assert_eq!(bands[13], HourBand::Lunch);
        assert_eq!(bands[16], HourBand::Afternoon);
        assert_eq!(bands[20], HourBand::Dinner);
        assert_eq!(bands[21], HourBand::LateNight);
    }

    #[test]
    fn preference_shrinks_toward_one() {
        assert_eq!(preference_score(0, 0.5, 0.1), 1.0);
        assert!((preference_score(3, 0.5, 0.25) - 1.5).abs() < 1e-12);
        assert_eq!(preference_score(9, 0.2, 0.0), 1.0);
    }

    #[test]
    fn ties_go_to_the_lowest_slot() {
        assert_eq!(top_slot(&[(0, 0), (2, 5), (2, 5), (1, 9)]), 1);
        assert_eq!(top_slot(&[(0, 0), (2, 5), (2, 6)]), 2);
        assert_eq!(top_slot(&[(0, 0), (0, 0)]), 0);
    }
}
