use crate::Day;

mod list;
mod settings;

pub use list::{PageToken, RfmKey, RfmOrder, ScoreSelection, fingerprint, rfm_order, start_after};
pub use settings::{
    Fixed, MAX_FIXED_FREQUENCY, MAX_FIXED_MONETARY_FEN, MAX_WINDOW_DAYS, RfmDefaults, RfmParams,
    Threshold, ThresholdKind, ThresholdRule, Thresholds,
};

/// A customer's orders inside a filter, as the RFM and churn rules need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerAgg {
    /// Dense id from the projection's customer interner.
    pub customer: u32,
    pub orders: i64,
    pub revenue: i64,
    pub first_day: Day,
    pub last_day: Day,
}

/// The 8 classic RFM segments, numbered as in `portrait.v1.Segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    ImportantValue = 1,
    ImportantDevelop = 2,
    ImportantKeep = 3,
    ImportantWinBack = 4,
    GeneralValue = 5,
    GeneralDevelop = 6,
    GeneralKeep = 7,
    GeneralWinBack = 8,
}

impl Segment {
    pub const ALL: [Segment; 8] = [
        Segment::ImportantValue,
        Segment::ImportantDevelop,
        Segment::ImportantKeep,
        Segment::ImportantWinBack,
        Segment::GeneralValue,
        Segment::GeneralDevelop,
        Segment::GeneralKeep,
        Segment::GeneralWinBack,
    ];

