//! Every customer's habits by dense id, held for one clustering: 40 bytes a
//! customer where every count fits 8 bits and every spend 32 (nearly all),
//! whole (104 bytes) beside the rest. Held whole for everyone they were
//! 104 MB at 1M customers, most of the profiler's peak at start.

use std::collections::HashMap;

use super::features::{Habits, TOP_CATEGORIES};

#[derive(Clone, Copy, Default)]
struct Narrow {
    /// Orders, then per channel, then per band.
    counts: [u8; 11],
    /// Line spend, then per top category.
    spend: [i32; 1 + TOP_CATEGORIES],
}

fn narrow(h: &Habits) -> Option<Narrow> {
    let mut n = Narrow::default();
    let counts = [h.orders].into_iter().chain(h.channels).chain(h.bands);
    for (to, from) in n.counts.iter_mut().zip(counts) {
        *to = u8::try_from(from).ok()?;
    }
    let spend = [h.line_spend].into_iter().chain(h.categories);
    for (to, from) in n.spend.iter_mut().zip(spend) {
        *to = i32::try_from(from).ok()?;
    }
    Some(n)
}

fn widen(n: &Narrow) -> Habits {
    let c = |i: usize| u32::from(n.counts[i]);
    let s = |i: usize| i64::from(n.spend[i]);
    Habits {
        orders: c(0),
        channels: std::array::from_fn(|i| c(1 + i)),
        bands: std::array::from_fn(|i| c(6 + i)),
        line_spend: s(0),
        categories: std::array::from_fn(|i| s(1 + i)),
    }
}

pub(crate) struct HabitBook {
    narrow: Vec<Narrow>,
    /// Customers with a count or a spend too large for `narrow`.
    wide: HashMap<u32, Habits>,
}

impl HabitBook {
    /// Room for `customers` (more are added as they come).
    pub(crate) fn with_len(customers: usize) -> Self {
        Self {
            narrow: vec![Narrow::default(); customers],
            wide: HashMap::new(),
        }
    }

    /// Customer `c`'s habits; nothing known is all zeros.
    pub(crate) fn get(&self, c: u32) -> Habits {
        if !self.wide.is_empty()
            && let Some(h) = self.wide.get(&c)
        {
            return *h;
        }
        self.narrow.get(c as usize).map(widen).unwrap_or_default()
    }

    pub(crate) fn set(&mut self, c: u32, h: Habits) {
        let i = c as usize;
        if i >= self.narrow.len() {
            self.narrow.resize(i + 1, Narrow::default());
        }
        match narrow(&h) {
            Some(n) => {
                self.narrow[i] = n;
                self.wide.remove(&c);
            }
            None => {
                self.narrow[i] = Narrow::default();
                self.wide.insert(c, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn habits(seed: i64) -> Habits {
        let n = |k: i64| u32::try_from((seed * 7 + k * 13).rem_euclid(40)).unwrap_or(0);
        Habits {
            orders: n(0) + 200,
            channels: std::array::from_fn(|i| n(i as i64 + 1)),
            bands: std::array::from_fn(|i| n(i as i64 + 6)),
            line_spend: seed * 1_000 - 3,
            categories: std::array::from_fn(|i| seed * 10 - i as i64),
        }
    }

    #[test]
    fn every_customer_reads_back_as_set_whatever_its_size() {
        let mut book = HabitBook::with_len(3);
        let mut want = HashMap::new();
        for c in 0..50_u32 {
            let mut h = habits(i64::from(c));
            match c % 5 {
                // Past 8 bits, then past 32, then negative past 32.
                1 => h.orders = 256 + c,
                2 => h.categories[3] = i64::from(i32::MAX) + 1,
                3 => h.line_spend = i64::from(i32::MIN) - 1,
                _ => {}
            }
            book.set(c, h);
            want.insert(c, h);
        }
        // A wide customer that narrows again, and the other way round.
        book.set(1, habits(1));
        want.insert(1, habits(1));
        let mut big = habits(4);
        big.channels[4] = 70_000;
        book.set(4, big);
        want.insert(4, big);
        for (c, h) in &want {
            assert_eq!(book.get(*c), *h, "customer {c}");
        }
        assert_eq!(book.get(99), Habits::default());
    }
}
