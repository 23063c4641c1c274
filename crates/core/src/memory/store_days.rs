use crate::memory::heap::{HeapSize, insert_snug, vec_bytes};
use crate::memory::narrow::{Narrow, WidePairs};
use crate::memory::sets::{Member, Sets};
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
    /// This store-day's key in the book's item sets.
    slot: u32,
}

/// A product's or category's `ProductAcc` on one store-day, narrowed. Never
/// spent: an item back at zero still has its table row.
#[derive(Debug, Default, Clone, Copy)]
struct Item {
    id: u32,
    sums: Narrow,
}

impl Member for Item {
    fn item(&self) -> u32 {
        self.id
    }

    fn spent(&self) -> bool {
        false
    }
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

/// The figures of `day` in a run sorted by day, created empty with the next
/// free slot if missing.
fn day_in<'a>(days: &'a mut Vec<DayFigures>, day: Day, slots: &mut u32) -> &'a mut DayFigures {
    let i = match days.binary_search_by_key(&day, |d| d.day) {
        Ok(i) => i,
        Err(i) => {
            let empty = DayFigures {
                day,
                held: 0,
                hours: [Narrow::default(); 24],
                channels: [Narrow::default(); CHANNEL_SLOTS],
                slot: *slots,
            };
            *slots += 1;
            insert_snug(days, i, empty);
            i
        }
    };
    &mut days[i]
}

fn add_item(items: &mut Sets<Item>, slot: u32, id: u32, acc: ProductAcc, wide: &mut WidePairs) {
    match items.find(slot, id) {
        Some(at) => wide.add(&mut items.get_mut(at).sums, acc),
        None => {
            let sums = wide.narrow(acc);
            items.push(slot, Item { id, sums });
        }
    }
    items.settle();
}

/// Every store-day's products and categories: two sets keyed by the day's
/// slot, so that a few million items held in about a hundred thousand
/// store-days sit in two blocks rather than as many small vectors, which
/// left holes behind them as they grew an item at a time.
#[derive(Debug, Default, Clone)]
struct Items {
    products: Sets<Item>,
    categories: Sets<Item>,
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
    /// Slots handed out to store-days and chain days so far.
    slots: u32,
    items: Items,
    products: Catalog<ProductInfo>,
    categories: Catalog<String>,
    wide: WidePairs,
}

impl<I> HeapSize for Catalog<I> {
    fn heap_bytes(&self) -> usize {
        // The names inside `info` are left out: a few thousand products.
        self.ids.heap_bytes() + vec_bytes(&self.info)
    }
}

impl HeapSize for StoreBook {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.days)
            + self.days.iter().map(vec_bytes).sum::<usize>()
            + vec_bytes(&self.chain)
            + self.items.products.heap_bytes()
            + self.items.categories.heap_bytes()
            + self.products.heap_bytes()
            + self.categories.heap_bytes()
            + self.wide.heap_bytes()
    }
}

impl StoreBook {
    /// The store's and the chain's figures of `day`, the wide pairs and
    /// the item sets.
    fn figures(
        &mut self,
        store: u32,
        day: Day,
    ) -> ([&mut DayFigures; 2], &mut WidePairs, &mut Items) {
        let s = store as usize;
        if s >= self.days.len() {
            self.days.resize_with(s + 1, Vec::new);
        }
        let slots = &mut self.slots;
        let here = day_in(&mut self.days[s], day, slots);
        let both = [here, day_in(&mut self.chain, day, slots)];
        (both, &mut self.wide, &mut self.items)
    }

    /// Every item set in one block, nothing to spare: after a load.
    pub fn compact(&mut self) {
        self.items.products.compact();
        self.items.categories.compact();
    }

    pub fn add_hour(&mut self, store: u32, day: Day, hour: u8, acc: Acc) {
        let (both, wide, _) = self.figures(store, day);
        for f in both {
            if let Some(h) = f.hours.get_mut(usize::from(hour)) {
                wide.add(h, acc);
                f.held |= 1 << hour;
            }
        }
    }

