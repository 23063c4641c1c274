//! How RFM is computed: the window and the segment thresholds, from the
//! service's configuration overridden per request.

use portrait_proto::v1::{RfmSettings, RfmThresholdKind};

use crate::{Day, Error, Result};

/// Longest window and longest fixed recency: a century of days.
pub const MAX_WINDOW_DAYS: i64 = 36_500;
/// Bounds of the fixed thresholds. Far above any real value, and small
/// enough that `value · 2` and `value · n` stay inside `i128` comparisons.
pub const MAX_FIXED_FREQUENCY: i64 = 1_000_000_000;
pub const MAX_FIXED_MONETARY_FEN: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdKind {
    Mean,
    Median,
    Fixed,
}

impl ThresholdKind {
    pub fn proto(self) -> RfmThresholdKind {
        match self {
            ThresholdKind::Mean => RfmThresholdKind::Mean,
            ThresholdKind::Median => RfmThresholdKind::Median,
            ThresholdKind::Fixed => RfmThresholdKind::Fixed,
        }
    }
}

/// Fixed thresholds: R is high with fewer days since the last order than
/// `recency_days`, F with more orders than `frequency`, M with more spend
/// than `monetary_fen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fixed {
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary_fen: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdRule {
    Mean,
    Median,
    Fixed(Fixed),
}

impl ThresholdRule {
    pub fn kind(self) -> ThresholdKind {
        match self {
            ThresholdRule::Mean => ThresholdKind::Mean,
            ThresholdRule::Median => ThresholdKind::Median,
            ThresholdRule::Fixed(_) => ThresholdKind::Fixed,
        }
    }
}

/// The settings one answer is computed with; part of its cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RfmParams {
    /// 0 = all history.
    pub window_days: i64,
    pub thresholds: ThresholdRule,
}

/// The configured settings (`rfm.*`), which a request may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmDefaults {
    pub window_days: i64,
    pub kind: ThresholdKind,
    /// Kept whatever `kind` is: a request asking for fixed thresholds
    /// without values gets these.
    pub fixed: Fixed,
}

impl Default for RfmDefaults {
    fn default() -> Self {
        Self {
            window_days: 0,
            kind: ThresholdKind::Mean,
            fixed: Fixed {
                recency_days: 30,
                frequency: 2,
                monetary_fen: 20_000,
            },
        }
    }
}

fn within(field: &str, value: i64, max: i64) -> Result<i64> {
    if (0..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be 0-{max}, not {value}"),
        ))
    }
}

impl RfmDefaults {
    /// Refuses settings out of range, naming the key (`rfm.window_days` …).
    pub fn check(&self) -> Result<()> {
        within("rfm.window_days", self.window_days, MAX_WINDOW_DAYS)?;
        let f = &self.fixed;
        within("rfm.fixed_recency_days", f.recency_days, MAX_WINDOW_DAYS)?;
        within("rfm.fixed_frequency", f.frequency, MAX_FIXED_FREQUENCY)?;
        within(
            "rfm.fixed_monetary_fen",
            f.monetary_fen,
            MAX_FIXED_MONETARY_FEN,
        )?;
        Ok(())
    }
}

impl RfmParams {
    /// A request's settings over the defaults; errors name the request's
    /// field (`rfm.window_days` …), which match the configuration's keys.
    pub fn resolve(request: Option<&RfmSettings>, defaults: &RfmDefaults) -> Result<Self> {
        let default = RfmSettings::default();
        let r = request.unwrap_or(&default);
        let window_days = match r.window_days {
            Some(w) => within("rfm.window_days", w.into(), MAX_WINDOW_DAYS)?,
            None => defaults.window_days,
        };
        let kind = match RfmThresholdKind::try_from(r.thresholds) {
            Ok(RfmThresholdKind::Unspecified) => defaults.kind,
            Ok(RfmThresholdKind::Mean) => ThresholdKind::Mean,
            Ok(RfmThresholdKind::Median) => ThresholdKind::Median,
            Ok(RfmThresholdKind::Fixed) => ThresholdKind::Fixed,
            Err(_) => {
                let reason = format!("unknown threshold kind {}", r.thresholds);
                return Err(Error::invalid("rfm.thresholds", reason));
            }
        };
        let given = [
            ("rfm.fixed_recency_days", r.fixed_recency_days),
            ("rfm.fixed_frequency", r.fixed_frequency),
            ("rfm.fixed_monetary_fen", r.fixed_monetary_fen),
        ];
        let thresholds = match kind {
            ThresholdKind::Mean | ThresholdKind::Median => {
                // A value that would be silently ignored is a mistake.
                if let Some((field, _)) = given.iter().find(|(_, v)| v.is_some()) {
                    return Err(Error::invalid(*field, "only with fixed thresholds"));
                }
                if kind == ThresholdKind::Mean {
                    ThresholdRule::Mean
                } else {
                    ThresholdRule::Median
                }
            }
            ThresholdKind::Fixed => {
                let d = defaults.fixed;
                let pick = |(field, v): (&str, Option<i64>), default: i64, max: i64| {
                    v.map_or(Ok(default), |v| within(field, v, max))
                };
                ThresholdRule::Fixed(Fixed {
                    recency_days: pick(given[0], d.recency_days, MAX_WINDOW_DAYS)?,
                    frequency: pick(given[1], d.frequency, MAX_FIXED_FREQUENCY)?,
                    monetary_fen: pick(given[2], d.monetary_fen, MAX_FIXED_MONETARY_FEN)?,
                })
            }
        };
        Ok(Self {
            window_days,
            thresholds,
        })
    }

