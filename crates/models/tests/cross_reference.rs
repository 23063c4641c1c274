//! Cross-purchase figures, kept incrementally with retractions, against a plain SQL count
//! (SQLite through the reference Python) over the baskets that remain.

mod common;

use std::io::Write;

use portrait_models::cross::CoOccurrence;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn category(product: &str) -> String {
    // p07 → c3: a fixed product → category map the SQL side receives line by line.
    let n: u32 = product[1..].parse().unwrap();
    format!("c{}", n % 8)
}

#[test]
fn incremental_pairs_equal_sql_counts() {
    if common::skip() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(7);
    let baskets: Vec<Vec<String>> = (0..3000)
        .map(|_| {
            let len = rng.random_range(1..=6);
            // Skewed popularity: low numbers are more common; repeats within a basket happen.
            (0..len)
                .map(|_| {
                    let u: f64 = rng.random();
                    format!("p{:02}", (u * u * 40.0) as u32)
                })
                .collect()
        })
        .collect();
    let mut products = CoOccurrence::new();
    let mut categories = CoOccurrence::new();
    let cats = |b: &[String]| b.iter().map(|p| category(p)).collect::<Vec<_>>();
    for b in &baskets {
        products.add_basket(b);
        categories.add_basket(&cats(b));
    }
    // Retract every fifth order, as the suggest service does on cancellation.
    let mut kept = Vec::new();
    for (i, b) in baskets.iter().enumerate() {
        if i % 5 == 2 {
            products.remove_basket(b).unwrap();
            categories.remove_basket(&cats(b)).unwrap();
        } else {
            kept.push((i, b));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "basket_id,product,category").unwrap();
    for (i, b) in &kept {
        for p in b.iter() {
            writeln!(f, "{i},{p},{}", category(p)).unwrap();
        }
    }
    drop(f);
    let sql = common::run_reference("cross_reference.py", &["--lines", path.to_str().unwrap()]);
    for (level, co) in [("product", &products), ("category", &categories)] {
        let expected = sql[level].as_array().unwrap();
        let ours = co.pairs(1);
        assert_eq!(ours.len(), expected.len(), "{level}: number of pairs");
        assert!(!ours.is_empty());
        for (r, e) in ours.iter().zip(expected) {
            let (a, b) = (e["a"].as_str().unwrap(), e["b"].as_str().unwrap());
            assert_eq!((r.antecedent.as_str(), r.consequent.as_str()), (a, b));
            assert_eq!(r.count, e["count"].as_u64().unwrap(), "{level} {a},{b}");
            assert_eq!(co.item_count(&r.antecedent), e["count_a"].as_u64().unwrap());
            assert_eq!(co.item_count(&r.consequent), e["count_b"].as_u64().unwrap());
            assert_eq!(co.baskets(), e["baskets"].as_u64().unwrap());
            assert_eq!(
                r.support,
                e["support"].as_f64().unwrap(),
                "{level} {a},{b} support"
            );
            assert_eq!(
                r.confidence,
                e["confidence_ab"].as_f64().unwrap(),
                "{level} {a}->{b}"
            );
            assert_eq!(r.lift, e["lift"].as_f64().unwrap(), "{level} {a},{b} lift");
            let back = co.rule(&r.consequent, &r.antecedent).unwrap();
            assert_eq!(
                back.confidence,
                e["confidence_ba"].as_f64().unwrap(),
                "{level} {b}->{a}"
            );
            assert_eq!(back.lift, r.lift);
        }
    }
}