    pub fn add_channel(&mut self, store: u32, day: Day, channel: i32, acc: Acc) {
        let slot = usize::try_from(channel).ok();
        let (both, wide, _) = self.figures(store, day);
        for f in both {
            if let Some((s, c)) = slot.and_then(|s| Some((s, f.channels.get_mut(s)?))) {
                wide.add(c, acc);
                f.held |= 1 << (24 + s);
            }
        }
    }

    pub fn add_product(&mut self, store: u32, day: Day, product: &str, acc: ProductAcc) {
        let p = self.products.id(product);
        let (both, wide, items) = self.figures(store, day);
        for f in both {
            add_item(&mut items.products, f.slot, p, acc, wide);
        }
    }

    pub fn add_category(&mut self, store: u32, day: Day, category: &str, acc: ProductAcc) {
        let c = self.categories.id(category);
        let (both, wide, items) = self.figures(store, day);
        for f in both {
            add_item(&mut items.categories, f.slot, c, acc, wide);
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
            .is_some_and(|(f, p)| self.items.products.find(f.slot, p).is_some())
    }

    /// As [`StoreBook::has_product`], for a category.
    pub fn has_category(&self, store: u32, day: Day, category: &str) -> bool {
        let id = self.categories.ids.get(category);
        (self.day_of(store, day).zip(id))
            .is_some_and(|(f, c)| self.items.categories.find(f.slot, c).is_some())
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
        self.item_sums(sel, from, to, self.products.ids.len(), &self.items.products)
    }

    /// Every category with a non-zero sum in the filter, by category id.
    pub fn categories(
        &self,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
    ) -> Vec<(u32, ProductAcc)> {
        self.item_sums(
            sel,
            from,
            to,
            self.categories.ids.len(),
            &self.items.categories,
        )
    }

    fn item_sums(
        &self,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
        items: usize,
        sets: &Sets<Item>,
    ) -> Vec<(u32, ProductAcc)> {
        let mut sums = vec![ProductAcc::default(); items];
        for d in self.days_in(sel, from, to) {
            for e in sets.entries(d.slot) {
                sums[e.id as usize].add(self.wide.get(e.sums));
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
            268,
            "held must fit the padding"
        );
        assert!(b.has_product(1, 20, "p"), "a product at zero is still held");
        b.compact();
        assert!(
            b.has_product(1, 20, "p"),
            "and kept when the block is rebuilt"
        );
        assert!(!b.has_product(1, 20, "q") && !b.has_product(1, 19, "p"));
        assert!(b.has_category(1, 20, "c") && !b.has_category(2, 20, "c"));
    }

    /// Enough items that the sets rebuild their blocks several times while
    /// they arrive: every sum and every held item stays as a map says.
    #[test]
    fn items_across_rebuilds_sum_as_a_map_says() {
        let mut b = StoreBook::default();
        let mut want = std::collections::BTreeMap::new();
        let mut x = 7_u64;
        for n in 0..400_000_i64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let (store, day, product) = ((x >> 33) % 5, (x >> 40) % 60, (x >> 20) % 3_000);
            let q = if n % 7 == 0 { -1 } else { 1 };
            b.add_product(
                store as u32,
                day as Day,
                &product.to_string(),
                item(q, q * 10),
            );
            *want.entry((store, day, product)).or_insert(0) += q;
        }
        let sums = |sel: &Selection, from: u64, to: u64| {
            let mut per = std::collections::BTreeMap::new();
            for ((s, d, p), q) in &want {
                if sel.contains(*s as u32) && (from..to).contains(d) {
                    *per.entry(p.to_string()).or_insert(0) += q;
                }
            }
            per.retain(|_, q| *q != 0);
            per
        };
        let got = |b: &StoreBook, sel: &Selection, from: Day, to: Day| {
            (b.products(sel, Some(from), to).into_iter())
                .map(|(p, a)| (b.product(p).0.to_owned(), a.quantity))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let two = Selection::Only(vec![false, true, false, true]);
        for b in [b.clone(), {
            b.compact();
            b
        }] {
            assert_eq!(
                got(&b, &Selection::All, 0, 60),
                sums(&Selection::All, 0, 60)
            );
            assert_eq!(got(&b, &two, 10, 40), sums(&two, 10, 40));
            for (s, d, p) in want.keys().step_by(97) {
                assert!(b.has_product(*s as u32, *d as Day, &p.to_string()));
            }
        }
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