    /// The filter's day range clipped to the window: the `window_days` local
    /// days ending with `as_of`, i.e. `[as_of + 1 − window_days, to)`. May be
    /// empty (`from ≥ to`), which selects no order.
    pub fn clip(&self, from: Option<Day>, to: Day, as_of: Day) -> (Option<Day>, Day) {
        if self.window_days == 0 {
            return (from, to);
        }
        // window_days ≤ 36,500, so this fits a Day.
        let start = as_of + 1 - self.window_days as Day;
        (Some(from.map_or(start, |f| f.max(start))), to)
    }
}

/// One threshold as the exact fraction `num / den` (`den > 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    num: i128,
    den: i128,
}

impl Threshold {
    fn whole(v: i64) -> Self {
        Self {
            num: v.into(),
            den: 1,
        }
    }

    /// The population's mean; 0 for nobody.
    fn mean(values: &[i64]) -> Self {
        if values.is_empty() {
            return Self::whole(0);
        }
        Self {
            num: values.iter().map(|v| i128::from(*v)).sum(),
            den: values.len() as i128,
        }
    }

    /// The middle value, or the mean of the two middle values of an even
    /// population, kept as (lower + upper) / 2; 0 for nobody.
    fn median(mut values: Vec<i64>) -> Self {
        let n = values.len();
        if n == 0 {
            return Self::whole(0);
        }
        let (lower, upper) = ((n - 1) / 2, n / 2);
        let (_, &mut hi, _) = values.select_nth_unstable(upper);
        // Every value below position `upper` is ≤ hi, so the lower middle
        // is the largest of them.
        let lo = if lower == upper {
            hi
        } else {
            values[..upper].iter().copied().max().unwrap_or(hi)
        };
        Self {
            num: i128::from(lo) + i128::from(hi),
            den: 2,
        }
    }

    /// `v` strictly above the threshold, in integers.
    pub fn exceeded_by(&self, v: i64) -> bool {
        i128::from(v) * self.den > self.num
    }

    /// `v` strictly below the threshold, in integers.
    pub fn undercut_by(&self, v: i64) -> bool {
        i128::from(v) * self.den < self.num
    }

    pub fn value(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// The three thresholds a population's segments compare against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub kind: ThresholdKind,
    pub recency_days: Threshold,
    pub frequency: Threshold,
    pub monetary_fen: Threshold,
}

impl Thresholds {
    /// From the population's values, each in the customers' order.
    pub fn of(rule: ThresholdRule, recency: &[i64], frequency: &[i64], monetary: &[i64]) -> Self {
        let (r, f, m) = match rule {
            ThresholdRule::Mean => (
                Threshold::mean(recency),
                Threshold::mean(frequency),
                Threshold::mean(monetary),
            ),
            ThresholdRule::Median => (
                Threshold::median(recency.to_vec()),
                Threshold::median(frequency.to_vec()),
                Threshold::median(monetary.to_vec()),
            ),
            ThresholdRule::Fixed(x) => (
                Threshold::whole(x.recency_days),
                Threshold::whole(x.frequency),
                Threshold::whole(x.monetary_fen),
            ),
        };
        Self {
            kind: rule.kind(),
            recency_days: r,
            frequency: f,
            monetary_fen: m,
        }
    }

    /// Whether R, F and M are each "high": strictly better than the threshold.
    pub fn high(&self, recency_days: i64, frequency: i64, monetary_fen: i64) -> (bool, bool, bool) {
        (
            self.recency_days.undercut_by(recency_days),
            self.frequency.exceeded_by(frequency),
            self.monetary_fen.exceeded_by(monetary_fen),
        )
    }
}

#[cfg(test)]
mod tests {
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
}
