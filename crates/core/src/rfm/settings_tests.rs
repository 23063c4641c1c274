//! Thresholds and windows against straightforward recomputes.

use proptest::prelude::*;

use super::*;
use crate::rfm::{CustomerAgg, Segment, rfm_table};

/// The median as a textbook computes it: sort, take the middle or the
/// mean of the two middle values.
fn textbook_median(values: &[i64]) -> f64 {
    let mut v = values.to_vec();
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

proptest! {
    #[test]
    fn median_thresholds_equal_the_textbook_median(
        values in prop::collection::vec(0_i64..40, 1..60),
    ) {
        let t = Threshold::median(values.clone());
        let median = textbook_median(&values);
        prop_assert_eq!(t.value(), median);
        for v in -1..42 {
            prop_assert_eq!(t.exceeded_by(v), v as f64 > median, "v {}", v);
            prop_assert_eq!(t.undercut_by(v), (v as f64) < median, "v {}", v);
        }
    }

    #[test]
    fn segments_under_each_rule_equal_a_plain_recompute(
        rows in prop::collection::vec((1_i64..6, 0_i64..500, 0_i32..30), 1..40),
        fixed in (0_i64..30, 0_i64..6, 0_i64..500),
    ) {
        let aggs: Vec<CustomerAgg> = rows.iter().enumerate().map(|(i, &(orders, revenue, last))| {
            CustomerAgg { customer: i as u32, orders, revenue, first_day: 0, last_day: last }
        }).collect();
        let as_of = 30;
        let rec: Vec<f64> = rows.iter().map(|r| f64::from(as_of - r.2)).collect();
        let freq: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
        let mon: Vec<f64> = rows.iter().map(|r| r.1 as f64).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let median = |v: &[f64]| textbook_median(&v.iter().map(|x| *x as i64).collect::<Vec<_>>());
        let fixed = Fixed { recency_days: fixed.0, frequency: fixed.1, monetary_fen: fixed.2 };
        for rule in [ThresholdRule::Mean, ThresholdRule::Median, ThresholdRule::Fixed(fixed)] {
            let (tr, tf, tm) = match rule {
                ThresholdRule::Mean => (mean(&rec), mean(&freq), mean(&mon)),
                ThresholdRule::Median => (median(&rec), median(&freq), median(&mon)),
                ThresholdRule::Fixed(x) => {
                    (x.recency_days as f64, x.frequency as f64, x.monetary_fen as f64)
                }
            };
            let t = rfm_table(&aggs, as_of, rule);
            // Small integers, so every float here is exact but a mean;
            // against a mean, compare v·n with the population's sum.
            let n = rows.len() as f64;
            let total = |v: &[f64]| v.iter().sum::<f64>();
            let better = |v: f64, th: f64, sum: f64, lower: bool| {
                let (v, th) = if rule == ThresholdRule::Mean { (v * n, sum) } else { (v, th) };
                if lower { v < th } else { v > th }
            };
            for (i, c) in t.customers.iter().enumerate() {
                let want = Segment::of(
                    better(rec[i], tr, total(&rec), true),
                    better(freq[i], tf, total(&freq), false),
                    better(mon[i], tm, total(&mon), false),
                );
                prop_assert_eq!(c.segment, want, "customer {} under {:?}", i, rule);
            }
            prop_assert_eq!(t.thresholds.kind, rule.kind());
            prop_assert_eq!(t.thresholds.recency_days.value(), tr);
        }
    }

    #[test]
    fn the_window_keeps_exactly_its_days(
        from in prop::option::of(0_i32..60),
        span in 1_i32..60,
        as_of in 0_i32..80,
        window_days in 0_i64..90,
    ) {
        let to = from.unwrap_or(0) + span;
        let to = to.min(as_of + 1);
        let p = RfmParams { window_days, thresholds: ThresholdRule::Mean };
        let (f, t) = p.clip(from, to, as_of);
        for day in -100..200 {
            let in_filter = from.is_none_or(|f| day >= f) && day < to;
            let in_window = window_days == 0 || i64::from(as_of - day) < window_days;
            let kept = f.is_none_or(|f| day >= f) && day < t;
            prop_assert_eq!(kept, in_filter && in_window, "day {}", day);
        }
    }
}

#[test]
fn median_of_even_and_odd_populations_by_hand() {
    // 1 2 | 4 9: the median is 3; 3 itself is not above it, 4 is.
    let t = Threshold::median(vec![9, 1, 4, 2]);
    assert_eq!(t.value(), 3.0);
    assert!(!t.exceeded_by(3) && t.exceeded_by(4) && t.undercut_by(2));
    // 1 2 4: the median is 2.
    let t = Threshold::median(vec![4, 1, 2]);
    assert_eq!(t.value(), 2.0);
    assert!(!t.exceeded_by(2) && !t.undercut_by(2));
    // 1 | 2: a half.
    assert_eq!(Threshold::median(vec![2, 1]).value(), 1.5);
    assert_eq!(Threshold::median(vec![]).value(), 0.0);
}

#[test]
fn requests_override_the_configuration_and_errors_name_the_field() {
    let d = RfmDefaults::default();
    let p = RfmParams::resolve(None, &d).unwrap();
    assert_eq!((p.window_days, p.thresholds), (0, ThresholdRule::Mean));
    let r = RfmSettings {
        window_days: Some(90),
        thresholds: RfmThresholdKind::Fixed as i32,
        fixed_frequency: Some(5),
        ..Default::default()
    };
    let p = RfmParams::resolve(Some(&r), &d).unwrap();
    let want = Fixed {
        frequency: 5,
        ..d.fixed
    };
    assert_eq!(
        (p.window_days, p.thresholds),
        (90, ThresholdRule::Fixed(want))
    );
    let median = RfmDefaults {
        kind: ThresholdKind::Median,
        window_days: 30,
        ..d
    };
    let p = RfmParams::resolve(Some(&RfmSettings::default()), &median).unwrap();
    assert_eq!((p.window_days, p.thresholds), (30, ThresholdRule::Median));
    let zero = RfmSettings {
        window_days: Some(0),
        ..Default::default()
    };
    assert_eq!(
        RfmParams::resolve(Some(&zero), &median)
            .unwrap()
            .window_days,
        0
    );

    let field = |r: RfmSettings| match RfmParams::resolve(Some(&r), &d) {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("accepted: {other:?}"),
    };
    let bad_window = RfmSettings {
        window_days: Some(36_501),
        ..Default::default()
    };
    assert_eq!(field(bad_window), "rfm.window_days");
    let ignored = RfmSettings {
        fixed_monetary_fen: Some(100),
        ..Default::default()
    };
    assert_eq!(field(ignored), "rfm.fixed_monetary_fen");
    let negative = RfmSettings {
        thresholds: RfmThresholdKind::Fixed as i32,
        fixed_recency_days: Some(-1),
        ..Default::default()
    };
    assert_eq!(field(negative), "rfm.fixed_recency_days");
    let unknown = RfmSettings {
        thresholds: 9,
        ..Default::default()
    };
    assert_eq!(field(unknown), "rfm.thresholds");

    let mut bad = d;
    bad.fixed.frequency = MAX_FIXED_FREQUENCY + 1;
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("rfm.fixed_frequency")
    );
    assert!(d.check().is_ok());
}
