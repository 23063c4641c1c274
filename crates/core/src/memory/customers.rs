use crate::memory::chunked::Chunked;
use crate::memory::column::Column;
use crate::memory::heap::{nested_bytes, vec_bytes};
use crate::memory::narrow::{Narrow, WidePairs};
use crate::memory::tags::{MIXED, Mixed, Tag};
use crate::memory::{Interner, Selection};
use crate::{Acc, CustomerAgg, Day};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    day: Day,
    store: u32,
    acc: Acc,
}

/// Rows with orders > 0, summed over all stores and days: answers the
/// all-stores questions without visiting the rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Summary {
    first: Day,
    last: Day,
    orders: i64,
    revenue: i64,
}

/// A [`Summary`] as held, its sums narrowed: 16 bytes instead of 24.
#[derive(Debug, Default, Clone, Copy)]
struct HeldSummary {
    first: Day,
    last: Day,
    sums: Narrow,
}

/// Every customer's (store, day) rows in memory: the exact base of the
/// distinct-customer figures and of RFM for any store set and day range.
///
/// Rows live in one columnar block ordered by customer (`offsets` index it),
/// 12 bytes a row (day 2, store 2, sums 8) instead of 16, plus a small
/// overflow of rows created since the block was last rebuilt, threaded per
/// customer through one vector (no allocation per customer).
/// The block is rebuilt in place when the overflow grows past a sixteenth of
/// it: the columns, held in chunks, grow by the overflow without moving, and
/// every customer's rows move right to their new place, so a rebuild costs
/// the new rows, not a second copy of any column. Rows are never removed (a
/// fully retracted row stays at zero), so `by_store` never lists a customer
/// twice. Only rows with orders > 0 count as presence, and only they are
/// summed, as in the tables.
#[derive(Debug, Default, Clone)]
pub struct CustomerBook {
    ids: Interner,
    /// Customer c's block rows are `offsets[c]..offsets[c + 1]`, sorted by
    /// (day, store); customers newer than the block have none.
    offsets: Vec<u32>,
    /// Days as `held` maps them, and dense store ids: 2 bytes a row each
    /// instead of 4, until a value does not fit (see `Column`).
    days: Column,
    stores: Column,
    /// The rows' `Acc`s, narrowed: 8 bytes a row instead of 16.
    accs: Chunked<Narrow>,
    wide: WidePairs,
    /// A tagged book's rows' tags (see `tags`), a byte each; empty in an
    /// untagged book, which costs nothing for them.
    tagged: bool,
    tags: Chunked<u8>,
    mixed: Mixed,
    /// Per customer, its newest overflow row in `extra` (`NONE`: none).
    heads: Vec<u32>,
    extra: Vec<Extra>,
    summaries: Vec<HeldSummary>,
    by_store: Vec<Vec<u32>>,
}

const NONE: u32 = u32::MAX;

/// A day as the days column holds it, bit for bit: 1970 to 2149 (days 0 to
/// 65,535) fit 16 bits, and a day before 1970 is a large `u32` that widens
/// the column rather than being lost.
fn held(day: Day) -> u32 {
    day as u32
}

fn day_of(held: u32) -> Day {
    held as Day
}

/// An overflow row, its sums narrowed as in the block (24 bytes with its
/// tag), and the customer's next older one.
#[derive(Debug, Clone, Copy)]
struct Extra {
    day: Day,
    store: u32,
    acc: Narrow,
    tag: u8,
    next: u32,
}

/// A row as held: day, store, narrowed sums and tag byte (`Tag::UNKNOWN`'s
/// in an untagged book). It moves as one.
type Held = (Day, u32, Narrow, u8);

/// Builds a book from a table scan in any order, straight into the columnar
/// block: rows are kept in the book's own columns as they come, with each
/// row's customer beside them, then moved in place to their slot by a
/// counting sort on the customer. Loading ten million rows costs a few
/// passes over memory, not ten million inserts; the table can keep the key
/// order that suits its writes (day first); and the peak is the columns plus
/// 4 bytes a row, not a second copy of any column.
#[derive(Debug, Default)]
pub struct BookLoader {
    book: CustomerBook,
    /// Each row's customer; then, in `finish`, its place in the block.
    customers: Vec<u32>,
}

impl BookLoader {
    /// A loader of a tagged book, whose rows may come one per order: rows of
    /// one (customer, store, day) are summed into one, their tags kept.
    pub fn tagged() -> Self {
        let mut loader = Self::default();
        loader.book.tagged = true;
        loader
    }

    /// A row of an untagged book: one per (customer, store, day).
    pub fn push(&mut self, customer: &str, store: u32, day: Day, acc: Acc) {
        self.push_tagged(customer, store, day, acc, Tag::UNKNOWN);
    }

    pub fn push_tagged(&mut self, customer: &str, store: u32, day: Day, acc: Acc, tag: Tag) {
        self.customers.push(self.book.ids.intern(customer));
        let book = &mut self.book;
        book.days.push(held(day));
        book.stores.push(store);
        let acc = book.wide.narrow(acc);
        book.accs.push(acc);
        if book.tagged {
            book.tags.push(tag.byte());
        }
    }

