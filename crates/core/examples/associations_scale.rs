//! The association structures alone at the scale: `BasketBook` and
//! `CustomerPairs` fed 10M random orders of 1M customers at 300 stores (each
//! customer mostly at one home store, 1-3 of 32 products an order), then each
//! selection timed directly (no gRPC, no cache). Prints figures, asserts none.
//! Arguments: customers and stores (default 1,000,000 and 300).

use std::time::Instant;

use portrait_core::memory::{BasketBook, CustomerPairs, Selection};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let customers = args.next().and_then(Result::ok).unwrap_or(1_000_000);
    let stores = args.next().and_then(Result::ok).unwrap_or(300).max(30);
    let products = 32u32;
    let mut seed = 7u64;
    let mut rnd = move |n: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % u64::from(n)) as u32
    };
    let t = Instant::now();
    let (mut pairs, mut book) = (CustomerPairs::default(), BasketBook::default());
    let mut basket: Vec<u32> = Vec::new();
    for c in 0..customers {
        let home = rnd(stores);
        for _ in 0..10 {
            let s = if rnd(4) == 0 { rnd(stores) } else { home };
            basket.clear();
            basket.extend((0..1 + rnd(3)).map(|_| rnd(products)));
            basket.sort_unstable();
            basket.dedup();
            book.add_baskets(s, 1);
            for (i, p) in basket.iter().enumerate() {
                book.add_product(s, *p, 1);
                pairs.add(c, s, *p, 1);
                for q in &basket[i + 1..] {
                    book.add_pair(s, *p, *q, 1);
                }
            }
        }
    }
    pairs.compact();
    println!(
        "built in {:?}: {} customer entries (12 bytes each), {} basket entries",
        t.elapsed(),
        pairs.len(),
        book.len()
    );
    let rss = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    println!(
        "{}",
        rss.lines().find(|l| l.starts_with("VmRSS")).unwrap_or("")
    );
    let one = (0..stores).map(|s| s == 5).collect();
    // A city: every 30th store, as the synthetic chain spreads stores over 30 cities.
    let city = (0..stores).map(|s| s % 30 == 0).collect();
    let half = (0..stores).map(|s| s % 2 == 0).collect();
    for (name, sel) in [
        ("no filter", Selection::All),
        ("one store", Selection::Only(one)),
        ("a city", Selection::Only(city)),
        ("half the stores", Selection::Only(half)),
    ] {
        let t = Instant::now();
        let b = book.counts(&sel, products as usize);
        let baskets = t.elapsed();
        let t = Instant::now();
        let c = pairs.counts(&sel, products as usize);
        println!(
            "{name}: baskets {} ({} pairs) in {baskets:?}; customers {} ({} pairs) in {:?}",
            b.baskets,
            b.pairs.len(),
            c.baskets,
            c.pairs.len(),
            t.elapsed()
        );
    }
}
