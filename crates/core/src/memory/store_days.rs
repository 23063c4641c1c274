use crate::memory::heap::{HeapSize, insert_snug, vec_bytes};
use crate::memory::narrow::{Narrow, WidePairs};
use crate::memory::{Interner, Selection};
use crate::{Acc, Day, ProductAcc, ProductInfo};

/// Slots for channel numbers; validation only admits the enum's values.
pub const CHANNEL_SLOTS: usize = 8;

#[derive(Debug, Clone)]
struct DayFigures {
    day: Day,
    /// The hours (bits 0–23) and channels (24–31) that ever had figures, at
    /// zero now or not: exactly the slots with a table row. It fills the
    /// padding after `day`, so it costs nothing.
    held: u32,
    /// `Acc`s, narrowed.
    hours: [Narrow; 24],
    channels: [Narrow; CHANNEL_SLOTS],
    /// `ProductAcc`s, narrowed, sorted by product id.
    products: Vec<(u32, Narrow)>,
    /// The same by category id.
    categories: Vec<(u32, Narrow)>,
}

/// Dense ids for items (products, categories) and their latest descriptions.
#[derive(Debug, Default, Clone)]
struct Catalog<I> {
    ids: Interner,
    info: Vec<I>,
}

impl<I: Default + Clone> Catalog<I> {
    fn id(&mut self, key: &str) -> u32 {
        let id = self.ids.intern(key);
        if id as usize >= self.info.len() {
            self.info.resize(id as usize + 1, I::default());
        }
        id
    }

    fn describe(&mut self, key: &str, info: &I) {
        let id = self.id(key);
        self.info[id as usize].clone_from(info);
    }
}

/// The figures of `day` in a run sorted by day, created empty if missing.
fn day_in(days: &mut Vec<DayFigures>, day: Day) -> &mut DayFigures {
    let i = match days.binary_search_by_key(&day, |d| d.day) {
        Ok(i) => i,
        Err(i) => {
            let empty = DayFigures {
                day,
                held: 0,
                hours: [Narrow::default(); 24],
                channels: [Narrow::default(); CHANNEL_SLOTS],
                products: Vec::new(),
                categories: Vec::new(),
            };
            insert_snug(days, i, empty);
            i
        }
    };
    &mut days[i]
}

fn add_item(items: &mut Vec<(u32, Narrow)>, id: u32, acc: ProductAcc, wide: &mut WidePairs) {
    match items.binary_search_by_key(&id, |(i, _)| *i) {
        Ok(i) => wide.add(&mut items[i].1, acc),
        Err(i) => insert_snug(items, i, (id, wide.narrow(acc))),
    }
}

/// Per store, per day: orders by hour and channel, products and categories
/// sold. Any store set and day range is a sum over a contiguous run of days
/// per store.
#[derive(Debug, Default, Clone)]
pub struct StoreBook {
    days: Vec<Vec<DayFigures>>,
    /// The same summed over all stores, so a question about the whole chain
    /// reads one run of days instead of one per store.
    chain: Vec<DayFigures>,
    products: Catalog<ProductInfo>,
    categories: Catalog<String>,
    wide: WidePairs,
}

impl HeapSize for DayFigures {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.products) + vec_bytes(&self.categories)
    }
}

impl<I> HeapSize for Catalog<I> {
    fn heap_bytes(&self) -> usize {
        // The names inside `info` are left out: a few thousand products.
        self.ids.heap_bytes() + vec_bytes(&self.info)
    }
}

impl HeapSize for StoreBook {
    fn heap_bytes(&self) -> usize {
        let days =
            |d: &Vec<DayFigures>| vec_bytes(d) + d.iter().map(HeapSize::heap_bytes).sum::<usize>();
        vec_bytes(&self.days)
            + self.days.iter().map(days).sum::<usize>()
            + days(&self.chain)
            + self.products.heap_bytes()
            + self.categories.heap_bytes()
            + self.wide.heap_bytes()
    }
}

impl StoreBook {
    /// The store's and the chain's figures of `day`.
    /// The store's and the chain's figures of `day`, and the wide pairs.
    fn figures(&mut self, store: u32, day: Day) -> ([&mut DayFigures; 2], &mut WidePairs) {
        let s = store as usize;
        if s >= self.days.len() {
            self.days.resize_with(s + 1, Vec::new);
        }
        let both = [day_in(&mut self.days[s], day), day_in(&mut self.chain, day)];
        (both, &mut self.wide)
    }