    pub fn finish(self) -> CustomerBook {
        let Self {
            mut book,
            customers: mut places,
        } = self;
        let n = book.ids.len();
        let mut starts = vec![0_usize; n + 1];
        for c in &places {
            starts[*c as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        // Stable: a customer's rows keep the scan's order (by day, when the
        // table is read in its key order), so most need no sort below.
        let mut next = starts[..n].to_vec();
        for c in &mut places {
            let at = &mut next[*c as usize];
            *c = u32::try_from(*at).unwrap_or(u32::MAX);
            *at += 1;
        }
        drop(next);
        book.permute(&mut places);
        drop(places);
        book.offsets = starts
            .iter()
            .map(|&o| u32::try_from(o).unwrap_or(u32::MAX))
            .collect();
        book.summaries = vec![HeldSummary::default(); n];
        book.heads = vec![NONE; n];
        let mut rows = Vec::new();
        for c in 0..n as u32 {
            let block = book.block(c);
            let in_order = |i: usize| (book.day(i), book.stores.get(i));
            if !block
                .clone()
                .skip(1)
                .all(|i| in_order(i - 1) <= in_order(i))
            {
                rows.clear();
                rows.extend(block.clone().map(|i| book.row(i)));
                rows.sort_unstable_by_key(|&(day, store, _, _)| (day, store));
                for (i, r) in block.clone().zip(&rows) {
                    book.set(i, *r);
                }
            }
        }
        if book.tagged {
            book.merge_equal_rows();
        }
        for c in 0..n as u32 {
            let block = book.block(c);
            let s = book.summarize(c);
            book.put_summary(c, s);
            let mut at: Vec<u32> = book.stores.iter(block).collect();
            at.sort_unstable();
            at.dedup();
            for s in at {
                if s as usize >= book.by_store.len() {
                    book.by_store.resize_with(s as usize + 1, Vec::new);
                }
                book.by_store[s as usize].push(c);
            }
        }
        book
    }
}

impl CustomerBook {
    /// Sums the block's rows of one (customer, day, store) into the first of
    /// them, keeping their tags, and closes the gaps: a tagged book is loaded
    /// from a table with a row per order. Rows only move left.
    fn merge_equal_rows(&mut self) {
        let n = self.offsets.len().saturating_sub(1);
        let mut write = 0_usize;
        for c in 0..n {
            let block = self.block(c as u32);
            let start = write;
            for i in block {
                let (day, store, acc, tag) = self.row(i);
                let last = write.checked_sub(1).filter(|&w| w >= start);
                if let Some(w) = last.filter(|&w| (self.day(w), self.stores.get(w)) == (day, store))
                {
                    let by = self.wide.get::<Acc>(acc);
                    // The merged row's place in the wide list, if any, is freed.
                    let mut gone = acc;
                    self.wide.set(&mut gone, Acc::default());
                    let before = self.acc(w);
                    let mut held = self.tags.get(w);
                    let key = (c as u32, day, store);
                    self.mixed.add(key, &mut held, before, Tag::held(tag), by);
                    self.tags.set(w, held);
                    self.wide.add(self.accs.get_mut(w), by);
                } else {
                    self.set(write, (day, store, acc, tag));
                    write += 1;
                }
            }
            self.offsets[c] = u32::try_from(start).unwrap_or(u32::MAX);
        }
        self.offsets[n] = u32::try_from(write).unwrap_or(u32::MAX);
        self.days.truncate(write);
        self.stores.truncate(write);
        self.accs.resize(write);
        self.tags.resize(write);
    }

    /// Moves block row i to `places[i]`, all columns at once, along the
    /// permutation's cycles, marking `places` as it goes: no column is held
    /// twice (the sums alone are 74 MB at 10M orders), as they were when
    /// each column was copied into a new one.
    fn permute(&mut self, places: &mut [u32]) {
        const DONE: u32 = u32::MAX;
        for start in 0..places.len() {
            let mut at = std::mem::replace(&mut places[start], DONE);
            if at == DONE {
                continue;
            }
            // The row carried to `at`; the one it displaces goes on.
            let mut carried = self.row(start);
            while at as usize != start {
                let displaced = self.row(at as usize);
                self.set(at as usize, carried);
                carried = displaced;
                at = std::mem::replace(&mut places[at as usize], DONE);
            }
            self.set(start, carried);
        }
    }
}

/// Distinct customers of a filter and the spend of the active ones.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// With an order at the stores before the range's end.
    pub total: i64,
    /// With an order inside the range.
    pub active: i64,
    /// The active customers' net spend at the stores before the range's end.
    pub active_spend: i64,
}

impl CustomerBook {
    /// The rows' heap, without the customer ids (`customers()` has those).
    pub fn rows_heap_bytes(&self) -> usize {
        vec_bytes(&self.offsets)
            + self.days.heap_bytes()
            + self.stores.heap_bytes()
            + self.accs.heap_bytes()
            + self.wide.heap_bytes()
            + self.tags.heap_bytes()
            + self.mixed.heap_bytes()
            + vec_bytes(&self.heads)
            + vec_bytes(&self.extra)
            + vec_bytes(&self.summaries)
            + nested_bytes(&self.by_store)
    }
}

impl CustomerBook {
    /// An empty book that keeps its rows' tags (see `add_tagged`).
    pub fn tagged() -> Self {
        Self {
            tagged: true,
            ..Self::default()
        }
    }