    /// The segment of a customer from whether each of R, F, M is "high".
    pub fn of(r_high: bool, f_high: bool, m_high: bool) -> Segment {
        match (m_high, r_high, f_high) {
            (true, true, true) => Segment::ImportantValue,
            (true, true, false) => Segment::ImportantDevelop,
            (true, false, true) => Segment::ImportantKeep,
            (true, false, false) => Segment::ImportantWinBack,
            (false, true, true) => Segment::GeneralValue,
            (false, true, false) => Segment::GeneralDevelop,
            (false, false, true) => Segment::GeneralKeep,
            (false, false, false) => Segment::GeneralWinBack,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Segment::ImportantValue => "重要价值客户",
            Segment::ImportantDevelop => "重要发展客户",
            Segment::ImportantKeep => "重要保持客户",
            Segment::ImportantWinBack => "重要挽留客户",
            Segment::GeneralValue => "一般价值客户",
            Segment::GeneralDevelop => "一般发展客户",
            Segment::GeneralKeep => "一般保持客户",
            Segment::GeneralWinBack => "一般挽留客户",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfm {
    pub customer: u32,
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary: i64,
    pub r_score: u8,
    pub f_score: u8,
    pub m_score: u8,
    pub segment: Segment,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RfmTable {
    /// In the order the aggregates were given.
    pub customers: Vec<Rfm>,
    pub mean_recency_days: f64,
    pub mean_frequency: f64,
    pub mean_monetary: f64,
    /// What the segments were drawn against.
    pub thresholds: Thresholds,
}

/// RFM of a population as of `as_of`.
///
/// Scores: a customer's score is 1 + ⌊5·k/n⌋ where k counts the customers strictly
/// worse than them (older last order, fewer orders, less spend), so ties share a
/// score and 5 is the best quintile. Segments: a value is "high" when strictly
/// better than its threshold (the population's mean or median, or a fixed
/// value); compared in integers, so exact.
pub fn rfm_table(aggs: &[CustomerAgg], as_of: Day, rule: ThresholdRule) -> RfmTable {
    let n = aggs.len();
    let recency = |a: &CustomerAgg| i64::from(as_of) - i64::from(a.last_day);
    let r: Vec<i64> = aggs.iter().map(recency).collect();
    let f: Vec<i64> = aggs.iter().map(|a| a.orders).collect();
    let m: Vec<i64> = aggs.iter().map(|a| a.revenue).collect();
    let thresholds = Thresholds::of(rule, &r, &f, &m);
    let mean = |v: &[i64]| {
        let sum: i128 = v.iter().map(|x| i128::from(*x)).sum();
        if n == 0 { 0.0 } else { sum as f64 / n as f64 }
    };
    let means = (mean(&r), mean(&f), mean(&m));
    // Higher is better in all three, so recency enters negated; the value
    // vectors are spent on the quintiles.
    let r_th = Quintiles::of(r.into_iter().map(|r| -r).collect());
    let f_th = Quintiles::of(f);
    let m_th = Quintiles::of(m);
    let customers = crate::par::map_chunks(aggs, |part| {
        (part.iter())
            .map(|a| {
                let r = recency(a);
                let (r_high, f_high, m_high) = thresholds.high(r, a.orders, a.revenue);
                Rfm {
                    customer: a.customer,
                    recency_days: r,
                    frequency: a.orders,
                    monetary: a.revenue,
                    r_score: r_th.score(-r),
                    f_score: f_th.score(a.orders),
                    m_score: m_th.score(a.revenue),
                    segment: Segment::of(r_high, f_high, m_high),
                }
            })
            .collect()
    });
    RfmTable {
        customers,
        mean_recency_days: means.0,
        mean_frequency: means.1,
        mean_monetary: means.2,
        thresholds,
    }
}

/// Where the quintile scores change. With k(v) the number of values below v,
/// 1 + ⌊5·k/n⌋ ≥ 1 + j exactly when k ≥ ⌈j·n/5⌉, that is when v exceeds the
/// ⌈j·n/5⌉-th smallest value: four order statistics, found in linear time,
/// give every score without sorting the population.
struct Quintiles([i64; 4]);

impl Quintiles {
    fn of(mut values: Vec<i64>) -> Self {
        let n = values.len();
        let mut out = [i64::MAX; 4];
        if n == 0 {
            return Self(out);
        }
        let mut end = n;
        for j in (1..=4).rev() {
            let i = (j * n).div_ceil(5) - 1;
            let (_, nth, _) = values[..end].select_nth_unstable(i);
            out[j - 1] = *nth;
            // The smaller order statistics all lie in values[..=i] now.
            end = i + 1;
        }
        Self(out)
    }

    fn score(&self, v: i64) -> u8 {
        1 + self.0.iter().filter(|t| **t < v).count() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(id: u32, orders: i64, revenue: i64, last_day: Day) -> CustomerAgg {
        CustomerAgg {
            customer: id,
            orders,
            revenue,
            first_day: 0,
            last_day,
        }
    }

    #[test]
    fn scores_and_segments_by_hand() {
        // Five customers, one per quintile in every dimension.
        let aggs: Vec<_> = (0..5)
            .map(|i| agg(i as u32, i + 1, 100 * (i + 1), 10 + i as Day))
            .collect();
        let t = rfm_table(&aggs, 20, ThresholdRule::Mean);
        let scores: Vec<_> = t
            .customers
            .iter()
            .map(|c| (c.r_score, c.f_score, c.m_score))
            .collect();
        assert_eq!(
            scores,
            [(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (5, 5, 5)]
        );
        // Means: recency 8, frequency 3, monetary 300; c2 sits exactly on them.
        assert_eq!(t.mean_recency_days, 8.0);
        let segs: Vec<_> = t.customers.iter().map(|c| c.segment).collect();
        assert_eq!(
            segs,
            [
                Segment::GeneralWinBack,
                Segment::GeneralWinBack,
                Segment::GeneralWinBack,
                Segment::ImportantValue,
                Segment::ImportantValue
            ]
        );
    }

    #[test]
    fn ties_share_a_score_and_empty_is_fine() {
        let aggs = vec![agg(0, 1, 5, 1), agg(1, 1, 5, 1), agg(2, 2, 9, 2)];
        let t = rfm_table(&aggs, 3, ThresholdRule::Mean);
        assert_eq!(t.customers[0].f_score, t.customers[1].f_score);
        assert_eq!(t.customers[0].f_score, 1);
        assert_eq!(t.customers[2].f_score, 4);
        let empty = rfm_table(&[], 3, ThresholdRule::Mean);
        assert!(empty.customers.is_empty());
        assert_eq!(empty.mean_monetary, 0.0);
    }

    #[test]
    fn quintiles_equal_counting_the_worse_ones() {
        // 1 + ⌊5·k/n⌋ by brute force, on populations with many ties.
        for n in 1..60_i64 {
            let values: Vec<i64> = (0..n).map(|i| (i * 7919) % 13 - (i % 3)).collect();
            let q = Quintiles::of(values.clone());
            for &v in &values {
                let k = values.iter().filter(|x| **x < v).count();
                assert_eq!(q.score(v), (1 + 5 * k / values.len()) as u8, "n {n}, v {v}");
            }
        }
    }

    #[test]
    fn segment_table_matches_design() {
        assert_eq!(Segment::of(true, false, true), Segment::ImportantDevelop);
        assert_eq!(Segment::of(false, true, true), Segment::ImportantKeep);
        assert_eq!(Segment::of(true, true, false), Segment::GeneralValue);
        assert_eq!(Segment::of(false, true, false), Segment::GeneralKeep);
        assert_eq!(Segment::GeneralWinBack.label(), "一般挽留客户");
    }
}