    pub fn add_hour(&mut self, store: u32, day: Day, hour: u8, acc: Acc) {
        let (both, wide) = self.figures(store, day);
        for f in both {
            if let Some(h) = f.hours.get_mut(usize::from(hour)) {
                wide.add(h, acc);
                f.held |= 1 << hour;
            }
        }
    }

    pub fn add_channel(&mut self, store: u32, day: Day, channel: i32, acc: Acc) {
        let slot = usize::try_from(channel).ok();
        let (both, wide) = self.figures(store, day);
        for f in both {
            if let Some((s, c)) = slot.and_then(|s| Some((s, f.channels.get_mut(s)?))) {
                wide.add(c, acc);
                f.held |= 1 << (24 + s);
            }
        }
    }

    pub fn add_product(&mut self, store: u32, day: Day, product: &str, acc: ProductAcc) {
        let p = self.products.id(product);
        let (both, wide) = self.figures(store, day);
        for f in both {
            add_item(&mut f.products, p, acc, wide);
        }
    }

    pub fn add_category(&mut self, store: u32, day: Day, category: &str, acc: ProductAcc) {
        let c = self.categories.id(category);
        let (both, wide) = self.figures(store, day);
        for f in both {
            add_item(&mut f.categories, c, acc, wide);
        }
    }

    /// A store's figures of `day`, if any order ever counted there.
    fn day_of(&self, store: u32, day: Day) -> Option<&DayFigures> {
        let days = self.days.get(store as usize)?;
        let i = days.binary_search_by_key(&day, |d| d.day).ok()?;
        days.get(i)
    }

    /// Whether the store's day ever had figures at the hour (at zero now
    /// included): exactly when its table holds the row.
    pub fn has_hour(&self, store: u32, day: Day, hour: u8) -> bool {
        let bit = (hour < 24).then(|| 1 << hour);
        (self.day_of(store, day).zip(bit)).is_some_and(|(f, bit)| f.held & bit != 0)
    }

    /// As [`StoreBook::has_hour`], for a channel.
    pub fn has_channel(&self, store: u32, day: Day, channel: i32) -> bool {
        let slot = usize::try_from(channel).ok().filter(|s| *s < CHANNEL_SLOTS);
        let bit = slot.map(|s| 1 << (24 + s));
        (self.day_of(store, day).zip(bit)).is_some_and(|(f, bit)| f.held & bit != 0)
    }

    /// Whether the store's day holds the product (at zero included): items
    /// are never dropped, so exactly when its table holds the row.
    pub fn has_product(&self, store: u32, day: Day, product: &str) -> bool {
        let id = self.products.ids.get(product);
        (self.day_of(store, day).zip(id))
            .is_some_and(|(f, p)| f.products.binary_search_by_key(&p, |(i, _)| *i).is_ok())
    }

    /// As [`StoreBook::has_product`], for a category.
    pub fn has_category(&self, store: u32, day: Day, category: &str) -> bool {
        let id = self.categories.ids.get(category);
        (self.day_of(store, day).zip(id))
            .is_some_and(|(f, c)| f.categories.binary_search_by_key(&c, |(i, _)| *i).is_ok())
    }

    pub fn describe_product(&mut self, product: &str, info: &ProductInfo) {
        self.products.describe(product, info);
    }

    pub fn describe_category(&mut self, category: &str, name: &String) {
        self.categories.describe(category, name);
    }

    /// The dense id of `product`, allocated on first sight: other books
    /// (baskets) key by it so names come from one catalogue.
    pub fn intern_product(&mut self, product: &str) -> u32 {
        self.products.id(product)
    }

    /// Products known, so ids run below this.
    pub fn product_count(&self) -> usize {
        self.products.ids.len()
    }

    pub fn product(&self, id: u32) -> (&str, &ProductInfo) {
        static NONE: ProductInfo = ProductInfo {
            name: String::new(),
            category_id: String::new(),
            category_name: String::new(),
        };
        let info = self.products.info.get(id as usize).unwrap_or(&NONE);
        (self.products.ids.name(id), info)
    }

    /// The dense id of a product ever described or sold.
    pub fn product_id(&self, product: &str) -> Option<u32> {
        self.products.ids.get(product)
    }

    /// The dense id of a category ever described or sold.
    pub fn category_id(&self, category: &str) -> Option<u32> {
        self.categories.ids.get(category)
    }