    /// Adds `acc` to the (customer, store, day) row.
    pub fn add(&mut self, customer: &str, store: u32, day: Day, acc: Acc) {
        self.add_tagged(customer, store, day, acc, Tag::UNKNOWN);
    }

    /// Adds `acc` to the (customer, store, day) row as orders with `tag`
    /// (ignored by an untagged book).
    pub fn add_tagged(&mut self, customer: &str, store: u32, day: Day, acc: Acc, tag: Tag) {
        let c = self.ids.intern(customer);
        if c as usize >= self.summaries.len() {
            self.summaries
                .resize(c as usize + 1, HeldSummary::default());
            self.heads.resize(c as usize + 1, NONE);
        }
        let block = self.block(c);
        let found = (self.days.iter(block.clone()))
            .zip(self.stores.iter(block.clone()))
            .position(|(d, s)| day_of(d) == day && s == store);
        let before = if let Some(i) = found {
            let i = block.start + i;
            let before = self.acc(i);
            self.wide.add(self.accs.get_mut(i), acc);
            if self.tagged {
                let mut held = self.tags.get(i);
                (self.mixed).add((c, day, store), &mut held, before, tag, acc);
                self.tags.set(i, held);
            }
            before
        } else {
            let mut known_at_store = self.stores.iter(block).any(|s| s == store);
            let mut hit = None;
            for (at, r) in self.overflow(c as usize) {
                known_at_store |= r.store == store;
                if r.store == store && r.day == day {
                    hit = Some(at);
                }
            }
            match hit {
                Some(i) => {
                    let e = &mut self.extra[i];
                    let before = self.wide.get(e.acc);
                    self.wide.add(&mut e.acc, acc);
                    if self.tagged {
                        (self.mixed).add((c, day, store), &mut e.tag, before, tag, acc);
                    }
                    before
                }
                None => {
                    let next = self.heads[c as usize];
                    self.heads[c as usize] = u32::try_from(self.extra.len()).unwrap_or(NONE);
                    let acc = self.wide.narrow(acc);
                    self.extra.push(Extra {
                        day,
                        store,
                        acc,
                        tag: tag.byte(),
                        next,
                    });
                    if !known_at_store {
                        if store as usize >= self.by_store.len() {
                            self.by_store.resize_with(store as usize + 1, Vec::new);
                        }
                        self.by_store[store as usize].push(c);
                    }
                    Acc::default()
                }
            }
        };
        let mut after = before;
        after.add(acc);
        self.update_summary(c, day, before, after);
        if self.extra.len() > 50_000 + self.days.len() / 16 {
            self.rebuild();
        }
    }

    /// Customer `c`'s overflow rows with their index in `extra`, newest first.
    fn overflow(&self, c: usize) -> impl Iterator<Item = (usize, Row)> + '_ {
        self.overflow_held(c).map(|(at, (day, store, acc, _))| {
            let acc = self.wide.get(acc);
            (at, Row { day, store, acc })
        })
    }

