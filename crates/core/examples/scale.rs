use std::time::Instant;

use portrait_core::memory::{CustomerBook, Selection, StoreBook};
use portrait_core::{Acc, ProductAcc, rfm_table};

fn main() {
    let customers = 1_000_000u32;
    let orders = 10_000_000u64;
    let stores = 300u32;
    let mut seed = 7u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let t = Instant::now();
    let mut book = CustomerBook::default();
    let mut days = StoreBook::default();
    let names: Vec<String> = (0..customers).map(|c| format!("c{c:07}")).collect();
    for _ in 0..orders {
        let c = (rnd() % customers as u64) as usize;
        let s = (c as u32 * 7 + (rnd() % 3) as u32) % stores;
        let d = 20_000 + (rnd() % 365) as i32;
        let acc = Acc {
            orders: 1,
            revenue: 3000,
        };
        book.add(&names[c], s, d, acc);
        days.add_hour(s, d, (rnd() % 24) as u8, acc);
        days.add_channel(s, d, 1 + (rnd() % 5) as i32, acc);
        for _ in 0..3 {
            let p = rnd() % 60;
            days.add_product(
                s,
                d,
                &format!("p{p}"),
                ProductAcc {
                    quantity: 1,
                    revenue: 1000,
                },
            );
        }
    }
    println!("built in {:?}", t.elapsed());
    let t = Instant::now();
    book.compact();
    println!("compacted in {:?}", t.elapsed());
    let rss = std::fs::read_to_string("/proc/self/status").unwrap();
    println!("{}", rss.lines().find(|l| l.starts_with("VmRSS")).unwrap());
    let all = Selection::All;
    let mut one = vec![false; stores as usize];
    one[5] = true;
    let one = Selection::Only(one);
    for (name, sel, from) in [
        ("all", &all, None),
        ("one store 90d", &one, Some(20_275)),
        ("all 30d", &all, Some(20_300)),
    ] {
        let t = Instant::now();
        let r = book.reach(sel, from, 20_366);
        let reach = t.elapsed();
        let t = Instant::now();
        let h = days.hours(sel, from, 20_366);
        let hours = t.elapsed();
        let t = Instant::now();
        let p = days.products(sel, from, 20_366);
        let products = t.elapsed();
        let t = Instant::now();
        let aggs = book.aggs(sel, from, 20_366);
        let aggs_t = t.elapsed();
        let t = Instant::now();
        let table = rfm_table(&aggs, 20_365, portrait_core::ThresholdRule::Mean);
        let rfm_t = t.elapsed();
        println!(
            "{name}: reach {reach:?} ({}), hours {hours:?} ({}), products {products:?} ({}), aggs {aggs_t:?} ({}), rfm {rfm_t:?} ({})",
            r.active,
            h[12].orders,
            p.len(),
            aggs.len(),
            table.customers.len()
        );
        let t = Instant::now();
        let median = rfm_table(&aggs, 20_365, portrait_core::ThresholdRule::Median);
        let median_t = t.elapsed();
        let names = book.customers();
        let by_spend = portrait_core::RfmOrder {
            key: portrait_core::RfmKey::Monetary,
            descending: true,
        };
        let by_id = portrait_core::RfmOrder {
            key: portrait_core::RfmKey::CustomerId,
            descending: false,
        };
        let t = Instant::now();
        let order = portrait_core::rfm_order(&median, names, by_spend);
        let order_t = t.elapsed();
        let t = Instant::now();
        let ids = portrait_core::rfm_order(&median, names, by_id);
        let ids_t = t.elapsed();
        // A page from the middle of the list, of one segment.
        let t = Instant::now();
        let wanted = median.customers[order[order.len() * 3 / 4] as usize].segment;
        let c = &median.customers[order[order.len() / 2] as usize];
        let token = portrait_core::PageToken {
            request: 0,
            key: c.monetary,
            customer: names.name(c.customer).to_owned(),
        };
        let start = portrait_core::start_after(&order, &median, names, by_spend, &token);
        let page: Vec<u32> = order[start..]
            .iter()
            .copied()
            .filter(|i| median.customers[*i as usize].segment == wanted)
            .take(100)
            .collect();
        let page_t = t.elapsed();
        println!(
            "{name}: rfm median {median_t:?}, order by spend {order_t:?}, by id {ids_t:?} ({}), a middle page of {} {page_t:?}",
            ids.len(),
            page.len(),
        );
    }
}