    /// A category's id and latest name.
    pub fn category(&self, id: u32) -> (&str, &str) {
        let name = self
            .categories
            .info
            .get(id as usize)
            .map_or("", String::as_str);
        (self.categories.ids.name(id), name)
    }

    fn days_in<'a>(
        &'a self,
        sel: &'a Selection,
        from: Option<Day>,
        to: Day,
    ) -> impl Iterator<Item = &'a DayFigures> + 'a {
        let runs: Vec<&[DayFigures]> = match sel {
            Selection::All => vec![&self.chain],
            Selection::Only(_) => (self.days.iter().enumerate())
                .filter(|(s, _)| sel.contains(*s as u32))
                .map(|(_, days)| days.as_slice())
                .collect(),
        };
        runs.into_iter().flat_map(move |days| {
            let start = from.map_or(0, |f| days.partition_point(|d| d.day < f));
            days[start..].iter().take_while(move |d| d.day < to)
        })
    }

    /// The store's orders and revenue per day, by day, for every day it has
    /// figures (a day whose orders were all retracted sums to zero).
    pub fn store_days(&self, store: u32) -> impl Iterator<Item = (Day, Acc)> + '_ {
        (self.days.get(store as usize).into_iter().flatten()).map(|d| {
            let mut sum = Acc::default();
            for h in &d.hours {
                sum.add(self.wide.get(*h));
            }
            (d.day, sum)
        })
    }

    pub fn hours(&self, sel: &Selection, from: Option<Day>, to: Day) -> [Acc; 24] {
        let mut out = [Acc::default(); 24];
        for d in self.days_in(sel, from, to) {
            for (o, h) in out.iter_mut().zip(&d.hours) {
                o.add(self.wide.get(*h));
            }
        }
        out
    }

    /// Orders and revenue by ISO weekday (Monday first) and local hour.
    pub fn weekday_hours(&self, sel: &Selection, from: Option<Day>, to: Day) -> [[Acc; 24]; 7] {
        let mut out = [[Acc::default(); 24]; 7];
        for d in self.days_in(sel, from, to) {
            // Day 0, 1970-01-01, was a Thursday: slot 3 of a Monday-first week.
            let week = &mut out[(d.day + 3).rem_euclid(7) as usize];
            for (o, h) in week.iter_mut().zip(&d.hours) {
                o.add(self.wide.get(*h));
            }
        }
        out
    }

    pub fn channels(&self, sel: &Selection, from: Option<Day>, to: Day) -> [Acc; CHANNEL_SLOTS] {
        let mut out = [Acc::default(); CHANNEL_SLOTS];
        for d in self.days_in(sel, from, to) {
            for (o, c) in out.iter_mut().zip(&d.channels) {
                o.add(self.wide.get(*c));
            }
        }
        out
    }

    /// Every product with a non-zero sum in the filter, by product id.
    pub fn products(&self, sel: &Selection, from: Option<Day>, to: Day) -> Vec<(u32, ProductAcc)> {
        self.item_sums(sel, from, to, self.products.ids.len(), |d| &d.products)
    }

    /// Every category with a non-zero sum in the filter, by category id.
    pub fn categories(
        &self,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
    ) -> Vec<(u32, ProductAcc)> {
        self.item_sums(sel, from, to, self.categories.ids.len(), |d| &d.categories)
    }

    fn item_sums(
        &self,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
        items: usize,
        of: impl Fn(&DayFigures) -> &[(u32, Narrow)],
    ) -> Vec<(u32, ProductAcc)> {
        let mut sums = vec![ProductAcc::default(); items];
        for d in self.days_in(sel, from, to) {
            for (p, acc) in of(d) {
                sums[*p as usize].add(self.wide.get(*acc));
            }
        }
        sums.into_iter()
            .enumerate()
            .filter(|(_, a)| !a.is_zero())
            .map(|(p, a)| (p as u32, a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(orders: i64, revenue: i64) -> Acc {
        Acc { orders, revenue }
    }

    fn item(quantity: i64, revenue: i64) -> ProductAcc {
        ProductAcc { quantity, revenue }
    }

    #[test]
    fn held_rows_are_told_from_new_ones() {
        let mut b = StoreBook::default();
        let one = acc(1, 10);
        let sold = item(1, 10);
        let returned = item(-1, -10);
        let back = acc(-1, -10);
        b.add_hour(1, 20, 12, one);
        b.add_hour(1, 20, 14, one);
        b.add_hour(1, 20, 14, back);
        b.add_channel(1, 20, 2, one);
        b.add_channel(1, 20, 3, one);
        b.add_channel(1, 20, 3, back);
        b.add_product(1, 20, "p", sold);
        b.add_product(1, 20, "p", returned);
        b.add_category(1, 20, "c", sold);
        assert!(b.has_hour(1, 20, 12) && !b.has_hour(1, 20, 13) && !b.has_hour(0, 20, 12));
        assert!(b.has_hour(1, 20, 14), "an hour back at zero is still held");
        assert!(b.has_channel(1, 20, 2) && !b.has_channel(1, 21, 2) && !b.has_channel(1, 20, -1));
        assert!(b.has_channel(1, 20, 3) && !b.has_channel(1, 20, 4) && !b.has_channel(1, 20, 9));
        assert_eq!(
            std::mem::size_of::<DayFigures>(),
            312,
            "held must fit the padding"
        );
        assert!(b.has_product(1, 20, "p"), "a product at zero is still held");
        assert!(!b.has_product(1, 20, "q") && !b.has_product(1, 19, "p"));
        assert!(b.has_category(1, 20, "c") && !b.has_category(2, 20, "c"));
    }

    #[test]
    fn figures_too_wide_for_32_bits_stay_exact() {
        let mut b = StoreBook::default();
        let big = acc(1, 1_500_000_000);
        let sold = item(3_000_000_000, 2);
        // Two stores of ¥15M each in one hour: each narrow, the chain wide.
        b.add_hour(0, 5, 12, big);
        b.add_hour(1, 5, 12, big);
        b.add_channel(1, 5, 2, big);
        b.add_channel(1, 5, 2, big);
        b.add_product(0, 5, "p", sold);
        b.add_category(0, 5, "k", sold);
        let all = Selection::All;
        let two = acc(2, 3_000_000_000);
        assert_eq!(b.hours(&all, None, 100)[12], two);
        assert_eq!(
            b.hours(&Selection::Only(vec![false, true]), None, 100)[12],
            big
        );
        assert_eq!(
            b.weekday_hours(&all, None, 100)
                .concat()
                .iter()
                .copied()
                .fold(Acc::default(), |mut s, a| {
                    s.add(a);
                    s
                }),
            two
        );
        assert_eq!(b.channels(&all, None, 100)[2], two);
        assert_eq!(b.store_days(1).collect::<Vec<_>>(), [(5, big)]);
        assert_eq!(b.products(&all, None, 100), [(0, sold)]);
        assert_eq!(b.categories(&all, None, 100), [(0, sold)]);
        // Back within 32 bits.
        b.add_hour(0, 5, 12, acc(-1, -1_500_000_000));
        b.add_product(0, 5, "p", item(-2_999_999_999, 0));
        assert_eq!(b.hours(&all, None, 100)[12], big);
        assert_eq!(b.products(&all, None, 100)[0].1.quantity, 1);
    }

    #[test]
    fn sums_follow_the_selection_and_the_range() {
        let mut b = StoreBook::default();
        let one = acc(1, 10);
        b.add_hour(0, 5, 12, one);
        b.add_hour(1, 5, 12, one);
        b.add_hour(0, 9, 8, one);
        b.add_channel(0, 5, 2, one);
        b.add_product(0, 5, "p", item(2, 20));
        b.add_product(0, 6, "p", item(-2, -20));
        b.add_product(1, 6, "q", item(1, 5));
        let five = item(1, 5);
        b.add_category(1, 6, "k", five);
        b.describe_category("k", &"饮品".to_owned());
        let all = Selection::All;
        assert_eq!(b.hours(&all, None, 100)[12].orders, 2);
        assert_eq!(b.hours(&all, Some(6), 100)[12].orders, 0);
        assert_eq!(b.hours(&Selection::Only(vec![true]), None, 9)[8].orders, 0);
        assert_eq!(b.channels(&all, None, 100)[2], one);
        let p = b.products(&all, None, 100);
        assert_eq!(p.len(), 1);
        assert_eq!(b.product(p[0].0).0, "q");
        assert_eq!(b.products(&all, None, 6)[0].1.quantity, 2);
        let k = b.categories(&all, None, 100);
        assert_eq!(k, [(0, five)]);
        assert_eq!(b.category(k[0].0), ("k", "饮品"));
        assert!(b.categories(&all, None, 6).is_empty());
    }
}