    /// The same as held, to move into the block.
    fn overflow_held(&self, c: usize) -> impl Iterator<Item = (usize, Held)> + '_ {
        let first = self.heads.get(c).copied().unwrap_or(NONE);
        let linked = |at: u32| (at != NONE).then_some(at);
        std::iter::successors(linked(first), move |&at| {
            linked(self.extra[at as usize].next)
        })
        .map(|at| {
            let e = self.extra[at as usize];
            (at as usize, (e.day, e.store, e.acc, e.tag))
        })
    }

    fn summary(&self, c: u32) -> Summary {
        let h = self.summaries.get(c as usize).copied().unwrap_or_default();
        let Acc { orders, revenue } = self.wide.get(h.sums);
        Summary {
            first: h.first,
            last: h.last,
            orders,
            revenue,
        }
    }

    fn put_summary(&mut self, c: u32, s: Summary) {
        if let Some(h) = self.summaries.get_mut(c as usize) {
            (h.first, h.last) = (s.first, s.last);
            let sums = Acc {
                orders: s.orders,
                revenue: s.revenue,
            };
            self.wide.set(&mut h.sums, sums);
        }
    }

    fn acc(&self, i: usize) -> Acc {
        self.wide.get(self.accs.get(i))
    }

    fn day(&self, i: usize) -> Day {
        day_of(self.days.get(i))
    }

    /// Block row `i` as it is held: its narrowed pair and tag move with it.
    fn row(&self, i: usize) -> Held {
        (
            self.day(i),
            self.stores.get(i),
            self.accs.get(i),
            self.tag(i),
        )
    }

    fn tag(&self, i: usize) -> u8 {
        if self.tagged {
            self.tags.get(i)
        } else {
            Tag::UNKNOWN.byte()
        }
    }

    fn set(&mut self, i: usize, (day, store, acc, tag): Held) {
        self.days.set(i, held(day));
        self.stores.set(i, store);
        self.accs.set(i, acc);
        if self.tagged {
            self.tags.set(i, tag);
        }
    }

    /// Moves a customer's summary from a row's old value to its new one; only
    /// a row that stops counting at the first or last day needs a recount.
    fn update_summary(&mut self, c: u32, day: Day, before: Acc, after: Acc) {
        let counted = |a: Acc| if a.orders > 0 { a } else { Acc::default() };
        let (was, now) = (counted(before), counted(after));
        let mut s = self.summary(c);
        if was.orders > 0 && now.orders == 0 && (day == s.first || day == s.last) {
            let s = self.summarize(c);
            self.put_summary(c, s);
            return;
        }
        if now.orders > 0 {
            if s.orders == 0 {
                (s.first, s.last) = (day, day);
            }
            s.first = s.first.min(day);
            s.last = s.last.max(day);
        }
        s.orders += now.orders - was.orders;
        s.revenue += now.revenue - was.revenue;
        self.put_summary(c, s);
    }

    /// Folds every row into the columnar block; worth it after a bulk load.
    pub fn compact(&mut self) {
        if !self.extra.is_empty() {
            self.rebuild();
        }
        self.extra = Vec::new();
    }

    pub fn customers(&self) -> &Interner {
        &self.ids
    }

    fn block(&self, c: u32) -> std::ops::Range<usize> {
        let c = c as usize;
        match (self.offsets.get(c), self.offsets.get(c + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// Calls `each(day, store, acc)` for every row of customer `c`, except
    /// block rows before `from` (the block is sorted by day).
    fn rows_from(&self, c: u32, from: Option<Day>, mut each: impl FnMut(Day, u32, Acc)) {
        self.rows_held(c, from, |day, store, acc, _| each(day, store, acc));
    }

    /// `rows_from` with each row's tag byte.
    pub(super) fn rows_held(
        &self,
        c: u32,
        from: Option<Day>,
        mut each: impl FnMut(Day, u32, Acc, u8),
    ) {
        let mut block = self.block(c);
        if let Some(f) = from {
            block.start = self.days.partition_point(block.clone(), |d| day_of(d) < f);
        }
        for i in block {
            each(self.day(i), self.stores.get(i), self.acc(i), self.tag(i));
        }
        for (_, (day, store, acc, tag)) in self.overflow_held(c as usize) {
            each(day, store, self.wide.get(acc), tag);
        }
    }

    /// Calls `each(day, store, tag, acc)` for every row of customer `c` from
    /// `from` (all rows with `None`), once per tag on a row whose orders
    /// differ, with that tag's part; rows at zero included. An untagged
    /// book's rows are all `Tag::UNKNOWN`.
    pub fn tagged_rows(&self, c: u32, from: Option<Day>, mut each: impl FnMut(Day, u32, Tag, Acc)) {
        self.rows_held(c, from, |day, store, acc, tag| {
            if tag == MIXED {
                for &(t, a) in self.mixed.parts(&(c, day, store)) {
                    each(day, store, t, a);
                }
            } else {
                each(day, store, Tag::held(tag), acc);
            }
        });
    }

    /// Rows whose orders carry more than one tag.
    pub fn mixed_rows(&self) -> usize {
        self.mixed.len()
    }

    /// Whether the book holds the (customer, store, day) row, at zero
    /// (retracted) or not: rows are never dropped, so a loaded book holds
    /// exactly the rows its table holds once its batches are applied.
    pub fn has_row(&self, customer: &str, store: u32, day: Day) -> bool {
        let Some(c) = self.ids.get(customer) else {
            return false;
        };
        let block = self.block(c);
        let from = self
            .days
            .partition_point(block.clone(), |d| day_of(d) < day);
        let in_block = (from..block.end)
            .take_while(|i| self.day(*i) == day)
            .any(|i| self.stores.get(i) == store);
        in_block || (self.overflow(c as usize)).any(|(_, r)| r.day == day && r.store == store)
    }

    /// Calls `each(day, store, acc)` for every row of customer `c`, in no
    /// particular order; rows at zero (retracted) included.
    pub fn rows(&self, c: u32, each: impl FnMut(Day, u32, Acc)) {
        self.rows_from(c, None, each)
    }

    fn summarize(&self, c: u32) -> Summary {
        let mut s: Option<Summary> = None;
        self.rows(c, |day, _, acc| {
            if acc.orders <= 0 {
                return;
            }
            let s = s.get_or_insert(Summary {
                first: day,
                last: day,
                ..Summary::default()
            });
            s.first = s.first.min(day);
            s.last = s.last.max(day);
            s.orders += acc.orders;
            s.revenue += acc.revenue;
        });
        s.unwrap_or_default()
    }

    /// Folds the overflow into the columnar block, in place: the columns
    /// grow by the overflow, then customers from the last to the first move
    /// right to their new start, merging their overflow rows in (day, store)
    /// order. A customer's rows only ever move right and the ones after it
    /// have already moved, so nothing is overwritten before it is read.
    fn rebuild(&mut self) {
        let n = self.summaries.len();
        let old_len = self.days.len();
        let total = old_len + self.extra.len();
        let old_start = |offsets: &[u32], c: usize| offsets.get(c).map_or(old_len, |&o| o as usize);
        let mut extra_of = vec![0_u32; n];
        for (c, count) in extra_of.iter_mut().enumerate() {
            *count = self.overflow(c).count() as u32;
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut shift = 0_usize;
        for (c, count) in extra_of.iter().enumerate() {
            offsets.push(u32::try_from(old_start(&self.offsets, c) + shift).unwrap_or(u32::MAX));
            shift += *count as usize;
        }
        offsets.push(u32::try_from(total).unwrap_or(u32::MAX));
        self.days.grow(total);
        self.stores.grow(total);
        self.accs.resize(total);
        if self.tagged {
            self.tags.resize(total);
        }
        let mut rows: Vec<Held> = Vec::new();
        for c in (0..n).rev() {
            let (from, to) = (old_start(&self.offsets, c), old_start(&self.offsets, c + 1));
            let start = offsets[c] as usize;
            rows.clear();
            rows.extend(self.overflow_held(c).map(|(_, r)| r));
            rows.sort_unstable_by_key(|&(day, store, _, _)| (day, store));
            // Merge from the back: the larger of the last unplaced block
            // row and the last unplaced overflow row goes to the last free place.
            let (mut read, mut write) = (to, start + (to - from) + rows.len());
            while let Some(&(day, store, acc, tag)) = rows.last() {
                write -= 1;
                if read > from && (self.day(read - 1), self.stores.get(read - 1)) > (day, store) {
                    read -= 1;
                    let moved = self.row(read);
                    self.set(write, moved);
                } else {
                    rows.pop();
                    self.set(write, (day, store, acc, tag));
                }
            }
            if start != from {
                let (from, to) = (from..read, start);
                self.days.copy_within(from.clone(), to);
                self.stores.copy_within(from.clone(), to);
                if self.tagged {
                    self.tags.copy_within(from.clone(), to);
                }
                self.accs.copy_within(from, to);
            }
        }
        self.offsets = offsets;
        self.heads.fill(NONE);
        self.extra.clear();
    }

    /// The customers a question must visit, in id order: everyone, or those
    /// that have (had) rows at the selected stores.
    pub fn candidates(&self, sel: &Selection) -> Vec<u32> {
        let Some(stores) = sel.ids() else {
            return (0..self.summaries.len() as u32).collect();
        };
        let mut ids: Vec<u32> = stores
            .iter()
            .flat_map(|s| self.by_store.get(*s as usize).map_or(&[][..], |v| v))
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// One customer's orders, spend, first and last day at the selected
    /// stores in `[from, to)`; `None` when they have no order there.
    pub fn agg(
        &self,
        customer: u32,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
    ) -> Option<CustomerAgg> {
        let s = self.summary(customer);
        if s.orders == 0 || s.first >= to || from.is_some_and(|f| s.last < f) {
            return None;
        }
        if *sel == Selection::All && s.last < to && from.is_none_or(|f| f <= s.first) {
            return Some(CustomerAgg {
                customer,
                orders: s.orders,
                revenue: s.revenue,
                first_day: s.first,
                last_day: s.last,
            });
        }
        let mut agg: Option<CustomerAgg> = None;
        self.rows_from(customer, from, |day, store, acc| {
            if acc.orders <= 0 || day >= to || from.is_some_and(|f| day < f) || !sel.contains(store)
            {
                return;
            }
            let a = agg.get_or_insert(CustomerAgg {
                customer,
                orders: 0,
                revenue: 0,
                first_day: day,
                last_day: day,
            });
            a.orders += acc.orders;
            a.revenue += acc.revenue;
            a.first_day = a.first_day.min(day);
            a.last_day = a.last_day.max(day);
        });
        agg
    }

    /// The (day, store) rows where `customer` has orders at the selected
    /// stores in `[from, to)`, by day then store: where their detail rows are.
    pub fn days_of(
        &self,
        customer: u32,
        sel: &Selection,
        from: Option<Day>,
        to: Day,
    ) -> Vec<(Day, u32)> {
        let mut keys = Vec::new();
        self.rows_from(customer, from, |day, store, acc| {
            if acc.orders > 0 && day < to && from.is_none_or(|f| day >= f) && sel.contains(store) {
                keys.push((day, store));
            }
        });
        keys.sort_unstable();
        keys
    }

    /// Every customer with an order in the filter, by dense customer id.
    pub fn aggs(&self, sel: &Selection, from: Option<Day>, to: Day) -> Vec<CustomerAgg> {
        crate::par::map_chunks(&self.candidates(sel), |part| {
            (part.iter())
                .filter_map(|c| self.agg(*c, sel, from, to))
                .collect()
        })
    }

    pub fn reach(&self, sel: &Selection, from: Option<Day>, to: Day) -> Reach {
        let mut out = Reach::default();
        for c in self.candidates(sel) {
            let s = self.summary(c);
            if s.orders == 0 || s.first >= to {
                continue;
            }
            if *sel == Selection::All && s.last < to {
                out.total += 1;
                if from.is_none_or(|f| s.last >= f) {
                    out.active += 1;
                    out.active_spend += s.revenue;
                }
                continue;
            }
            let (mut seen, mut active, mut spend) = (false, false, 0);
            self.rows(c, |day, store, acc| {
                if acc.orders <= 0 || day >= to || !sel.contains(store) {
                    return;
                }
                seen = true;
                spend += acc.revenue;
                active |= from.is_none_or(|f| day >= f);
            });
            out.total += i64::from(seen);
            if active {
                out.active += 1;
                out.active_spend += spend;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn acc(orders: i64, revenue: i64) -> Acc {
        Acc { orders, revenue }
    }

    /// Only store `s` selected.
    fn only(s: u32) -> Selection {
        let mut mask = vec![false; s as usize + 1];
        mask[s as usize] = true;
        Selection::Only(mask)
    }

    /// Enough customers that `aggs` splits its pass across threads: the
    /// chunks together give what one pass customer by customer gives.
    #[test]
    fn a_split_pass_equals_one_customer_at_a_time() {
        let mut loader = BookLoader::default();
        for c in 0..120_000_u32 {
            let name = format!("c{c}");
            for k in 0..2 {
                let (store, day) = ((c * 7 + k) % 40, ((c * 13 + k * 101) % 365) as Day);
                loader.push(&name, store, day, acc(1, i64::from(c % 997) - 3));
            }
        }
        let book = loader.finish();
        let one_by_one = |sel: &Selection, from, to| -> Vec<CustomerAgg> {
            (book.candidates(sel).into_iter())
                .filter_map(|c| book.agg(c, sel, from, to))
                .collect()
        };
        let stores = Selection::Only((0..40).map(|s| s % 4 != 0).collect());
        for (sel, from, to) in [
            (&Selection::All, None, 400),
            (&Selection::All, Some(300), 330),
            (&stores, None, 400),
            (&stores, Some(100), 200),
        ] {
            let got = book.aggs(sel, from, to);
            assert!(got.len() > 10_000, "{} customers", got.len());
            assert_eq!(got, one_by_one(sel, from, to));
        }
    }

    /// A day before 1970, one after 2149 and a store id past 16 bits.
    const WIDE_ROWS: [(&str, u32, Day, (i64, i64)); 4] = [
        ("a", 70_000, 3, (2, 20)),
        ("a", 0, 70_000, (1, 5)),
        ("b", 70_000, -5, (1, 7)),
        ("a", 0, -5, (1, 10)),
    ];

    /// The answers for `WIDE_ROWS` plus ("b", 1, 10, (1, 1)), by hand; a
    /// clamped or wrapped day or store changes them.
    fn check_wide(b: &CustomerBook) {
        let id = |c: &str| b.customers().get(c).unwrap_or(NONE);
        let (a, all) = (id("a"), Selection::All);
        let figures = |from, to| {
            (b.agg(a, &all, from, to)).map(|g| (g.orders, g.revenue, g.first_day, g.last_day))
        };
        assert_eq!(figures(None, 100_000), Some((4, 35, -5, 70_000)));
        assert_eq!(figures(Some(0), 100_000), Some((3, 25, 3, 70_000)));
        assert_eq!(figures(Some(-10), 4), Some((3, 30, -5, 3)));
        assert_eq!(b.days_of(a, &only(70_000), None, 100_000), [(3, 70_000)]);
        let want: &[(Day, u32)] = &[(-5, 70_000), (10, 1)];
        assert_eq!(b.days_of(id("b"), &all, Some(-5), 11), want);
        for (c, store, day) in [
            ("a", 0, -5),
            ("a", 70_000, 3),
            ("a", 0, 70_000),
            ("b", 70_000, -5),
        ] {
            assert!(b.has_row(c, store, day), "{c} {store} {day}");
        }
        for (store, day) in [
            (4_464, 3),
            (65_535, 3),
            (0, 65_531),
            (0, 65_535),
            (0, 4_464),
        ] {
            assert!(!b.has_row("a", store, day), "{store} {day}");
        }
        let reach = |total, active, active_spend| Reach {
            total,
            active,
            active_spend,
        };
        assert_eq!(b.reach(&only(70_000), None, 100_000), reach(2, 2, 27));
        assert_eq!(b.reach(&all, Some(3), 70_000), reach(2, 2, 38));
        assert_eq!(b.reach(&only(0), Some(0), 100_000), reach(1, 1, 15));
    }

    #[test]
    fn days_and_stores_past_16_bits_stay_exact_in_the_block_the_overflow_and_a_load() {
        let wide = WIDE_ROWS.map(|(c, s, d, (o, r))| (c, s, d, acc(o, r)));
        let widths = |b: &CustomerBook| match (&b.days, &b.stores) {
            (Column::Short(_), Column::Short(_)) => "short",
            (Column::Long(_), Column::Long(_)) => "long",
            _ => "mixed",
        };
        // The wide rows in the overflow, then merged into an empty block.
        let mut fresh = CustomerBook::default();
        fresh.add("b", 1, 10, acc(1, 1));
        wide.iter().for_each(|&(c, s, d, a)| fresh.add(c, s, d, a));
        check_wide(&fresh);
        fresh.rebuild();
        check_wide(&fresh);
        // A short block, the wide rows in the overflow (one found there
        // again), then merged in: the columns widen during the merge.
        let mut b = CustomerBook::default();
        b.add("b", 1, 10, acc(1, 1));
        b.rebuild();
        assert_eq!(widths(&b), "short");
        wide.iter()
            .skip(1)
            .for_each(|&(c, s, d, a)| b.add(c, s, d, a));
        b.add("a", 70_000, 3, acc(1, 20));
        b.add("a", 70_000, 3, acc(1, 0));
        check_wide(&b);
        b.rebuild();
        assert_eq!(widths(&b), "long");
        check_wide(&b);
        // Found in the wide block, not added to the overflow again.
        b.add("a", 70_000, 3, acc(0, 0));
        assert!(b.extra.is_empty());
        check_wide(&b);
        // Loaded, in any order.
        let mut l = BookLoader::default();
        for &(c, s, d, a) in wide.iter().rev() {
            l.push(c, s, d, a);
        }
        l.push("b", 1, 10, acc(1, 1));
        check_wide(&l.finish());
    }

    type Rows = BTreeMap<(u32, u32, Day), Acc>;

    /// The book's figures and rows against the plain map's, for a few
    /// selections and ranges on both sides of 16 bits.
    fn agrees_with(book: &CustomerBook, rows: &Rows) -> Result<(), TestCaseError> {
        let sels = [Selection::All, only(1), only(65_536), only(70_000)];
        let ranges = [
            (None, 100_000),
            (Some(0), 65_536),
            (Some(-2), 65_535),
            (Some(65_534), 65_539),
        ];
        for c in 0..4_u32 {
            let id = book.customers().get(&c.to_string()).unwrap_or(NONE);
            for sel in &sels {
                for &(from, to) in &ranges {
                    let inside = |&(&(rc, s, d), a): &(&(u32, u32, Day), &Acc)| {
                        rc == c
                            && a.orders > 0
                            && sel.contains(s)
                            && d < to
                            && from.is_none_or(|f| d >= f)
                    };
                    let mut keys: Vec<(Day, u32)> = Vec::new();
                    let mut want: Option<(i64, i64, Day, Day)> = None;
                    for (&(_, s, d), a) in rows.iter().filter(inside) {
                        keys.push((d, s));
                        let w = want.get_or_insert((0, 0, d, d));
                        *w = (w.0 + a.orders, w.1 + a.revenue, w.2.min(d), w.3.max(d));
                    }
                    keys.sort_unstable();
                    let got = (book.agg(id, sel, from, to))
                        .map(|g| (g.orders, g.revenue, g.first_day, g.last_day));
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(book.days_of(id, sel, from, to), keys);
                }
            }
        }
        // Each row, and the rows 16 bits would take it for.
        for &(c, s, d) in rows.keys() {
            let (s16, d16) = (s % 65_536, Day::from(d as u16));
            for (s, d) in [(s, d), (s16, d), (s, d16), (s16, d16)] {
                let held = rows.contains_key(&(c, s, d));
                prop_assert_eq!(book.has_row(&c.to_string(), s, d), held);
            }
        }
        Ok(())
    }

    /// Days around both ends of the short range, stores around 16 bits.
    fn wide_row() -> impl Strategy<Value = (u32, u32, Day, i64)> {
        let day = prop_oneof![-3..3, 65_533..65_540];
        let store = prop_oneof![Just(0), Just(1), Just(65_535), Just(65_536), Just(70_000)];
        (0u32..4, store, day, -1i64..3)
    }

    proptest! {
        /// Rows added in any order with rebuilds between them, or loaded,
        /// give the figures of a plain map of the rows, whatever their width.
        #[test]
        fn any_day_or_store_gives_the_figures_of_a_plain_map(
            ops in prop::collection::vec((wide_row(), prop::bool::weighted(0.1)), 0..40),
        ) {
            let (mut b, mut l) = (CustomerBook::default(), BookLoader::default());
            let mut rows = Rows::new();
            for ((c, s, d, n), rebuild) in ops {
                b.add(&c.to_string(), s, d, acc(n, 10 * n + 1));
                rows.entry((c, s, d)).or_default().add(acc(n, 10 * n + 1));
                if rebuild {
                    b.rebuild();
                }
            }
            agrees_with(&b, &rows)?;
            for (&(c, s, d), a) in &rows {
                l.push(&c.to_string(), s, d, *a);
            }
            agrees_with(&l.finish(), &rows)?;
        }
    }

    #[test]
    fn a_row_is_held_at_zero_in_the_block_and_the_overflow() {
        let mut b = CustomerBook::default();
        b.add("a", 0, 10, acc(1, 5));
        b.add("a", 1, 10, acc(1, 5));
        b.add("a", 0, 12, acc(1, 5));
        b.add("a", 0, 12, acc(-1, -5));
        for rebuilt in [false, true] {
            if rebuilt {
                b.rebuild();
            }
            assert!(b.has_row("a", 0, 10) && b.has_row("a", 1, 10));
            assert!(b.has_row("a", 0, 12), "a retracted row stays");
            assert!(!b.has_row("a", 1, 12) && !b.has_row("a", 0, 11));
            assert!(!b.has_row("b", 0, 10));
        }
        // The overflow, after a rebuild moved the others into the block.
        b.add("a", 2, 11, acc(1, 1));
        assert!(b.has_row("a", 2, 11) && !b.has_row("a", 2, 10));
    }

    #[test]
    fn figures_too_wide_for_32_bits_stay_exact_through_rebuilds_and_loads() {
        let big = acc(1, 3_000_000_000);
        let mut b = CustomerBook::default();
        let mut l = BookLoader::default();
        b.add("a", 0, 10, big);
        b.add("a", 0, 11, acc(1, 5));
        l.push("a", 0, 10, big);
        l.push("a", 0, 11, acc(1, 5));
        let mut loaded = l.finish();
        b.rebuild();
        for book in [&mut b, &mut loaded] {
            // Wide in the block, then wide in the overflow, then narrow again.
            book.add("a", 0, 10, acc(0, 3_000_000_000));
            book.add("a", 1, 12, acc(2, -5_000_000_000));
            book.rebuild();
            book.add("a", 0, 11, acc(0, i64::from(i32::MAX)));
            let all = Selection::All;
            let a = book.agg(0, &all, None, 100).map(|a| (a.orders, a.revenue));
            assert_eq!(a, Some((4, 1_000_000_005 + i64::from(i32::MAX))));
            book.add("a", 0, 10, acc(0, -6_000_000_000));
            let only0 = Selection::Only(vec![true]);
            let a = book
                .agg(0, &only0, None, 100)
                .map(|a| (a.orders, a.revenue));
            assert_eq!(a, Some((2, 5 + i64::from(i32::MAX))));
        }
    }

    #[test]
    fn aggs_and_reach_follow_stores_days_and_retractions() {
        let mut b = CustomerBook::default();
        b.add("b", 0, 10, acc(1, 100));
        b.add("b", 1, 12, acc(2, 50));
        b.add("a", 1, 5, acc(1, 7));
        b.add("a", 1, 5, acc(-1, -7)); // retracted: zero row, no presence
        b.add("c", 0, 3, acc(1, 30));
        for rebuilt in [false, true] {
            if rebuilt {
                b.rebuild();
            }
            let all = Selection::All;
            let aggs = b.aggs(&all, None, 100);
            assert_eq!(aggs.len(), 2);
            let a = aggs[0];
            assert_eq!(
                (a.orders, a.revenue, a.first_day, a.last_day),
                (3, 150, 10, 12)
            );
            let only1 = Selection::Only(vec![false, true]);
            assert_eq!(b.aggs(&only1, None, 100).len(), 1);
            assert_eq!(b.aggs(&all, Some(11), 100)[0].orders, 2);
            assert_eq!(b.aggs(&all, None, 11)[0].orders, 1);
            // Range [11, 100): b active; c only before the range.
            let r = b.reach(&all, Some(11), 100);
            assert_eq!(
                r,
                Reach {
                    total: 2,
                    active: 1,
                    active_spend: 150
                }
            );
            let r = b.reach(&all, None, 11);
            assert_eq!(
                r,
                Reach {
                    total: 2,
                    active: 2,
                    active_spend: 130
                }
            );
            let r = b.reach(&only1, None, 100);
            assert_eq!(
                r,
                Reach {
                    total: 1,
                    active: 1,
                    active_spend: 50
                }
            );
        }
        // A bulk load of the same rows, in any order, agrees.
        let mut l = BookLoader::default();
        l.push("b", 0, 10, acc(1, 100));
        l.push("b", 1, 12, acc(2, 50));
        l.push("a", 1, 5, acc(0, 0));
        l.push("c", 0, 3, acc(1, 30));
        l.push("b", 0, 14, acc(1, 1));
        let loaded = l.finish();
        let all = Selection::All;
        let want: Vec<_> = b
            .aggs(&all, None, 100)
            .iter()
            .map(|a| (a.orders, a.revenue))
            .collect();
        let got: Vec<_> = loaded
            .aggs(&all, None, 100)
            .iter()
            .map(|a| (a.orders, a.revenue))
            .collect();
        assert_eq!(got, [(4, 151), want[1]]);
        assert_eq!(
            loaded
                .reach(&Selection::Only(vec![false, true]), None, 100)
                .active,
            1
        );
        // Rows added after a rebuild go to the overflow and still count.
        b.add("b", 0, 10, acc(1, 1));
        b.add("d", 2, 40, acc(1, 9));
        assert_eq!(b.aggs(&Selection::All, None, 100).len(), 3);
        assert_eq!(
            b.agg(0, &Selection::All, None, 100).map(|a| a.orders),
            Some(4)
        );
        let only2 = Selection::Only(vec![false, false, true]);
        assert_eq!(b.reach(&only2, None, 100).active, 1);
    }
}
